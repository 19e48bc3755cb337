"""`<component>.lock` (regenerate the lock file) and `<component>.lock_test` (check it)."""

load(":labels.bzl", "label_string")
load(":launcher.bzl", "LAUNCHER_ATTRS", "runfile", "write_launcher")
load(":providers.bzl", "TfComponentInfo", "TfProviderInfo")
load(":run_tools.bzl", "RUNTIME_FLEET_ATTRS", "RUNTIME_TERRAFORM_ATTRS", "runtime_fleet_of", "runtime_terraform_of")
load(":tf_provider.bzl", "TARGET_PLATFORM_ATTRS", "collect_packages", "target_platform")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE", "TERRAFORM_TOOLCHAIN_TYPE")

def _common(ctx, terraform, fleet):
    """Arguments both modes share, the files they read, and the platforms.

    Args:
      ctx: the rule context.
      terraform: the TerraformInfo the launcher runs.
      fleet: the fleet File the launcher runs.
    """
    what = label_string(ctx.label)
    platforms = ctx.attr.platforms or [target_platform(ctx, what)]
    args = ["--label", what, "--terraform", runfile(terraform.binary.short_path)]
    for platform in platforms:
        args += ["--platform", platform]
    files = [fleet]

    # The component placed its files (paths inside the module); the lock sees the same module.
    for module_file in ctx.attr.component[TfComponentInfo].files:
        args += ["--module", module_file.path, runfile(module_file.file.short_path)]
        files.append(module_file.file)
    return struct(what = what, args = args, files = files, fleet = fleet, terraform = terraform, platforms = platforms)

def _package_args(packages):
    args = []
    for p in packages:
        args += ["--package", p.source, p.version, p.platform, runfile(p.archive.short_path)]
    return args

def _script(ctx, fleet, args):
    """A launcher whose only command is `fleet lock-file ...`."""
    return write_launcher(
        ctx,
        description = "fleet lock-file for %s" % label_string(ctx.label),
        command = [runfile(fleet.short_path), "lock-file"] + args,
    )

def _tf_lock_impl(ctx):
    # `bazel run` runs it on the machine running Bazel: the target platform's binaries.
    common = _common(ctx, runtime_terraform_of(ctx), runtime_fleet_of(ctx).binary)
    packages = collect_packages(ctx.attr.providers, common.what)
    args = ["regenerate"] + common.args + _package_args(packages) + ["--dest", ctx.attr.dest]
    for mirror in ctx.attr.mirrors:
        args += ["--mirror", mirror]
    args.append("--")
    launcher = _script(ctx, common.fleet, args)
    runfiles = ctx.runfiles(
        files = common.files + [p.archive for p in packages],
        transitive_files = common.terraform.files,
    )
    return [DefaultInfo(executable = launcher, runfiles = runfiles)]

_COMMON_ATTRS = dict({
    "component": attr.label(
        mandatory = True,
        providers = [TfComponentInfo],
        doc = "The component's module (`<name>.module_files`: TfComponentInfo without providers), whose files the lock file is for.",
    ),
    "providers": attr.label_list(
        providers = [TfProviderInfo],
        doc = "Provider packages (`tf_provider`, `tf_provider_package`, `tf_provider_group`) of any platform.",
    ),
    "platforms": attr.string_list(
        doc = "Platforms (`<os>_<arch>`) the lock file must cover; default: the target platform.",
    ),
}, **dict(LAUNCHER_ATTRS, **TARGET_PLATFORM_ATTRS))

tf_lock = rule(
    implementation = _tf_lock_impl,
    doc = """`bazel run` target (`<component>.lock`, created by `tf_component`): regenerates the
component's lock file for `platforms` with `terraform providers lock -fs-mirror` in a scratch
directory, starting from the current lock file, adds each locked package's `zh:` hash, and
writes it back into the source tree atomically (untouched when nothing changed).
`-- --platform linux_arm64` adds a platform for this run, `-- --fresh` starts from an empty lock.""",
    attrs = dict(_COMMON_ATTRS, **dict({
        "dest": attr.string(
            mandatory = True,
            doc = "The lock file's path relative to the workspace root.",
        ),
        "mirrors": attr.string_list(
            doc = "Packed filesystem mirror directories (`<host>/<namespace>/<type>/*.zip`): absolute, `file://`, or relative to the workspace root.",
        ),
    }, **dict(RUNTIME_TERRAFORM_ATTRS, **RUNTIME_FLEET_ATTRS))),
    executable = True,
)

