"""Instance manifests: the JSON contract with `fleet` (src/manifest.rs).

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here.
"""

MANIFEST_SCHEMA = 1

def instance_entry(label, name, rendered, run_dir, workspace, env, deps, inputs_from, secret_env = {}, exclusive = False, retry = None):
    """Returns one `Instance` of the manifest as a dict.

    Args:
      label: canonical label string.
      name: short name.
      rendered: runfiles path (short_path) of the rendered tree.
      run_dir: run directory relative to the fleet root.
      workspace: Terraform workspace or None.
      env: dict of extra environment variables.
      deps: list of label strings applied first.
      inputs_from: dict variable -> {"instance": label, "output": name}.
      secret_env: dict variable -> environment variable NAME read at run time
        (never a value). Written only when non-empty, so helpers that predate
        the field still read manifests of instances without it.
      exclusive: the instance runs alone (`tf_instance(exclusive)`); written only when True.
      retry: the merged retry policy (retry.bzl's manifest_retry); written only when not None.

    Returns:
      A dict json.encode turns into a valid `Instance`.
    """
    entry = {
        "label": label,
        "name": name,
        "rendered": rendered,
        "run_dir": run_dir,
        "workspace": workspace,
        "env": env,
        "deps": deps,
        "inputs_from": inputs_from,
        "providers": [],
    }
    if secret_env:
        entry["secret_env"] = dict(secret_env)
    if exclusive:
        entry["exclusive"] = True
    if retry != None:
        entry["retry"] = retry
    return entry

def manifest_json(target, terraform, fleet_root, entries, parallelism = 0, groups = [], includes = []):
    """Returns the manifest text.

    An instance's manifest holds its own entry and names the manifests of its
    direct dependencies in `includes` (fleet reads them, and theirs, in turn), so
    a chain of N instances writes N entries, not N * N / 2. A fleet's manifest
    holds every entry once and includes nothing.

    Args:
      target: label string of the target writing the manifest.
      terraform: runfiles path (short_path) of the terraform binary.
      fleet_root: run directories live under `<workspace root>/<fleet_root>/`.
      entries: list of JSON strings, one per instance (TfInstanceInfo.transitive_entries).
      parallelism: default concurrency limit, 0 for fleet's default.
      groups: run group entries (TfGroupInfo.entry dicts); written only when any.
      includes: runfiles paths of the manifests of the instance's direct
        dependencies (deduplicated, in order); written only when any.

    Returns:
      The JSON text of a `Manifest`.
    """
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "target": target,
        "parallelism": parallelism,
        "terraform": terraform,
        "fleet_root": fleet_root,
        "instances": [json.decode(entry) for entry in entries],
    }
    if groups:
        manifest["groups"] = groups
    if includes:
        manifest["includes"] = unique_paths(includes)
    return json.encode(manifest)

def unique_paths(paths):
    """Returns `paths` without repeats, first occurrence kept.

    Args:
      paths: list of strings.

    Returns:
      A list of strings.
    """
    seen = {}
    for path in paths:
        seen[path] = True
    return seen.keys()
