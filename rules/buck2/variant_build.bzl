"""variant_build (Buck2): one action per variant of a project, all sharing one tools bundle safely.

The action is `fleet variant-build`, as in the Bazel rule. Buck2 runs local actions in the
project root without a sandbox, so the tool sees the project's files where they are, and
`tools_link` and `verified` tags land in the project in both modes (in Bazel's `tree` mode
they land in each action's sandbox): `fleet` writes them atomically, and rewrites them only
when their content changes, so parallel variants see whole links and tags.
"""

load("//rules/private:variant_checks.bzl", "check_locks", "check_package_relative", "check_private_dirs")
load(":labels.bzl", "loading_label_string")
load(":providers.bzl", "FleetHelperInfo", "FleetToolsInfo", "FleetVerifyInfo")

_FORMS = ["location", "execpath"]

def _expand(text, paths, used):
    """`text` with each `$(location NAME)` / `$(execpath NAME)` replaced by the path of `paths[NAME]`.

    Args:
      text: an argument or env value as written.
      paths: dict NAME -> artifact or output artifact.
      used: dict, filled with the NAMEs expanded.

    Returns:
      One argument (cmd_args joined without a delimiter).
    """
    pieces = []
    rest = text
    for _ in range(len(text)):
        start = rest.find("$(")
        if start < 0:
            break
        end = rest.find(")", start)
        words = rest[start + 2:end].split(" ", 1) if end > 0 else []
        if len(words) != 2 or words[0] not in _FORMS or words[1].strip() not in paths:
            pieces.append(rest[:start + 2])
            rest = rest[start + 2:]
            continue
        name = words[1].strip()
        used[name] = True
        pieces.append(rest[:start])
        pieces.append(paths[name])
        rest = rest[end + 1:]
    pieces.append(rest)
    return cmd_args([p for p in pieces if p != ""], delimiter = "")

def _package_path(ctx, path):
    """`path` (relative to the package) as a path from the project root, where actions run."""
    check_package_relative(ctx.attrs.label, path)
    parts = [part for part in [ctx.label.package, path] if part]
    return cmd_args(ctx.label.cell_root, format = "{}/" + "/".join(parts))

def _locations(ctx, outs):
    """NAME -> artifact for `$(location NAME)`: outs by name, srcs by path, the tool by its label."""
    paths = {}
    for name, out in outs.items():
        paths[name] = out.as_output()
        paths[":" + name] = out.as_output()
    for src in ctx.attrs.srcs:
        paths[src.short_path] = src
        paths[":" + src.short_path] = src
    if ctx.attrs.tool_key:
        paths[ctx.attrs.tool_key] = ctx.attrs.tool
    return paths

def _variant_build_impl(ctx):
    label = ctx.attrs.label
    fleet = ctx.attrs._fleet[FleetHelperInfo].binary
    tools = ctx.attrs.tools[FleetToolsInfo]
    shared = ctx.attrs.tools_mode == "shared"
    if not ctx.attrs.outs:
        fail("%s: outs is empty; a variant build must declare what it produces" % label)
    check_private_dirs(label, ctx.attrs.private_dirs, ctx.attrs.env)
    check_locks(label, ctx.attrs.locks)
    outs = {name: ctx.actions.declare_output(name) for name in ctx.attrs.outs}
    first = outs[ctx.attrs.outs[0]]
    cmd = cmd_args(fleet, "variant-build", "--mode", ctx.attrs.tools_mode, "--variant", ctx.attrs.variant)
    sub_targets = {}
    if shared:
        record = ctx.actions.declare_output(ctx.label.name + ".fleet_tools.json")
        sub_targets["fleet_tools"] = [DefaultInfo(default_output = record)]
        if ctx.attrs.tools_link:
            link = _package_path(ctx, ctx.attrs.tools_link)
        else:
            link = cmd_args(record.as_output(), parent = 1, format = "{}/%s.fleet_tools" % ctx.label.name)
        cmd.add("--tools", tools.archive, "--digest", tools.digest, "--link", link, "--record", record.as_output())
        if ctx.attrs.store:
            if not ctx.attrs.store.startswith("/"):
                fail("%s: store = \"%s\" must be an absolute path" % (label, ctx.attrs.store))
            cmd.add("--store", ctx.attrs.store)
    else:
        cmd.add("--tools", tools.tree)
        if ctx.attrs.tools_link:
            cmd.add("--link", _package_path(ctx, ctx.attrs.tools_link))
    for var in ctx.attrs.private_dirs:
        cmd.add("--private-dir", var)
    if ctx.attrs.private_dirs:
        cmd.add("--private-root", cmd_args(first.as_output(), format = "{}.fleet-private"))
    for name in ctx.attrs.locks:
        cmd.add("--lock", name)
    for target, dest in ctx.attrs.verified.items():
        verify = target[FleetVerifyInfo]
        tag_path = _package_path(ctx, dest)
        cmd.add("--tag", tag_path)
        cmd.add(cmd_args(hidden = verify.tag))
        for entry in verify.inputs:
            cmd.add("--tag-input", tag_path, entry.key, entry.file)
    used = {}
    paths = _locations(ctx, outs)
    for key, value in ctx.attrs.env.items():
        cmd.add("--env", cmd_args(key + "=", _expand(value, paths, used), delimiter = ""))
    cmd.add("--", ctx.attrs.tool)
    for argument in ctx.attrs.args:
        cmd.add(_expand(argument, paths, used))
    unnamed = [out.as_output() for name, out in outs.items() if name not in used and ":" + name not in used]
    cmd.add(cmd_args(hidden = ctx.attrs.srcs + unnamed))
    ctx.actions.run(
        cmd,
        category = "variant_build",
        # The store and the named locks are this machine's: the action runs here.
        local_only = shared or bool(ctx.attrs.locks),
    )
    sub_targets["outs"] = [DefaultInfo(default_outputs = outs.values())]
    return [DefaultInfo(default_outputs = outs.values(), sub_targets = sub_targets)]

