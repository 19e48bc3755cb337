"""Provider packages: built in the workspace (`tf_provider`) or taken as they are (`tf_provider_package`)."""

load(":exec_platforms.bzl", "CPU_CONSTRAINTS", "OS_CONSTRAINTS")
load(":extract_tree.bzl", "extract_tree")
load(":labels.bzl", "label_string")
load(":providers.bzl", "TfProviderInfo")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE")

# Implicit attributes of the rules that call target_platform: the constraint values
# (exec_platforms.bzl's tables, written out: tools/check_docs reads attributes statically) to test. Read from the target platform (`--platforms`, the host's
# by default), never from `--cpu`, which a build setting only `--platforms` leaves at the
# host's value.
TARGET_PLATFORM_ATTRS = {
    "_os_darwin": attr.label(default = "@platforms//os:osx"),
    "_os_freebsd": attr.label(default = "@platforms//os:freebsd"),
    "_os_linux": attr.label(default = "@platforms//os:linux"),
    "_os_openbsd": attr.label(default = "@platforms//os:openbsd"),
    "_os_windows": attr.label(default = "@platforms//os:windows"),
    "_cpu_386": attr.label(default = "@platforms//cpu:x86_32"),
    "_cpu_amd64": attr.label(default = "@platforms//cpu:x86_64"),
    "_cpu_arm": attr.label(default = "@platforms//cpu:arm"),
    "_cpu_arm64": attr.label(default = "@platforms//cpu:aarch64"),
}

def source_parts(source, what):
    """Splits `<host>/<namespace>/<type>`, failing with a clear message otherwise.

    Args:
      source: the provider's source address.
      what: what is being declared (for the message).

    Returns:
      The list [host, namespace, type].
    """
    parts = source.split("/")
    if len(parts) != 3 or [p for p in parts if p in ("", ".", "..")]:
        fail("%s: source %r must be a full address <host>/<namespace>/<type>, e.g. registry.terraform.io/hashicorp/aws" % (what, source))
    return parts

def package_file_name(source, version, platform):
    """`terraform-provider-<type>_<version>_<platform>.zip`, the name mirrors and registries use."""
    return "terraform-provider-%s_%s_%s.zip" % (source.split("/")[-1], version, platform)

def _check_platform(platform, what):
    parts = platform.split("_")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        fail("%s: platform %r must be <os>_<arch>, e.g. linux_amd64" % (what, platform))
    return platform

def _matching(ctx, prefix, names):
    return [
        name
        for name in names
        if ctx.target_platform_has_constraint(getattr(ctx.attr, prefix + name)[platform_common.ConstraintValueInfo])
    ]

def target_platform(ctx, what):
    """The Terraform platform (`<os>_<arch>`) of the target configuration.

    Args:
      ctx: a rule context with TARGET_PLATFORM_ATTRS; its `platform` attribute, when set, wins.
      what: the label string of the rule (for the message).

    Returns:
      The platform string, e.g. `linux_amd64`.
    """
    explicit = getattr(ctx.attr, "platform", "")
    if explicit:
        return _check_platform(explicit, what)
    os = _matching(ctx, "_os_", sorted(OS_CONSTRAINTS.keys()))
    cpu = _matching(ctx, "_cpu_", sorted(CPU_CONSTRAINTS.keys()))
    if len(os) != 1 or len(cpu) != 1:
        fail(("%s: cannot tell the Terraform platform of the target platform (its OS constraints: %s, " +
              "CPU constraints: %s, of %s and %s); set platform (e.g. \"linux_amd64\")") %
             (what, os or "none", cpu or "none", sorted(OS_CONSTRAINTS.values()), sorted(CPU_CONSTRAINTS.values())))
    return os[0] + "_" + cpu[0]

def _unpack(ctx, archive):
    """The package unpacked by `fleet extract --out`: one action per package, shared by every instance."""
    return extract_tree(
        ctx,
        ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary,
        archive,
        name = ctx.label.name + ".unpacked",
        mnemonic = "TerraformProviderUnpack",
        progress_message = "Unpacking provider package %s" % archive.basename,
        execution_requirements = {"block-network": ""},
    )

def _package(ctx, source, archive, platform):
    return struct(
        source = source,
        version = ctx.attr.version,
        platform = platform,
        archive = archive,
        unpacked = _unpack(ctx, archive),
        h1 = list(getattr(ctx.attr, "h1", [])),
        zh = list(getattr(ctx.attr, "zh", [])),
        sha256 = getattr(ctx.attr, "sha256", "") or None,
    )

def _tf_provider_impl(ctx):
    what = label_string(ctx.label)
    source = ctx.attr.source
    _, _, type_name = source_parts(source, what)
    platform = target_platform(ctx, what)
    archive = ctx.actions.declare_file("%s/%s/%s" % (ctx.label.name, source, package_file_name(source, ctx.attr.version, platform)))
    fleet = ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary
    ctx.actions.run(
        executable = fleet,
        arguments = [
            "provider-package",
            "--binary",
            ctx.executable.binary.path,
            "--entry",
            "terraform-provider-%s_v%s" % (type_name, ctx.attr.version),
            "--zip",
            archive.path,
        ],
        inputs = [ctx.executable.binary],
        outputs = [archive],
        mnemonic = "TerraformProviderPackage",
        progress_message = "Packaging provider %s %s for %s" % (source, ctx.attr.version, platform),
        execution_requirements = {"block-network": ""},
    )
    package = _package(ctx, source, archive, platform)
    return [
        DefaultInfo(files = depset([archive])),
        OutputGroupInfo(unpacked = depset([package.unpacked])),
        TfProviderInfo(packages = [package]),
    ]

