"""tf_instances: many instances of one component (for_each style), and a fleet of them all."""

load(":deprecation.bzl", "deprecated_macro")
load(":instances_merge.bzl", "merge_instance_args")
load(":labels.bzl", "label_string")
load(":providers.bzl", "TfInstanceInfo", "TfInstanceSetInfo")
load(":run_dirs.bzl", "check_run_dirs")
load(":state_identity.bzl", "check_unique_states")
load(":tf_fleet.bzl", "tf_fleet")
load(":tf_instance.bzl", "tf_instance")

def _tf_instance_set_impl(ctx):
    instances = [target[TfInstanceInfo] for target in ctx.attr.instances]
    check_unique_states(
        depset(transitive = [i.transitive_states for i in instances]).to_list(),
        label_string(ctx.label),
    )
    check_run_dirs(
        depset(transitive = [i.transitive_run_dirs for i in instances]).to_list(),
        label_string(ctx.label),
    )
    return [
        DefaultInfo(files = depset(transitive = [target[DefaultInfo].files for target in ctx.attr.instances])),
        TfInstanceSetInfo(instances = instances),
    ]

tf_instance_set = rule(
    implementation = _tf_instance_set_impl,
    doc = """Builds (renders and build-checks) a set of instances and checks at analysis time that
no two of them, nor any of their dependencies, share state or have nested run directories
(a `tf_fleet` without the runner).""",
    attrs = {
        "instances": attr.label_list(
            providers = [TfInstanceInfo],
            doc = "The instances.",
        ),
    },
    provides = [TfInstanceSetInfo],
)

def tf_instance_group(name, **kwargs):
    """Deprecated alias of `tf_instance_set` ("group" means a run group, `tf_group`).

    Warns once per package (the first call), then declares the `tf_instance_set`.

    Args:
      name: the target's name.
      **kwargs: the `tf_instance_set` attributes.
    """
    if not [r for r in native.existing_rules().values() if r.get("generator_function") == "tf_instance_group"]:
        # buildifier: disable=print
        print(deprecated_macro("tf_instance_group", "tf_instance_set", native.package_name()))
    tf_instance_set(name = name, **kwargs)

def tf_instances(name, component, instances, common = {}, parallelism = 10, tags = [], visibility = None, **kwargs):
    """Declares one `tf_instance` per entry of `instances`, and a `tf_fleet` `<name>` of them all.

    `<name>` builds every instance; `<name>.plan`, `<name>.apply`, `<name>.destroy`
    run them all through `fleet run`.

    Each entry's keys override `common`'s; the dict-valued keys (`vars`, `env`,
    `secret_env`, `backend_config`, `inputs_from`) are merged one level deep, the entry winning.

    Example:
        tf_instances(
            name = "redis",
            component = ":elasticache",
            common = {"vars": {"node_type": "cache.t4g.small"}},
            instances = {
                "redis-cluster-1": {"vars": {"shards": 1}},
                "redis-cluster-2": {"vars": {"shards": 3}},
            },
        )

    Args:
      name: name of the fleet (`<name>` builds every instance; `<name>.apply` applies them).
      component: label of the `tf_component`.
      instances: dict instance name → dict of `tf_instance` arguments
        (`vars`, `var_files`, `backend`, `backend_config`, `workspace`, `deps`,
        `env`, `secret_env`, `allow_secret_like_keys`, `inputs_from`, `tags`, `fleet_root`).
      common: arguments shared by every instance.
      parallelism: the fleet's default concurrency limit (see `tf_fleet`).
      tags: tags added to every generated target.
      visibility: visibility of every generated target.
      **kwargs: passed to every generated target.
    """
    if name in instances:
        fail("tf_instances %s: an instance has the same name as the group" % name)
    for instance, entry in instances.items():
        args = merge_instance_args(common, entry, instance)
        args["tags"] = tags + args.get("tags", [])
        tf_instance(
            name = instance,
            component = component,
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
