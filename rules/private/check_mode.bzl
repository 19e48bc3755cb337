"""Which build check an instance gets, and mock file names.

Pure Starlark, loaded by both rule sets (rules/private for Bazel, rules/buck2 for
Buck2): no `native`, `attr`, `Label` or recursion here.
"""

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
