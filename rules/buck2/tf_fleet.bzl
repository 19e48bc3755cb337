"""tf_fleet (Buck2): many instances, and the ones they depend on, as one manifest for `fleet run`."""

load("//rules/private:group_order.bzl", "check_group_order", "check_memberships")
load("//rules/private:manifest.bzl", "manifest_json")
load("//rules/private:run_dirs.bzl", "check_run_dirs")
load("//rules/private:state_identity.bzl", "check_unique_states")
load(":identity.bzl", "stamped_manifest")
load(":labels.bzl", "loading_label_string", "target_label")
load(":ordered.bzl", "merged_dicts", "ordered_union")
load(":providers.bzl", "FleetHelperInfo", "TfFleetInfo", "TfGroupInfo", "TfInstanceInfo", "TfInstanceSetInfo")
load(":run_files.bzl", "fleet_command", "runfiles_tree")

FLEET_RUN_ACTIONS = ["plan", "apply", "destroy"]

def _listed(targets):
    """The instances (groups' instances included, each once, in order) and the groups listed."""
    instances = []
    groups = []
    seen = {}
    for target in targets:
        if TfGroupInfo in target:
            groups.append(target[TfGroupInfo])
            found = target[TfGroupInfo].instances
        elif TfInstanceInfo in target:
            found = [target[TfInstanceInfo]]
        else:
            fail("%s is neither a tf_instance nor a tf_group" % target.label.raw_target())
        for instance in found:
            if instance.label not in seen:
                seen[instance.label] = True
                instances.append(instance)
    return instances, groups

def _tf_fleet_impl(ctx):
    label = ctx.attrs.label
    if ctx.attrs.parallelism < 0:
        fail("%s: parallelism %d is negative (0 means fleet run's default, 10)" % (label, ctx.attrs.parallelism))
    if not ctx.attrs.instances:
        fail("%s: instances is empty" % label)
    instances, groups = _listed(ctx.attrs.instances)
    first = instances[0]
    for instance in instances[1:]:
        if instance.fleet_root != first.fleet_root:
            fail("%s: instances %s and %s have different fleet_root (%s, %s): a fleet has one" %
                 (label, first.label, instance.label, first.fleet_root, instance.fleet_root))
        if instance.terraform.runfiles_path != first.terraform.runfiles_path:
            fail("%s: instances %s and %s run with different terraform binaries (%s, %s)" %
                 (label, first.label, instance.label, first.terraform.runfiles_path, instance.terraform.runfiles_path))

    # Instances reached through several paths appear once: equal entries are equal strings.
    check_unique_states(ordered_union([], [i.transitive_states for i in instances]), label)
    check_run_dirs(ordered_union([], [i.transitive_run_dirs for i in instances]), label)
    entries = ordered_union([], [i.transitive_entries for i in instances])
    check_memberships(ordered_union([], [g.memberships for g in groups]), label)
    group_entries = [json.decode(g) for g in ordered_union([], [g.transitive_groups for g in groups])]
    if group_entries:
        check_group_order(label, [json.decode(e) for e in entries], group_entries)

    manifest = stamped_manifest(
        ctx,
        fleet = ctx.attrs._fleet[FleetHelperInfo].binary,
        name = ctx.label.name + ".manifest.json",
        text = manifest_json(
            target = label,
            terraform = first.terraform.runfiles_path,
            fleet_root = first.fleet_root,
            entries = entries,
            parallelism = ctx.attrs.parallelism,
            groups = group_entries,
        ),
        identities = merged_dicts([i.transitive_identities for i in instances]),
    )
    run_files = merged_dicts([i.run_files for i in instances] + [g.run_files for g in groups])
    built = [f for f in run_files.values() if f not in first.terraform.files]
    return [
        DefaultInfo(
            default_outputs = [manifest] + built,
            sub_targets = {"manifest": [DefaultInfo(default_output = manifest)]},
        ),
        TfFleetInfo(
            instances = instances,
            label = label,
            manifest = manifest,
            parallelism = ctx.attrs.parallelism,
            run_files = run_files,
        ),
        TfInstanceSetInfo(instances = instances),
    ]

