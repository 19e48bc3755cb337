"""Backend defaults and state addresses: where an instance's state lives.

Two instances must never share state. The address of an instance's state is its
backend type, the settings that locate the state (bucket + key, prefix, path...)
and its Terraform workspace. `check_unique_states` fails naming both labels when
two instances share one. Checks happen:
- at loading time, within one package (`tf_instance` / `tf_instances` claim their
  address with a marker target; a second claim fails: package_claims.bzl);
- at analysis time, across packages, for every instance together with its
  transitive `deps` (`tf_instance`), all instances of a `tf_instances` group, and
  every instance of a `tf_fleet`.

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here.
"""

load(":claims.bzl", "check_unique_claims", "claim")
load(":run_dirs.bzl", "run_dir")

# For each backend: the setting naming the state within its store, and the
# settings that name the store. Unknown backends use their whole configuration.
_LOCATION = {
    "azurerm": ("key", ["storage_account_name", "container_name"]),
    "consul": ("path", ["address"]),
    "cos": ("key", ["bucket", "prefix"]),
    "gcs": ("prefix", ["bucket"]),
    "kubernetes": ("secret_suffix", ["namespace"]),
    "oss": ("key", ["bucket", "prefix"]),
    "s3": ("key", ["bucket", "workspace_key_prefix"]),
}

def effective_backend_config(backend, backend_config, package, name):
    """Returns backend_config with rules_fleet's defaults applied.

    Local backend: state `terraform.tfstate` in the instance's run directory.
    Other known backends without a key: `<package>/<name>/terraform.tfstate`
    (gcs: prefix `<package>/<name>`; kubernetes: secret_suffix `<package>-<name>`).

    Args:
      backend: backend type.
      backend_config: dict as given by the user.
      package: the instance's package.
      name: the instance's name.

    Returns:
      A new dict.
    """
    config = dict(backend_config)
    state_dir = run_dir(package, name)
    if backend == "local":
        if "path" not in config:
            config["path"] = "terraform.tfstate"
    elif backend in _LOCATION:
        key_field = _LOCATION[backend][0]
        if key_field not in config:
            if backend == "gcs":
                config[key_field] = state_dir
            elif backend == "kubernetes":
                config[key_field] = state_dir.replace("/", "-").replace("_", "-").lower()
            else:
                config[key_field] = state_dir + "/terraform.tfstate"
    return config

def _normalize(path):
    parts = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        else:
            parts.append(part)
    return ("/" if path.startswith("/") else "") + "/".join(parts)

def _workspace_object(backend, config, key_field, workspace):
    """Where a backend keeps a workspace's state within its store, as Terraform names it.

    s3: `<key>` for default, `<workspace_key_prefix or "env:">/<workspace>/<key>`;
    gcs: `<prefix>/<workspace>.tfstate`; azurerm: `<key>` or `<key>env:<workspace>`;
    consul: `<path>` or `<path>-env:<workspace>`; others: None (the key setting, with the
    workspace beside it).

    Args:
      backend: backend type.
      config: the effective backend configuration.
      key_field: the setting naming the state (`_LOCATION`).
      workspace: the Terraform workspace (`default` when none).

    Returns:
      The object's name, or None.
    """
    key = config.get(key_field, "")
    default = workspace == "default"
    if backend == "s3":
        return key if default else _normalize("%s/%s/%s" % (config.get("workspace_key_prefix", "env:"), workspace, key))
    if backend == "gcs":
        return _normalize("%s/%s.tfstate" % (key, workspace))
    if backend == "azurerm":
        return key if default else "%senv:%s" % (key, workspace)
    if backend == "consul":
        return key if default else "%s-env:%s" % (key, workspace)
    return None

def state_address(backend, config, workspace, fleet_root, run_dir):
    """Returns a string that is equal for two instances exactly when they share state.

    The address names where the state lives as the backend stores it, workspace
    included: two instances whose keys and workspaces differ but name the same object
    (s3 `key = "env:/a/k"` in `default` and `key = "k"` in workspace `a`) share state.

    Args:
      backend: backend type.
      config: the effective backend configuration (see effective_backend_config).
      workspace: Terraform workspace or None.
      fleet_root: the fleet root (relative to the workspace root, or absolute).
      run_dir: the instance's run directory relative to the fleet root.

    Returns:
      The address string.
    """
    workspace = workspace or "default"
    if backend == "local":
        path = config.get("path", "terraform.tfstate")
        if not path.startswith("/"):
            path = fleet_root + "/" + run_dir + "/" + path
        if workspace != "default":
            # Non-default workspaces live under workspace_dir next to the run dir.
            ws_dir = config.get("workspace_dir", "terraform.tfstate.d")
            if not ws_dir.startswith("/"):
                ws_dir = fleet_root + "/" + run_dir + "/" + ws_dir
            path = ws_dir + "/" + workspace + "/" + path.rsplit("/", 1)[-1]
        return "local path %s" % _normalize(path)
    if backend == "pg":
        # One row per workspace in <schema>.states; the connection string is normally
        # in the environment (PG_CONN_STR), the same for every instance.
        return "pg conn_str=%s schema_name=%s workspace %s" % (
            config.get("conn_str", "$PG_CONN_STR"),
            config.get("schema_name", "terraform_remote_state"),
            workspace,
        )
    if backend == "http":
        # No workspaces: the address is the state.
        return "http address=%s" % config.get("address", "")
    if backend in _LOCATION:
        key_field, store_fields = _LOCATION[backend]
        store = ", ".join(["%s=%s" % (f, config.get(f, "")) for f in store_fields if f != "workspace_key_prefix"])
        located = _workspace_object(backend, config, key_field, workspace)
        if located != None:
            return "%s %s object %s" % (backend, store, located)
        return "%s %s=%s (%s) workspace %s" % (backend, key_field, config.get(key_field, ""), store, workspace)
    return "%s %s workspace %s" % (backend, json.encode(config), workspace)

def state_claim(address, label):
    """Encodes one instance's claim for check_unique_states."""
    return claim(address, label)

# Why two instances may not share one state (also the loading-time message).
SHARED_STATE = "instances {first} and {second} share state ({key}). Give each instance its own key/prefix/path or workspace."

def check_unique_states(claims, what):
    """Fails naming both labels when two instances share a state address.

    Args:
      claims: iterable of state_claim strings (duplicates of the same label are fine).
      what: what is being checked, for the message (a target label).
    """
    check_unique_claims(claims, what, SHARED_STATE)
