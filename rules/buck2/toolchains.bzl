"""Toolchains of the Buck2 rules: terraform and the `fleet` helper.

The rules reach them as `toolchains//:terraform` and `toolchains//:fleet`
(Buck2's `toolchains` cell). Each binary comes, as in the Bazel rules, from a file
(a binary in the repository, or a symlink to one on the machine), a release
download verified by sha256, or, for `fleet`, a cargo build of this checkout
(the default when this copy of rules_fleet is no release).
"""

load("//rules/private:exec_platforms.bzl", "host_platform_of", "platform_release_suffix")
load("//rules/private:release_info.bzl", "PREBUILT_HELPERS", "RELEASE_VERSION")
load(":providers.bzl", "FleetHelperInfo", "TerraformInfo")

def _terraform_toolchain_impl(ctx):
    if bool(ctx.attrs.terraform) == bool(ctx.attrs.url):
        fail("%s: set exactly one of `terraform` (a file) and `url` (+ `sha256`, a release zip)" % ctx.label.raw_target())
    if ctx.attrs.terraform:
        binary = ctx.attrs.terraform
    else:
        if not ctx.attrs.sha256:
            fail("%s: sha256 is required with url" % ctx.label.raw_target())
        archive = ctx.actions.declare_output("terraform.zip")
        ctx.actions.download_file(archive.as_output(), ctx.attrs.url, sha256 = ctx.attrs.sha256)
        tree = ctx.actions.declare_output("terraform.unpacked", dir = True)

        # fleet validates every entry: a hostile or corrupt zip fails the build.
        ctx.actions.run(
            cmd_args(ctx.attrs._fleet[FleetHelperInfo].binary, "extract", "--archive", archive, "--out", tree.as_output(), "--quiet"),
            category = "terraform_unpack",
        )
        binary = tree.project(ctx.attrs.binary_path)
    terraform = TerraformInfo(
        binary = binary,
        files = [binary],
        flavor = ctx.attrs.flavor,
        runfiles_path = "../%s/%s" % (ctx.attrs.repository, binary.basename),
        version = ctx.attrs.version,
    )
    return [DefaultInfo(default_output = binary), terraform]

terraform_toolchain = rule(
    impl = _terraform_toolchain_impl,
    doc = """A Terraform (or OpenTofu) binary for the rules, as `toolchains//:terraform`: a file
(`terraform`: a binary in the repository, or a symlink to the machine's terraform) or a release
zip downloaded and verified (`url` + `sha256`), unpacked by `fleet extract --out`.""",
    attrs = {
        "binary_path": attrs.string(default = "terraform", doc = "With `url`: the binary's path inside the zip (`tofu` for OpenTofu)."),
        "flavor": attrs.enum(["terraform", "tofu"], default = "terraform", doc = "`terraform` or `tofu`: decides which version has `terraform test` with mock providers."),
        "repository": attrs.string(
            default = "terraform",
            doc = """The directory terraform sits in among the run targets' files, as Bazel's toolchain
repository: manifests name the binary `../<repository>/<basename>`. `terraform` is what Bazel's
downloaded toolchain gives; `terraform_local` what `terraform_local_toolchain()` gives (set it to
write byte-identical manifests to a Bazel workspace using that).""",
        ),
        "sha256": attrs.option(attrs.string(), default = None, doc = "sha256 of the zip `url` points at; required with url."),
        "terraform": attrs.option(attrs.source(), default = None, doc = "The `terraform` (or `tofu`) executable: a file or a target's output."),
        "url": attrs.option(attrs.string(), default = None, doc = "A release zip (`terraform_<version>_<os>_<arch>.zip`), downloaded by Buck2 (http/https)."),
        "version": attrs.string(doc = "Its version, e.g. `1.11.4` (mock providers need terraform >= 1.7, tofu >= 1.8)."),
        "_fleet": attrs.toolchain_dep(default = "toolchains//:fleet", providers = [FleetHelperInfo]),
    },
    is_toolchain_rule = True,
)

def _fleet_toolchain_impl(ctx):
    given = [name for name in ["fleet", "url", "from_source"] if getattr(ctx.attrs, name)]
    if len(given) != 1:
        fail("%s: set exactly one of `fleet`, `url` (+ `sha256`) and `from_source`, not %s" % (ctx.label.raw_target(), given or "none"))
    if ctx.attrs.fleet:
        binary = ctx.attrs.fleet
    elif ctx.attrs.url:
        if not ctx.attrs.sha256:
            fail("%s: sha256 is required with url" % ctx.label.raw_target())
        binary = ctx.actions.declare_output("fleet")
        ctx.actions.download_file(binary.as_output(), ctx.attrs.url, sha256 = ctx.attrs.sha256, is_executable = True)
    else:
        binary = _cargo_install(ctx, ctx.attrs._crate[DefaultInfo].default_outputs)
    return [DefaultInfo(default_output = binary), FleetHelperInfo(binary = binary)]

