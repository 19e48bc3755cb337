"""Where a component's files go in each instance's tree: `tf_component(root = ...)`.

A component's sources keep their paths relative to its package, or to `root` (a
directory below the package) when the component is declared above its module. The
root module (the directory terraform runs in) must hold a `.tf` or `.tf.json` file:
terraform would plan and apply an empty configuration there and report success.

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here. Labels are label strings.
"""

def root_dir(label, root):
    """`root` checked and normalised: a relative directory inside the package ("" for the package).

    Args:
      label: the component's label string (for the message).
      root: the `root` attribute as written.

    Returns:
      The directory, without `.`, empty parts or a trailing `/`.
    """
    parts = [part for part in root.split("/") if part and part != "."]
    if root.startswith("/") or ".." in parts:
        fail("rules_fleet: %s: root = \"%s\" must be a directory below the package, without `..`" % (label, root))
    return "/".join(parts)

def path_below_root(label, path, root, shown):
    """The path of a package file inside the module: relative to `root`.

    Args:
      label: the component's label string (for the message).
      path: the file's path relative to the component's package.
      root: the normalised root (root_dir).
      shown: the file's path as messages name it (from the workspace or project root).

    Returns:
      The path in each instance's tree; fails when the file is not below `root`.
    """
    if not root:
        return path
    if not path.startswith(root + "/"):
        fail("rules_fleet: %s: %s is not below root \"%s\"; the module is what lies below its root" % (label, shown, root))
    return path[len(root) + 1:]

def _is_config_file(path):
    """A file terraform reads as configuration in the directory it runs in."""
    name = path.split("/")[-1]
    return "/" not in path and (name.endswith(".tf") or name.endswith(".tf.json")) and not name.startswith(".")

def check_root_has_config(label, root, paths):
    """Fails when the root module (the tree's top) holds no `.tf`/`.tf.json` file.

    The message names the component, where its files went and, when a directory
    below holds configuration files, the `root` that would run terraform there.

    Args:
      label: the component's label string.
      root: the normalised root (root_dir).
      paths: the paths of the module's files in each instance's tree.
    """
    if [path for path in paths if _is_config_file(path)]:
        return
    shown = ", ".join(paths[:6]) + (", ... (%d files)" % len(paths) if len(paths) > 6 else "")

    # The shallowest directory holding configuration files is the likely module.
    nearest = None
    for path in paths:
        if "/" in path and (path.endswith(".tf") or path.endswith(".tf.json")):
            directory = path.rsplit("/", 1)[0]
            if nearest == None or (directory.count("/"), directory) < (nearest.count("/"), nearest):
                nearest = directory
    hint = ""
    if nearest:
        hint = "; set root = \"%s\" to run terraform there (srcs below it are placed relative to it)" % (
            (root + "/" + nearest) if root else nearest
        )
    fail("rules_fleet: %s: its root module (the directory terraform runs in) holds no .tf or .tf.json file: its files went to %s (paths in each instance's tree, relative to %s)%s" % (
        label,
        shown or "nothing (no srcs)",
        ("root \"%s\"" % root) if root else "the package",
        hint,
    ))
