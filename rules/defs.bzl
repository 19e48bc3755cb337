"""Public API of rules_fleet: Terraform components and their instances as Bazel targets."""

load("//rules/private:fleet_tools.bzl", _fleet_tools = "fleet_tools")
load("//rules/private:fleet_verify.bzl", _fleet_verify = "fleet_verify")
load("//rules/private:providers.bzl", _FleetHelperInfo = "FleetHelperInfo", _FleetToolsInfo = "FleetToolsInfo", _FleetVerifyInfo = "FleetVerifyInfo", _TerraformInfo = "TerraformInfo", _TfComponentInfo = "TfComponentInfo", _TfFleetInfo = "TfFleetInfo", _TfGroupInfo = "TfGroupInfo", _TfInstanceGroupInfo = "TfInstanceGroupInfo", _TfInstanceInfo = "TfInstanceInfo", _TfInstanceSetInfo = "TfInstanceSetInfo", _TfProviderInfo = "TfProviderInfo")
load("//rules/private:tf_component.bzl", _tf_component = "tf_component")
load("//rules/private:tf_fleet.bzl", _tf_fleet = "tf_fleet")
load("//rules/private:tf_group.bzl", _tf_group = "tf_group")
load("//rules/private:tf_instance.bzl", _tf_instance = "tf_instance")
load("//rules/private:tf_instances.bzl", _tf_instance_group = "tf_instance_group", _tf_instance_set = "tf_instance_set", _tf_instances = "tf_instances")
load("//rules/private:tf_provider.bzl", _tf_provider = "tf_provider", _tf_provider_package = "tf_provider_package")
load("//rules/private:toolchains.bzl", _current_fleet_helper = "current_fleet_helper", _fleet_helper_toolchain = "fleet_helper_toolchain", _terraform_toolchain = "terraform_toolchain")
load("//rules/private:variant_build.bzl", _variant_build = "variant_build")

# One Terraform root module (and `<name>.lock`, `<name>.lock_test` when it uses providers).
tf_component = _tf_component

# A provider built in the workspace, packaged as mirrors serve it (`terraform-provider-<type>_<version>_<os>_<arch>.zip`).
tf_provider = _tf_provider

# An existing provider package (zip); `tf_provider_mirror` generates these from a lock file.
tf_provider_package = _tf_provider_package

# One instance of a component: `<name>` (render + build check) and `<name>.plan|.apply|.destroy|.output`.
tf_instance = _tf_instance

# Many instances of one component, for_each style, and a `tf_fleet` `<name>` of them all.
tf_instances = _tf_instances

# Instances (and their dependencies) run as one: `<name>` builds them, `<name>.plan|.apply|.destroy` run `fleet run`.
tf_fleet = _tf_fleet

# Builds a set of instances and checks they share no state (a `tf_fleet` without the runner).
tf_instance_set = _tf_instance_set

# Deprecated alias of `tf_instance_set` (warns once per package): "group" means a run group, `tf_group`.
tf_instance_group = _tf_instance_group

# A run group of a fleet: members run in parallel (at most `parallelism` at once) or serially, with an optional `on_change` hook.
tf_group = _tf_group

# A Terraform binary as a toolchain (for custom toolchain repositories).
terraform_toolchain = _terraform_toolchain

# The fleet helper as a toolchain (for custom helper repositories).
fleet_helper_toolchain = _fleet_helper_toolchain

# The resolved fleet helper as a runnable target (`@rules_fleet//tools:fleet`).
current_fleet_helper = _current_fleet_helper

# A tools bundle (.tar/.tar.gz) shared by variant builds, extracted once.
fleet_tools = _fleet_tools

# One variant of a project built by its own action, with the tools at $FLEET_TOOLS_DIR ("tree" or "shared" mode).
variant_build = _variant_build

# Checks inputs against a JSON lock and emits a `fleet tag write` tag that changes only with their digests.
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
TfProviderInfo = _TfProviderInfo