def _cargo_install(ctx, sources):
    """`cargo install --locked` of the crate whose Cargo.toml comes first in `sources`."""
    root = ctx.actions.declare_output("cargo-install", dir = True)
    manifest = sources[0]
    if manifest.basename != "Cargo.toml":
        fail("%s: crate's first output must be its Cargo.toml, not %s" % (ctx.label.raw_target(), manifest.short_path))
    ctx.actions.run(
        cmd_args(
            ctx.attrs.cargo,
            "install",
            "--locked",
            "--quiet",
            "--bin",
            "fleet",
            "--path",
            cmd_args(manifest, parent = 1),
            "--root",
            root.as_output(),
            # Outside buck-out/v2, kept between builds: an edit rebuilds incrementally.
            "--target-dir",
            ctx.attrs.cargo_target_dir,
            hidden = sources,
        ),
        category = "cargo_install_fleet",
        # cargo reads its registry and writes its target directory: this machine only.
        local_only = True,
    )
    return root.project("bin/fleet")

fleet_toolchain_rule = rule(
    impl = _fleet_toolchain_impl,
    doc = "The `fleet` helper for the rules, as `toolchains//:fleet`. Use the `fleet_toolchain` macro.",
    attrs = {
        "cargo": attrs.string(default = "cargo", doc = "With `from_source`: the cargo to run (a name on PATH or an absolute path)."),
        "cargo_target_dir": attrs.string(default = "buck-out/rules_fleet/cargo", doc = "With `from_source`: cargo's target directory, relative to the project root, kept between builds."),
        "fleet": attrs.option(attrs.source(), default = None, doc = "The `fleet` executable: a file or a target's output."),
        "sha256": attrs.option(attrs.string(), default = None, doc = "sha256 of the binary `url` points at; required with url."),
        "from_source": attrs.bool(default = False, doc = "Build the helper with `cargo install --locked` from rules_fleet's own sources (`@rules_fleet//:crate`)."),
        "url": attrs.option(attrs.string(), default = None, doc = "A prebuilt `fleet` binary, downloaded by Buck2 (http/https)."),
        # Resolved in rules_fleet's own cell, whatever the project calls it.
        "_crate": attrs.default_only(attrs.dep(default = "//:crate")),
    },
    is_toolchain_rule = True,
)

def _release_suffix():
    """The host as "<os>-<arch>", the suffix of the release's helper binaries."""
    os = host_info().os
    arch = host_info().arch
    name = "linux" if os.is_linux else "darwin" if os.is_macos else "windows" if os.is_windows else "unknown"
    machine = "x86_64" if arch.is_x86_64 else "aarch64" if arch.is_aarch64 else "unknown"
    if "unknown" in (name, machine):
        return "unknown"  # no prebuilt helper: built from source
    return platform_release_suffix(host_platform_of(name, machine, "fleet_toolchain"))

def fleet_toolchain(name, fleet = None, url = None, sha256 = None, from_source = False, cargo = None, visibility = ["PUBLIC"], **kwargs):
    """The `fleet` helper as a toolchain (`toolchains//:fleet`), taken as the Bazel rules take it.

    In this order: `fleet` (a file: a binary in the repository, or a symlink to one);
    `url` + `sha256` (a prebuilt binary); when this copy of rules_fleet is a release
    and `from_source` is False, that release's prebuilt binary for the host (URL and
    digest from rules/private/release_info.bzl); else `cargo install --locked` of
    rules_fleet's own sources (`@rules_fleet//:crate`; needs cargo, runs locally,
    target directory `[rules_fleet] cargo_target_dir` of .buckconfig, default
    `buck-out/rules_fleet/cargo`).

    Args:
      name: the toolchain's name (`fleet`, for `toolchains//:fleet`).
      fleet: the `fleet` executable (a file or a target).
      url: a prebuilt `fleet` binary (http/https).
      sha256: its sha256; required with url.
      from_source: build with cargo even when this release has a prebuilt helper for the host.
      cargo: the cargo to run (default: `[rules_fleet] cargo` of .buckconfig, else `cargo` on PATH).
      visibility: visibility of the toolchain (default: public).
      **kwargs: passed to the toolchain rule.
    """
    if not fleet and not url:
        prebuilt = PREBUILT_HELPERS.get(_release_suffix())
        if RELEASE_VERSION and prebuilt and not from_source:
            url = prebuilt["urls"][0]
            sha256 = prebuilt["sha256"]
        else:
            from_source = True
    fleet_toolchain_rule(
        name = name,
        fleet = fleet,
        url = url,
        sha256 = sha256,
        from_source = from_source,
        cargo = cargo or read_root_config("rules_fleet", "cargo", "cargo"),
        cargo_target_dir = read_root_config("rules_fleet", "cargo_target_dir", "buck-out/rules_fleet/cargo"),
        visibility = visibility,
        **kwargs
    )
