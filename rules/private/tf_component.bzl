"""tf_component: one Terraform root module shared by many instances."""

load(":check.bzl", "component_sources", "fleet_check")
load(":check_mode.bzl", "mock_provider_name")
load(":labels.bzl", "label_string", "loading_label_string", "repo_of")
load(":module_root.bzl", "check_root_has_config", "path_below_root", "root_dir")
load(":providers.bzl", "TfComponentInfo", "TfProviderInfo")
load(":retry.bzl", "check_retry", "retry_json")
load(":tf_lock.bzl", "tf_lock_targets")
load(":tf_provider.bzl", "collect_packages")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE", "TERRAFORM_TOOLCHAIN_TYPE")

# Files every instance generates; a module shipping its own would be ambiguous.
GENERATED_NAMES = ["backend.tf.json", "terraform.tfvars.json", ".terraform.lock.hcl"]

def _module_path(file, label, root):
    """Path of `file` inside the module: relative to `root` in the component's package."""
    prefix = ""
    if repo_of(label):
        prefix = "../%s/" % repo_of(label)
    if label.package:
        prefix += label.package + "/"
    short = file.short_path
    if not short.startswith(prefix):
        return file.basename
    return path_below_root(label_string(label), short[len(prefix):], root, short)

def _tf_component_impl(ctx):
    label = label_string(ctx.label)
    files = []
    seen = {}
    root = root_dir(label, ctx.attr.root)
    for file in ctx.files.srcs + ctx.files.data:
        path = _module_path(file, ctx.label, root)
        if path in GENERATED_NAMES:
            fail("%s: %s is generated for each instance by rules_fleet; remove it from the module" % (ctx.label, path))
        if path in seen:
            continue
        seen[path] = True
        files.append(struct(file = file, path = path))
    check_root_has_config(label, root, [f.path for f in files])
    for mock in ctx.files.mocks:
        mock_provider_name(mock)  # fails analysis on a misnamed file
    if ctx.attr.retry:
        check_retry(label + ": retry", json.decode(ctx.attr.retry))
    component = struct(
        label = label,
        files = files,
        lock_file = ctx.file.lock_file,
        providers = collect_packages(ctx.attr.providers, label),
        lock_target = label + ".lock" if ctx.attr.providers or ctx.file.lock_file else None,
    )
    validation = _validate(ctx, component)
    return [
        DefaultInfo(files = depset(ctx.files.srcs + ctx.files.data + ctx.files.lock_file)),
        OutputGroupInfo(validation = depset([validation])),
        TfComponentInfo(
            label = component.label,
            files = component.files,
            lock_file = component.lock_file,
            providers = component.providers,
            lock_target = component.lock_target,
            mocks = ctx.files.mocks,
            validation = validation,
            retry_json = ctx.attr.retry,
        ),
    ]

def _validate(ctx, component):
    """`terraform validate` of the module, once for all its instances (values do not matter to it)."""
    files = [(f.path, f.file) for f in component.files]
    if component.lock_file:
        files.append((".terraform.lock.hcl", component.lock_file))
    return fleet_check(
        ctx,
        fleet = ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary,
        terraform = ctx.toolchains[TERRAFORM_TOOLCHAIN_TYPE].terraform,
        mode = "validate",
        out = ctx.actions.declare_file(ctx.label.name + ".validation.json"),
        label = component.label,
        component = component,
        files = files,
        sources = component_sources(component),
        mnemonic = "TerraformValidate",
    )