tf_fleet_rule = rule(
    impl = _tf_fleet_impl,
    doc = """Builds (renders and checks) a set of instances and their dependencies, checks that none
of them share state or have nested run directories, and writes their manifest for `fleet run`
(the `<name>` target of `tf_fleet`).""",
    attrs = {
        "instances": attrs.list(attrs.dep(), doc = "The instances (`tf_instance` targets, from any package) and run groups (`tf_group`); the instances' `deps` join the fleet too."),
        "label": attrs.string(doc = "The fleet's canonical label string (filled by the macro)."),
        "labels": attrs.list(attrs.string(), default = [], doc = "Free-form labels (the macro's `tags`)."),
        "parallelism": attrs.int(default = 10, doc = "How many instances `fleet run` runs at once unless `--parallelism` says otherwise (0: fleet's default, 10)."),
        "_fleet": attrs.toolchain_dep(default = "toolchains//:fleet", providers = [FleetHelperInfo]),
    },
)

def _tf_fleet_run_impl(ctx):
    fleet = ctx.attrs.fleet[TfFleetInfo]
    tree = runfiles_tree(ctx, ctx.label.name + ".runfiles", fleet.run_files)
    command = fleet_command(
        ctx,
        fleet = ctx.attrs._fleet[FleetHelperInfo].binary,
        subcommand = "run",
        manifest = fleet.manifest,
        tree = tree,
        run_files = fleet.run_files,
        arguments = ["--action", ctx.attrs.action],
    )
    return [DefaultInfo(default_outputs = [fleet.manifest], other_outputs = [tree]), RunInfo(args = command)]

tf_fleet_run = rule(
    impl = _tf_fleet_run_impl,
    doc = """`buck2 run` target running `fleet run --action plan|apply|destroy` on a fleet's manifest:
dependency order, a concurrency limit, one lock per run directory, a summary and a report.
Arguments after `--` go to `fleet run`; it runs in the directory `buck2 run` was called from.""",
    attrs = {
        "action": attrs.enum(FLEET_RUN_ACTIONS, doc = "The action `fleet run` applies to every instance."),
        "fleet": attrs.dep(providers = [TfFleetInfo], doc = "The fleet (`tf_fleet` `<name>` target)."),
        "labels": attrs.list(attrs.string(), default = [], doc = "Free-form labels (the macro's `tags`)."),
        "_fleet": attrs.toolchain_dep(default = "toolchains//:fleet", providers = [FleetHelperInfo]),
    },
)

def tf_fleet(name, instances, parallelism = 10, tags = [], visibility = None, **kwargs):
    """Many instances run as one: `<name>` builds them, `<name>.plan|.apply|.destroy` run them.

    `<name>` renders and checks every instance and every instance they depend on,
    checks that no two share state, and writes `<name>.manifest.json` (sub-target
    `[manifest]`). `buck2 run :<name>.apply -- --parallelism 4 --only NAME` runs
    `fleet run`: dependencies first, at most `parallelism` at once.

    Args:
      name: name of the fleet target.
      instances: `tf_instance` and `tf_group` labels, from any package (visible here).
      parallelism: default concurrency limit (`--parallelism` overrides; 0: fleet's default, 10).
      tags: kept as each target's `labels`.
      visibility: visibility of every generated target (Buck2 form).
      **kwargs: passed to every generated target.
    """
    tf_fleet_rule(
        name = name,
        instances = [target_label(instance) for instance in instances],
        label = loading_label_string(name),
        labels = tags,
        parallelism = parallelism,
        visibility = visibility,
        **kwargs
    )
    for action in FLEET_RUN_ACTIONS:
        tf_fleet_run(
            name = "%s.%s" % (name, action),
            action = action,
            fleet = ":" + name,
            labels = tags,
            visibility = visibility,
            **kwargs
        )
