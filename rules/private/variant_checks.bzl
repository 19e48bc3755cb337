"""Checks of `variant_build` attributes: private_dirs, locks, package-relative paths.

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here.
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

def check_private_dirs(label, private_dirs, env):
    """Fails on a private_dirs entry that is not a usable environment variable name.

    Args:
      label: the variant's label string (for the message).
      private_dirs: the `private_dirs` attribute.
      env: the `env` attribute (its names are taken).
    """
    seen = {}
    for var in private_dirs:
        if not var or var[0] in _DIGITS or not _only(var, _LETTERS + _DIGITS + "_"):
            fail("%s: private_dirs: \"%s\" is not an environment variable name" % (label, var))
        if var in _RESERVED_VARS or var in env or var in seen:
            fail("%s: private_dirs: %s is already set (by variant_build, env or twice)" % (label, var))
        seen[var] = True

def check_locks(label, locks):
    """Fails on a lock name that is not one plain file-name word.

    Args:
      label: the variant's label string (for the message).
      locks: the `locks` attribute.
    """
    for name in locks:
        if not name or not (name[0] in _LETTERS + _DIGITS) or not _only(name, _LETTERS + _DIGITS + "._-"):
            fail("%s: locks: \"%s\" must be letters, digits, '.', '_' or '-', starting with a letter or digit" % (label, name))

def check_package_relative(label, path):
    """Fails unless `path` is relative and stays inside the package (`tools_link`, `verified` paths).

    Args:
      label: the variant's label string (for the message).
      path: the path as written, relative to the package.
    """
    if path.startswith("/") or path.startswith("../") or "/../" in "/" + path + "/":
        fail("%s: %s must be a relative path inside the package" % (label, path))
