"""Set-up for WORKSPACE users (Bazel 4.2+). bzlmod users: see extensions.bzl.

    load("@rules_fleet//rules:repositories.bzl", "rules_fleet_dependencies", "terraform_register_toolchains")
    rules_fleet_dependencies()
    terraform_register_toolchains(version = "1.11.4", urls = [...], sha256 = "...")
"""

load("//rules/private:fleet_helper_repository.bzl", _fleet_helper_repository = "fleet_helper_repository")
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
def rules_fleet_dependencies(helper_urls = [], helper_sha256 = "", helper_strip_prefix = "", helper_from_source = False, register = True):
    """Declares `@fleet_helper` (the `fleet` binary) and registers its toolchain.

    The helper comes from, in this order: `helper_urls` + `helper_sha256`;
    `--repo_env=FLEET_HELPER=/abs/path`; when rules_fleet is a release archive, that
    release's prebuilt binary for the host (its digest is baked into the archive);
    `cargo build --release --locked` of rules_fleet (a plain checkout, or when asked).

    Args:
      helper_urls: mirrors of a prebuilt release of `fleet` (binary or archive).
      helper_sha256: its sha256 (required with helper_urls).
      helper_strip_prefix: directory to strip from an archive.
      helper_from_source: build the helper with cargo even when the release has a
        prebuilt one for the host (also `--repo_env=FLEET_HELPER_FROM_SOURCE=1`).
      register: register `@fleet_helper//:toolchain`.
    """
    if not native.existing_rule("fleet_helper"):
        _fleet_helper_repository(
            name = "fleet_helper",
            urls = helper_urls,
            sha256 = helper_sha256,
            strip_prefix = helper_strip_prefix,
            from_source = helper_from_source,
        )
    if register:
        native.register_toolchains("@fleet_helper//:toolchain")

# buildifier: disable=unnamed-macro
def terraform_register_toolchains(version, urls, sha256, name = "terraform", register = True):
    """Downloads a Terraform release zip, verified by sha256, and registers it as the toolchain.

    Args:
      version: e.g. `1.11.4`.
      urls: mirrors of `terraform_<version>_<os>_<arch>.zip` (`file://` works).
      sha256: the zip's sha256.
      name: repository name.
      register: register `@<name>//:toolchain`.
    """
    _terraform_download_repository(name = name, version = version, urls = urls, sha256 = sha256)
    if register:
        native.register_toolchains("@%s//:toolchain" % name)

# buildifier: disable=unnamed-macro
def terraform_local_toolchain(name = "terraform_local", register = True):
    """Uses `terraform` or `tofu` from PATH (or `--repo_env=TERRAFORM=/abs/path`) as the toolchain.

    Args:
      name: repository name.
      register: register `@<name>//:toolchain`.
    """
    _terraform_local_repository(name = name)
    if register:
        native.register_toolchains("@%s//:toolchain" % name)
