"""`tf_instances` entries merged with `common`, as one instance's arguments.

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here.
"""

# Keys of an instances entry (or common) and whether they merge one level deep.
_MERGED_KEYS = ["vars", "env", "secret_env", "backend_config", "inputs_from"]
_PLAIN_KEYS = ["var_files", "backend", "workspace", "deps", "tags", "fleet_root", "allow_secret_like_keys"]

def merge_instance_args(common, entry, instance):
    """The `tf_instance` arguments of one `tf_instances` entry: `common` overridden by `entry`.

    Plain keys: the entry's value, else common's. Dict keys (`vars`, `env`,
    `secret_env`, `backend_config`, `inputs_from`): merged one level deep, the
    entry winning. An unknown key fails, naming the instance.

    Args:
      common: the `common` dict of `tf_instances`.
      entry: the instance's dict.
      instance: the instance's name (for the message).

    Returns:
      A dict of `tf_instance` keyword arguments.
    """
    args = {}
    for key in entry:
        if key not in _MERGED_KEYS and key not in _PLAIN_KEYS:
            fail("tf_instances: instance %s: unknown key %s (known: %s)" % (instance, key, ", ".join(_MERGED_KEYS + _PLAIN_KEYS)))
    for key in common:
        if key not in _MERGED_KEYS and key not in _PLAIN_KEYS:
            fail("tf_instances: common: unknown key %s (known: %s)" % (key, ", ".join(_MERGED_KEYS + _PLAIN_KEYS)))
    for key in _PLAIN_KEYS:
        if key in entry:
            args[key] = entry[key]
        elif key in common:
            args[key] = common[key]
    for key in _MERGED_KEYS:
        if key in common or key in entry:
            merged = dict(common.get(key, {}))
            merged.update(entry.get(key, {}))
            args[key] = merged
    return args