variant_build_rule = rule(
    impl = _variant_build_impl,
    doc = """Runs `tool` for one variant of a project as its own action (`fleet variant-build`), with
the tools bundle at `$FLEET_TOOLS_DIR` and the variant's name in `$FLEET_VARIANT` (the `<name>`
target of `variant_build`).""",
    attrs = {
        "args": attrs.list(attrs.string(), default = [], doc = "Arguments of the tool; `$(location NAME)` / `$(execpath NAME)` expand for outs, srcs (by path) and the tool."),
        "env": attrs.dict(attrs.string(), attrs.string(), default = {}, doc = "Extra environment of the tool; values expand `$(location)` like args."),
        "label": attrs.string(doc = "The target's canonical label string (filled by the macro)."),
        "locks": attrs.list(attrs.string(), default = [], doc = "Names of machine-wide exclusive locks held by the tool's process for its whole run."),
        "outs": attrs.list(attrs.string(), doc = "Files the tool writes, by name."),
        "private_dirs": attrs.list(attrs.string(), default = [], doc = "Environment variables each set to a fresh directory private to this action."),
        "srcs": attrs.list(attrs.source(), default = [], doc = "Files the tool reads (project sources, configuration)."),
        "store": attrs.option(attrs.string(), default = None, doc = "`shared` mode: absolute path of the store (default: FLEET_STORE of the Buck2 daemon's environment, else `$HOME/.cache/rules_fleet/store`)."),
        "tool": attrs.source(doc = "The build tool: an executable file (or a target's output), run once per variant with `args`."),
        "tool_key": attrs.string(default = "", doc = "The tool as written, for `$(location ...)` (filled by the macro)."),
        "tools": attrs.dep(providers = [FleetToolsInfo], doc = "The `fleet_tools` bundle the tool needs."),
        "tools_link": attrs.option(attrs.string(), default = None, doc = "Path, relative to the package, made a symlink to the tools before the tool runs (replaced atomically)."),
        "tools_mode": attrs.enum(["tree", "shared"], default = "tree", doc = "`tree`: the bundle extracted once per build (default). `shared`: the machine-wide store."),
        "variant": attrs.string(doc = "The variant's name, given to the tool as `$FLEET_VARIANT`."),
        "verified": attrs.dict(attrs.dep(providers = [FleetVerifyInfo]), attrs.string(), default = {}, doc = "`fleet_verify` target -> path, relative to the package, where the tool expects its verification tag."),
        "_fleet": attrs.toolchain_dep(default = "toolchains//:fleet", providers = [FleetHelperInfo]),
    },
)

def variant_build(name, tool, tools, variant, outs, args = [], srcs = [], env = {}, tools_mode = "tree", tools_link = None, verified = {}, private_dirs = [], locks = [], store = None, visibility = None, **kwargs):
    """One variant of a project built by its own action, with the tools at `$FLEET_TOOLS_DIR`.

    The same attributes and meanings as the Bazel rule (docs/rules.md, docs/variants.md);
    the differences (no sandbox, the daemon's environment) are in docs/buck2.md.

    Args:
      name: the target's name.
      tool: the build tool (an executable file or a target's output).
      tools: the `fleet_tools` bundle.
      variant: the variant's name (`$FLEET_VARIANT`).
      outs: files the tool writes, by name.
      args: arguments of the tool (`$(location NAME)` expands).
      srcs: files the tool reads.
      env: extra environment of the tool (`$(location NAME)` expands).
      tools_mode: `tree` or `shared`.
      tools_link: path, relative to the package, where the tool expects its tools.
      verified: `fleet_verify` target -> path, relative to the package, of its tag.
      private_dirs: environment variables given fresh private directories.
      locks: machine-wide locks held while the tool runs.
      store: `shared` mode: absolute path of the store.
      visibility: visibility of the target (Buck2 form).
      **kwargs: passed to the rule.
    """
    variant_build_rule(
        name = name,
        args = args,
        env = env,
        label = loading_label_string(name),
        locks = locks,
        outs = outs,
        private_dirs = private_dirs,
        srcs = srcs,
        store = store,
        tool = tool,
        tool_key = tool,
        tools = tools,
        tools_link = tools_link,
        tools_mode = tools_mode,
        variant = variant,
        verified = verified,
        visibility = visibility,
        **kwargs
    )
