"""Every Bazel provider of rules_fleet (rules/defs.bzl re-exports them)."""

TfComponentInfo = provider(
    doc = "One Terraform root module, as declared by `tf_component`.",
    fields = {
        "label": "Canonical label string of the component (`//infra/elasticache:elasticache`).",
        "files": "List of `struct(file, path)`: every module file (srcs and data) and its path inside the module directory.",
        "lock_file": "The `.terraform.lock.hcl` File, or None when the module has none.",
        "providers": "List of provider package structs (see TfProviderInfo) for the host: a read-only plugin directory for validation, the store for runs.",
        "lock_target": "Label string of the component's `.lock` target (regenerates the lock file), or None when it has none.",
        "mocks": "List of `.tfmock.hcl` Files: mock values for the build check, `<provider>[.<anything>].tfmock.hcl`.",
        "validation": "The File holding the component's `terraform validate` result (`fleet check --mode validate`), built only when an instance asks for it.",
        "retry_json": "The component's checked `retry` dict as JSON (\"\" when it declares none); each instance's own `retry` keys win over it.",
    },
)

TfInstanceInfo = provider(
    doc = """One component instance (`tf_instance`). Carries everything a multi-instance
runner (`tf_fleet`) needs to assemble a manifest: the instance's own manifest entry
and, transitively, those of the instances it depends on.""",
    fields = {
        "label": "Canonical label string, the instance's key in manifests and reports (`//infra/elasticache:redis-cluster-1`).",
        "name": "Short name (`redis-cluster-1`).",
        "component": "Canonical label string of the `tf_component`.",
        "run_dir": "Run directory relative to the fleet root: `<package>/<name>`.",
        "fleet_root": "Directory under the workspace root holding the run directories (`.fleet`).",
        "rendered": "The rendered instance tree (a directory File): module files, `backend.tf.json`, `terraform.tfvars.json`, lock file.",
        "validation": "The File holding the build check's result: `<name>.check.json` (plan) or the component's validation (validate); None for `check = \"none\"`.",
        "manifest": "The instance's own manifest File (src/manifest.rs): this instance and its transitive dependencies.",
        "workspace": "Terraform workspace name, or None for `default`.",
        "env": "Dict of extra environment variables for terraform at run time (never secrets).",
        "secret_env": "Dict: variable name -> environment variable name its value is read from at run time (names only, never values).",
        "deps": "List of canonical label strings of the instances this one is applied after.",
        "inputs_from": "Dict: variable name -> `{\"instance\": label, \"output\": name}`, read from upstream outputs at run time.",
        "backend": "Backend type (`local`, `s3`, `gcs`, ...).",
        "backend_config": "Dict: the effective backend configuration written to `backend.tf.json` (defaults applied).",
        "state_address": "String naming where the state lives (backend + location + workspace); unique per instance.",
        "state_identity": "Deprecated alias of `state_address` (the same string).",
        "manifest_entry": "Dict: this instance's entry in a manifest's `instances` list.",
        "identity": "File: the instance's identity, a sha256 (hex) of everything that decides its plan (rendered tree, provider packages, terraform version, helper version, run-time settings, `inputs_from` upstreams' identities); written into manifests.",
        "transitive_entries": "Depset of JSON strings: manifest entries of this instance and all its dependencies.",
        "transitive_identities": "Depset of the identity Files of this instance and all its dependencies.",
        "transitive_identity_claims": "Depset of `<label>\\t<identity file path>` claims (identity.identity_claim) for this instance and all its dependencies.",
        "transitive_states": "Depset of `<state address>\\t<label>` strings for this instance and its dependencies.",
        "transitive_run_dirs": "Depset of `<fleet_root>/<run_dir>\\t<label>` strings (run_dirs.run_dir_claim) for this instance and its dependencies.",
        "run_files": "Depset of Files a run needs in its runfiles: rendered trees and validation reports of this instance and its dependencies, and the terraform binary.",
        "terraform": "The TerraformInfo its run targets run (the toolchain resolved for the target platform; the build check uses the execution platform's).",
    },
)

