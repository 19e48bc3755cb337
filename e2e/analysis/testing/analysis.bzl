"""Analysis-test rules for rules_fleet's refusals and launchers (skylib 1.0.3 unittest.bzl)."""

load("@bazel_skylib//lib:unittest.bzl", "analysistest", "asserts")
load("@rules_fleet//rules:defs.bzl", "FleetVerifyInfo", "TfComponentInfo", "TfGroupInfo", "TfInstanceGroupInfo", "TfInstanceSetInfo")

def _refused_impl(ctx):
    env = analysistest.begin(ctx)
    for message in ctx.attr.messages:
        asserts.expect_failure(env, message)
    return analysistest.end(env)

# The target under test fails analysis with every one of `messages` in its error.
refused_test = analysistest.make(
    _refused_impl,
    expect_failure = True,
    attrs = {
        "messages": attr.string_list(
            mandatory = True,
            doc = "Substrings the analysis error must contain (the label, the key path, the way out).",
        ),
    },
)

def _launcher_impl(ctx):
    env = analysistest.begin(ctx)
    templates = [a for a in analysistest.target_actions(env) if a.mnemonic == "TemplateExpand"]
    asserts.equals(env, 1, len(templates), "one launcher (TemplateExpand) action")
    if templates:
        command = templates[0].substitutions["{{COMMAND}}"]
        for expected in ctx.attr.command_contains:
            asserts.true(env, expected in command, "launcher command %s lacks %s" % (command, expected))
        for unexpected in ctx.attr.command_lacks:
            asserts.false(env, unexpected in command, "launcher command %s holds %s" % (command, unexpected))
    return analysistest.end(env)

# The target's `bazel run` launcher is the shared template, and its command holds (or lacks) the given words.
launcher_test = analysistest.make(
    _launcher_impl,
    attrs = {
        "command_contains": attr.string_list(doc = "Shell words the launcher's command must hold."),
        "command_lacks": attr.string_list(doc = "Shell words the launcher's command must not hold."),
    },
)

def _verify_expected_impl(ctx):
    env = analysistest.begin(ctx)
    info = analysistest.target_under_test(env)[FleetVerifyInfo]
    asserts.equals(env, ctx.attr.expected_basename, info.expected.basename, "FleetVerifyInfo.expected")
    asserts.equals(env, info.expected, info.lock, "FleetVerifyInfo.lock is the deprecated alias of expected")
    return analysistest.end(env)

# fleet_verify's `expected` (or its deprecated name `lock`) is the tag the inputs are checked against.
verify_expected_test = analysistest.make(
    _verify_expected_impl,
    attrs = {
        "expected_basename": attr.string(mandatory = True, doc = "Basename of the expected tag File."),
    },
)

def _component_paths_impl(ctx):
    env = analysistest.begin(ctx)
    info = analysistest.target_under_test(env)[TfComponentInfo]
    asserts.equals(env, sorted(ctx.attr.paths), sorted([f.path for f in info.files]), "TfComponentInfo.files paths")
    return analysistest.end(env)

# The component places its files at exactly `paths` in each instance's tree.
component_paths_test = analysistest.make(
    _component_paths_impl,
    attrs = {
        "paths": attr.string_list(mandatory = True, doc = "The module paths, in any order."),
    },
)

def _accepted_impl(ctx):
    env = analysistest.begin(ctx)
    target = analysistest.target_under_test(env)
    asserts.true(env, target != None, "the target under test analyses")
    return analysistest.end(env)

# The target under test analyses without failing (a negative of refused_test: nothing is refused).
accepted_test = analysistest.make(_accepted_impl)

def _group_parallelism_impl(ctx):
    env = analysistest.begin(ctx)
    entry = analysistest.target_under_test(env)[TfGroupInfo].entry
    asserts.equals(env, ctx.attr.parallelism, entry["concurrency"], "the group's limit in its manifest entry")
    return analysistest.end(env)

# tf_group's limit (`parallelism`, or its deprecated alias `concurrency`) reaches the manifest.
group_parallelism_test = analysistest.make(
    _group_parallelism_impl,
    attrs = {
        "parallelism": attr.int(mandatory = True, doc = "The limit the manifest entry must hold."),
    },
)

def _instance_set_impl(ctx):
    env = analysistest.begin(ctx)
    target = analysistest.target_under_test(env)
    asserts.equals(env, ctx.attr.instances, len(target[TfInstanceSetInfo].instances), "TfInstanceSetInfo.instances")
    asserts.true(env, TfInstanceGroupInfo == TfInstanceSetInfo, "TfInstanceGroupInfo is the deprecated alias of TfInstanceSetInfo")
    return analysistest.end(env)

# A tf_instance_set (or its deprecated alias tf_instance_group) provides its instances.
instance_set_test = analysistest.make(
    _instance_set_impl,
    attrs = {
        "instances": attr.int(mandatory = True, doc = "How many instances the set must hold."),
    },
)
