"""fleet_helper_repository: the `fleet` helper binary, from a release, a local file or a source build."""

load(":exec_platforms.bzl", "host_constraints", "release_suffix")
load(":helper_sources.bzl", "HELPER_SOURCES")
load(":labels.bzl", "absolute_label")
load(":release_info.bzl", "PREBUILT_HELPERS", "RELEASE_VERSION")

_CARGO_TOML = Label("//:Cargo.toml")
_TOOLCHAINS_BZL = Label("//rules/private:toolchains.bzl")
_TOOLCHAIN_TYPE = Label("//tools:fleet_toolchain_type")

_ARCHIVE_ENDINGS = [".zip", ".tar.gz", ".tgz", ".tar", ".tar.xz", ".tar.zst"]

def _from_release(rctx):
    if not rctx.attr.sha256:
        fail("%s: sha256 is required with urls" % rctx.name)
    url = rctx.attr.urls[0]
    if [e for e in _ARCHIVE_ENDINGS if url.endswith(e)]:
        rctx.download_and_extract(
            url = rctx.attr.urls,
            sha256 = rctx.attr.sha256,
            output = "release",
            stripPrefix = rctx.attr.strip_prefix,
        )
        binary = rctx.path("release/" + rctx.attr.binary_path)
        if not binary.exists:
            fail("%s: %s is not in the archive from %s" % (rctx.name, rctx.attr.binary_path, url))
        rctx.symlink(binary, "fleet")
    else:
        rctx.download(
            url = rctx.attr.urls,
            output = "fleet",
            sha256 = rctx.attr.sha256,
            executable = True,
        )

def _from_local_file(rctx, path):
    if not path.startswith("/"):
        fail("%s: FLEET_HELPER=%s must be an absolute path" % (rctx.name, path))
    if not rctx.path(path).exists:
        fail("%s: FLEET_HELPER=%s does not exist (build it with `cargo build --release`)" % (rctx.name, path))
    rctx.symlink(path, "fleet")

def _find_cargo(rctx):
    explicit = rctx.os.environ.get("CARGO", "")
    if explicit:
        return explicit
    found = rctx.which("cargo")
    if found:
        return found
    home = rctx.os.environ.get("HOME", "")
    if home and rctx.path(home + "/.cargo/bin/cargo").exists:
        return home + "/.cargo/bin/cargo"
    fail("%s: no prebuilt helper (urls), no FLEET_HELPER and no cargo on PATH to build one. " % rctx.name +
         "Install Rust (https://rustup.rs), or pass --repo_env=FLEET_HELPER=/abs/path/to/fleet.")

def _from_source(rctx):
    manifest = rctx.path(_CARGO_TOML)

    # Resolving a label makes Bazel re-run this rule when that file changes: so editing
    # any file cargo reads rebuilds the helper (tests/it/helper_sources.rs keeps the list whole).
    for source in HELPER_SOURCES:
        rctx.path(source)
    cargo = _find_cargo(rctx)

    # Outside the repository directory, which Bazel empties before re-running this rule:
    # a rebuild after an edit is incremental.
    target_dir = rctx.path("../%s.cargo-target" % rctx.name)
    rctx.report_progress("building the fleet helper with cargo")
    result = rctx.execute(
        [
            cargo,
            "build",
            "--release",
            "--locked",
            "--manifest-path",
            str(manifest),
            "--target-dir",
            str(target_dir),
        ],
        timeout = 3600,
        quiet = False,
    )
    if result.return_code != 0:
        fail("%s: `cargo build --release --locked` of %s failed (exit %d)" % (rctx.name, manifest, result.return_code))

    # A copy, not a link: the next cargo build rewrites the target dir's binary in place.
    copied = rctx.execute(["cp", str(target_dir) + "/release/fleet", "fleet"])
    if copied.return_code != 0:
        fail("%s: copying %s/release/fleet failed: %s" % (rctx.name, target_dir, copied.stderr))

