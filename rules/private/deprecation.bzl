"""Deprecated aliases of public names (docs/glossary.md#synonyms).

An old attribute or macro name keeps working and says, once, what to write
instead. Shared by the Bazel and the Buck2 rules: plain Starlark only.
"""

def deprecated_attribute(rule, old, new, label):
    """The warning for a target that sets a deprecated attribute.

    Args:
      rule: the rule's name.
      old: the deprecated attribute.
      new: the attribute to use.
      label: the target's label string.

    Returns:
      The message, to `print` once per target.
    """
    return "DEPRECATED: %s: %s(%s = ...) is a deprecated alias of %s (docs/glossary.md); it still works" % (label, rule, old, new)

def deprecated_macro(old, new, package):
    """The warning for a package that calls a deprecated rule or macro name.

    Args:
      old: the deprecated name.
      new: the name to use.
      package: the calling package.

    Returns:
      The message, to `print` once per package.
    """
    return "DEPRECATED: //%s: %s is a deprecated alias of %s (docs/glossary.md); it still works" % (package, old, new)
