"""tf_fleet: many instances, and the ones they depend on, as one manifest for `fleet run`."""

load(":action_targets.bzl", "rule_with_action_targets")
load(":group_order.bzl", "check_group_order", "check_memberships")
load(":identity.bzl", "stamped_manifest")
load(":labels.bzl", "label_string")
load(":launcher.bzl", "LAUNCHER_ATTRS", "RUNFILES_ROOT", "runfile", "write_launcher")
load(":manifest.bzl", "manifest_json")
load(":providers.bzl", "TfFleetInfo", "TfGroupInfo", "TfInstanceInfo", "TfInstanceSetInfo")
load(":run_dirs.bzl", "check_run_dirs")
load(":run_tools.bzl", "RUNTIME_FLEET_ATTRS", "runtime_fleet_of")
load(":state_identity.bzl", "check_unique_states")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE")

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
        else:
            found = [target[TfInstanceInfo]]
        for instance in found:
            if instance.label not in seen:
                seen[instance.label] = True
                instances.append(instance)
    return instances, groups

def _hook_runfiles(ctx, groups):
    runfiles = ctx.runfiles()
    for group in groups:
        runfiles = runfiles.merge(group.runfiles)
    return runfiles

def _tf_fleet_impl(ctx):
    label = label_string(ctx.label)
    if ctx.attr.parallelism < 0:
        fail("%s: parallelism %d is negative (0 means fleet run's default, 10)" % (label, ctx.attr.parallelism))
    instances, groups = _listed(ctx.attr.instances)
    first = instances[0]
    for instance in instances[1:]:
        if instance.fleet_root != first.fleet_root:
            fail("%s: instances %s and %s have different fleet_root (%s, %s): a fleet has one" %
                 (label, first.label, instance.label, first.fleet_root, instance.fleet_root))
        if instance.terraform.binary.short_path != first.terraform.binary.short_path:
            fail("%s: instances %s and %s run with different terraform binaries (%s, %s)" %
                 (label, first.label, instance.label, first.terraform.binary.short_path, instance.terraform.binary.short_path))

    # Instances reached through several paths appear once: equal entries are equal strings.
    check_unique_states(depset(transitive = [i.transitive_states for i in instances]).to_list(), label)
    check_run_dirs(depset(transitive = [i.transitive_run_dirs for i in instances]).to_list(), label)
    entries = depset(transitive = [i.transitive_entries for i in instances]).to_list()
    check_memberships(depset(transitive = [g.memberships for g in groups]).to_list(), label)
    group_entries = [json.decode(g) for g in depset(transitive = [g.transitive_groups for g in groups]).to_list()]
    if group_entries:
        check_group_order(label, [json.decode(e) for e in entries], group_entries)

    manifest = ctx.actions.declare_file(ctx.label.name + ".manifest.json")
    stamped_manifest(
        ctx,
        fleet = ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary,
        out = manifest,
        text = manifest_json(
            target = label,
            terraform = first.terraform.binary.short_path,
            fleet_root = first.fleet_root,
            entries = entries,
            parallelism = ctx.attr.parallelism,
            groups = group_entries,
        ),
        claims = depset(transitive = [i.transitive_identity_claims for i in instances]).to_list(),
        identities = depset(transitive = [i.transitive_identities for i in instances]),
    )

    # run_files holds every rendered tree and validation report (dependencies
    # included) and terraform; building the fleet builds all but terraform.
    run_files = depset([manifest], transitive = [i.run_files for i in instances])
    terraform_paths = {f.path: True for f in first.terraform.files.to_list()}
    built = [f for f in run_files.to_list() if f.path not in terraform_paths]
    return [
        DefaultInfo(files = depset(built)),
        OutputGroupInfo(
            manifest = depset([manifest]),
            validation = depset([f for f in built if f.basename.endswith(".validation.json")]),
            check = depset([f for f in built if f.basename.endswith((".check.json", ".validation.json"))]),
        ),
        TfFleetInfo(
            label = label,
            manifest = manifest,
            instances = instances,
            run_files = run_files,
            parallelism = ctx.attr.parallelism,
            hook_runfiles = _hook_runfiles(ctx, groups),
        ),
        TfInstanceSetInfo(instances = instances),
    ]

