"""The terraform and fleet of `bazel run` targets: the toolchains of the platform they run on.

Build actions take terraform and fleet from their toolchains resolved for the action's
execution platform: with Linux remote workers registered first, the Linux binaries, even on a
Mac. A `bazel run` target's program runs on the machine running Bazel, the *target* platform
(`--platforms`, the host by default), so its launcher and runfiles need the binaries of that
platform. `//rules/private:runtime_terraform` and `:runtime_fleet` resolve the same toolchain
types in a configuration whose first execution platform is the target platform (a transition
of `--extra_execution_platforms`): every registered toolchain (per-platform downloads, the
host's helper, local binaries, custom `toolchain()`s) serves both uses, with no second
registration. Run rules depend on them through `RUNTIME_TERRAFORM_ATTRS` /
`RUNTIME_FLEET_ATTRS`.
"""

load(":providers.bzl", "FleetHelperInfo", "TerraformInfo")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE", "TERRAFORM_TOOLCHAIN_TYPE")

_PLATFORMS = "//command_line_option:platforms"
_EXTRA_EXECUTION_PLATFORMS = "//command_line_option:extra_execution_platforms"

def _target_platform_first_impl(settings, _attr):
    platforms = settings[_PLATFORMS]
    if not platforms:
        return {_EXTRA_EXECUTION_PLATFORMS: settings[_EXTRA_EXECUTION_PLATFORMS]}

    # Only the target platform: the user's extra execution platforms (remote workers) are for
    # build actions. The registered ones (and the host) still follow it, as always.
    return {_EXTRA_EXECUTION_PLATFORMS: [str(platforms[0])]}

# The target platform as the first execution platform: toolchain resolution then picks the
# binaries that run where the target runs.
target_platform_first = transition(
    implementation = _target_platform_first_impl,
    inputs = [_PLATFORMS, _EXTRA_EXECUTION_PLATFORMS],
    outputs = [_EXTRA_EXECUTION_PLATFORMS],
)

_TRANSITION_ATTRS = {
    # Bazel 4.2 wants it on every rule with a Starlark transition.
    "_allowlist_function_transition": attr.label(
        default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
    ),
}

def _runtime_terraform_impl(ctx):
    return [ctx.toolchains[TERRAFORM_TOOLCHAIN_TYPE].terraform]

runtime_terraform = rule(
    implementation = _runtime_terraform_impl,
    doc = "TerraformInfo of the terraform toolchain resolved for the target platform (`@rules_fleet//rules/private:runtime_terraform`): the terraform of `bazel run` targets.",
    attrs = _TRANSITION_ATTRS,
    cfg = target_platform_first,
    toolchains = [str(TERRAFORM_TOOLCHAIN_TYPE)],
    provides = [TerraformInfo],
)

def _runtime_fleet_impl(ctx):
    return [ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet]

runtime_fleet = rule(
    implementation = _runtime_fleet_impl,
    doc = "FleetHelperInfo of the fleet toolchain resolved for the target platform (`@rules_fleet//rules/private:runtime_fleet`): the helper of `bazel run` targets.",
    attrs = _TRANSITION_ATTRS,
    cfg = target_platform_first,
    toolchains = [str(FLEET_TOOLCHAIN_TYPE)],
    provides = [FleetHelperInfo],
)

RUNTIME_TERRAFORM_ATTRS = {
    "_runtime_terraform": attr.label(
        default = Label("//rules/private:runtime_terraform"),
        providers = [TerraformInfo],
        doc = "The terraform `bazel run` targets run: the toolchain resolved for the target platform.",
    ),
}

RUNTIME_FLEET_ATTRS = {
    "_runtime_fleet": attr.label(
        default = Label("//rules/private:runtime_fleet"),
        providers = [FleetHelperInfo],
        doc = "The fleet helper `bazel run` targets run: the toolchain resolved for the target platform.",
    ),
}

def runtime_terraform_of(ctx):
    """The TerraformInfo for the target platform (the rule has `RUNTIME_TERRAFORM_ATTRS`).

    Args:
      ctx: the rule context.

    Returns:
      TerraformInfo.
    """
    return ctx.attr._runtime_terraform[TerraformInfo]

def runtime_fleet_of(ctx):
    """The FleetHelperInfo for the target platform (the rule has `RUNTIME_FLEET_ATTRS`).

    Args:
      ctx: the rule context.

    Returns:
      FleetHelperInfo.
    """
    return ctx.attr._runtime_fleet[FleetHelperInfo]
