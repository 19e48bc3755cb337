"""Declares rules_fleet's repositories, for the WORKSPACE macros (repositories.bzl) and the
bzlmod extension (fleet_extension.bzl) alike: the binaries (helper, Terraform) each in its
own repository, and their `toolchain()` targets in a light `*_toolchains` repository that is
what gets registered (toolchains_repository.bzl says why)."""

load(":fleet_helper_repository.bzl", "fleet_helper_repository")
load(":labels.bzl", "absolute_label")
load(":terraform_repositories.bzl", "terraform_download_repository", "terraform_local_repository")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE", "TERRAFORM_TOOLCHAIN_TYPE")
load(":toolchains_repository.bzl", "toolchain_entry", "toolchains_repository")

# The repository holding the helper's toolchain targets (rules_fleet registers `:all` of it).
HELPER_TOOLCHAINS = "fleet_helper_toolchains"

def _entry_name(index, key):
    """`00_linux_amd64`: names sort in registration order (`:all` registers them sorted)."""
    return ("0" if index < 10 else "") + str(index) + "_" + key

def _registered(repository, entries):
    return ["@%s//:%s" % (repository, json.decode(entry)["name"]) for entry in entries]

def declare_helper(
        platforms = {},
        constraints = {},
        urls = [],
        sha256 = "",
        strip_prefix = "",
        binary_path = "fleet",
        from_source = False,
        existing = []):
    """`@fleet_helper` (the host's), `@fleet_helper_<platform>` and `@fleet_helper_toolchains`.

    Args:
      platforms: `{platform: struct(urls, sha256)}` of prebuilt helpers for other platforms.
      constraints: `{platform: [constraint label strings]}` for each of `platforms`.
      urls: mirrors of the host's prebuilt helper (empty: FLEET_HELPER, the release's, cargo).
      sha256: its sha256.
      strip_prefix: directory to strip from an archive.
      binary_path: the binary's path inside an archive.
      from_source: build the host's helper with cargo.
      existing: repository names already declared (WORKSPACE), left as they are.

    Returns:
      The toolchain labels to register, in order: the platforms', then the host's.
    """
    entries = []
    for index, platform in enumerate(platforms.keys()):
        repo = "fleet_helper_" + platform
        if repo not in existing:
            fleet_helper_repository(
                name = repo,
                urls = platforms[platform].urls,
                sha256 = platforms[platform].sha256,
                exec_compatible_with = constraints[platform],
            )
        entries.append(toolchain_entry(_entry_name(index, platform), "@%s//:fleet_toolchain" % repo, constraints[platform]))
    if "fleet_helper" not in existing:
        fleet_helper_repository(
            name = "fleet_helper",
            urls = urls,
            sha256 = sha256,
            strip_prefix = strip_prefix,
            binary_path = binary_path,
            from_source = from_source,
            constrain_to_host = bool(platforms),
        )

    # The host's helper declares the host's OS and CPU once helpers for other platforms exist.
    entries.append(toolchain_entry("toolchain", "@fleet_helper//:fleet_toolchain", host = bool(platforms)))
    if HELPER_TOOLCHAINS not in existing:
        toolchains_repository(
            name = HELPER_TOOLCHAINS,
            toolchain_type = absolute_label(FLEET_TOOLCHAIN_TYPE),
            toolchains = entries,
        )
    return _registered(HELPER_TOOLCHAINS, entries)

def declare_terraform(name, version, urls = [], sha256 = "", platforms = {}, constraints = {}):
    """`@<name>` (one zip) or `@<name>_<platform>` (one per platform), and `@<name>_toolchains`.

    Args:
      name: repository name (prefix, with platforms).
      version: Terraform's version.
      urls: mirrors of one zip.
      sha256: its sha256.
      platforms: `{platform: struct(urls, sha256)}`, instead of urls.
      constraints: `{platform: [constraint label strings]}` for each of `platforms`.

    Returns:
      The toolchain labels to register, in order.
    """
    entries = []
    if not platforms:
        terraform_download_repository(name = name, version = version, urls = urls, sha256 = sha256)
        entries.append(toolchain_entry("toolchain", "@%s//:terraform_toolchain" % name))
    for index, platform in enumerate(platforms.keys()):
        repo = "%s_%s" % (name, platform)
        terraform_download_repository(
            name = repo,
            version = version,
            urls = platforms[platform].urls,
            sha256 = platforms[platform].sha256,
            exec_compatible_with = constraints[platform],
        )
        entries.append(toolchain_entry(_entry_name(index, platform), "@%s//:terraform_toolchain" % repo, constraints[platform]))
    return _terraform_toolchains(name, entries)

def declare_terraform_local(name):
    """`@<name>` (terraform or tofu from PATH) and `@<name>_toolchains`.

    Args:
      name: repository name.

    Returns:
      The toolchain labels to register.
    """
    terraform_local_repository(name = name)
    return _terraform_toolchains(name, [toolchain_entry("toolchain", "@%s//:terraform_toolchain" % name)])

def _terraform_toolchains(name, entries):
    toolchains_repository(
        name = name + "_toolchains",
        toolchain_type = absolute_label(TERRAFORM_TOOLCHAIN_TYPE),
        toolchains = entries,
    )
    return _registered(name + "_toolchains", entries)
