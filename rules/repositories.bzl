"""Set-up for WORKSPACE users (Bazel 4.2 to 7; 8 with --enable_workspace). bzlmod users: see extensions.bzl.

    load("@rules_fleet//rules:repositories.bzl", "rules_fleet_dependencies", "terraform_register_toolchains")
    rules_fleet_dependencies()
    terraform_register_toolchains(version = "1.11.4", urls = [...], sha256 = "...")
"""

load("//rules/private:exec_platforms.bzl", "check_platform_sources", "platform_constraints")
load("//rules/private:fleet_helper_repository.bzl", _fleet_helper_repository = "fleet_helper_repository")
load("//rules/private:fleet_repositories.bzl", "HELPER_TOOLCHAINS", "declare_helper", "declare_terraform", "declare_terraform_local")
load("//rules/private:provider_mirror.bzl", _tf_provider_mirror = "tf_provider_mirror")
load("//rules/private:terraform_repositories.bzl", _terraform_download_repository = "terraform_download_repository", _terraform_local_repository = "terraform_local_repository")

fleet_helper_repository = _fleet_helper_repository
terraform_download_repository = _terraform_download_repository
terraform_local_repository = _terraform_local_repository

# The provider packages a component's lock file names, fetched for the host from a mirror and
# verified against the lock: tf_provider_mirror(name, lock_file, urls) → @name//:all.
# Call rules_fleet_dependencies() first: it declares the helper this rule hashes with.
tf_provider_mirror = _tf_provider_mirror

# buildifier: disable=unnamed-macro
def rules_fleet_dependencies(
        helper_urls = [],
        helper_sha256 = "",
        helper_strip_prefix = "",
        helper_from_source = False,
        helper_platforms = {},
        helper_exec_compatible_with = {},
        register = True):
    """Declares `@fleet_helper` (the `fleet` binary) and registers its toolchain.

    The helper comes from, in this order: `helper_urls` + `helper_sha256`;
    `--repo_env=FLEET_HELPER=/abs/path`; when rules_fleet is a release archive, that
    release's prebuilt binary for the host (its digest is baked into the archive);
    `cargo build --release --locked` of rules_fleet (a plain checkout, or when asked).
    For remote workers of another platform, `helper_platforms = {"linux_amd64": (url, sha256)}`
    adds prebuilt binaries (`@fleet_helper_<platform>`), each registered for its platform
    before the host's; the host's helper then declares the host's OS and CPU as
    `exec_compatible_with`, so it never reaches a worker of another platform.

    What is registered are the targets of `@fleet_helper_toolchains`, a repository holding
    only `toolchain()` targets: a build that needs no helper fetches none.

    Args:
      helper_urls: mirrors of a prebuilt release of `fleet` (binary or archive).
      helper_sha256: its sha256 (required with helper_urls).
      helper_strip_prefix: directory to strip from an archive.
      helper_from_source: build the helper with cargo even when the release has a
        prebuilt one for the host (also `--repo_env=FLEET_HELPER_FROM_SOURCE=1`).
      helper_platforms: `{"<os>_<arch>": (url or [urls], sha256)}` of prebuilt helpers
        for execution platforms other than the host (the binary itself, not an archive).
      helper_exec_compatible_with: `{platform: [constraint labels]}` for keys outside
        the `<os>_<arch>` naming.
      register: register the toolchains.
    """
    platforms = check_platform_sources("rules_fleet_dependencies", helper_platforms)
    registered = declare_helper(
        platforms = platforms,
        constraints = {p: platform_constraints(p, helper_exec_compatible_with) for p in platforms},
        urls = helper_urls,
        sha256 = helper_sha256,
        strip_prefix = helper_strip_prefix,
        from_source = helper_from_source,
        existing = [r for r in ["fleet_helper", HELPER_TOOLCHAINS] + ["fleet_helper_" + p for p in platforms] if native.existing_rule(r)],
    )
    if register:
        native.register_toolchains(*registered)

# buildifier: disable=unnamed-macro
def terraform_register_toolchains(version, urls = [], sha256 = "", platforms = {}, exec_compatible_with = {}, name = "terraform", register = True):
    """Downloads Terraform release zips, verified by sha256, and registers them as toolchains.

    Either one zip for the host (`urls` + `sha256`, repository `@<name>`), or one per
    platform: `platforms = {"linux_amd64": (url, sha256), "darwin_arm64": (url, sha256)}`
    makes `@<name>_<platform>` for each, whose toolchain declares `exec_compatible_with` the
    platform's OS and CPU: actions on Linux remote workers get the Linux binary, actions on
    a Mac the Mac one, and `bazel run` targets the one of the machine running Bazel (the
    target platform). Registered in the order given, as the targets of `@<name>_toolchains`
    (toolchain targets only: a build that needs no terraform downloads none).

    Args:
      version: e.g. `1.11.4`.
      urls: mirrors of `terraform_<version>_<os>_<arch>.zip` (`file://` works), one platform.
      sha256: the zip's sha256.
      platforms: `{"<os>_<arch>": (url or [urls], sha256)}`, instead of urls + sha256.
      exec_compatible_with: `{platform: [constraint labels]}` for platform keys outside
        Terraform's `<os>_<arch>` naming (default: `@platforms//os:<os>`, `@platforms//cpu:<cpu>`).
      name: repository name (prefix, with platforms).
      register: register the toolchains.
    """
    if platforms and urls:
        fail("terraform_register_toolchains: give either urls + sha256 or platforms, not both")
    checked = check_platform_sources("terraform_register_toolchains", platforms)
    registered = declare_terraform(
        name = name,
        version = version,
        urls = urls,
        sha256 = sha256,
        platforms = checked,
        constraints = {p: platform_constraints(p, exec_compatible_with) for p in checked},
    )
    if register:
        native.register_toolchains(*registered)

# buildifier: disable=unnamed-macro
def terraform_local_toolchain(name = "terraform_local", register = True):
    """Uses `terraform` or `tofu` from PATH (or `--repo_env=TERRAFORM=/abs/path`) as the toolchain.

    Args:
      name: repository name.
      register: register `@<name>_toolchains//:toolchain`.
    """
    registered = declare_terraform_local(name)
    if register:
        native.register_toolchains(*registered)
