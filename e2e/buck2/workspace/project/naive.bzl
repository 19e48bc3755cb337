"""naive_variant: the race rules_fleet ends, for the e2e test to show it is real.

Runs buildsys.sh with `--install naive` as such tools do on every run: it removes the
project's build/tools and unpacks the bundle again, and rewrites the verification tag
in place. Eight at once in one project tear each other apart. Not part of
rules_fleet: a stand-in for a project's own genrule.
"""

def _naive_variant_impl(ctx):
    out = ctx.actions.declare_output(ctx.attrs.variant + ".naive.img")
    ctx.actions.run(
        cmd_args(
            ctx.attrs.tool,
            "build",
            "--project",
            "project",
            "--variant",
            ctx.attrs.variant,
            "--version",
            ctx.attrs.version,
            "--arch",
            "x86_64",
            "--out",
            out.as_output(),
            "--install",
            "naive",
            "--bundle",
            ctx.attrs.bundle,
            hidden = ctx.attrs.srcs,
        ),
        category = "naive_variant",
        local_only = True,
    )
    return [DefaultInfo(default_output = out)]

naive_variant = rule(
    impl = _naive_variant_impl,
    doc = "One variant built by the tool's own naive install (see the file's docstring).",
    attrs = {
        "bundle": attrs.source(doc = "The tools bundle the tool unpacks."),
        "srcs": attrs.list(attrs.source(), default = [], doc = "The project's files."),
        "tool": attrs.source(doc = "buildsys.sh."),
        "variant": attrs.string(doc = "The variant's name."),
        "version": attrs.string(doc = "The image version."),
    },
)
