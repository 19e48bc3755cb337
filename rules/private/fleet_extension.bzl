"""The work of the bzlmod extension `fleet` (rules/extensions.bzl holds only its tag classes).

Kept apart so Bazel 4.2 can load it: e2e/toolchains calls `fleet_extension` from a WORKSPACE
with a module_ctx-shaped struct, which is how its logic is tested on a Bazel without bzlmod.
"""

load(":exec_platforms.bzl", "check_platform_sources", "platform_constraints")
load(":fleet_repositories.bzl", "HELPER_TOOLCHAINS", "declare_helper", "declare_terraform", "declare_terraform_local")
load(":labels.bzl", "absolute_label")
load(":provider_mirror.bzl", "tf_provider_mirror")

# Repositories a constraint label written as a string may name from inside the extension's
# repositories: the root module's own (`//x`, `@//x`) and those rules_fleet depends on.
_VISIBLE_TO_RULES_FLEET = ["platforms", "bazel_tools"]

def _string_constraint(what, platform, text):
    """A constraint label written as a string, usable in a generated BUILD file, or a clear failure."""
    if text.startswith("//"):
        return "@" + text
    if text.startswith("@//") or text.startswith("@@"):
        return text
    repo = text.lstrip("@").partition("//")[0]
    if repo in _VISIBLE_TO_RULES_FLEET:
        return text
    fail(("%s: exec_compatible_with[%r] names %s: the repositories of a module extension see only " +
          "the modules rules_fleet depends on, not @%s. Declare the platform's constraints as labels: " +
          "fleet.platform(name = %r, exec_compatible_with = [%r, ...])") % (what, platform, text, repo, platform, text))

def _constraints(what, keys, declared, written):
    """`{platform: [constraint label strings]}` for each key.

    Taken from `fleet.platform` labels (resolved by Bazel in the module that wrote them),
    else the tag's own strings, else the key's `<os>_<arch>` constraints.
    """
    result = {}
    for key in keys:
        if key in declared:
            result[key] = declared[key]
        elif key in written:
            result[key] = [_string_constraint(what, key, c) for c in written[key]]
        else:
            result[key] = platform_constraints(key)
    return result

def _is_dev(module_ctx, tag):
    if hasattr(module_ctx, "is_dev_dependency"):
        return module_ctx.is_dev_dependency(tag)
    return False

def _collect(module_ctx):
    """The tags that count: the root module's first, then each module's, first name wins."""
    found = struct(helper = [], platforms = {}, terraforms = {}, mirrors = {}, root = {})
    for mod in module_ctx.modules:
        for tag in mod.tags.platform:
            if tag.name not in found.platforms:
                found.platforms[tag.name] = [absolute_label(c) for c in tag.exec_compatible_with]
        for tag in mod.tags.helper:
            if not found.helper and mod.is_root:
                found.helper.append(tag)
        for kind, tags in [("download", mod.tags.terraform), ("local", mod.tags.terraform_local)]:
            for tag in tags:
                if tag.name not in found.terraforms:
                    found.terraforms[tag.name] = struct(kind = kind, tag = tag)
                    if mod.is_root:
                        found.root[tag.name + "_toolchains"] = _is_dev(module_ctx, tag)
        for tag in mod.tags.provider_mirror:
            if tag.name not in found.mirrors:
                found.mirrors[tag.name] = tag
                if mod.is_root:
                    found.root[tag.name] = _is_dev(module_ctx, tag)
    return found

def _declare_helper(found):
    if not found.helper:
        return declare_helper()
    tag = found.helper[0]
    platforms = check_platform_sources("fleet.helper", tag.platforms)
    return declare_helper(
        platforms = platforms,
        constraints = _constraints("fleet.helper", platforms.keys(), found.platforms, tag.exec_compatible_with),
        urls = tag.urls,
        sha256 = tag.sha256,
        strip_prefix = tag.strip_prefix,
        binary_path = tag.binary_path,
        from_source = tag.from_source,
    )

def _declare_terraform(name, choice, declared):
    tag = choice.tag
    if choice.kind == "local":
        return declare_terraform_local(name)
    if tag.platforms and tag.urls:
        fail("fleet.terraform(name = %r): give either urls + sha256 or platforms, not both" % name)
    platforms = check_platform_sources("fleet.terraform", tag.platforms)
    return declare_terraform(
        name = name,
        version = tag.version,
        urls = tag.urls,
        sha256 = tag.sha256,
        platforms = platforms,
        constraints = _constraints("fleet.terraform", platforms.keys(), declared, tag.exec_compatible_with),
    )

def fleet_extension(module_ctx):
    """Declares the helper, Terraform and provider mirror repositories the modules ask for.

    Args:
      module_ctx: the module_ctx (or a struct with its `modules`, and optionally
        `is_dev_dependency` and `extension_metadata`).

    Returns:
      `extension_metadata` (reproducible: the same tags give the same repositories; the
      root module's direct dependencies for `bazel mod tidy`), or None before Bazel 7.
    """
    found = _collect(module_ctx)
    _declare_helper(found)
    for name, choice in found.terraforms.items():
        _declare_terraform(name, choice, found.platforms)
    for name, tag in found.mirrors.items():
        tf_provider_mirror(
            name = name,
            lock_file = tag.lock_file,
            urls = tag.urls,
            providers = tag.providers,
            platform = tag.platform,
            lock_target = tag.lock_target,
        )

    # rules_fleet's own MODULE.bazel imports the helper's repositories; as the root module
    # (working on rules_fleet) those are its direct dependencies too.
    root = dict(found.root)
    if [mod for mod in module_ctx.modules if mod.is_root and mod.name == "rules_fleet"]:
        root["fleet_helper"] = False
        root[HELPER_TOOLCHAINS] = False
    if not hasattr(module_ctx, "extension_metadata"):
        return None
    return module_ctx.extension_metadata(
        root_module_direct_deps = sorted([r for r, dev in root.items() if not dev]),
        root_module_direct_dev_deps = sorted([r for r, dev in root.items() if dev]),
        reproducible = True,
    )
