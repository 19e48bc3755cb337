"""tf_group: run groups of a fleet (parallel with a limit, serial in order, an on_change hook)."""

load(":deprecation.bzl", "deprecated_attribute")
load(":group_order.bzl", "check_group_order", "check_memberships", "membership_claim")
load(":labels.bzl", "label_string")
load(":providers.bzl", "TfGroupInfo", "TfInstanceInfo")

GROUP_MODES = ["parallel", "serial"]

def _parallelism(ctx, label):
    """`parallelism`, or its deprecated alias `concurrency` (with a warning)."""
    parallelism = ctx.attr.parallelism
    if ctx.attr.concurrency != 0:
        if parallelism != 0:
            fail("%s: give parallelism only (concurrency is its deprecated alias)" % label)
        parallelism = ctx.attr.concurrency

        # buildifier: disable=print
        print(deprecated_attribute("tf_group", "concurrency", "parallelism", label))
    if parallelism < 0:
        fail("%s: parallelism %d is negative (0: only the enclosing limits apply)" % (label, parallelism))
    if parallelism > 0 and ctx.attr.mode == "serial":
        fail("%s: parallelism applies to parallel groups; a serial group runs one member at a time" % label)
    return parallelism

def _tf_group_impl(ctx):
    label = label_string(ctx.label)
    parallelism = _parallelism(ctx, label)
    members = []
    instances = []
    nested = []
    for target in ctx.attr.members:
        if TfGroupInfo in target:
            group = target[TfGroupInfo]
            members.append(group.label)
            instances.extend(group.instances)
            nested.append(group)
        else:
            instance = target[TfInstanceInfo]
            members.append(instance.label)
            instances.append(instance)
    memberships = depset(
        [membership_claim(m, label) for m in members],
        transitive = [g.memberships for g in nested],
    )
    seen = {}
    for member in members:
        if member in seen:
            fail("%s: %s is listed twice in members" % (label, member))
        seen[member] = True
    check_memberships(memberships.to_list(), label)

    hook = ctx.attr.on_change
    entry = {
        "label": label,
        "name": ctx.label.name,
        "mode": ctx.attr.mode,
        # The manifest's key (src/manifest.rs) and the report's keep the old word.
        "concurrency": parallelism,
        "members": members,
        "on_change": hook[DefaultInfo].files_to_run.executable.short_path if hook else None,
    }
    transitive_groups = depset([json.encode(entry)], transitive = [g.transitive_groups for g in nested])
    entries = depset(transitive = [i.transitive_entries for i in instances]).to_list()
    check_group_order(
        label,
        [json.decode(e) for e in entries],
        [json.decode(g) for g in transitive_groups.to_list()],
    )
    runfiles = ctx.runfiles()
    if hook:
        runfiles = runfiles.merge(hook[DefaultInfo].default_runfiles)
        runfiles = runfiles.merge(ctx.runfiles(files = [hook[DefaultInfo].files_to_run.executable]))
    for group in nested:
        runfiles = runfiles.merge(group.runfiles)
    return [
        DefaultInfo(files = depset(transitive = [depset([i.rendered]) for i in instances])),
        TfGroupInfo(
            label = label,
            entry = entry,
            transitive_groups = transitive_groups,
            memberships = memberships,
            instances = instances,
            runfiles = runfiles,
        ),
    ]

tf_group = rule(
    implementation = _tf_group_impl,
    doc = """A run group: how `fleet run` schedules some instances of a fleet, as Chef's `resource_group`.

`parallel` runs its members at once, at most `parallelism` of their instances at a time;
`serial` runs them one after the other in the listed order. Groups nest; every enclosing
limit and the fleet's `parallelism` apply at once, and dependencies still order everything.
List the group in `tf_fleet(instances = ...)`. A member belongs to one group.""",
    attrs = {
        "members": attr.label_list(
            mandatory = True,
            allow_empty = False,
            providers = [[TfInstanceInfo], [TfGroupInfo]],
            doc = "Instances (`tf_instance`) and groups (`tf_group`), in order (the run order of a serial group).",
        ),
        "mode": attr.string(
            default = "parallel",
            values = GROUP_MODES,
            doc = "`parallel`: members run at once (up to `parallelism`); `serial`: one after the other, in the listed order (reversed for destroy); after a member fails the later ones are skipped.",
        ),
        "parallelism": attr.int(
            default = 0,
            doc = "Parallel groups: at most this many of the group's instances (nested ones included) run at once; 0: only the enclosing limits apply.",
        ),
        "concurrency": attr.int(
            default = 0,
            doc = "Deprecated alias of `parallelism` (warns).",
        ),
        "on_change": attr.label(
            executable = True,
            # An executable script may be named directly: no sh_binary, which Bazel 8 only
            # autoloads and Bazel 9 removed.
            allow_files = True,
            # Run by `fleet run` on the machine running `bazel run`, like the fleet's own launcher.
            cfg = "target",
            doc = """Executable (a rule's, or an executable file such as a script) run once after all of the group's instances finished, only when an apply
or destroy of at least one of them added, changed or destroyed a resource. It gets `FLEET_GROUP`
(the group's label), `FLEET_ACTION` and `FLEET_GROUP_REPORT` (a JSON file with the members'
report entries); its output is captured like an instance's. If it fails the group fails and
whatever depends on the group is skipped.""",
        ),
    },
    provides = [TfGroupInfo],
)
