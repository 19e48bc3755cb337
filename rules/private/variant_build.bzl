"""variant_build: one action per variant of a project, all sharing one tools bundle safely."""

load(":labels.bzl", "label_string")
load(":providers.bzl", "FleetToolsInfo", "FleetVerifyInfo")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE")
load(":variant_checks.bzl", "check_locks", "check_package_relative", "check_private_dirs")

def _package_path(ctx, path):
    """An execroot-relative path for a path given relative to the target's package."""
    check_package_relative(label_string(ctx.label), path)
    parts = [part for part in [ctx.label.workspace_root, ctx.label.package, path] if part]
    return "/".join(parts)

def _expand(ctx, text, targets):
    """Expands `$(location)`/`$(execpath)` of outs (by name), then of targets."""
    package = "/".join([part for part in [ctx.label.workspace_root, ctx.label.package] if part])
    for out in ctx.outputs.outs:
        name = out.path[len(ctx.bin_dir.path) + 1:]
        if package:
            name = name[len(package) + 1:]
        for form in ["location", "execpath"]:
            text = text.replace("$(%s %s)" % (form, name), out.path)
            text = text.replace("$(%s :%s)" % (form, name), out.path)
    return ctx.expand_location(text, targets)

def _variant_build_impl(ctx):
    label = label_string(ctx.label)
    fleet = ctx.toolchains[FLEET_TOOLCHAIN_TYPE].fleet.binary
    tools = ctx.attr.tools[FleetToolsInfo]
    shared = ctx.attr.tools_mode == "shared"
    if not ctx.outputs.outs:
        fail("%s: outs is empty; a variant build must declare what it produces" % label)

    args = ctx.actions.args()
    args.add("variant-build")
    args.add("--mode", ctx.attr.tools_mode)
    args.add("--variant", ctx.attr.variant)
    inputs = []
    outputs = list(ctx.outputs.outs)
    output_groups = {}
    requirements = {}
    if shared:
        record = ctx.actions.declare_file(ctx.label.name + ".fleet_tools.json")
        outputs.append(record)
        output_groups["fleet_tools"] = depset([record])
        inputs += [tools.archive, tools.digest]
        link = _package_path(ctx, ctx.attr.tools_link) if ctx.attr.tools_link else "%s/%s.fleet_tools" % (record.dirname, ctx.label.name)
        args.add("--tools", tools.archive)
        args.add("--digest", tools.digest)
        args.add("--link", link)
        args.add("--record", record)
        if ctx.attr.store:
            if not ctx.attr.store.startswith("/"):
                fail("%s: store = \"%s\" must be an absolute path" % (label, ctx.attr.store))
            args.add("--store", ctx.attr.store)

        # The store lives outside the execroot and is shared by every build on
        # the machine: the action must see the real filesystem and run here.
        requirements = {"no-remote-exec": "1", "no-sandbox": "1"}
    else:
        inputs.append(tools.tree)
        args.add("--tools", tools.tree.path)
        if ctx.attr.tools_link:
            args.add("--link", _package_path(ctx, ctx.attr.tools_link))
    check_private_dirs(label, ctx.attr.private_dirs, ctx.attr.env)
    check_locks(label, ctx.attr.locks)
    args.add_all(ctx.attr.private_dirs, before_each = "--private-dir")
    if ctx.attr.private_dirs:
        args.add("--private-root", outputs[0].path + ".fleet-private")
    args.add_all(ctx.attr.locks, before_each = "--lock")
    if ctx.attr.locks:
        # The lock files live beside the machine-wide store, outside the
        # sandbox: they only exclude other actions on this machine.
        requirements = {"no-remote-exec": "1", "no-sandbox": "1"}

    targets = list(ctx.attr.srcs) + [ctx.attr.tool]
    for target, dest in ctx.attr.verified.items():
        verify = target[FleetVerifyInfo]
        targets.append(target)
        tag_path = _package_path(ctx, dest)
        args.add("--tag", tag_path)
        inputs.append(verify.tag)
        for entry in verify.inputs:
            args.add_all("--tag-input", [tag_path, entry.key, entry.file.path])
            inputs.append(entry.file)

    for key, value in ctx.attr.env.items():
        args.add("--env", "%s=%s" % (key, _expand(ctx, value, targets)))
    args.add("--")
    args.add(ctx.executable.tool)
    args.add_all([_expand(ctx, arg, targets) for arg in ctx.attr.args])

    ctx.actions.run(
        executable = fleet,
        arguments = [args],
        inputs = depset(inputs + ctx.files.srcs),
        tools = [ctx.attr.tool[DefaultInfo].files_to_run],
        outputs = outputs,
        mnemonic = "VariantBuild",
        progress_message = "Building variant %s (%s)" % (ctx.attr.variant, label),
        execution_requirements = requirements,
        use_default_shell_env = True,
    )
    output_groups["outs"] = depset(ctx.outputs.outs)
    return [
        DefaultInfo(files = depset(ctx.outputs.outs)),
        OutputGroupInfo(**output_groups),
    ]

