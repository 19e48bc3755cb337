"""Platform keys (`linux_amd64`, `darwin_arm64`, ...) and the constraints a toolchain for one declares."""

# Terraform's OS and CPU names → constraint values (also what tf_provider reads a
# target platform by).
OS_CONSTRAINTS = {
    "darwin": "@platforms//os:osx",
    "freebsd": "@platforms//os:freebsd",
    "linux": "@platforms//os:linux",
    "openbsd": "@platforms//os:openbsd",
    "windows": "@platforms//os:windows",
}

CPU_CONSTRAINTS = {
    "386": "@platforms//cpu:x86_32",
    "amd64": "@platforms//cpu:x86_64",
    "arm": "@platforms//cpu:arm",
    "arm64": "@platforms//cpu:aarch64",
}

def platform_constraints(platform, overrides = {}):
    """The constraint labels of a `<os>_<arch>` key, as Terraform names its release zips.

    Args:
      platform: e.g. `linux_amd64`, `darwin_arm64`.
      overrides: `{platform: [constraint labels]}` for keys outside Terraform's naming
        (a stand-in platform in a test, an exotic worker pool); `//x` means the main
        repository's `//x`.

    Returns:
      A list of constraint value labels (strings).
    """
    if platform in overrides:
        # Written into a generated repository's BUILD file, "//x" would name that repository.
        return ["@" + c if c.startswith("//") else c for c in overrides[platform]]
    os, _, cpu = platform.partition("_")
    if os not in OS_CONSTRAINTS or cpu not in CPU_CONSTRAINTS:
        fail("unknown platform %r: use <os>_<arch> with os in %s and arch in %s, or give its constraints in exec_compatible_with" %
             (platform, sorted(OS_CONSTRAINTS.keys()), sorted(CPU_CONSTRAINTS.keys())))
    return [OS_CONSTRAINTS[os], CPU_CONSTRAINTS[cpu]]

def check_platform_sources(what, platforms):
    """Fails unless `platforms` maps each key to a (url or urls, sha256) pair.

    Args:
      what: named in the message.
      platforms: `{platform: (url, sha256)}`; url may be a list of mirrors.

    Returns:
      `{platform: struct(urls, sha256)}`.
    """
    checked = {}
    for platform, source in platforms.items():
        if len(source) != 2:
            fail("%s: platforms[%r] must be (url, sha256), got %r" % (what, platform, source))
        urls, sha256 = source[0], source[1]
        if type(urls) == "string":
            urls = [urls]
        if not sha256:
            fail("%s: platforms[%r] has no sha256" % (what, platform))
        checked[platform] = struct(urls = list(urls), sha256 = sha256)
    return checked

# Host OS names (lower case, as repository_ctx.os.name gives them) and machine names
# (uname -m, repository_ctx.os.arch) → Terraform's platform key parts.
_HOST_OS_PREFIXES = [("linux", "linux"), ("mac", "darwin"), ("darwin", "darwin"), ("windows", "windows"), ("freebsd", "freebsd"), ("openbsd", "openbsd")]
_HOST_ARCHES = {"386": "386", "aarch64": "arm64", "amd64": "amd64", "arm64": "arm64", "i386": "386", "i686": "386", "x86": "386", "x86_64": "amd64"}

# Terraform's key parts → the names the release's helper binaries carry (`linux-x86_64`).
_RELEASE_OS = {"darwin": "macos"}
_RELEASE_ARCH = {"386": "i686", "amd64": "x86_64", "arm64": "aarch64"}

def host_platform_of(os_name, machine, what):
    """The Terraform platform key (`linux_amd64`) of a host, from its OS and machine names.

    The one host detection of rules_fleet: repository rules (host_platform) and the
    Buck2 toolchains (from host_info()) both end here.

    Args:
      os_name: the OS name, any case (`Linux`, `Mac OS X`, `darwin`).
      machine: the machine name (`x86_64`, `amd64`, `aarch64`, `arm64`, `i686`).
      what: named in the failure (a repository or target name).

    Returns:
      `<os>_<arch>`, e.g. `linux_amd64`, `darwin_arm64`.
    """
    name = os_name.lower()
    os = ""
    for prefix, key in _HOST_OS_PREFIXES:
        if name.startswith(prefix):
            os = key
            break
    if not os:
        fail("%s: unknown host OS %r; set the platform explicitly (e.g. \"linux_amd64\")" % (what, os_name))
    arch = _HOST_ARCHES.get(machine.lower(), "")
    if not arch:
        fail("%s: unknown host architecture %r; set the platform explicitly (e.g. \"linux_amd64\")" % (what, machine))
    return os + "_" + arch

def platform_release_suffix(platform):
    """The release binaries' name for a platform key: `linux_amd64` → `linux-x86_64`.

    Args:
      platform: a Terraform platform key.

    Returns:
      `<os>-<arch>` as the release names its helper binaries.
    """
    os, _, arch = platform.partition("_")
    return _RELEASE_OS.get(os, os) + "-" + _RELEASE_ARCH.get(arch, arch)

def host_platform(rctx):
    """The host's Terraform platform key (`linux_amd64`).

    Args:
      rctx: a repository_ctx.

    Returns:
      e.g. `linux_amd64`, `darwin_arm64`.
    """
    machine = ""
    if hasattr(rctx.os, "arch"):
        machine = rctx.os.arch
    elif not rctx.os.name.lower().startswith("windows"):
        machine = rctx.execute(["uname", "-m"]).stdout.strip()
    return host_platform_of(rctx.os.name, machine, rctx.name)

def release_suffix(rctx):
    """The host as "<os>-<arch>", the suffix of the release's helper binaries.

    Args:
      rctx: a repository_ctx.

    Returns:
      e.g. `linux-x86_64`, `macos-aarch64`.
    """
    return platform_release_suffix(host_platform(rctx))

def host_constraints(rctx):
    """The host's OS and CPU constraints: a binary built or picked for the host runs only there.

    Args:
      rctx: a repository_ctx.

    Returns:
      The constraint labels of the host's `<os>_<arch>` key.
    """
    return platform_constraints(host_platform(rctx))
