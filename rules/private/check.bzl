"""The build-time check of instances: `fleet check` actions (plan against mock providers, or validate)."""

load(":check_mode.bzl", "mock_provider_name")
load(":tf_provider.bzl", "plugin_slot")

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
