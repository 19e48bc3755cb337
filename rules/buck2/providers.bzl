"""Every provider of the Buck2 rules (rules/buck2/defs.bzl re-exports them).

The same names and fields as the Bazel rules' providers (rules/private/providers.bzl)
where Buck2 allows: Buck2 has no depsets or runfiles, so transitive fields are plain
lists in Bazel's depset order and `run_files` maps runfiles paths to artifacts.
"""

TfComponentInfo = provider(
    doc = "One Terraform root module, as declared by `tf_component`.",
    fields = {
        "files": provider_field(typing.Any, default = []),  # list of struct(file, path): every module file and its path inside the module
        "label": provider_field(str, default = ""),  # canonical label string (`//infra/elasticache:elasticache`)
        "lock_file": provider_field(typing.Any, default = None),  # the `.terraform.lock.hcl` artifact, or None
        "lock_target": provider_field(typing.Any, default = None),  # always None: Buck2 has no `<component>.lock` target
        "mocks": provider_field(typing.Any, default = []),  # `.tfmock.hcl` artifacts for the build check
        "providers": provider_field(typing.Any, default = []),  # always []: provider packages are Bazel-only
        "retry_json": provider_field(str, default = ""),  # the checked `retry` dict as JSON ("" when none); instances' keys win
        "sources": provider_field(typing.Any, default = []),  # `PATH=ORIGIN` strings naming module files in messages
        "validation": provider_field(typing.Any, default = None),  # the component's `fleet check --mode validate` result
    },
)

TfInstanceInfo = provider(
    doc = """One component instance (`tf_instance`): its own manifest entry and, transitively,
those of the instances it depends on (in Bazel's depset order, so both rule sets write the
same manifests).""",
    fields = {
        "backend": provider_field(str, default = "local"),  # backend type
        "backend_config": provider_field(typing.Any, default = {}),  # effective backend configuration
        "component": provider_field(str, default = ""),  # canonical label string of the tf_component
        "deps": provider_field(typing.Any, default = []),  # label strings of the instances applied first
        "env": provider_field(typing.Any, default = {}),  # extra environment for terraform at run time
        "fleet_root": provider_field(str, default = ".fleet"),  # directory under the project root holding run directories
        "identity": provider_field(typing.Any, default = None),  # the identity artifact (sha256 hex)
        "inputs_from": provider_field(typing.Any, default = {}),  # variable -> {"instance", "output"}
        "label": provider_field(str, default = ""),  # canonical label string, the instance's identity
        "manifest": provider_field(typing.Any, default = None),  # the instance's own manifest artifact
        "manifest_entry": provider_field(typing.Any, default = {}),  # this instance's manifest entry (dict)
        "manifest_path": provider_field(str, default = ""),  # the runfiles path of `manifest` (what dependents' manifests include)
        "name": provider_field(str, default = ""),  # short name
        "rendered": provider_field(typing.Any, default = None),  # the rendered tree (a directory artifact)
        "run_dir": provider_field(str, default = ""),  # run directory relative to the fleet root
        "run_files": provider_field(typing.Any, default = {}),  # runfiles path -> artifact: what `fleet tf`/`fleet run` read
        "secret_env": provider_field(typing.Any, default = {}),  # variable -> environment variable name
        "state_address": provider_field(str, default = ""),  # where the state lives (backend + location + workspace)
        "state_identity": provider_field(str, default = ""),  # deprecated alias of state_address
        "terraform": provider_field(typing.Any, default = None),  # the TerraformInfo its run targets run
        "transitive_entries": provider_field(typing.Any, default = []),  # JSON strings: manifest entries of this instance and its dependencies
        "transitive_identities": provider_field(typing.Any, default = {}),  # label -> identity artifact, this instance and its dependencies
        "transitive_run_dirs": provider_field(typing.Any, default = []),  # run_dirs.run_dir_claim strings
        "transitive_states": provider_field(typing.Any, default = []),  # state_identity.bzl state_claim strings
        "validation": provider_field(typing.Any, default = None),  # the build check's result artifact, or None
        "workspace": provider_field(typing.Any, default = None),  # Terraform workspace, None for `default`
    },
)

