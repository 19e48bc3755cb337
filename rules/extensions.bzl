"""The bzlmod extension (Bazel 7.1+). In MODULE.bazel:

    bazel_dep(name = "rules_fleet", version = "...")
    fleet = use_extension("@rules_fleet//rules:extensions.bzl", "fleet")
    fleet.terraform(version = "1.11.4", urls = [...], sha256 = "...")   # or fleet.terraform_local()
    use_repo(fleet, "terraform_toolchains")
    register_toolchains("@terraform_toolchains//:all")

One Terraform per platform (Linux remote workers run the build actions; `bazel run` targets
run the target platform's, e.g. the Mac running Bazel):

    fleet.terraform(version = "1.11.4", platforms = {
        "linux_amd64": ["https://.../terraform_1.11.4_linux_amd64.zip", "<sha256>"],
        "darwin_arm64": ["https://.../terraform_1.11.4_darwin_arm64.zip", "<sha256>"],
    })
    use_repo(fleet, "terraform_toolchains")
    register_toolchains("@terraform_toolchains//:all")

`@terraform_toolchains` holds only `toolchain()` targets; the zips (`@terraform`, or
`@terraform_<platform>`) are downloaded when a rule needs them, never for other builds.
rules_fleet's own MODULE.bazel declares `@fleet_helper` and registers
`@fleet_helper_toolchains//:all` the same way. From a release, the helper is the release's
prebuilt `fleet` for the host (digest baked in by tools/release); `fleet.helper(urls = [...],
sha256 = "...")` in the root module points it at other binaries, `fleet.helper(from_source =
True)` builds it with cargo, `fleet.helper(platforms = ...)` adds helpers for other execution
platforms. Platform keys outside `<os>_<arch>` take their constraints from `fleet.platform`.
The work is in rules/private/fleet_extension.bzl (loadable by Bazel 4.2, which tests it).
Never loaded from WORKSPACE files (module_extension does not exist in Bazel 4.2).
"""

load("//rules/private:fleet_extension.bzl", "fleet_extension")

_helper = tag_class(
    doc = "Where the fleet helper comes from (root module only): other prebuilt binaries, or a cargo build.",
    attrs = {
        "urls": attr.string_list(doc = "Mirrors of a prebuilt release (binary or archive)."),
        "sha256": attr.string(doc = "Its sha256."),
        "strip_prefix": attr.string(doc = "Directory prefix to strip from an archive."),
        "binary_path": attr.string(default = "fleet", doc = "Path of the binary inside an archive."),
        "from_source": attr.bool(doc = "Build the helper with cargo even when this rules_fleet release has a prebuilt one for the host."),
        "platforms": attr.string_list_dict(
            doc = "`{\"<os>_<arch>\": [url, sha256]}`: prebuilt helpers for other execution platforms, as `@fleet_helper_<platform>`.",
        ),
        "exec_compatible_with": attr.string_list_dict(
            doc = "`{platform: [constraint labels]}` for platform keys outside the `<os>_<arch>` naming: `//x` of the root module or `@platforms//...` only; other repositories through `fleet.platform`.",
        ),
    },
)

_terraform = tag_class(
    doc = """A Terraform release zip, verified by sha256, as repository `name`; or, with `platforms`,
one zip per platform as repositories `<name>_<platform>`, each toolchain declaring that
platform's OS and CPU as `exec_compatible_with`.""",
    attrs = {
        "name": attr.string(default = "terraform", doc = "Repository name (prefix, with platforms)."),
        "version": attr.string(mandatory = True, doc = "e.g. `1.11.4`."),
        "urls": attr.string_list(doc = "Mirrors of the zip (one platform; not with platforms)."),
        "sha256": attr.string(doc = "The zip's sha256."),
        "platforms": attr.string_list_dict(
            doc = "`{\"<os>_<arch>\": [url, sha256]}`: one zip per execution platform, e.g. linux_amd64 for remote workers and darwin_arm64 for the Mac running Bazel.",
        ),
        "exec_compatible_with": attr.string_list_dict(
            doc = "`{platform: [constraint labels]}` for platform keys outside Terraform's `<os>_<arch>` naming: `//x` of the root module or `@platforms//...` only; other repositories through `fleet.platform`.",
        ),
    },
)

_terraform_local = tag_class(
    doc = "`terraform` or `tofu` from PATH (or `--repo_env=TERRAFORM=/abs/path`) as repository `name`.",
    attrs = {
        "name": attr.string(default = "terraform", doc = "Repository name."),
    },
)

_platform = tag_class(
    doc = """The constraints of a platform key outside the `<os>_<arch>` naming, for
`fleet.helper(platforms = ...)` and `fleet.terraform(platforms = ...)`. Labels, resolved by
Bazel in the module that writes them: `@your_dep//...` works here, where a string in a
tag's `exec_compatible_with` could only name `@platforms` or your root module.""",
    attrs = {
        "name": attr.string(mandatory = True, doc = "The platform key, e.g. `gpu_pool`."),
        "exec_compatible_with": attr.label_list(mandatory = True, doc = "Constraint values an execution platform must have."),
    },
)

_provider_mirror = tag_class(
    doc = "The provider packages a lock file names, fetched for the host and verified against it, as repository `name` (`@name//:all`).",
    attrs = {
        "name": attr.string(mandatory = True, doc = "Repository name."),
        "lock_file": attr.label(mandatory = True, doc = "The component's `.terraform.lock.hcl`."),
        "urls": attr.string_list(mandatory = True, doc = "Mirror base URLs (packed layout), tried in order."),
        "providers": attr.string_list(doc = "Only these source addresses (default: all in the lock file)."),
        "platform": attr.string(doc = "`<os>_<arch>` to fetch (default: the host's)."),
        "lock_target": attr.string(doc = "The component's `.lock` target, named in messages."),
    },
)

fleet = module_extension(
    implementation = fleet_extension,
    doc = "Declares the fleet helper (`@fleet_helper`), Terraform toolchain repositories and provider mirrors.",
    tag_classes = {
        "helper": _helper,
        "terraform": _terraform,
        "terraform_local": _terraform_local,
        "provider_mirror": _provider_mirror,
        "platform": _platform,
    },
)
