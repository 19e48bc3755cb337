"""The build-time check of instances: `fleet check` actions (plan against mock providers, or validate)."""

load(":tf_provider.bzl", "plugin_slot")

CHECK_MODES = ["plan", "validate", "none"]

# First versions whose `terraform test` has mock_provider.
_MOCK_PROVIDER_SINCE = {"terraform": [1, 7], "tofu": [1, 8]}

def _version_tuple(version):
    """`1.11.4` -> [1, 11, 4]; non-numeric parts (`1.8.0-rc1`) stop the parse."""
    parts = []
    for part in version.split("."):
        digits = ""
        for char in part.elems():
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(part):
            break
    return parts

def effective_check(requested, terraform, label, run_time_vars = []):
    """The check an instance gets: `plan` falls back to `validate`, with a note, where a plan cannot work.

    A plan needs mock providers (terraform >= 1.7, tofu >= 1.8) and every value:
    variables set only at run time (`inputs_from`: other instances' outputs;
    `secret_env`: the environment) have none at build time, and terraform test
    cannot pass unknown values.

    Args:
      requested: the instance's `check` attribute.
      terraform: the TerraformInfo.
      label: the instance's label string, for the note.
      run_time_vars: names of the variables set only at run time.

    Returns:
      `plan`, `validate` or `none`.
    """
    if requested != "plan":
        return requested
    if run_time_vars:
        # buildifier: disable=print
        print("rules_fleet: %s: %s get their values only at run time (inputs_from, secret_env); checking with validate instead of plan" % (
            label,
            ", ".join(sorted(run_time_vars)),
        ))
        return "validate"
    flavor = getattr(terraform, "flavor", "terraform")
    since = _MOCK_PROVIDER_SINCE.get(flavor, _MOCK_PROVIDER_SINCE["terraform"])
    if _version_tuple(terraform.version) >= since:
        return "plan"

    # print() is Starlark's only warning; it fires only when the fallback applies.
    # buildifier: disable=print
    print("rules_fleet: %s: %s %s has no mock providers (needs %s); checking with validate instead of plan" % (
        label,
        flavor,
        terraform.version,
        ".".join([str(n) for n in since]),
    ))
    return "validate"

def mock_provider_name(file):
    """`aws.tfmock.hcl`, `aws.buckets.tfmock.hcl` -> `aws`: the provider a mock file is for."""
    if not file.basename.endswith(".tfmock.hcl"):
        fail("%s: a mock file must be named <provider>[.<anything>].tfmock.hcl" % file.short_path)
    return file.basename.split(".")[0]

def fleet_check(ctx, fleet, terraform, mode, out, label, component, tree = None, files = [], sources = [], mocks = [], mnemonic = "TerraformCheck", workspace = None, env_file = None):
    """Registers one `fleet check` action.

    Args:
      ctx: the rule context.
      fleet: the `fleet` executable File.
      terraform: the TerraformInfo.
      mode: `plan` or `validate`.
      out: the result File.
      label: label string of what is checked.
      component: TfComponentInfo.
      tree: the rendered instance tree (a directory), or None.
      files: list of (path in module, File) placed in the checked copy.
      sources: list of `PATH=ORIGIN` strings naming tree paths in messages.
      mocks: list of `.tfmock.hcl` Files.
      mnemonic: the action's mnemonic.
      workspace: the instance's workspace (`terraform.workspace` in the plan), or None.
      env_file: a File holding the JSON object of the instance's `TF_VAR_*` env, or None.

    Returns:
      `out`.
    """
    args = ctx.actions.args()
    args.add("check")
    args.add("--mode", mode)
    args.add("--terraform", terraform.binary)
    args.add("--label", label)
    args.add("--component", component.label)
    args.add("--out", out)
    if component.lock_target:
        args.add("--lock-target", component.lock_target)
    if tree:
        args.add("--tree", tree.path)
    for path, file in files:
        args.add("--file", "%s=%s" % (path, file.path))
    args.add_all(sources, before_each = "--source")
    if workspace:
        args.add("--workspace", workspace)
    if env_file:
        args.add("--env-file", env_file)
    for package in component.providers:
        args.add("--plugin", "%s=%s" % (plugin_slot(package), package.unpacked.path))
    for file in mocks:
        args.add("--mocks", "%s=%s" % (mock_provider_name(file), file.path))
    inputs = [file for _, file in files] + list(mocks) + [p.unpacked for p in component.providers]
    if tree:
        inputs.append(tree)
    if env_file:
        inputs.append(env_file)
    ctx.actions.run(
        executable = fleet,
        arguments = [args],
        inputs = depset(inputs, transitive = [terraform.files]),
        outputs = [out],
        mnemonic = mnemonic,
        progress_message = "Checking %s (%s)" % (label, mode),
        execution_requirements = {"block-network": ""},
    )
    return out

def component_sources(component):
    """`PATH=ORIGIN` for every module file: messages name the component's sources."""
    return ["%s=%s" % (f.path, f.file.short_path) for f in component.files]
