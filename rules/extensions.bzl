"""The bzlmod extension (Bazel 7+). In MODULE.bazel:

    bazel_dep(name = "rules_fleet", version = "...")
    fleet = use_extension("@rules_fleet//rules:extensions.bzl", "fleet")
    fleet.terraform(version = "1.11.4", urls = [...], sha256 = "...")   # or fleet.terraform_local()
    use_repo(fleet, "terraform")
    register_toolchains("@terraform//:toolchain")

One Terraform per platform (Linux remote workers run the build actions; `bazel run` targets
run the target platform's, e.g. the Mac running Bazel):

    fleet.terraform(version = "1.11.4", platforms = {
        "linux_amd64": ["https://.../terraform_1.11.4_linux_amd64.zip", "<sha256>"],
        "darwin_arm64": ["https://.../terraform_1.11.4_darwin_arm64.zip", "<sha256>"],
    })
    use_repo(fleet, "terraform_linux_amd64", "terraform_darwin_arm64")
    register_toolchains("@terraform_linux_amd64//:toolchain", "@terraform_darwin_arm64//:toolchain")

rules_fleet's own MODULE.bazel declares `@fleet_helper` and registers its toolchain. From a
release, that is the release's prebuilt `fleet` for the host (digest baked in by tools/release);
`fleet.helper(urls = [...], sha256 = "...")` in the root module points it at other binaries,
`fleet.helper(from_source = True)` builds it with cargo.
Never loaded from WORKSPACE files (module_extension does not exist in Bazel 4.2).
"""

load("//rules/private:exec_platforms.bzl", "check_platform_sources", "platform_constraints")
load("//rules/private:fleet_helper_repository.bzl", "fleet_helper_repository")
load("//rules/private:provider_mirror.bzl", "tf_provider_mirror")
load("//rules/private:terraform_repositories.bzl", "terraform_download_repository", "terraform_local_repository")

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
            doc = "`{platform: [constraint labels]}` for platform keys outside the `<os>_<arch>` naming.",
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
            doc = "`{platform: [constraint labels]}` for platform keys outside Terraform's `<os>_<arch>` naming.",
        ),
    },
)

_terraform_local = tag_class(
    doc = "`terraform` or `tofu` from PATH (or `--repo_env=TERRAFORM=/abs/path`) as repository `name`.",
    attrs = {
        "name": attr.string(default = "terraform", doc = "Repository name."),
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

def _fleet_impl(module_ctx):
    helper = None
    terraforms = {}
    mirrors = {}

    # module_ctx.modules lists the root module first: its choices win.
    for mod in module_ctx.modules:
        for tag in mod.tags.helper:
            if helper == None and mod.is_root:
                helper = tag
        for tag in mod.tags.terraform:
            if tag.name not in terraforms:
                terraforms[tag.name] = struct(kind = "download", tag = tag)
        for tag in mod.tags.terraform_local:
            if tag.name not in terraforms:
                terraforms[tag.name] = struct(kind = "local", tag = tag)
        for tag in mod.tags.provider_mirror:
            if tag.name not in mirrors:
                mirrors[tag.name] = tag

    if helper:
        for platform, source in check_platform_sources("fleet.helper", helper.platforms).items():
            fleet_helper_repository(
                name = "fleet_helper_" + platform,
                urls = source.urls,
                sha256 = source.sha256,
                exec_compatible_with = platform_constraints(platform, helper.exec_compatible_with),
            )
        fleet_helper_repository(
            name = "fleet_helper",
            constrain_to_host = bool(helper.platforms),
            urls = helper.urls,
            sha256 = helper.sha256,
            strip_prefix = helper.strip_prefix,
            binary_path = helper.binary_path,
            from_source = helper.from_source,
        )
    else:
        fleet_helper_repository(name = "fleet_helper")

    for name, choice in terraforms.items():
        if choice.kind == "download" and choice.tag.platforms:
            for platform, source in check_platform_sources("fleet.terraform", choice.tag.platforms).items():
                terraform_download_repository(
                    name = "%s_%s" % (name, platform),
                    version = choice.tag.version,
                    urls = source.urls,
                    sha256 = source.sha256,
                    exec_compatible_with = platform_constraints(platform, choice.tag.exec_compatible_with),
                )
        elif choice.kind == "download":
            terraform_download_repository(
                name = name,
                version = choice.tag.version,
                urls = choice.tag.urls,
                sha256 = choice.tag.sha256,
            )
        else:
            terraform_local_repository(name = name)

    for name, tag in mirrors.items():
        tf_provider_mirror(
            name = name,
            lock_file = tag.lock_file,
            urls = tag.urls,
            providers = tag.providers,
            platform = tag.platform,
            lock_target = tag.lock_target,
        )

fleet = module_extension(
    implementation = _fleet_impl,
    doc = "Declares the fleet helper (`@fleet_helper`), Terraform toolchain repositories and provider mirrors.",
    tag_classes = {
        "helper": _helper,
        "terraform": _terraform,
        "terraform_local": _terraform_local,
        "provider_mirror": _provider_mirror,
    },
)