tf_fleet_rule = rule(
    implementation = _tf_fleet_impl,
    doc = """Builds (renders and build-checks) a set of instances and their dependencies, checks that
none of them share state or have nested run directories, and writes their manifest for `fleet run`
(with each instance's identity, which `fleet run --affected-since` compares). The `<name>` target of `tf_fleet`.""",
    attrs = {
        "instances": attr.label_list(
            mandatory = True,
            allow_empty = False,
            providers = [[TfInstanceInfo], [TfGroupInfo]],
            doc = "The instances (`tf_instance` targets, from any package) and run groups (`tf_group`); the instances' `deps` join the fleet too.",
        ),
        "parallelism": attr.int(
            default = 10,
            doc = "How many instances `fleet run` runs at once unless `--parallelism` says otherwise (0: fleet's default, 10).",
        ),
    },
    provides = [TfFleetInfo, TfInstanceSetInfo],
    # The helper writes the manifest with every instance's identity in it.
    toolchains = [str(FLEET_TOOLCHAIN_TYPE)],
)

def _tf_fleet_run_impl(ctx):
    fleet = ctx.attr.fleet[TfFleetInfo]

    # Runs on the machine running `bazel run`: the helper of the target platform.
    helper = runtime_fleet_of(ctx)
    launcher = write_launcher(
        ctx,
        description = "`fleet run --action %s` on %s; arguments go to `fleet run` (`-- --parallelism 4 --only NAME --report FILE`)" % (ctx.attr.action, fleet.label),
        command = [
            runfile(helper.binary.short_path),
            "run",
            "--manifest",
            runfile(fleet.manifest.short_path),
            "--action",
            ctx.attr.action,
            "--runfiles",
            RUNFILES_ROOT,
        ],
        # Relative paths in the arguments (--report FILE) are the caller's, as with any command.
        in_caller_dir = True,
    )
    runfiles = ctx.runfiles(files = [helper.binary], transitive_files = fleet.run_files)
    runfiles = runfiles.merge(fleet.hook_runfiles)
    return [DefaultInfo(executable = launcher, runfiles = runfiles)]

tf_fleet_run = rule(
    implementation = _tf_fleet_run_impl,
    doc = """`bazel run` target running `fleet run --action plan|apply|destroy` on a fleet's manifest:
dependency order, a concurrency limit, one lock per run directory, a summary and a report.
Arguments after `--` go to `fleet run`.""",
    attrs = dict({
        "fleet": attr.label(
            mandatory = True,
            providers = [TfFleetInfo],
            doc = "The fleet (`tf_fleet` `<name>` target).",
        ),
        "action": attr.string(
            mandatory = True,
            values = FLEET_RUN_ACTIONS,
            doc = "The action `fleet run` applies to every instance.",
        ),
    }, **dict(LAUNCHER_ATTRS, **RUNTIME_FLEET_ATTRS)),
    executable = True,
)

def tf_fleet(name, instances, parallelism = 10, tags = [], visibility = None, **kwargs):
    """Many instances run as one: `<name>` builds them, `<name>.plan|.apply|.destroy` run them.

    Creates:
    - `<name>`: renders and build-checks every instance and every instance they
      depend on (`deps`, `inputs_from`), checks that no two share state, and
      writes `<name>.manifest.json` for `fleet run`.
    - `<name>.plan`, `<name>.apply`, `<name>.destroy`: `bazel run` targets calling
      `fleet run --action <action>` on the manifest: dependencies first
      (destroy in reverse), at most `parallelism` at once, each instance under
      its run directory's lock. Arguments after `--` go to `fleet run`:
      `bazel run //infra:all.apply -- --parallelism 4 --only network --report /tmp/r.json`.

    Args:
      name: name of the fleet target.
      instances: `tf_instance` and `tf_group` labels, from any package (they must be
        visible here). Groups shape how `fleet run` schedules their instances
        (docs/groups.md).
      parallelism: default concurrency limit (`--parallelism` overrides; 0: fleet's default, 10).
      tags: tags for every generated target.
      visibility: visibility of every generated target.
      **kwargs: passed to every generated target (e.g. `testonly`).
    """
    rule_with_action_targets(
        name = name,
        main_rule = tf_fleet_rule,
        action_rule = tf_fleet_run,
        actions = FLEET_RUN_ACTIONS,
        link_attr = "fleet",
        tags = tags,
        visibility = visibility,
        kwargs = kwargs,
        instances = instances,
        parallelism = parallelism,
    )
