"""Public API of rules_fleet for Buck2: Terraform components, instances and variant builds.

The same rules, attributes and meanings as the Bazel rules (rules/defs.bzl), written
against Buck2's built-in API (no prelude needed). They call the same `fleet`
subcommands and write the same manifests; docs/buck2.md lists the differences.
Toolchains: `toolchains//:terraform` (terraform_toolchain) and `toolchains//:fleet`
(fleet_toolchain).
"""

load(":fleet_tools.bzl", _fleet_tools = "fleet_tools")
load(":fleet_verify.bzl", _fleet_verify = "fleet_verify")
load(":providers.bzl", _FleetHelperInfo = "FleetHelperInfo", _FleetToolsInfo = "FleetToolsInfo", _FleetVerifyInfo = "FleetVerifyInfo", _TerraformInfo = "TerraformInfo", _TfComponentInfo = "TfComponentInfo", _TfFleetInfo = "TfFleetInfo", _TfGroupInfo = "TfGroupInfo", _TfInstanceGroupInfo = "TfInstanceGroupInfo", _TfInstanceInfo = "TfInstanceInfo", _TfInstanceSetInfo = "TfInstanceSetInfo")
load(":tf_component.bzl", _tf_component = "tf_component")
load(":tf_fleet.bzl", _tf_fleet = "tf_fleet")
load(":tf_group.bzl", _tf_group = "tf_group")
load(":tf_instance.bzl", _tf_instance = "tf_instance")
load(":tf_instances.bzl", _tf_instance_group = "tf_instance_group", _tf_instance_set = "tf_instance_set", _tf_instances = "tf_instances")
load(":toolchains.bzl", _fleet_toolchain = "fleet_toolchain", _terraform_toolchain = "terraform_toolchain")
load(":variant_build.bzl", _variant_build = "variant_build")

# One Terraform root module; `<name>` validates it once for all its instances.
tf_component = _tf_component

# One instance of a component: `<name>` (render + build check) and `<name>.plan|.apply|.destroy|.output`.
tf_instance = _tf_instance

# Many instances of one component, for_each style, and a `tf_fleet` `<name>` of them all.
tf_instances = _tf_instances

# Instances (and their dependencies) run as one: `<name>` builds them, `<name>.plan|.apply|.destroy` run `fleet run`.
tf_fleet = _tf_fleet

# Builds a set of instances and checks they share no state (a `tf_fleet` without the runner).
tf_instance_set = _tf_instance_set

# Deprecated alias of `tf_instance_set` (warns).
tf_instance_group = _tf_instance_group

# A run group of a fleet: members in parallel (at most `parallelism` at once) or serially, with an optional `on_change` hook.
tf_group = _tf_group

# Terraform as a toolchain (`toolchains//:terraform`): a file, or a release zip verified by sha256.
terraform_toolchain = _terraform_toolchain

# The fleet helper as a toolchain (`toolchains//:fleet`): a file, a release binary, or cargo.
fleet_toolchain = _fleet_toolchain

# A tools bundle (.tar/.tar.gz) shared by variant builds, extracted once.
fleet_tools = _fleet_tools

# One variant of a project built by its own action, with the tools at $FLEET_TOOLS_DIR ("tree" or "shared" mode).
variant_build = _variant_build

# Checks inputs against an expected tag and emits a `fleet tag write` tag that changes only with their digests.
fleet_verify = _fleet_verify

TfComponentInfo = _TfComponentInfo
TfInstanceInfo = _TfInstanceInfo
TfInstanceSetInfo = _TfInstanceSetInfo

# Deprecated alias of TfInstanceSetInfo.
TfInstanceGroupInfo = _TfInstanceGroupInfo
TfFleetInfo = _TfFleetInfo
TfGroupInfo = _TfGroupInfo
TerraformInfo = _TerraformInfo
FleetHelperInfo = _FleetHelperInfo
FleetToolsInfo = _FleetToolsInfo
FleetVerifyInfo = _FleetVerifyInfo
