"""Platform keys (`linux_amd64`, `darwin_arm64`, ...) and the constraints a toolchain for one declares."""

_OS = {
    "darwin": "@platforms//os:osx",
    "freebsd": "@platforms//os:freebsd",
    "linux": "@platforms//os:linux",
    "openbsd": "@platforms//os:openbsd",
    "windows": "@platforms//os:windows",
}

_CPU = {
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
    if os not in _OS or cpu not in _CPU:
        fail("unknown platform %r: use <os>_<arch> with os in %s and arch in %s, or give its constraints in exec_compatible_with" %
             (platform, sorted(_OS.keys()), sorted(_CPU.keys())))
    return [_OS[os], _CPU[cpu]]

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

def release_suffix(rctx):
    """The host as "<os>-<arch>", the suffix of the release's helper binaries.

    Args:
      rctx: a repository_ctx.

    Returns:
      e.g. `linux-x86_64`, `macos-aarch64`.
    """
    name = rctx.os.name.lower()
    if name.startswith("linux"):
        os = "linux"
    elif name.startswith("mac") or name.startswith("darwin"):
        os = "macos"
    elif name.startswith("windows"):
        os = "windows"
    else:
        os = name.replace(" ", "")
    machine = ""
    if hasattr(rctx.os, "arch"):
        machine = rctx.os.arch
    elif os != "windows":
        machine = rctx.execute(["uname", "-m"]).stdout.strip()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine.lower())
    return os + "-" + arch

def host_constraints(rctx):
    """The host's OS and CPU constraints: a binary built or picked for the host runs only there.

    Args:
      rctx: a repository_ctx.

    Returns:
      The constraint labels of the host's `<os>_<arch>` key.
    """
    os, _, arch = release_suffix(rctx).partition("-")
    key = "%s_%s" % (
        {"macos": "darwin"}.get(os, os),
        {"x86_64": "amd64", "aarch64": "arm64", "i386": "386", "i686": "386"}.get(arch, arch),
    )
    return platform_constraints(key)