def _tf_lock_test_impl(ctx):
    # A test runs where its test action runs: the execution platform's binaries.
    common = _common(ctx, ctx.toolchains[TERRAFORM_TOOLCHAIN_TYPE].terraform, ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary)
    packages = collect_packages(ctx.attr.providers, common.what, unique = False)
    args = ["check"] + common.args + _package_args(packages)
    args += ["--lock-target", ctx.attr.lock_target, "--lock-file-path", ctx.attr.lock_path]
    files = common.files + [p.archive for p in packages]
    if ctx.file.lock_file:
        args += ["--lock-file", runfile(ctx.file.lock_file.short_path)]
        files.append(ctx.file.lock_file)
    launcher = _script(ctx, common.fleet, args)
    runfiles = ctx.runfiles(files = files, transitive_files = common.terraform.files)
    return [DefaultInfo(executable = launcher, runfiles = runfiles)]

tf_lock_test = rule(
    implementation = _tf_lock_test_impl,
    doc = """Test (`<component>.lock_test`, created by `tf_component`): fails when a provider the
module requires is not in the lock file, when a given package matches none of its provider's
hashes, or when a provider has fewer `h1:` hashes than `platforms`; names the `.lock` target to run.""",
    attrs = dict(_COMMON_ATTRS, **{
        "lock_file": attr.label(
            allow_single_file = True,
            doc = "The lock file; unset when the component has none yet.",
        ),
        "lock_path": attr.string(doc = "The lock file's path in the workspace (for messages)."),
        "lock_target": attr.string(mandatory = True, doc = "The `.lock` target's label (for messages)."),
    }),
    toolchains = [str(TERRAFORM_TOOLCHAIN_TYPE), str(FLEET_TOOLCHAIN_TYPE)],
    test = True,
)

def lock_file_path(package, lock_file):
    """The workspace-relative path of a component's lock file.

    Args:
      package: the component's package.
      lock_file: the `lock_file` argument as written (None, `name`, `:name`, `//pkg:name` or a Label).

    Returns:
      e.g. `infra/cache/.terraform.lock.hcl`.
    """
    if lock_file == None:
        name = ".terraform.lock.hcl"
    elif type(lock_file) == "Label":
        package, name = lock_file.package, lock_file.name
    elif lock_file.startswith("//"):
        package, _, name = lock_file[2:].partition(":")
        if not name:
            fail("lock_file %s: name the file (//pkg:.terraform.lock.hcl)" % lock_file)
    elif lock_file.startswith("@"):
        fail("lock_file %s must be in the main repository: <component>.lock writes it" % lock_file)
    else:
        name = lock_file[1:] if lock_file.startswith(":") else lock_file
    return (package + "/" + name) if package else name

def tf_lock_targets(name, component, lock_file, providers, checked_providers, platforms, mirrors, lock_target, **kwargs):
    """Declares `<name>.lock` and `<name>.lock_test` for a component.

    Args:
      name: the component's name.
      component: the component's module target (`<name>.module_files`); its TfComponentInfo places the files.
      lock_file: its `lock_file` argument (None before the first `.lock` run).
      providers: packages `.lock` hashes and `.lock_test` checks (never ones fetched by reading
        this lock file: `.lock` must work before the lock file lists them).
      checked_providers: more packages only `.lock_test` checks (the component's own).
      platforms: platforms the lock file must cover.
      mirrors: filesystem mirror directories for `.lock`.
      lock_target: the label string of `<name>.lock` (for messages).
      **kwargs: tags, visibility, testonly... for both targets.
    """
    dest = lock_file_path(native.package_name(), lock_file)
    tf_lock(
        name = name + ".lock",
        component = component,
        providers = providers,
        platforms = platforms,
        dest = dest,
        mirrors = mirrors,
        **kwargs
    )
    tf_lock_test(
        name = name + ".lock_test",
        component = component,
        providers = providers + [p for p in checked_providers if p not in providers],
        platforms = platforms,
        lock_file = lock_file,
        lock_path = dest,
        lock_target = lock_target,
        **kwargs
    )
