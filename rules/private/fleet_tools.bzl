"""fleet_tools: a tools bundle shared by variant builds, extracted once."""

load(":extract_tree.bzl", "extract_tree")
load(":providers.bzl", "FleetToolsInfo")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE")

def _fleet_tools_impl(ctx):
    fleet = ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary
    archive = ctx.file.archive

    tree = extract_tree(
        ctx,
        fleet,
        archive,
        name = ctx.label.name + ".tree",
        mnemonic = "FleetToolsExtract",
        progress_message = "Extracting tools bundle %s" % ctx.label,
    )

    digest = ctx.actions.declare_file(ctx.label.name + ".sha256")
    ctx.actions.run(
        executable = fleet,
        arguments = ["hash", archive.path, "--format", "sha256", "--out", digest.path],
        inputs = [archive],
        outputs = [digest],
        mnemonic = "FleetToolsDigest",
        progress_message = "Hashing tools bundle %s" % ctx.label,
    )

    return [
        DefaultInfo(files = depset([tree])),
        OutputGroupInfo(
            archive = depset([archive]),
            digest = depset([digest]),
        ),
        FleetToolsInfo(archive = archive, digest = digest, tree = tree),
    ]

fleet_tools = rule(
    implementation = _fleet_tools_impl,
    doc = """A tools bundle (`.tar` or `.tar.gz`) for `variant_build`. Building it extracts the
bundle hermetically into a directory (`fleet extract --out`), once per build however many
variants read it; `shared` variants extract the archive into the machine-wide store instead.""",
    attrs = {
        "archive": attr.label(
            mandatory = True,
            allow_single_file = [".tar", ".tar.gz", ".tgz"],
            doc = "The bundle: a `.tar` or `.tar.gz` file or a rule producing one.",
        ),
    },
    toolchains = [str(FLEET_TOOLCHAIN_TYPE)],
    provides = [FleetToolsInfo],
)
