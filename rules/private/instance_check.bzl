"""What an instance's render and build check are told, the same in both rule sets.

The render refuses a variable the component does not declare (with a did-you-mean),
so it is told every way the instance sets one: its values files and, by name, the
variables set at run time (`inputs_from`, `secret_env`, `env`'s `TF_VAR_*`). The
build check plans with what the run will have: the `TF_VAR_*` of `env` (a file, so
no value is on a command line) and the workspace.

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here.
"""

_TF_VAR = "TF_VAR_"

def render_check_args(label, component_label, var_files, inputs_from, secret_env, env):
    """The `fleet render` arguments that make it refuse undeclared variables.

    Args:
      label: the instance's label string.
      component_label: the component's label string.
      var_files: list of (name in the tree, path messages name it by) of the var files, in order.
      inputs_from: the instance's `inputs_from` (variable -> reference).
      secret_env: the instance's `secret_env` (variable -> environment variable).
      env: the instance's `env`.

    Returns:
      The arguments, a list of strings (before `--`).
    """
    args = ["--label", label, "--component", component_label, "--values", "terraform.tfvars.json=vars"]
    for name, shown in var_files:
        args += ["--values", "%s=var_files %s" % (name, shown)]
    sets = ["%s=inputs_from" % name for name in inputs_from]
    sets += ["%s=secret_env" % name for name in secret_env]
    sets += ["%s=env %s" % (name[len(_TF_VAR):], name) for name in env if name.startswith(_TF_VAR) and len(name) > len(_TF_VAR)]
    for item in sets:
        args += ["--sets", item]
    return args

def check_plan_env(env):
    """The `TF_VAR_*` of the instance's env, as its check's plan sees them.

    Args:
      env: the instance's `env`.

    Returns:
      A dict (written as the check's `--env-file`), or None when there are none.
    """
    plan_env = {name: value for name, value in env.items() if name.startswith(_TF_VAR)}
    return plan_env or None

def check_workspace(env, workspace):
    """The workspace the check plans in: `env`'s `TF_WORKSPACE` (which wins at run time), else `workspace`.

    Args:
      env: the instance's `env`.
      workspace: the instance's `workspace` ("" or None for `default`).

    Returns:
      The workspace name, or None for `default`.
    """
    return env.get("TF_WORKSPACE") or workspace or None
