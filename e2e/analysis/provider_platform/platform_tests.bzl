"""tf_provider's default platform comes from the target platform's constraints, not `--cpu`."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts")
load("@rules_fleet//rules:defs.bzl", "TfProviderInfo")

def _platform_impl(ctx):
    env = analysistest.begin(ctx)
    packages = analysistest.target_under_test(env)[TfProviderInfo].packages
    asserts.equals(env, [ctx.attr.expected], [p.platform for p in packages], "package platform")
    if packages:
        asserts.true(env, packages[0].archive.basename.endswith("_%s.zip" % ctx.attr.expected), packages[0].archive.basename)
    return analysistest.end(env)

def _platform_test(platform):
    return analysistest.make(
        _platform_impl,
        attrs = {"expected": attr.string(mandatory = True, doc = "`<os>_<arch>` of the package.")},
        config_settings = {"//command_line_option:platforms": platform},
    )

# Built with only `--platforms` set (no `--cpu`): Linux on arm64, macOS on x86_64.
linux_arm64_test = _platform_test("//provider_platform:linux_arm64")
darwin_amd64_test = _platform_test("//provider_platform:darwin_amd64")
