"""fleet_verify (Buck2): checks inputs against an expected tag and emits a verification tag."""

load(":labels.bzl", "loading_label_string")
load(":providers.bzl", "FleetHelperInfo", "FleetVerifyInfo")

def tag_input_key(artifact, package):
    """The name a verified file has in the expected tag and the tag: its path relative to the package.

    Args:
      artifact: the artifact (a source of this package, or another target's output).
      package: the package of the fleet_verify target.

    Returns:
      The key: package-relative for this package's files (as in the Bazel rule), else
      `<owner package>/<path>`.
    """
    if artifact.is_source or not artifact.owner or artifact.owner.package == package:
        return artifact.short_path
    return "%s/%s" % (artifact.owner.package, artifact.short_path)

def _fleet_verify_impl(ctx):
    label = ctx.attrs.label
    if ctx.attrs.expected and ctx.attrs.lock:
        fail("%s: set `expected` only (`lock` is its deprecated name)" % label)
    expected = ctx.attrs.expected or ctx.attrs.lock
    if not expected:
        fail("%s: set `expected`, the tag listing the expected digest of every src" % label)
    if ctx.attrs.lock:
        # buildifier: disable=print
        print("WARNING: %s: fleet_verify(lock = ...) is deprecated and will be removed in the next release; rename it to `expected`" % label)
    tag = ctx.actions.declare_output(ctx.label.name + ".tag.json")
    inputs = []
    owners = {}
    for file in ctx.attrs.srcs:
        key = tag_input_key(file, ctx.label.package)
        if key in owners:
            fail("%s: %s and %s would both be recorded as %s" % (label, owners[key], file.short_path, key))
        owners[key] = file.short_path
        inputs.append(struct(key = key, file = file))

    # Each input is recorded under its key, never under the path Buck2 placed it at,
    # so the tag's bytes depend on the keys and digests only.
    cmd = cmd_args(
        ctx.attrs._fleet[FleetHelperInfo].binary,
        "tag",
        "verify",
        "--expected",
        expected,
        "--expected-name",
        tag_input_key(expected, ctx.label.package),
        "--tag",
        tag.as_output(),
        "--label",
        label,
    )
    for entry in inputs:
        cmd.add("--input", entry.key, entry.file)
    ctx.actions.run(cmd, category = "fleet_verify")
    return [
        DefaultInfo(default_output = tag),
        FleetVerifyInfo(expected = expected, inputs = inputs, lock = expected, tag = tag),
    ]

fleet_verify_rule = rule(
    impl = _fleet_verify_impl,
    doc = """Checks the digest of each file in `srcs` against the `expected` tag and emits a tag in
`fleet tag write` format recording them (the `<name>` target of `fleet_verify`). Fails (exit 5,
naming each difference) when a digest differs; the tag's bytes depend only on the names and
digests of the inputs.""",
    attrs = {
        "expected": attrs.option(attrs.source(), default = None, doc = "The expected tag (`fleet tag write` format) listing the expected digest of every src."),
        "label": attrs.string(doc = "The target's canonical label string (filled by the macro)."),
        "lock": attrs.option(attrs.source(), default = None, doc = "Deprecated name of `expected` (prints a warning)."),
        "srcs": attrs.list(attrs.source(), doc = "Files to verify; each is named in the expected tag by its path relative to this package."),
        "_fleet": attrs.toolchain_dep(default = "toolchains//:fleet", providers = [FleetHelperInfo]),
    },
)

def fleet_verify(name, srcs, expected = None, lock = None, visibility = None, **kwargs):
    """Checks `srcs` against the `expected` tag; `<name>` is the tag recording their digests.

    Args:
      name: the target's name.
      srcs: files to verify, named in the tag by their path relative to this package.
      expected: the expected tag (write it with `fleet tag write --tag <expected> --input <src>...`
        from the package directory).
      lock: deprecated name of `expected`.
      visibility: visibility of the target (Buck2 form).
      **kwargs: passed to the rule.
    """
    fleet_verify_rule(
        name = name,
        srcs = srcs,
        expected = expected,
        label = loading_label_string(name),
        lock = lock,
        visibility = visibility,
        **kwargs
    )
