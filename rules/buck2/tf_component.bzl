"""tf_component: one Terraform root module shared by many instances (Buck2)."""

load("//rules/private:check_mode.bzl", "mock_provider_name")
load("//rules/private:module_root.bzl", "check_root_has_config", "path_below_root", "root_dir")
load("//rules/private:retry.bzl", "check_retry", "retry_json")
load(":check.bzl", "fleet_check")
load(":labels.bzl", "loading_label_string", "runfiles_prefix")
load(":providers.bzl", "FleetHelperInfo", "TerraformInfo", "TfComponentInfo")

# Files every instance generates; a module shipping its own would be ambiguous.
GENERATED_NAMES = ["backend.tf.json", "terraform.tfvars.json", ".terraform.lock.hcl"]

def _tf_component_impl(ctx):
    label = ctx.attrs.label
    files = []
    sources = []
    seen = {}
    root = root_dir(label, ctx.attrs.root)
    for file in ctx.attrs.srcs + ctx.attrs.data:
        # Sources named in this package are package-relative, as in Bazel's module paths;
        # messages name them from the project root, as Bazel's short paths do.
        origin = ctx.attrs.origin_prefix + file.short_path
        path = path_below_root(label, file.short_path, root, origin)
        if path in GENERATED_NAMES:
            fail("%s: %s is generated for each instance by rules_fleet; remove it from the module" % (label, path))
        if path in seen:
            continue
        seen[path] = True
        files.append(struct(file = file, path = path))
        sources.append("%s=%s" % (path, origin))
    check_root_has_config(label, root, [f.path for f in files])
    for mock in ctx.attrs.mocks:
        mock_provider_name(mock)  # fails analysis on a misnamed file
    if ctx.attrs.retry:
        check_retry(label + ": retry", json.decode(ctx.attrs.retry))
    component = struct(label = label, files = files, lock_file = ctx.attrs.lock_file, lock_target = None, providers = [])
    pairs = [(f.path, f.file) for f in files]
    if ctx.attrs.lock_file:
        pairs.append((".terraform.lock.hcl", ctx.attrs.lock_file))

    # `terraform validate` of the module, once for all its instances (values do not matter to it).
    validation = fleet_check(
        ctx,
        fleet = ctx.attrs._fleet[FleetHelperInfo].binary,
        terraform = ctx.attrs._terraform[TerraformInfo],
        mode = "validate",
        out = ctx.actions.declare_output(ctx.label.name + ".validation.json"),
        label = label,
        component = component,
        files = pairs,
        sources = sources,
        category = "terraform_validate",
    )
    return [
        DefaultInfo(
            default_outputs = [validation],
            sub_targets = {"validation": [DefaultInfo(default_output = validation)]},
        ),
        TfComponentInfo(
            files = files,
            label = label,
            lock_file = ctx.attrs.lock_file,
            lock_target = None,
            mocks = ctx.attrs.mocks,
            providers = [],
            retry_json = ctx.attrs.retry,
            sources = sources,
            validation = validation,
        ),
    ]

tf_component_rule = rule(
    impl = _tf_component_impl,
    doc = """One Terraform root module (the `<name>` target of `tf_component`). Instances render it
with their own variables and backend into their own directory; the module is never written to.""",
    attrs = {
        "data": attrs.list(attrs.source(), default = [], doc = "Other files the module reads (templates, policies), at their paths relative to `root`."),
        "label": attrs.string(doc = "The component's canonical label string (filled by the `tf_component` macro)."),
        "labels": attrs.list(attrs.string(), default = [], doc = "Free-form labels (the macro's `tags`); Buck2 reads none of them."),
        "lock_file": attrs.option(attrs.source(), default = None, doc = "The module's `.terraform.lock.hcl`: instances init with `-lockfile=readonly`."),
        "mocks": attrs.list(attrs.source(), default = [], doc = "`<provider>[.<anything>].tfmock.hcl` files: mock values for the instances' build check."),
        "origin_prefix": attrs.string(default = "", doc = "Path of this package from the project's root cell, as messages name module files (filled by the macro)."),
        "root": attrs.string(default = "", doc = "The module's directory, relative to this package (default: the package itself), for a component declared above its module (`root = \"b\"` with `srcs = glob([\"b/**/*.tf\"])`): srcs and data are placed relative to it and must lie below it."),
        "retry": attrs.string(default = "", doc = "The `retry` dict of the `tf_component` macro as JSON (empty: none), checked at analysis: retries of transient failures for every instance (docs/retries.md)."),
        "srcs": attrs.list(attrs.source(), doc = "The module's files (`*.tf`, `*.tf.json`, nested local modules), at their paths relative to `root`. The root module (the directory terraform runs in) must hold a `.tf` or `.tf.json` file, or analysis fails naming where the files went."),
        "_fleet": attrs.toolchain_dep(default = "toolchains//:fleet", providers = [FleetHelperInfo]),
        "_terraform": attrs.toolchain_dep(default = "toolchains//:terraform", providers = [TerraformInfo]),
    },
)

def tf_component(name, srcs, data = [], root = "", lock_file = None, mocks = [], retry = None, tags = [], visibility = None, **kwargs):
    """One Terraform root module: `<name>` validates it once for all its instances.

    Args:
      name: the component's name.
      srcs: the module's files (`glob(["**/*.tf"])` takes nested local modules too).
      data: other files the module reads.
      root: the module's directory relative to this package, when the component
        is declared above it (`root = "b"`: `b/main.tf` is the module's `main.tf`).
      lock_file: the module's `.terraform.lock.hcl`.
      mocks: `<provider>[.<anything>].tfmock.hcl` files: mock values for the instances' build check.
      retry: retries of transient failures in `fleet run`, for every instance (an instance's
        own `retry` keys win); as for the Bazel rule (docs/retries.md).
      tags: kept as the target's `labels` (Buck2 has no `manual`: see docs/buck2.md).
      visibility: visibility of the target (Buck2 form: `["PUBLIC"]`, `["//infra/..."]`).
      **kwargs: passed to the rule.
    """
    package = package_name()
    tf_component_rule(
        name = name,
        srcs = srcs,
        data = data,
        label = loading_label_string(name),
        labels = tags,
        lock_file = lock_file,
        mocks = mocks,
        origin_prefix = runfiles_prefix() + (package + "/" if package else ""),
        root = root,
        retry = retry_json(retry),
        visibility = visibility,
        **kwargs
    )