tf_provider = rule(
    implementation = _tf_provider_impl,
    doc = """Packages a provider built in the workspace the way mirrors and registries serve it:
`<name>/<host>/<namespace>/<type>/terraform-provider-<type>_<version>_<os>_<arch>.zip`, one
executable entry `terraform-provider-<type>_v<version>` with fixed metadata, so the same
binary always gives the same bytes (and the same lock-file hashes). `bazel-bin/<package>/<name>`
is a packed filesystem mirror. The action runs only the `fleet` helper (`fleet provider-package`).

Use it in `tf_component(providers = ...)` for hermetic validation, and in
`tf_component(lock_providers = ...)` so `<component>.lock` records its hashes.""",
    attrs = dict({
        "binary": attr.label(
            mandatory = True,
            executable = True,
            allow_files = True,
            cfg = "target",
            doc = "The provider executable.",
        ),
        "source": attr.string(
            mandatory = True,
            doc = "Source address `<host>/<namespace>/<type>` as in `required_providers`, e.g. `example.com/acme/widgets`.",
        ),
        "version": attr.string(
            mandatory = True,
            doc = "The provider's version, e.g. `1.2.0`.",
        ),
        "platform": attr.string(
            doc = "`<os>_<arch>` the binary runs on; default: the target platform's (`--platforms`, the host's by default) OS and CPU constraints.",
        ),
    }, **TARGET_PLATFORM_ATTRS),
    toolchains = [str(FLEET_TOOLCHAIN_TYPE)],
    provides = [TfProviderInfo],
)

def _tf_provider_package_impl(ctx):
    what = label_string(ctx.label)
    source_parts(ctx.attr.source, what)
    platform = _check_platform(ctx.attr.platform, what)
    expected = package_file_name(ctx.attr.source, ctx.attr.version, platform)
    archive = ctx.file.archive
    if archive.basename != expected:
        fail("%s: archive %s must be named %s" % (what, archive.basename, expected))
    package = _package(ctx, ctx.attr.source, archive, platform)
    return [
        DefaultInfo(files = depset([archive])),
        OutputGroupInfo(unpacked = depset([package.unpacked])),
        TfProviderInfo(packages = [package]),
    ]

tf_provider_package = rule(
    implementation = _tf_provider_package_impl,
    doc = """An existing provider package (a zip in mirror layout), e.g. one fetched and verified by
`tf_provider_mirror`, which generates these with the lock file's hashes.""",
    attrs = {
        "archive": attr.label(
            mandatory = True,
            allow_single_file = [".zip"],
            doc = "`terraform-provider-<type>_<version>_<platform>.zip`.",
        ),
        "source": attr.string(mandatory = True, doc = "Source address `<host>/<namespace>/<type>`."),
        "version": attr.string(mandatory = True, doc = "The provider's version."),
        "platform": attr.string(mandatory = True, doc = "`<os>_<arch>` of the package."),
        "h1": attr.string_list(doc = "The lock file's `h1:` hashes for this provider (run targets check the unpacked package against them)."),
        "zh": attr.string_list(doc = "The lock file's `zh:` hashes for this provider."),
        "sha256": attr.string(doc = "The zip's own sha256 when known (the verified download's), so run targets need not hash it."),
    },
    toolchains = [str(FLEET_TOOLCHAIN_TYPE)],
    provides = [TfProviderInfo],
)

def _tf_provider_group_impl(ctx):
    packages = []
    for target in ctx.attr.packages:
        packages.extend(target[TfProviderInfo].packages)
    return [
        DefaultInfo(files = depset([p.archive for p in packages])),
        TfProviderInfo(packages = packages),
    ]

tf_provider_group = rule(
    implementation = _tf_provider_group_impl,
    doc = "Several provider packages as one target (`@<mirror repository>//:all`).",
    attrs = {
        "packages": attr.label_list(
            providers = [TfProviderInfo],
            doc = "`tf_provider`, `tf_provider_package` or `tf_provider_group` targets.",
        ),
    },
    provides = [TfProviderInfo],
)

def collect_packages(targets, what, unique = True):
    """The packages of `targets`, refusing two packages for one provider and platform.

    Args:
      targets: targets providing TfProviderInfo.
      what: the label string of the consumer (for the message).
      unique: refuse two different packages for one provider and platform
        (a plugin directory or a mirror holds one); otherwise keep both.

    Returns:
      A list of package structs.
    """
    packages = []
    seen = {}
    for target in targets:
        for package in target[TfProviderInfo].packages:
            key = "%s %s" % (package.source, package.platform)
            if not unique:
                key = package.archive.path
                if key in seen:
                    continue
            elif key in seen:
                fail("%s: two packages for %s on %s: %s and %s" % (what, package.source, package.platform, seen[key], package.archive.short_path))
            seen[key] = package.archive.short_path
            packages.append(package)
    return packages

def plugin_slot(package):
    """`<host>/<namespace>/<type>/<version>/<os>_<arch>`: the package's place in a `-plugin-dir`."""
    return "%s/%s/%s" % (package.source, package.version, package.platform)

def manifest_providers(packages, lock = None, lock_target = None):
    """The `providers` list of a manifest `Instance` (src/manifest.rs `ProviderPackage`).

    Args:
      packages: the component's provider package structs.
      lock: runfiles path of the rendered `.terraform.lock.hcl`, read at run time when a
        package's `h1:` hashes are not known at analysis time (packages built in the workspace).
      lock_target: label string of the component's `.lock` target, for messages.

    Returns:
      A list of dicts for json.encode.
    """
    return [
        {
            "source": p.source,
            "version": p.version,
            "platform": p.platform,
            "archive": p.archive.short_path,
            "h1": p.h1,
            "sha256": p.sha256,
            "lock": lock,
            "lock_target": lock_target,
        }
        for p in packages
    ]
