"""A module's use of the `fleet` extension, as Bazel 7+ would hand it to the implementation."""

# buildifier: disable=bzl-visibility (the extension's logic, called as Bazel 7+ would)
load("@rules_fleet//rules/private:fleet_extension.bzl", "fleet_extension")

_MISSING = "file:///nonexistent/rules_fleet/"

def _tag(**fields):
    return struct(**fields)

def _tags(platform_constraints):
    return struct(
        # fleet.platform(name = "gpu_pool", exec_compatible_with = ["@real_constraints//:gpu", ...])
        platform = [_tag(name = "gpu_pool", exec_compatible_with = [Label("@real_constraints//:gpu"), Label("@platforms//os:linux")])],
        helper = [_tag(
            urls = [],
            sha256 = "",
            strip_prefix = "",
            binary_path = "fleet",
            from_source = False,
            platforms = {"gpu_pool": [_MISSING + "fleet-gpu", "0" * 64]},
            exec_compatible_with = platform_constraints,
        )],
        terraform = [_tag(
            name = "terraform",
            version = "1.11.4",
            urls = [],
            sha256 = "",
            platforms = {"gpu_pool": [_MISSING + "terraform-gpu.zip", "1" * 64]},
            exec_compatible_with = {},
            dev = False,
        )],
        terraform_local = [_tag(name = "terraform_local", dev = True)],
        provider_mirror = [],
    )

def _is_dev_dependency(tag):
    return tag.dev

def _extension_metadata(**kwargs):
    return kwargs

def _metadata_repository_impl(rctx):
    rctx.file("WORKSPACE", "")
    rctx.file("metadata.json", rctx.attr.metadata + "\n")
    rctx.file("BUILD.bazel", 'exports_files(["metadata.json"])\n')

# What the extension returned, for run_tests.sh to read.
_metadata_repository = repository_rule(
    implementation = _metadata_repository_impl,
    attrs = {"metadata": attr.string()},
)

def run_fleet_extension(platform_constraints = {}):
    """Runs the extension for one root module, `user_module`.

    Args:
      platform_constraints: the helper tag's string `exec_compatible_with`.
    """
    metadata = fleet_extension(struct(
        modules = [struct(name = "user_module", version = "", is_root = True, tags = _tags(platform_constraints))],
        is_dev_dependency = _is_dev_dependency,
        extension_metadata = _extension_metadata,
    ))
    _metadata_repository(name = "extension_metadata", metadata = json.encode(metadata))
