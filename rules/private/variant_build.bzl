"""variant_build: one action per variant of a project, all sharing one tools bundle safely."""

load(":fleet_verify.bzl", "KEYED_INPUTS_SH")
load(":labels.bzl", "label_string")
load(":providers.bzl", "FleetToolsInfo", "FleetVerifyInfo")
load(":toolchain_types.bzl", "FLEET_TOOLCHAIN_TYPE")

# The store `shared` mode uses when neither the `store` attribute nor FLEET_STORE
# (--action_env) names one. Actions get no HOME from Bazel, so the home
# directory comes from the password database when HOME is unset.
_DEFAULT_STORE_SH = """
default_store() {
  local home="${HOME:-}"
  if [ -z "$home" ]; then
    home="$(getent passwd "$(id -u)" | cut -d: -f6)"
  fi
  if [ -z "$home" ]; then
    echo "variant_build: no HOME to place the tools store in; set --action_env=FLEET_STORE=/abs/dir" >&2
    exit 2
  fi
  echo "$home/.cache/rules_fleet/store"
}
"""

# Arguments: option pairs, then `--` and the tool's argv. Paths are
# execroot-relative (the working directory); the tool gets absolute ones.
_VARIANT_SH = KEYED_INPUTS_SH + _DEFAULT_STORE_SH + """
set -euo pipefail
root="$PWD"
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
fleet="" mode="" tools="" digest="" store="" link="" record="" scratch="" variant="" private_root=""
envs=() tags=() locks=() private_dirs=()
while [ "$1" != "--" ]; do
  case "$1" in
    --fleet) fleet="$(absolute "$2")" ;;
    --mode) mode="$2" ;;
    --tools) tools="$2" ;;
    --digest) digest="$2" ;;
    --store) store="$2" ;;
    --link) link="$2" ;;
    --record) record="$2" ;;
    --scratch) scratch="$(absolute "$2")" ;;
    --variant) variant="$2" ;;
    --env) envs+=("$2") ;;
    --tag) tags+=("$2") ;;
    --lock) locks+=("$2") ;;
    --private-dir) private_dirs+=("$2") ;;
    --private-root) private_root="$(absolute "$2")" ;;
    *) echo "variant_build: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
shift

tools_dir=""
if [ "$mode" = shared ]; then
  store="${store:-${FLEET_STORE:-}}"
  store="${store:-$(default_store)}"
  mkdir -p "$store"
  # Many variants, builds and output bases race here: fleet extracts each
  # digest once under a lock and swaps the link atomically.
  "$fleet" extract --archive "$tools" --store "$store" --sha256 "$(cat "$digest")" \\
    --link "$link" --json >"$record"
  tools_dir="$(absolute "$link")"
else
  tools_dir="$(absolute "$tools")"
  if [ -n "$link" ]; then
    # Inside the sandbox this path is private to the action; replace it atomically anyway.
    mkdir -p "$(dirname "$link")"
    ln -sfn "$tools_dir" "$link.fleet-tmp.$$"
    mv -T "$link.fleet-tmp.$$" "$link"
    tools_dir="$(absolute "$link")"
  fi
fi

# Each --tag is `DEST KEY PATH [KEY PATH]...`, one per line: written with `fleet tag write`
# so an unchanged tag keeps its bytes, inode and mtime.
trap 'rm -rf "$scratch"' EXIT
index=0
for spec in ${tags[@]+"${tags[@]}"}; do
  parts=()
  while IFS= read -r line; do parts+=("$line"); done <<<"$spec"
  dest="$(absolute "${parts[0]}")"
  dir="$scratch/$index"
  index=$((index + 1))
  rm -rf "$dir"
  inputs=()
  keyed_inputs "$dir" "${parts[@]:1}"
  (cd "$dir" && "$fleet" tag write --tag "$dest" "${inputs[@]}" >/dev/null)
done
rm -rf "$scratch"

for pair in ${envs[@]+"${envs[@]}"}; do
  export "$pair"
done
export FLEET_TOOLS_DIR="$tools_dir" FLEET_VARIANT="$variant"
if [ ${#locks[@]} -eq 0 ] && [ ${#private_dirs[@]} -eq 0 ]; then
  exec "$@"
fi
# fleet takes the named locks (sorted, so never a deadlock), hands them to the
# tool's process and points each private variable at a fresh, empty directory.
run=("$fleet" run-locked)
if [ ${#locks[@]} -gt 0 ]; then
  store="${store:-${FLEET_STORE:-}}"
  store="${store:-$(default_store)}"
  run+=(--locks-dir "$store/.locks")
  for name in "${locks[@]}"; do run+=(--lock "$name"); done
fi
if [ ${#private_dirs[@]} -gt 0 ]; then
  run+=(--private-root "$private_root")
  for var in "${private_dirs[@]}"; do run+=(--private-dir "$var"); done
fi
exec "${run[@]}" -- "$@"
"""

# Set by variant_build itself: a private directory must not replace them.
_RESERVED_VARS = ["FLEET_TOOLS_DIR", "FLEET_VARIANT"]

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"

def _only(text, allowed):
    """True when every character of `text` is in `allowed`."""
    for char in text.elems():
        if char not in allowed:
            return False
    return True

def _check_private_dirs(ctx, label):
    """Fails on a private_dirs entry that is not a usable environment variable name."""
    seen = {}
    for var in ctx.attr.private_dirs:
        if not var or var[0] in _DIGITS or not _only(var, _LETTERS + _DIGITS + "_"):
            fail("%s: private_dirs: \"%s\" is not an environment variable name" % (label, var))
        if var in _RESERVED_VARS or var in ctx.attr.env or var in seen:
            fail("%s: private_dirs: %s is already set (by variant_build, env or twice)" % (label, var))
        seen[var] = True

def _check_locks(ctx, label):
    """Fails on a lock name that is not one plain file-name word."""
    for name in ctx.attr.locks:
        if not name or not (name[0] in _LETTERS + _DIGITS) or not _only(name, _LETTERS + _DIGITS + "._-"):
            fail("%s: locks: \"%s\" must be letters, digits, '.', '_' or '-', starting with a letter or digit" % (label, name))

# Bazel labels cannot contain newlines, so they separate the fields of a --tag.
_SEPARATOR = "\n"

def _package_path(ctx, path):
    """An execroot-relative path for a path given relative to the target's package."""
    if path.startswith("/") or path.startswith("../") or "/../" in "/" + path + "/":
        fail("%s: %s must be a relative path inside the package" % (label_string(ctx.label), path))
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
    args.add("--fleet", fleet)
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
    args.add("--scratch", outputs[0].path + ".fleet-tags")
    _check_private_dirs(ctx, label)
    _check_locks(ctx, label)
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
        spec = [_package_path(ctx, dest)]
        inputs.append(verify.tag)
        for entry in verify.inputs:
            spec += [entry.key, entry.file.path]
            inputs.append(entry.file)
        args.add("--tag", _SEPARATOR.join(spec))

    for key, value in ctx.attr.env.items():
        args.add("--env", "%s=%s" % (key, _expand(ctx, value, targets)))
    args.add("--")
    args.add(ctx.executable.tool)
    args.add_all([_expand(ctx, arg, targets) for arg in ctx.attr.args])

    ctx.actions.run_shell(
        command = _VARIANT_SH,
        arguments = [args],
        inputs = depset(inputs + ctx.files.srcs),
        tools = [fleet, ctx.attr.tool[DefaultInfo].files_to_run],
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
