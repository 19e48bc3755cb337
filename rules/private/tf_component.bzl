"""tf_component: one Terraform root module shared by many instances."""

load(":labels.bzl", "label_string", "repo_of")
load(":providers.bzl", "TfComponentInfo")

# Files every instance generates; a module shipping its own would be ambiguous.
GENERATED_NAMES = ["backend.tf.json", "terraform.tfvars.json", ".terraform.lock.hcl"]

def _module_path(file, label):
    """Path of `file` inside the module: relative to the component's package."""
    prefix = ""
    if repo_of(label):
        prefix = "../%s/" % repo_of(label)
    if label.package:
        prefix += label.package + "/"
    short = file.short_path
    if short.startswith(prefix):
        return short[len(prefix):]
    return file.basename

def _tf_component_impl(ctx):
    files = []
    seen = {}
    for file in ctx.files.srcs + ctx.files.data:
        path = _module_path(file, ctx.label)
        if path in GENERATED_NAMES:
            fail("%s: %s is generated for each instance by rules_fleet; remove it from the module" % (ctx.label, path))
        if path in seen:
            continue
        seen[path] = True
        files.append(struct(file = file, path = path))
    return [
        DefaultInfo(files = depset(ctx.files.srcs + ctx.files.data + ctx.files.lock_file)),
        TfComponentInfo(
            label = label_string(ctx.label),
            files = files,
            lock_file = ctx.file.lock_file,
        ),
    ]

tf_component = rule(
    implementation = _tf_component_impl,
    doc = """One Terraform root module. Instances (`tf_instance`) render it with their own
variables and backend into their own directory; the module itself is never written to.""",
    attrs = {
        "srcs": attr.label_list(
            allow_files = True,
            mandatory = True,
            doc = "The module's files (`*.tf`, `*.tf.json`, nested local modules). Paths inside the module are taken relative to this package.",
        ),
        "data": attr.label_list(
            allow_files = True,
            doc = "Other files the module reads (templates, policies), placed at their paths relative to this package.",
        ),
        "lock_file": attr.label(
            allow_single_file = True,
            doc = "The module's `.terraform.lock.hcl`. Instances init with `-lockfile=readonly`, so every provider the module needs must be locked here.",
        ),
    },
    provides = [TfComponentInfo],
)
