"""tf_instances (Buck2): many instances of one component (for_each style), and a fleet of them all."""

load("//rules/private:deprecation.bzl", "deprecated_macro")
load("//rules/private:instances_merge.bzl", "merge_instance_args")
load("//rules/private:run_dirs.bzl", "check_run_dirs")
load("//rules/private:state_identity.bzl", "check_unique_states")
load(":labels.bzl", "loading_label_string", "target_label")
load(":ordered.bzl", "ordered_union")
load(":providers.bzl", "TfInstanceInfo", "TfInstanceSetInfo")
load(":tf_fleet.bzl", "tf_fleet")
load(":tf_instance.bzl", "tf_instance")

def _tf_instance_set_impl(ctx):
    instances = [target[TfInstanceInfo] for target in ctx.attrs.instances]
    check_unique_states(ordered_union([], [i.transitive_states for i in instances]), ctx.attrs.label)
    check_run_dirs(ordered_union([], [i.transitive_run_dirs for i in instances]), ctx.attrs.label)
    outputs = []
    for target in ctx.attrs.instances:
        outputs.extend(target[DefaultInfo].default_outputs)
    return [DefaultInfo(default_outputs = outputs), TfInstanceSetInfo(instances = instances)]

tf_instance_set_rule = rule(
    impl = _tf_instance_set_impl,
    doc = """Builds a set of instances and checks that no two of them, nor any of their dependencies,
share state or have nested run directories (a `tf_fleet` without the runner).""",
    attrs = {
        "instances": attrs.list(attrs.dep(providers = [TfInstanceInfo]), default = [], doc = "The instances."),
        "label": attrs.string(doc = "The set's canonical label string (filled by the macro)."),
        "labels": attrs.list(attrs.string(), default = [], doc = "Free-form labels (the macro's `tags`)."),
    },
)

def tf_instance_set(name, instances, tags = [], visibility = None, **kwargs):
    """Builds a set of instances and checks they share no state (a `tf_fleet` without the runner).

    Args:
      name: the set's name.
      instances: `tf_instance` labels.
      tags: kept as the target's `labels`.
      visibility: visibility of the target (Buck2 form).
      **kwargs: passed to the rule.
    """
    tf_instance_set_rule(
        name = name,
        instances = [target_label(instance) for instance in instances],
        label = loading_label_string(name),
        labels = tags,
        visibility = visibility,
        **kwargs
    )

def tf_instance_group(name, **kwargs):
    """Deprecated alias of `tf_instance_set` ("group" means a run group, `tf_group`); warns.

    Args:
      name: the target's name.
      **kwargs: the `tf_instance_set` arguments.
    """

    # buildifier: disable=print
    print(deprecated_macro("tf_instance_group", "tf_instance_set", package_name()))
    tf_instance_set(name = name, **kwargs)

def tf_instances(name, component, instances, common = {}, parallelism = 10, tags = [], visibility = None, **kwargs):
    """Declares one `tf_instance` per entry of `instances`, and a `tf_fleet` `<name>` of them all.

    Each entry's keys override `common`'s; the dict-valued keys (`vars`, `env`,
    `secret_env`, `backend_config`, `inputs_from`) merge one level deep, the entry
    winning (as in the Bazel rules).

    Args:
      name: name of the fleet (`<name>` builds every instance; `<name>.apply` applies them).
      component: label of the `tf_component`.
      instances: dict instance name -> dict of `tf_instance` arguments.
      common: arguments shared by every instance.
      parallelism: the fleet's default concurrency limit.
      tags: kept as each target's `labels`.
      visibility: visibility of every generated target (Buck2 form).
      **kwargs: passed to every generated target.
    """
    if name in instances:
        fail("tf_instances %s: an instance has the same name as the group" % name)
    for instance, entry in instances.items():
        args = merge_instance_args(common, entry, instance)
        args["tags"] = tags + args.get("tags", [])
        tf_instance(
            name = instance,
            component = target_label(component),
            visibility = visibility,
            **dict(args, **kwargs)
        )
    tf_fleet(
        name = name,
        instances = [":" + instance for instance in instances],
        parallelism = parallelism,
        tags = tags,
        visibility = visibility,
        **kwargs
    )