tf_component_rule = rule(
    implementation = _tf_component_impl,
    doc = """One Terraform root module. Instances (`tf_instance`) render it with their own
variables and backend into their own directory; the module itself is never written to.""",
    attrs = {
        "srcs": attr.label_list(
            allow_files = True,
            mandatory = True,
            doc = "The module's files (`*.tf`, `*.tf.json`, nested local modules). Paths inside the module are taken relative to `root`. The root module (the directory terraform runs in) must hold a `.tf` or `.tf.json` file, or analysis fails naming where the files went.",
        ),
        "data": attr.label_list(
            allow_files = True,
            doc = "Other files the module reads (templates, policies), placed at their paths relative to `root`.",
        ),
        "root": attr.string(
            doc = "The module's directory, relative to this package (default: the package itself), for a component declared above its module (`root = \"b\"` with `srcs = glob([\"b/**/*.tf\"])`): srcs and data are placed relative to it and must lie below it.",
        ),
        "lock_file": attr.label(
            allow_single_file = True,
            doc = "The module's `.terraform.lock.hcl`. Instances init with `-lockfile=readonly`, so every provider the module needs must be locked here.",
        ),
        "providers": attr.label_list(
            providers = [TfProviderInfo],
            doc = "Provider packages for the host (`@<tf_provider_mirror>//:all`, `tf_provider`): the build check initialises from them read-only (their schemas), run targets from the machine's store.",
        ),
        "mocks": attr.label_list(
            allow_files = [".tfmock.hcl"],
            doc = "Mock values for the build check where generated ones do not fit (e.g. a data source feeding a condition): terraform's `.tfmock.hcl` files, named `<provider>[.<anything>].tfmock.hcl`; each applies to every configuration of that provider.",
        ),
        "retry": attr.string(
            doc = "The `retry` dict of the `tf_component` macro as JSON (empty: none), checked at analysis: retries of transient failures for every instance (docs/retries.md).",
        ),
    },
    toolchains = [str(TERRAFORM_TOOLCHAIN_TYPE), str(FLEET_TOOLCHAIN_TYPE)],
    provides = [TfComponentInfo],
)

def tf_component(
        name,
        srcs,
        data = [],
        root = "",
        lock_file = None,
        providers = [],
        mocks = [],
        lock_platforms = [],
        lock_providers = [],
        lock_mirrors = [],
        retry = None,
        tags = [],
        visibility = None,
        **kwargs):
    """One Terraform root module, and its lock-file targets when it uses providers.

    Creates `<name>` (the component) and, when `providers` or `lock_file` is given,
    `<name>.lock` (`bazel run`: regenerates the lock file for `lock_platforms` from
    `lock_providers` and `lock_mirrors`, written back atomically),
    `<name>.lock_test` (fails when a provider or platform lacks hashes) and
    `<name>.module_files` (private: the module's files without providers, which both read).

    Args:
      name: the component's name.
      srcs: the module's files.
      data: other files the module reads.
      root: the module's directory relative to this package, when the component
        is declared above it (`root = "b"`: `b/main.tf` is the module's `main.tf`).
      lock_file: the module's `.terraform.lock.hcl` (leave unset until `<name>.lock` created it).
      providers: provider packages for the host: `["@<tf_provider_mirror repo>//:all"]` or `tf_provider` targets.
      mocks: `<provider>[.<anything>].tfmock.hcl` files: mock values for the instances' build check.
      lock_platforms: platforms (`<os>_<arch>`) the lock file covers (default: the target platform).
      lock_providers: packages `<name>.lock` hashes (e.g. `tf_provider` targets, one per platform).
        Never the packages of a `tf_provider_mirror` reading this lock file: they exist only once it is complete.
      lock_mirrors: packed filesystem mirror directories `<name>.lock` reads (absolute, `file://`, or workspace-relative).
      retry: retries of transient failures in `fleet run`, for every instance (an
        instance's own `retry` keys win): `{"patterns": [regular expressions],
        "max_attempts": 3, "delay": "2s", "max_delay": "30s", "apply": False,
        "defaults": False}`. See docs/retries.md.
      tags: tags for every generated target.
      visibility: visibility of every generated target.
      **kwargs: passed to every generated target (e.g. `testonly`).
    """
    tf_component_rule(
        name = name,
        srcs = srcs,
        data = data,
        root = root,
        lock_file = lock_file,
        providers = providers,
        mocks = mocks,
        retry = retry_json(retry),
        tags = tags,
        visibility = visibility,
        **kwargs
    )
    if providers or lock_file:
        # The module as `<name>` places it, without its provider packages: `<name>.lock`
        # must work before the lock file a tf_provider_mirror reads lists them.
        tf_component_rule(
            name = name + ".module_files",
            srcs = srcs,
            data = data,
            root = root,
            tags = tags + ["manual"],
            visibility = ["//visibility:private"],
            **kwargs
        )
        tf_lock_targets(
            name = name,
            component = ":%s.module_files" % name,
            lock_file = lock_file,
            providers = lock_providers,
            checked_providers = providers,
            platforms = lock_platforms,
            mirrors = lock_mirrors,
            lock_target = "%s.lock" % loading_label_string(native.package_name(), name),
            tags = tags,
            visibility = visibility,
            **kwargs
        )