TfInstanceSetInfo = provider(
    doc = "The instances of one `tf_instances` call, `tf_instance_set` or `tf_fleet`.",
    fields = {
        "instances": "List of TfInstanceInfo, in declaration order.",
    },
)

# Deprecated alias of TfInstanceSetInfo (the same provider): "group" means a run group (tf_group).
TfInstanceGroupInfo = TfInstanceSetInfo

TerraformInfo = provider(
    doc = "A Terraform (or OpenTofu) binary, provided by a toolchain of type `@rules_fleet//tools:terraform_toolchain_type`.",
    fields = {
        "binary": "The executable File (`terraform` or `tofu`).",
        "version": "Version string, e.g. `1.11.4`.",
        "flavor": "`terraform` or `tofu`.",
        "files": "Depset of every File the binary needs at run time (the binary itself).",
    },
)

FleetHelperInfo = provider(
    doc = "The `fleet` helper binary, provided by a toolchain of type `@rules_fleet//tools:fleet_toolchain_type`.",
    fields = {
        "binary": "The executable `fleet` File.",
    },
)

TfFleetInfo = provider(
    doc = "A fleet (`tf_fleet`): a manifest of instances and everything `fleet run` needs to run it.",
    fields = {
        "label": "Canonical label string of the fleet.",
        "manifest": "The manifest File (src/manifest.rs): the listed instances and their transitive dependencies.",
        "instances": "List of TfInstanceInfo of the listed instances (dependencies not included).",
        "run_files": "Depset of Files a run needs: the manifest, every instance's rendered tree and validation report, terraform.",
        "parallelism": "Default concurrency limit written to the manifest.",
        "hook_runfiles": "Runfiles of the `on_change` hooks of the fleet's run groups (merged into the runners' runfiles).",
    },
)

TfGroupInfo = provider(
    doc = "A run group (`tf_group`): how `fleet run` schedules its members, and what a fleet listing it needs.",
    fields = {
        "label": "Canonical label string of the group.",
        "entry": "Dict: this group's entry in a manifest's `groups` list (label, name, mode, concurrency, members, on_change).",
        "transitive_groups": "Depset of JSON strings: manifest entries of this group and every group nested in it.",
        "memberships": "Depset of `<member>\\t<group>` strings (group_order.membership_claim) of this group and the groups nested in it.",
        "instances": "List of TfInstanceInfo of every instance in the group, nested groups included, in listed order.",
        "runfiles": "Runfiles of the `on_change` hooks of this group and the groups nested in it.",
    },
)

TfProviderInfo = provider(
    doc = "Terraform provider packages, each in the mirror layout and unpacked once per build.",
    fields = {
        "packages": """List of `struct(source, version, platform, archive, unpacked, h1, zh, sha256)`:
`source` is `<host>/<namespace>/<type>`, `platform` is `<os>_<arch>`, `archive` the
`terraform-provider-<type>_<version>_<platform>.zip` File, `unpacked` a directory File
holding its contents (what a `-plugin-dir` slot points at), `h1` and `zh` the lock
file's hashes for the provider (empty when the package was not read from a lock), `sha256`
the zip's own digest when known (else None).""",
    },
)

FleetToolsInfo = provider(
    doc = "A tools bundle declared by `fleet_tools`, in the forms `variant_build` reads it.",
    fields = {
        "archive": "The bundle File (`.tar` or `.tar.gz`); `shared` mode extracts it into the machine-wide store.",
        "digest": "File holding the archive's sha256 (64 hex digits), computed once per build so `shared` mode does not hash it per variant.",
        "tree": "The bundle extracted by one hermetic action (a directory File); `tree` mode reads it.",
    },
)

FleetVerifyInfo = provider(
    doc = "Inputs checked by `fleet_verify` against an expected tag, and the tag recording their digests.",
    fields = {
        "tag": "The tag File (`fleet tag write` format): same bytes for as long as the verified digests stay the same.",
        "expected": "The expected tag File the inputs were checked against (`fleet_verify(expected = ...)`).",
        "lock": "Deprecated name of `expected` (same File; removed in the next release).",
        "inputs": "List of `struct(key, file)`: each verified File and its name in the lock and the tag.",
    },
)
