"""A rule set's own toolchain, standing in for any toolchain resolution (C++, Java, ...)."""

def _demo_toolchain_impl(ctx):
    return [platform_common.ToolchainInfo(word = ctx.attr.word)]

demo_toolchain = rule(
    implementation = _demo_toolchain_impl,
    doc = "A toolchain carrying one word.",
    attrs = {"word": attr.string(doc = "The word.")},
)

def _greeting_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.write(out, ctx.toolchains["//demo:toolchain_type"].word + "\n")
    return [DefaultInfo(files = depset([out]))]

greeting = rule(
    implementation = _greeting_impl,
    doc = "Writes the resolved toolchain's word.",
    toolchains = ["//demo:toolchain_type"],
)
