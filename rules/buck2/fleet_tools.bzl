"""fleet_tools (Buck2): a tools bundle shared by variant builds, extracted once."""

load(":providers.bzl", "FleetHelperInfo", "FleetToolsInfo")

def _fleet_tools_impl(ctx):
    fleet = ctx.attrs._fleet[FleetHelperInfo].binary
    archive = ctx.attrs.archive
    tree = ctx.actions.declare_output(ctx.label.name + ".tree", dir = True)

    # fleet validates every entry (exit 4 on hostile or corrupt archives): a bad
    # archive fails the build instead of producing a partial tree.
    ctx.actions.run(
        cmd_args(fleet, "extract", "--archive", archive, "--out", tree.as_output(), "--quiet"),
        category = "fleet_tools_extract",
    )
    digest = ctx.actions.declare_output(ctx.label.name + ".sha256")
    ctx.actions.run(
        cmd_args(fleet, "hash", archive, "--format", "sha256", "--out", digest.as_output()),
        category = "fleet_tools_digest",
    )
    return [
        DefaultInfo(
            default_output = tree,
            sub_targets = {
                "archive": [DefaultInfo(default_output = archive)],
                "digest": [DefaultInfo(default_output = digest)],
            },
        ),
        FleetToolsInfo(archive = archive, digest = digest, tree = tree),
    ]

fleet_tools = rule(
    impl = _fleet_tools_impl,
    doc = """A tools bundle (`.tar` or `.tar.gz`) for `variant_build`. Building it extracts the
bundle into a directory (`fleet extract --out`), once per build however many variants read
it; `shared` variants extract the archive into the machine-wide store instead.""",
    attrs = {
        "archive": attrs.source(doc = "The bundle: a `.tar` or `.tar.gz` file or a target producing one."),
        "_fleet": attrs.toolchain_dep(default = "toolchains//:fleet", providers = [FleetHelperInfo]),
    },
)