def _from_prebuilt(rctx):
    """The release's own helper for this host, verified by the digest baked into the release."""
    host = release_suffix(rctx)
    prebuilt = PREBUILT_HELPERS.get(host)
    if not prebuilt:
        fail(("%s: rules_fleet %s has no prebuilt helper for %s (it has: %s). " +
              "Build one from source with --repo_env=FLEET_HELPER_FROM_SOURCE=1 (needs cargo), " +
              "or pass --repo_env=FLEET_HELPER=/abs/path/to/fleet.") %
             (rctx.name, RELEASE_VERSION, host, ", ".join(sorted(PREBUILT_HELPERS.keys())) or "none"))
    rctx.report_progress("downloading the prebuilt fleet %s for %s" % (RELEASE_VERSION, host))
    rctx.download(
        url = prebuilt["urls"],
        output = "fleet",
        sha256 = prebuilt["sha256"],
        executable = True,
    )

def _from_source_requested(rctx):
    return rctx.attr.from_source or rctx.os.environ.get("FLEET_HELPER_FROM_SOURCE", "") not in ("", "0")

def _fleet_helper_impl(rctx):
    local = rctx.os.environ.get("FLEET_HELPER", "")
    exec_compatible_with = rctx.attr.exec_compatible_with
    if rctx.attr.urls:
        _from_release(rctx)
    else:
        if local:
            _from_local_file(rctx, local)
        elif RELEASE_VERSION and not _from_source_requested(rctx):
            _from_prebuilt(rctx)
        else:
            _from_source(rctx)
        if not exec_compatible_with and rctx.attr.constrain_to_host:
            exec_compatible_with = host_constraints(rctx)
    rctx.file("WORKSPACE", "# Generated by rules_fleet.\n")
    rctx.file("BUILD.bazel", """\
load("{toolchains}", "fleet_helper_toolchain")

package(default_visibility = ["//visibility:public"])

exports_files(["fleet"])

fleet_helper_toolchain(
    name = "fleet_toolchain",
    fleet = ":fleet",
)

toolchain(
    name = "toolchain",
    exec_compatible_with = {exec_compatible_with},
    toolchain = ":fleet_toolchain",
    toolchain_type = "{toolchain_type}",
)
""".format(
        toolchains = absolute_label(_TOOLCHAINS_BZL),
        toolchain_type = absolute_label(_TOOLCHAIN_TYPE),
        exec_compatible_with = json.encode(exec_compatible_with),
    ))

fleet_helper_repository = repository_rule(
    implementation = _fleet_helper_impl,
    doc = """The `fleet` helper as `@<name>//:fleet` and a toolchain `@<name>//:toolchain`. Taken from,
in this order: a prebuilt release (`urls` + `sha256`); the file named by
`--repo_env=FLEET_HELPER=/abs/path`; when rules_fleet comes from a release archive, that
release's prebuilt binary for the host (digest baked in by tools/release) unless `from_source`
or `--repo_env=FLEET_HELPER_FROM_SOURCE=1`; `cargo build --release --locked` of the rules_fleet sources.""",
    attrs = {
        "urls": attr.string_list(doc = "Mirrors of a prebuilt release: the binary itself or an archive holding it."),
        "sha256": attr.string(doc = "sha256 of what `urls` point at; required with urls."),
        "strip_prefix": attr.string(doc = "Directory prefix to strip from an archive."),
        "binary_path": attr.string(default = "fleet", doc = "Path of the binary inside an archive (after strip_prefix)."),
        "from_source": attr.bool(doc = "Build the helper with cargo even when this release has a prebuilt one for the host."),
        "exec_compatible_with": attr.string_list(
            doc = "Constraints of the platforms the binary runs on. Default: none (any platform), or with " +
                  "`constrain_to_host` the host's OS and CPU.",
        ),
        "constrain_to_host": attr.bool(
            doc = "A binary built or picked for the host (FLEET_HELPER, a release's prebuilt one, cargo) declares " +
                  "the host's OS and CPU (`@platforms//os:*`, `@platforms//cpu:*`), so no action on another " +
                  "execution platform gets it. Set when helpers for other platforms are registered too.",
        ),
    },
    environ = ["FLEET_HELPER", "FLEET_HELPER_FROM_SOURCE", "CARGO"],
)