variant_build = rule(
    implementation = _variant_build_impl,
    doc = """Runs `tool` for one variant of a project as its own action, with the tools bundle at
`$FLEET_TOOLS_DIR` and the variant's name in `$FLEET_VARIANT`. Declare one per variant: Bazel
runs them in parallel (`--jobs`); what they share (the tools, a tools link, verification tags)
is only ever published whole, by `fleet`, and rewritten only when its content changes.

`tools_mode = "tree"` (default, hermetic): the variant reads the tree `fleet_tools` extracted
once per build; sandboxed, cacheable, remote-executable.
`tools_mode = "shared"`: the action runs `fleet extract --store <store> --link <link>`, so every
variant, build and output base on the machine shares one extraction per bundle digest. The
store is outside the execroot, so the action is tagged `no-sandbox` and `no-remote-exec`.
Store: the `store` attribute, else `FLEET_STORE` from `--action_env`, else
`$HOME/.cache/rules_fleet/store`.

The tool's own state (`$TMPDIR`, `$HOME`, `$CARGO_HOME`...): `private_dirs` gives each named
variable a fresh directory of this action; `locks` serialises the variants that share one.""",
    attrs = {
        "tool": attr.label(
            mandatory = True,
            executable = True,
            allow_files = True,
            cfg = "exec",
            doc = "The build tool, run once per variant with `args`; it runs in the execroot.",
        ),
        "tools": attr.label(
            mandatory = True,
            providers = [FleetToolsInfo],
            doc = "The `fleet_tools` bundle the tool needs.",
        ),
        "variant": attr.string(
            mandatory = True,
            doc = "The variant's name, given to the tool as `$FLEET_VARIANT`.",
        ),
        "args": attr.string_list(
            doc = "Arguments of the tool. `$(location)`/`$(execpath)` expand for srcs, tool, verified and outs.",
        ),
        "srcs": attr.label_list(
            allow_files = True,
            doc = "Files the tool reads (project sources, configuration, `fleet_verify` tags).",
        ),
        "outs": attr.output_list(
            mandatory = True,
            doc = "Files the tool writes, relative to the package.",
        ),
        "env": attr.string_dict(
            doc = "Extra environment of the tool; values expand `$(location)` like args.",
        ),
        "tools_mode": attr.string(
            default = "tree",
            values = ["tree", "shared"],
            doc = "`tree`: hermetic per-build extraction (default). `shared`: machine-wide store (no sandbox).",
        ),
        "tools_link": attr.string(
            doc = """Path, relative to the package, where the tool insists on finding its tools
(e.g. `build/tools`): made a symlink to them before the tool runs, replaced atomically, and
`$FLEET_TOOLS_DIR` names it. In `shared` mode, without a sandbox, this is the source tree's
path, shared by all variants. Default: `shared` links a private path next to the outputs.""",
        ),
        "verified": attr.label_keyed_string_dict(
            providers = [FleetVerifyInfo],
            doc = """`fleet_verify` target -> path, relative to the package, where the tool expects
its verification tag (e.g. `build/external-kits/.sdk-verified`). Written with `fleet tag
write`: an unchanged tag keeps its bytes, inode and mtime. The variant reruns only when the
verified digests change.""",
        ),
        "private_dirs": attr.string_list(
            doc = """Environment variables (e.g. `TMPDIR`, `HOME`, `CARGO_HOME`, `GOPATH`) each set
to a fresh, empty directory private to this action, next to its outputs; created by `fleet
run-locked` before the tool runs and removed after it exits. For state the tool keeps for
itself that must not be shared between parallel variants.""",
        ),
        "locks": attr.string_list(
            doc = """Names of machine-wide exclusive locks (`<store>/.locks/<name>.lock`) held by
the tool's process for its whole run, taken by `fleet run-locked` in sorted order (no
deadlock), waiting up to `FLEET_LOCK_TIMEOUT` (--action_env; default 300 s), else exit 3
naming the holder. For state worth sharing but not safe to use concurrently (a package cache).
The action is tagged `no-sandbox` and `no-remote-exec`.""",
        ),
        "store": attr.string(
            doc = "`shared` mode: absolute path of the store (default: `FLEET_STORE` from --action_env, else `$HOME/.cache/rules_fleet/store`).",
        ),
    },
    toolchains = [str(FLEET_TOOLCHAIN_TYPE)],
)