TfInstanceSetInfo = provider(
    doc = "The instances of one `tf_instances` call, `tf_instance_set` or `tf_fleet`.",
    fields = {
        "instances": provider_field(typing.Any, default = []),  # list of TfInstanceInfo, in declaration order
    },
)

# Deprecated alias of TfInstanceSetInfo (the same provider): "group" means a run group (tf_group).
TfInstanceGroupInfo = TfInstanceSetInfo

TfFleetInfo = provider(
    doc = "A fleet (`tf_fleet`): a manifest of instances and everything `fleet run` needs to run it.",
    fields = {
        "instances": provider_field(typing.Any, default = []),  # TfInstanceInfo of the listed instances
        "label": provider_field(str, default = ""),  # canonical label string of the fleet
        "manifest": provider_field(typing.Any, default = None),  # the manifest artifact
        "parallelism": provider_field(int, default = 10),  # default concurrency limit written to the manifest
        "run_files": provider_field(typing.Any, default = {}),  # runfiles path -> artifact, hooks included
    },
)

TfGroupInfo = provider(
    doc = "A run group (`tf_group`): how `fleet run` schedules its members.",
    fields = {
        "entry": provider_field(typing.Any, default = {}),  # this group's manifest entry
        "instances": provider_field(typing.Any, default = []),  # TfInstanceInfo of every instance inside, nested groups included
        "label": provider_field(str, default = ""),  # canonical label string of the group
        "memberships": provider_field(typing.Any, default = []),  # group_order.membership_claim strings, nested groups included
        "run_files": provider_field(typing.Any, default = {}),  # runfiles path -> artifact of the on_change hooks
        "transitive_groups": provider_field(typing.Any, default = []),  # JSON strings: entries of this group and those nested in it
    },
)

TerraformInfo = provider(
    doc = "A Terraform (or OpenTofu) binary, provided by a `terraform_toolchain` (`toolchains//:terraform`).",
    fields = {
        "binary": provider_field(typing.Any, default = None),  # the executable artifact
        "files": provider_field(typing.Any, default = []),  # every artifact the binary needs (the binary)
        "flavor": provider_field(str, default = "terraform"),  # `terraform` or `tofu`
        "runfiles_path": provider_field(str, default = "../terraform/terraform"),  # its path in manifests
        "version": provider_field(str, default = ""),  # version string, e.g. `1.11.4`
    },
)

FleetHelperInfo = provider(
    doc = "The `fleet` helper binary, provided by a `fleet_toolchain` (`toolchains//:fleet`).",
    fields = {
        "binary": provider_field(typing.Any, default = None),  # the executable `fleet` artifact
    },
)

FleetToolsInfo = provider(
    doc = "A tools bundle declared by `fleet_tools`, in the forms `variant_build` reads it.",
    fields = {
        "archive": provider_field(typing.Any, default = None),  # the bundle (.tar, .tar.gz)
        "digest": provider_field(typing.Any, default = None),  # artifact holding the archive's sha256
        "tree": provider_field(typing.Any, default = None),  # the bundle extracted once (a directory artifact)
    },
)

FleetVerifyInfo = provider(
    doc = "Inputs checked by `fleet_verify` against an expected tag, and the tag recording their digests.",
    fields = {
        "expected": provider_field(typing.Any, default = None),  # the expected tag artifact
        "inputs": provider_field(typing.Any, default = []),  # list of struct(key, file)
        "lock": provider_field(typing.Any, default = None),  # deprecated name of `expected`
        "tag": provider_field(typing.Any, default = None),  # the tag artifact (`fleet tag write` format)
    },
)
