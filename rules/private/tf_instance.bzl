"""tf_instance: one instance of a tf_component, as a set of targets."""

load(":action_targets.bzl", "rule_with_action_targets")
load(":labels.bzl", "loading_label_string", "resolve_label_string")
load(":package_claims.bzl", "claim_run_dir_in_package", "claim_state_in_package")
load(":retry.bzl", "retry_json")
load(":run_dirs.bzl", "run_dir")
load(":state_identity.bzl", "effective_backend_config", "state_address")
load(":tf_instance_rule.bzl", "tf_instance_rule")
load(":tf_run.bzl", "RUN_ACTIONS", "tf_run")

def _with_inputs_from_deps(deps, inputs_from, package):
    """deps plus every instance inputs_from reads (`LABEL#OUTPUT`) that deps lacks."""
    deps = list(deps)
    known = [resolve_label_string(str(dep), package) for dep in deps]
    for target in _inputs_from_targets(inputs_from, package).values():
        if target not in known:
            known.append(target)
            deps.append(target)
    return deps

def _inputs_from_targets(inputs_from, package):
    """`{written target: its resolve_label_string form}` of the `LABEL#OUTPUT` references."""
    targets = {}
    for ref in inputs_from.values():
        if "#" not in ref:
            continue  # the rule reports the malformed reference, naming the instance
        target = ref.rsplit("#", 1)[0]
        targets[target] = resolve_label_string(target, package)
    return targets

def _inputs_from_labels(inputs_from, package):
    """The upstreams as a label-keyed dict for the rule.

    Bazel resolves each key in this package's repository (its repo mapping), so the rule
    compares Labels, never a written name with another repository's canonical one. Value:
    the JSON list of the ways the references write that target.
    """
    by_target = {}
    for written, resolved in _inputs_from_targets(inputs_from, package).items():
        by_target.setdefault(resolved, []).append(written)
    return {written[0]: json.encode(written) for written in by_target.values()}

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
    """One instance of a component: its own rendered tree, validation, run directory and state.

    Creates:
    - `<name>`: renders the instance tree (module + backend.tf.json +
      terraform.tfvars.json + lock file) and checks it hermetically: a plan of
      its values against mock providers (`fleet check`; result `<name>.check.json`,
      output group `check`). A misfit fails the build.
    - `<name>.plan`, `<name>.apply`, `<name>.destroy`, `<name>.output`: `bazel run`
      targets working in `<workspace root>/<fleet_root>/<package>/<name>/`.

    Args:
      name: instance name; with the package, its label.
      component: label of a `tf_component`.
      vars: variables; any JSON-able value (dicts, lists, numbers, bools, None).
      var_files: `.tfvars` / `.tfvars.json` files, loaded after `vars` (later files win).
      backend: backend type (`local`, `s3`, `gcs`, `azurerm`, ...).
      backend_config: backend settings without secrets. Defaults: local → state
        `terraform.tfstate` in the run directory; s3/azurerm/oss/cos → key
        `<package>/<name>/terraform.tfstate`; gcs → prefix `<package>/<name>`;
        consul → path `<package>/<name>/terraform.tfstate`.
      workspace: Terraform workspace (None: `default`).
      deps: instances that must be applied before this one (`inputs_from`
        upstreams are added; a cycle fails analysis, naming it).
      env: extra environment for terraform at run time (no secrets: names
        that look like secrets are refused).
      secret_env: variable -> environment variable name: the variable's value
        is read from that environment variable by `fleet tf` / `fleet run` at
        run time and never enters Bazel (only the names reach the manifest).
        The way to pass secrets; a variable cannot be in both `vars` and here.
        The root module must declare the variable `sensitive = true` (fleet
        refuses it otherwise), and fleet hides the value wherever terraform
        prints it.
      allow_secret_like_keys: exact key names in `vars`, `backend_config` or
        `env` that look like secrets by name, or hold a value that looks like
        one, but are not (e.g. `auth_method`).
      tags: tags for every generated target.
      inputs_from: variable → `"LABEL#OUTPUT"`: the output of another instance,
        read at run time after it is applied; implies a dependency on it.
      fleet_root: directory under the workspace root holding run directories
        (relative, without `..`).
      check: build-time check: `plan` (default: the values planned against mock
        providers), `validate` (the component's `terraform validate`) or `none`.
      mocks: more `<provider>[.<anything>].tfmock.hcl` files for this instance's check.
      exclusive: `fleet run` runs the instance alone: it starts only when nothing
        else of the run is running, and nothing else starts while it runs (for
        instances managing account-wide singletons). See docs/groups.md.
      retry: retries of transient failures in `fleet run`; its keys win over the
        component's `retry` (same keys: `patterns`, `max_attempts`, `delay`,
        `max_delay`, `apply`, `defaults`). See docs/retries.md.
      visibility: visibility of every generated target.
      **kwargs: passed to every generated target (e.g. `testonly`).
    """
    package = native.package_name()
    label = loading_label_string(package, name)
    claim_run_dir_in_package(package, name, label)
    config = effective_backend_config(backend, backend_config, package, name)
    claim_state_in_package(
        name = name,
        address = state_address(backend, config, workspace, fleet_root, run_dir(package, name)),
        label = label,
    )

    rule_with_action_targets(
        name = name,
        main_rule = tf_instance_rule,
        action_rule = tf_run,
        actions = RUN_ACTIONS,
        link_attr = "instance",
        tags = tags,
        visibility = visibility,
        kwargs = kwargs,
        component = component,
        vars_json = json.encode(vars),
        var_files = var_files,
        backend = backend,
        backend_config_json = json.encode(config),
        workspace = workspace or "",
        deps = _with_inputs_from_deps(deps, inputs_from, package),
        inputs_from = inputs_from,
        inputs_from_targets = _inputs_from_labels(inputs_from, package),
        env = env,
        secret_env = secret_env,
        allow_secret_like_keys = allow_secret_like_keys,
        fleet_root = fleet_root,
        check = check,
        mocks = mocks,
        exclusive = exclusive,
        retry_json = retry_json(retry),
    )
