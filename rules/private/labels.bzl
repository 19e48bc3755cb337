"""Label strings that read the same on Bazel 4.2 and on 7/8 (bzlmod).

One form everywhere a label becomes text (manifests, instance identities, `fleet_verify`
labels and tag keys, messages): `//pkg:name` for the main repository and
`@apparent//pkg:name` for another, `apparent` being the name users write. Bazel 7+ gives
rules the canonical name instead (`rules_fleet~`, `rules_fleet+`, `_main~fleet~terraform`),
which is no valid label in a BUILD file and differs between Bazel versions;
`apparent_repo_name` undoes it the way `fleet` does (src/label.rs).
"""

_MAIN_NAMES = ("", "__main__", "_main")

def repo_of(label):
    """The label's canonical repository name ("" for the main one): repo_name on 7.1+, workspace_name before.

    Paths use it (`external/<canonical>/`, `../<canonical>/` in short paths); text shown to
    people or compared with what they wrote uses `label_string`.
    """
    if hasattr(label, "repo_name"):
        return label.repo_name
    return label.workspace_name

def apparent_repo_name(canonical):
    """The apparent name of a repository given its canonical name.

    A module's repository (`name~` on 7.1+, `name+` on 8, `name~1.2.0` on 7.0) is the
    module's name; a module extension's (`owner~~ext~repo`, `owner++ext+repo`, `+ext+repo`)
    the name the extension gave it. Names without `~` or `+` (Bazel 4.2 to 6, WORKSPACE
    repositories) are returned as they are.

    Args:
      canonical: the canonical repository name, without `@`.

    Returns:
      The apparent name; "" for the main repository.
    """
    if canonical in _MAIN_NAMES:
        return ""

    # Bazel 7 separates with "~", 8 with "+"; a version may hold a "+", so "~" decides.
    parts = canonical.split("~") if "~" in canonical else canonical.split("+")
    if len(parts) == 1:
        return canonical
    if len(parts) == 2:
        return parts[0]
    return parts[-1]

def format_label(repo, package, name):
    """`//package:name`, or `@repo//package:name` for another repository.

    Args:
      repo: a canonical or apparent repository name, without `@`.
      package: the package.
      name: the target name.

    Returns:
      The label string.
    """
    apparent = apparent_repo_name(repo)
    if not apparent:
        return "//%s:%s" % (package, name)
    return "@%s//%s:%s" % (apparent, package, name)

def label_string(label):
    """Returns `//pkg:name` for the main repository and `@apparent//pkg:name` otherwise.

    Args:
      label: a Label.

    Returns:
      The label string, the same on Bazel 4.2, 7 and 8.
    """
    return format_label(repo_of(label), label.package, label.name)

def loading_label_string(package, name):
    """Same form as label_string, at loading time (in a macro), for `name` in `package`.

    Args:
      package: the package (native.package_name()).
      name: the target name.

    Returns:
      The label string.
    """

    # native.repo_name (Bazel 7.1+) has no "@"; repository_name (4.2+) has one.
    if hasattr(native, "repo_name"):
        repo = native.repo_name()
    else:
        repo = native.repository_name().lstrip("@")
    return format_label(repo, package, name)

def absolute_label(label):
    """Returns a label string usable from inside another repository's BUILD file.

    Keeps the canonical name (`@@rules_fleet~//...` on Bazel 7+): generated BUILD files
    must name the repository Bazel knows, whatever the apparent name.

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
    """Turns a written label (`:x`, `//p`, `//p:x`, `@r//p:x`, `@@r~//p:x`) into `label_string` form.

    Text only: a repository is named as written (or by the apparent name of a canonical
    one), so `@r` mapped to another repository (`repo_mapping`, bzlmod) stays `@r`.
    Comparisons with targets go through Labels (see tf_instance's `inputs_from`).

    Args:
      text: the label as written in a BUILD file.
      package: the package it was written in.

    Returns:
      The label string.
    """
    if text.startswith(":"):
        return "//%s%s" % (package, text)
    if not (text.startswith("//") or text.startswith("@")):
        return "//%s:%s" % (package, text)
    repo = ""
    path = text[len("//"):]
    if text.startswith("@"):
        repo, separator, path = text.lstrip("@").partition("//")
        if not separator:
            # `@repo` is short for `@repo//:repo`.
            return format_label(repo, "", apparent_repo_name(repo))
    if ":" in path:
        package, _, name = path.partition(":")
    else:
        package, name = path, path.rsplit("/", 1)[-1]
    return format_label(repo, package, name)
