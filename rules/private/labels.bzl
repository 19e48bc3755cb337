"""Label strings that read the same on Bazel 4.2 and on 7/8 (bzlmod)."""

def repo_of(label):
    """The label's repository name ("" for the main one): repo_name on 7.1+, workspace_name before."""
    if hasattr(label, "repo_name"):
        return label.repo_name
    return label.workspace_name

def label_string(label):
    """Returns `//pkg:name` for the main repository and `@repo//pkg:name` otherwise.

    Args:
      label: a Label.

    Returns:
      The canonical string, stable across Bazel versions.
    """
    repo = repo_of(label)
    if repo in ("", "__main__", "_main"):
        return "//%s:%s" % (label.package, label.name)
    return "@%s//%s:%s" % (repo, label.package, label.name)

def loading_label_string(package, name):
    """Same form as label_string, at loading time (in a macro), for `name` in `package`.

    Args:
      package: the package (native.package_name()).
      name: the target name.

    Returns:
      The canonical label string.
    """

    # native.repo_name (Bazel 7.1+) has no "@"; repository_name (4.2+) has one.
    if hasattr(native, "repo_name"):
        repo = native.repo_name()
    else:
        repo = native.repository_name().lstrip("@")
    if repo in ("", "__main__", "_main"):
        return "//%s:%s" % (package, name)
    return "@%s//%s:%s" % (repo, package, name)

def absolute_label(label):
    """Returns a label string usable from inside another repository's BUILD file.

    Args:
      label: a Label of rules_fleet.

    Returns:
      `@repo//pkg:name`, or `@//pkg:name` for the main repository.
    """
    text = str(label)
    if text.startswith("@"):
        return text
    return "@" + text

def resolve_label_string(text, package):
    """Turns a user-written label (`:x`, `//p`, `//p:x`, `@r//p:x`) into `label_string` form.

    Args:
      text: the label as written in a BUILD file.
      package: the package it was written in.

    Returns:
      The canonical label string.
    """
    if text.startswith(":"):
        return "//%s%s" % (package, text)
    if text.startswith("@@"):
        text = text[1:]
    if text.startswith("@//"):
        text = text[1:]
    if text.startswith("//") or text.startswith("@"):
        if ":" not in text:
            return text + ":" + text.rsplit("/", 1)[-1]
        return text
    return "//%s:%s" % (package, text)
