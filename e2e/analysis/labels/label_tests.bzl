"""Tests of rules_fleet's one label form (rules/private/labels.bzl): `//pkg:name` for the main
repository, `@apparent//pkg:name` for others, on Bazel 4.2 Labels and on the canonical names
Bazel 7 and 8 give repositories."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts", "unittest")
load("@rules_fleet//rules:defs.bzl", "TfInstanceInfo")

# buildifier: disable=bzl-visibility (the functions under test are private)
load("@rules_fleet//rules/private:labels.bzl", "apparent_repo_name", "format_label", "label_string", "resolve_label_string")

# (canonical repository name, apparent name): Bazel 4.2-6 and WORKSPACE, 7.0, 7.1+, 8.
CANONICAL_NAMES = [
    ("", ""),
    ("__main__", ""),
    ("_main", ""),
    ("platforms", "platforms"),
    ("my-repo.v2", "my-repo.v2"),
    ("rules_fleet~0.1.0", "rules_fleet"),
    ("rules_fleet~", "rules_fleet"),
    ("rules_fleet+", "rules_fleet"),
    ("rules_fleet~1.0.0+build.5", "rules_fleet"),
    ("rules_fleet~0.1.0~fleet~fleet_helper", "fleet_helper"),
    ("rules_fleet~~fleet~fleet_helper", "fleet_helper"),
    ("rules_fleet++fleet+fleet_helper", "fleet_helper"),
    ("_main~fleet~terraform", "terraform"),
    ("+fleet+terraform", "terraform"),
    ("+_repo_rules+infra", "infra"),
]

def _apparent_names_impl(ctx):
    env = unittest.begin(ctx)
    for canonical, apparent in CANONICAL_NAMES:
        asserts.equals(env, apparent, apparent_repo_name(canonical), "apparent_repo_name(%r)" % canonical)
        want = "@%s//a/b:c" % apparent if apparent else "//a/b:c"
        asserts.equals(env, want, format_label(canonical, "a/b", "c"), "format_label(%r, ...)" % canonical)
    return unittest.end(env)

apparent_names_test = unittest.make(_apparent_names_impl)

# (written in package "pkg", label_string form)
WRITTEN = [
    (":x", "//pkg:x"),
    ("x", "//pkg:x"),
    ("//a/b", "//a/b:b"),
    ("//a/b:c", "//a/b:c"),
    ("@//a:c", "//a:c"),
    ("@@//a:c", "//a:c"),
    ("@other//a:c", "@other//a:c"),
    ("@other", "@other//:other"),
    ("@rules_fleet~//tools:fleet", "@rules_fleet//tools:fleet"),
    ("@@rules_fleet+//tools:fleet", "@rules_fleet//tools:fleet"),
    ("@@rules_fleet~~fleet~fleet_helper//:fleet", "@fleet_helper//:fleet"),
]

def _written_labels_impl(ctx):
    env = unittest.begin(ctx)
    for written, want in WRITTEN:
        asserts.equals(env, want, resolve_label_string(written, "pkg"), "resolve_label_string(%r)" % written)
    return unittest.end(env)

written_labels_test = unittest.make(_written_labels_impl)

def _label_string_impl(ctx):
    env = analysistest.begin(ctx)
    target = analysistest.target_under_test(env)
    asserts.equals(env, ctx.attr.expected, label_string(target.label), "label_string(%s)" % target.label)
    if TfInstanceInfo in target:
        asserts.equals(env, ctx.attr.expected, target[TfInstanceInfo].label, "TfInstanceInfo.label")
    return analysistest.end(env)

# label_string of a real Label (main repository, another repository) is `expected`.
label_string_test = analysistest.make(
    _label_string_impl,
    attrs = {"expected": attr.string(mandatory = True, doc = "The label string.")},
)

def _inputs_from_impl(ctx):
    env = analysistest.begin(ctx)
    info = analysistest.target_under_test(env)[TfInstanceInfo]
    asserts.equals(env, [ctx.attr.upstream], info.deps, "deps")
    for var, ref in info.inputs_from.items():
        asserts.equals(env, ctx.attr.upstream, ref["instance"], "inputs_from[%r].instance" % var)
    asserts.equals(env, 1, len(info.inputs_from), "one inputs_from reference")
    entry = info.manifest_entry
    asserts.equals(env, [ctx.attr.upstream], entry["deps"], "manifest deps")
    return analysistest.end(env)

# An instance whose inputs_from names its upstream by this repository's name for another
# repository analyses, and its manifest names the upstream by label_string.
inputs_from_test = analysistest.make(
    _inputs_from_impl,
    attrs = {"upstream": attr.string(mandatory = True, doc = "The upstream's label string.")},
)

def label_test_suite(name):
    unittest.suite(name, apparent_names_test, written_labels_test)
