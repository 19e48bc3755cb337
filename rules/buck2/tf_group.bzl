"""tf_group (Buck2): run groups of a fleet (parallel with a limit, serial in order, an on_change hook)."""

load("//rules/private:deprecation.bzl", "deprecated_attribute")
load("//rules/private:group_order.bzl", "check_group_order", "check_memberships", "membership_claim")
load(":labels.bzl", "loading_label_string", "runfiles_prefix", "target_label")
load(":ordered.bzl", "merged_dicts", "ordered_union")
load(":providers.bzl", "TfGroupInfo", "TfInstanceInfo")

GROUP_MODES = ["parallel", "serial"]

def _hook_path(ctx, hook):
    """The runfiles path of the hook: `<pkg>/<path>` as Bazel names a file of this package."""
    if hook.is_source:
        return ctx.attrs.path_prefix + hook.short_path
    return ctx.attrs.path_prefix + ctx.label.name + ".on_change/" + hook.short_path

def _tf_group_impl(ctx):
    label = ctx.attrs.label
    if ctx.attrs.parallelism < 0:
        fail("%s: parallelism %d is negative (0: only the enclosing limits apply)" % (label, ctx.attrs.parallelism))
    if ctx.attrs.parallelism > 0 and ctx.attrs.mode == "serial":
        fail("%s: parallelism applies to parallel groups; a serial group runs one member at a time" % label)
    if not ctx.attrs.members:
        fail("%s: members is empty" % label)
    members = []
    instances = []
    nested = []
    for target in ctx.attrs.members:
        if TfGroupInfo in target:
            group = target[TfGroupInfo]
            members.append(group.label)
            instances.extend(group.instances)
            nested.append(group)
        elif TfInstanceInfo in target:
            instance = target[TfInstanceInfo]
            members.append(instance.label)
            instances.append(instance)
        else:
            fail("%s: member %s is neither a tf_instance nor a tf_group" % (label, target.label.raw_target()))
    memberships = ordered_union([membership_claim(m, label) for m in members], [g.memberships for g in nested])
    seen = {}
    for member in members:
        if member in seen:
            fail("%s: %s is listed twice in members" % (label, member))
        seen[member] = True
    check_memberships(memberships, label)

    hook = ctx.attrs.on_change
    hook_files = {}
    if hook:
        hook_files[_hook_path(ctx, hook)] = hook
    entry = {
        # The manifest's key (src/manifest.rs) and the report's keep the old word.
        "concurrency": ctx.attrs.parallelism,
        "label": label,
        "members": members,
        "mode": ctx.attrs.mode,
        "name": ctx.label.name,
        "on_change": _hook_path(ctx, hook) if hook else None,
    }
    transitive_groups = ordered_union([json.encode(entry)], [g.transitive_groups for g in nested])
    entries = ordered_union([], [i.transitive_entries for i in instances])
    check_group_order(label, [json.decode(e) for e in entries], [json.decode(g) for g in transitive_groups])
    return [
        DefaultInfo(default_outputs = [i.rendered for i in instances]),
        TfGroupInfo(
            entry = entry,
            instances = instances,
            label = label,
            memberships = memberships,
            run_files = merged_dicts([hook_files] + [g.run_files for g in nested]),
            transitive_groups = transitive_groups,
        ),
    ]

tf_group_rule = rule(
    impl = _tf_group_impl,
    doc = """A run group: how `fleet run` schedules some instances of a fleet, as Chef's `resource_group`
(the `<name>` target of `tf_group`). List the group in `tf_fleet(instances = ...)`.""",
    attrs = {
        "label": attrs.string(doc = "The group's canonical label string (filled by the macro)."),
        "labels": attrs.list(attrs.string(), default = [], doc = "Free-form labels (the macro's `tags`)."),
        "members": attrs.list(attrs.dep(), doc = "Instances (`tf_instance`) and groups (`tf_group`), in order (the run order of a serial group)."),
        "mode": attrs.enum(GROUP_MODES, default = "parallel", doc = "`parallel`: members at once (up to `parallelism`); `serial`: one after the other, in the listed order."),
        "on_change": attrs.option(attrs.source(), default = None, doc = "Executable file run once after the group's instances finished, when an apply or destroy changed a resource."),
        "parallelism": attrs.int(default = 0, doc = "Parallel groups: at most this many of the group's instances run at once; 0: only the enclosing limits apply."),
        "path_prefix": attrs.string(default = "", doc = "Runfiles path of this package (filled by the macro)."),
    },
)

def tf_group(name, members, mode = "parallel", parallelism = 0, on_change = None, tags = [], visibility = None, concurrency = None, **kwargs):
    """A run group of a fleet: members run in parallel (at most `parallelism` at once) or serially.

    The same meaning as the Bazel rule (docs/groups.md). `on_change` is an executable
    file (a script in the package, or a target's output), run by `fleet run` with
    `FLEET_GROUP`, `FLEET_ACTION` and `FLEET_GROUP_REPORT` set.

    Args:
      name: the group's name.
      members: instances and groups, in order.
      mode: `parallel` or `serial`.
      parallelism: parallel groups: the group's own limit (0: none).
      on_change: executable file run after the group changed something.
      tags: kept as the target's `labels`.
      visibility: visibility of the target (Buck2 form).
      concurrency: deprecated alias of `parallelism` (warns).
      **kwargs: passed to the rule.
    """
    package = package_name()
    if concurrency != None:
        if parallelism != 0:
            fail("%s: give parallelism only (concurrency is its deprecated alias)" % loading_label_string(name))
        parallelism = concurrency

        # buildifier: disable=print
        print(deprecated_attribute("tf_group", "concurrency", "parallelism", loading_label_string(name)))
    tf_group_rule(
        name = name,
        parallelism = parallelism,
        label = loading_label_string(name),
        labels = tags,
        members = [target_label(member) for member in members],
        mode = mode,
        on_change = on_change,
        path_prefix = runfiles_prefix() + (package + "/" if package else ""),
        visibility = visibility,
        **kwargs
    )
