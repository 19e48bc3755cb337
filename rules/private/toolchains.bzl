"""Toolchain rules: a Terraform binary and the fleet helper binary."""

load(":providers.bzl", "FleetHelperInfo", "TerraformInfo")
load(":run_tools.bzl", "RUNTIME_FLEET_ATTRS", "runtime_fleet_of")

def _terraform_toolchain_impl(ctx):
    binary = ctx.file.terraform
    return [platform_common.ToolchainInfo(
        terraform = TerraformInfo(
            binary = binary,
            version = ctx.attr.version,
            flavor = ctx.attr.flavor,
            files = depset([binary]),
        ),
    )]

terraform_toolchain = rule(
    implementation = _terraform_toolchain_impl,
    doc = "A Terraform (or OpenTofu) binary as a toolchain of type `@rules_fleet//tools:terraform_toolchain_type`.",
    attrs = {
        "terraform": attr.label(
            mandatory = True,
            allow_single_file = True,
            executable = True,
            cfg = "exec",
            doc = "The `terraform` or `tofu` executable.",
        ),
        "version": attr.string(
            mandatory = True,
            doc = "Its version, e.g. `1.11.4`.",
        ),
        "flavor": attr.string(
            default = "terraform",
            values = ["terraform", "tofu"],
            doc = "`terraform` or `tofu` (OpenTofu): decides which version has `terraform test` with mock providers.",
        ),
    },
)

def _fleet_helper_toolchain_impl(ctx):
    return [platform_common.ToolchainInfo(fleet = FleetHelperInfo(binary = ctx.file.fleet))]

fleet_helper_toolchain = rule(
    implementation = _fleet_helper_toolchain_impl,
    doc = "The `fleet` helper as a toolchain of type `@rules_fleet//tools:fleet_toolchain_type`.",
    attrs = {
        "fleet": attr.label(
            mandatory = True,
            allow_single_file = True,
            executable = True,
            cfg = "exec",
            doc = "The `fleet` executable.",
        ),
    },
)

def _current_fleet_helper_impl(ctx):
    fleet = runtime_fleet_of(ctx).binary
    launcher = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.symlink(output = launcher, target_file = fleet, is_executable = True)
    return [
        DefaultInfo(executable = launcher, runfiles = ctx.runfiles(files = [fleet])),
        FleetHelperInfo(binary = fleet),
    ]

current_fleet_helper = rule(
    implementation = _current_fleet_helper_impl,
    doc = "The `fleet` helper of the platform `bazel run` runs on (the toolchain resolved for the target platform), runnable: `bazel run @rules_fleet//tools:fleet -- hash FILE`.",
    attrs = RUNTIME_FLEET_ATTRS,
    executable = True,
)
