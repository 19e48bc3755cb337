"""fleet_verify: checks inputs against an expected tag and emits a verification tag."""

load(":labels.bzl", "apparent_repo_name", "label_string", "repo_of")
load(":providers.bzl", "FleetVerifyInfo")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE")

def tag_input_key(file, label):
    """The name a verified file has in the expected tag and the tag.

    Args:
      file: the File.
      label: the Label of the fleet_verify target.

    Returns:
      Its path relative to the target's package when it lies inside it,
      otherwise its path from the workspace root (`external/<repo>/...` for
      other repositories, `<repo>` the apparent name: the same key on Bazel 4.2,
      7 and 8), so a key never leaves the tag's directory.
    """
    path = file.short_path
    repo = ""
    if path.startswith("../"):
        repo, _, path = path[len("../"):].partition("/")
    prefix = label.package + "/" if label.package else ""
    if repo == repo_of(label) and path.startswith(prefix):
        return path[len(prefix):]
    if repo:
        return "external/%s/%s" % (apparent_repo_name(repo), path)
    return path

def _expected_tag(ctx):
    """The `expected` tag File; `lock` is its deprecated name, kept for one release."""
    label = label_string(ctx.label)
    if ctx.file.expected and ctx.file.lock:
        fail("%s: set `expected` only (`lock` is its deprecated name)" % label)
    if ctx.file.lock:
        # buildifier: disable=print
        print("WARNING: %s: fleet_verify(lock = ...) is deprecated and will be removed in the next release; rename it to `expected`" % label)
        return ctx.file.lock
    if not ctx.file.expected:
        fail("%s: set `expected`, the tag listing the expected digest of every src" % label)
    return ctx.file.expected

def _fleet_verify_impl(ctx):
    fleet = ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary
    expected = _expected_tag(ctx)
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
    args.add("--expected", expected)
    args.add("--expected-name", tag_input_key(expected, ctx.label))
    args.add("--tag", tag)
    args.add("--label", label_string(ctx.label))
    for entry in inputs:
        args.add("--input")
        args.add(entry.key)
        args.add(entry.file)

    ctx.actions.run(
        executable = fleet,
        arguments = [args],
        inputs = [expected] + [entry.file for entry in inputs],
        outputs = [tag],
        mnemonic = "FleetVerify",
        progress_message = "Verifying %d input(s) of %s against %s" % (len(inputs), ctx.label, expected.short_path),
    )
    return [
        DefaultInfo(files = depset([tag])),
        FleetVerifyInfo(tag = tag, expected = expected, lock = expected, inputs = inputs),
    ]

fleet_verify = rule(
    implementation = _fleet_verify_impl,
    doc = """Checks the digest of each file in `srcs` against the `expected` tag and emits a tag in
`fleet tag write` format recording them. Fails (exit 5, naming each difference) when a
digest differs from the expected one. The tag's bytes depend only on the names and digests of the
inputs, so whatever depends on it (a `variant_build`'s `verified` or `srcs`) reruns when a
verified digest changes, and not when anything else does, formatting of `expected` included.

`expected` is itself a tag: write it from the package directory with
`fleet tag write --tag <expected> --input <src>...`, naming each src relative to the package.
(`lock` is the deprecated name of `expected`: it still works for one release, with a warning.)""",
    attrs = {
        "srcs": attr.label_list(
            allow_files = True,
            mandatory = True,
            doc = "Files to verify; each is named in the expected tag by its path relative to this package.",
        ),
        "expected": attr.label(
            allow_single_file = [".json"],
            doc = "The expected tag (`fleet tag write` format) listing the expected digest of every src. Required (or its deprecated name `lock`).",
        ),
        "lock": attr.label(
            allow_single_file = [".json"],
            doc = "Deprecated name of `expected` (prints a warning; removed in the next release).",
        ),
    },
    toolchains = [str(FLEET_TOOLCHAIN_TYPE)],
    provides = [FleetVerifyInfo],
)
