"""tf_instance (Buck2): one instance of a tf_component, as a set of targets."""

load("//rules/private:retry.bzl", "retry_json")
load("//rules/private:run_dirs.bzl", "run_dir")
load("//rules/private:state_identity.bzl", "effective_backend_config", "state_address")
load(":json.bzl", "sorted_json")
load(":labels.bzl", "loading_label_string", "resolve_label_string", "runfiles_prefix", "target_label")
load(":package_claims.bzl", "claim_in_package")
load(":tf_instance_rule.bzl", "tf_instance_rule")
load(":tf_run.bzl", "RUN_ACTIONS", "tf_run")

def _resolved_inputs(label, deps, inputs_from):
    """(deps plus every inputs_from upstream deps lacks, inputs_from with canonical labels)."""
    deps = [target_label(dep) for dep in deps]
    known = [resolve_label_string(dep) for dep in deps]
    resolved = {}
    for var, ref in inputs_from.items():
        if "#" not in ref:
            fail("%s: inputs_from[\"%s\"] = \"%s\" must be \"LABEL#OUTPUT\"" % (label, var, ref))
        target, output = ref.rsplit("#", 1)
        canonical = resolve_label_string(target)
        resolved[var] = "%s#%s" % (canonical, output)
        if canonical not in known:
            known.append(canonical)
            deps.append(target_label(target))
    return deps, resolved

def tf_instance(
        name,
        component,
        vars = {},
        var_files = [],
        backend = "local",
        backend_config = {},
        workspace = None,
        deps = [],
        env = {},
        secret_env = {},
        allow_secret_like_keys = [],
        tags = [],
        inputs_from = {},
        fleet_root = ".fleet",
        check = "plan",
        mocks = [],
        exclusive = False,
        retry = None,
        visibility = None,
        **kwargs):
    """One instance of a component: its own rendered tree, check, run directory and state.

    Creates `<name>` (renders the instance tree and checks it hermetically: a plan of
    its values against mock providers; a misfit fails `buck2 build`) and
    `<name>.plan`, `<name>.apply`, `<name>.destroy`, `<name>.output` (`buck2 run`
    targets working in `<project root>/<fleet_root>/<package>/<name>/`; arguments
    after `--` go to terraform). The arguments mean what they mean for the Bazel
    rule (docs/rules.md); the differences are in docs/buck2.md.

    Args:
      name: instance name; with the package, its identity.
      component: label of a `tf_component`.
      vars: variables; any JSON-able value.
      var_files: `.tfvars` / `.tfvars.json` files, loaded after `vars` (later files win).
      backend: backend type (`local`, `s3`, `gcs`, ...).
      backend_config: backend settings without secrets (defaults as in Bazel: local state
        in the run directory, keys `<package>/<name>/terraform.tfstate`).
      workspace: Terraform workspace (None: `default`).
      deps: instances applied before this one (`inputs_from` upstreams are added).
      env: extra environment for terraform at run time (no secrets).
      secret_env: variable -> environment variable name, read at run time only.
      allow_secret_like_keys: key names that look like secrets but are not.
      tags: kept as each target's `labels` (Buck2 has no `manual`).
      inputs_from: variable -> `"LABEL#OUTPUT"`: another instance's output, read at run
        time after it is applied; implies a dependency on it.
      fleet_root: directory under the project root holding run directories.
      check: build-time check: `plan` (default), `validate` or `none`.
      mocks: more `<provider>[.<anything>].tfmock.hcl` files for this instance's check.
      exclusive: `fleet run` runs the instance alone (docs/groups.md).
      retry: retries of transient failures in `fleet run`; its keys win over the
        component's (docs/retries.md).
      visibility: visibility of every generated target (Buck2 form).
      **kwargs: passed to every generated target.
    """
    package = package_name()
    label = loading_label_string(name)
    config = effective_backend_config(backend, backend_config, package, name)
    claims = claim_in_package(package, name, label, state_address(backend, config, workspace, fleet_root, run_dir(package, name)))
    all_deps, resolved_inputs = _resolved_inputs(label, deps, inputs_from)
    tf_instance_rule(
        name = name,
        allow_secret_like_keys = allow_secret_like_keys,
        backend = backend,
        backend_config_json = sorted_json(config),
        check = check,
        claims = claims,
        component = target_label(component),
        deps = all_deps,
        env = env,
        exclusive = exclusive,
        fleet_root = fleet_root,
        inputs_from = resolved_inputs,
        label = label,
        labels = tags,
        mocks = mocks,
        path_prefix = runfiles_prefix() + (package + "/" if package else ""),
        retry_json = retry_json(retry),
        secret_env = secret_env,
        var_files = var_files,
        vars_json = sorted_json(vars),
        visibility = visibility,
        workspace = workspace or "",
        **kwargs
    )
    for action in RUN_ACTIONS:
        tf_run(
            name = "%s.%s" % (name, action),
            action = action,
            instance = ":" + name,
            labels = tags,
            visibility = visibility,
            **kwargs
        )
