"""fleet_verify: checks inputs against a lock file and emits a verification tag."""

load(":labels.bzl", "label_string")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE")
load(":variant_providers.bzl", "FleetVerifyInfo")

def tag_input_key(file, label):
    """The name a verified file has in the lock and the tag.

    Args:
      file: the File.
      label: the Label of the fleet_verify target.

    Returns:
      Its path relative to the target's package when it lies inside it,
      otherwise its path from the workspace root (`external/<repo>/...` for
      other repositories), so a key never leaves the tag's directory.
    """
    path = file.short_path
    if path.startswith("../"):
        path = "external/" + path[len("../"):]
    package = label.package
    if label.workspace_name not in ("", "__main__", "_main"):
        package = "external/%s/%s" % (label.workspace_name, package) if package else "external/" + label.workspace_name
    prefix = package + "/" if package else ""
    if prefix and path.startswith(prefix):
        return path[len(prefix):]
    return path

def _fleet_verify_impl(ctx):
    fleet = ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary
    lock = ctx.file.lock
    tag = ctx.actions.declare_file(ctx.label.name + ".tag.json")

    inputs = []
    owners = {}
    for file in ctx.files.srcs:
        key = tag_input_key(file, ctx.label)
        if key in owners:
            fail("%s: %s and %s would both be recorded as %s" % (label_string(ctx.label), owners[key], file.path, key))
        owners[key] = file.path
        inputs.append(struct(key = key, file = file))

    # Each input is recorded under its key, never under the path Bazel placed it at,
    # so the tag's bytes depend on the keys and digests only.
    args = ctx.actions.args()
    args.add("tag")
    args.add("verify")
    args.add("--expected", lock)
    args.add("--expected-name", tag_input_key(lock, ctx.label))
    args.add("--tag", tag)
    args.add("--label", label_string(ctx.label))
    for entry in inputs:
        args.add("--input")
        args.add(entry.key)
        args.add(entry.file)

    ctx.actions.run(
        executable = fleet,
        arguments = [args],
        inputs = [lock] + [entry.file for entry in inputs],
        outputs = [tag],
        mnemonic = "FleetVerify",
        progress_message = "Verifying %d input(s) of %s against %s" % (len(inputs), ctx.label, lock.short_path),
    )
    return [
        DefaultInfo(files = depset([tag])),
        FleetVerifyInfo(tag = tag, lock = lock, inputs = inputs),
    ]

fleet_verify = rule(
    implementation = _fleet_verify_impl,
    doc = """Checks the digest of each file in `srcs` against `lock` and emits a tag in
`fleet tag write` format recording them. Fails (exit 5, naming each difference) when a
digest differs from the lock. The tag's bytes depend only on the names and digests of the
inputs, so whatever depends on it (a `variant_build`'s `verified` or `srcs`) reruns when a
verified digest changes, and not when anything else does, lock formatting included.

The lock is itself a tag: write it from the package directory with
`fleet tag write --tag <lock> --input <src>...`, naming each src relative to the package.""",
    attrs = {
        "srcs": attr.label_list(
            allow_files = True,
            mandatory = True,
            doc = "Files to verify; each is named in the lock by its path relative to this package.",
        ),
        "lock": attr.label(
            allow_single_file = [".json"],
            mandatory = True,
            doc = "The lock file: a tag (`fleet tag write` format) listing the expected digest of every src.",
        ),
    },
    toolchains = [str(FLEET_TOOLCHAIN_TYPE)],
    provides = [FleetVerifyInfo],
)
