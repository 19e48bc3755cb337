"""The build-time check of instances (Buck2): `fleet check` actions, as the Bazel rules run them."""

load("//rules/private:check_mode.bzl", "mock_provider_name")

def fleet_check(ctx, fleet, terraform, mode, out, label, component, tree = None, files = [], sources = [], mocks = [], category = "terraform_check", workspace = None, env_file = None):
    """Registers one `fleet check` action (the Bazel rules' `fleet_check`, same arguments).

    Args:
      ctx: the rule context.
      fleet: the `fleet` executable artifact.
      terraform: the TerraformInfo.
      mode: `plan` or `validate`.
      out: the result artifact (declared, unbound).
      label: label string of what is checked.
      component: the component (label, lock_target).
      tree: the rendered instance tree (a directory artifact), or None.
      files: list of (path in module, artifact) placed in the checked copy.
      sources: list of `PATH=ORIGIN` strings naming tree paths in messages.
      mocks: list of `.tfmock.hcl` artifacts.
      category: the action's category.
      workspace: the instance's workspace (`terraform.workspace` in the plan), or None.
      env_file: an artifact holding the JSON object of the instance's `TF_VAR_*` env, or None.

    Returns:
      `out`.
    """
    cmd = cmd_args(
        fleet,
        "check",
        "--mode",
        mode,
        "--terraform",
        terraform.binary,
        "--label",
        label,
        "--component",
        component.label,
        "--out",
        out.as_output(),
        hidden = terraform.files,
    )
    if component.lock_target:
        cmd.add("--lock-target", component.lock_target)
    if tree:
        cmd.add("--tree", tree)
    for path, file in files:
        cmd.add("--file", cmd_args(file, format = path + "={}"))
    for source in sources:
        cmd.add("--source", source)
    if workspace:
        cmd.add("--workspace", workspace)
    if env_file:
        cmd.add("--env-file", env_file)
    for file in mocks:
        cmd.add("--mocks", cmd_args(file, format = mock_provider_name(file) + "={}"))
    ctx.actions.run(cmd, category = category)
    return out
