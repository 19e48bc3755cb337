"""Run directories: `<fleet_root>/<package>/<name>/`, one per instance, never nested.

An instance's run directory holds its state, TF_DATA_DIR and lock. If one run
directory held another (`c` and `c/b` in one package, or `//a:b` and `//a/b:c`),
running the outer instance would overwrite the inner one's files. Checks happen:
- at loading time, within one package (`tf_instance` / `tf_instances`): an
  instance whose name is a `/`-prefix of another's, in either order;
- at analysis time, across packages, for an instance and its transitive `deps`,
  every instance of a `tf_instances` / `tf_instance_group`, and of a `tf_fleet`.
`fleet_root` itself must be a relative path inside the workspace (analysis).
"""

load(":labels.bzl", "loading_label_string")

_OWNER_TAG = "rules_fleet_run_dir_owner="
_PARENT_TAG = "rules_fleet_run_dir_parent="

def check_fleet_root(label, fleet_root):
    """Fails unless fleet_root is a non-empty relative path without `..` components.

    Args:
      label: the instance label string (for the message).
      fleet_root: the instance's fleet_root attribute.
    """
    problem = None
    if not fleet_root:
        problem = "is empty"
    elif fleet_root.startswith("/"):
        problem = "is absolute"
    elif ".." in fleet_root.split("/"):
        problem = "has a `..` component"
    elif not [part for part in fleet_root.split("/") if part not in ("", ".")]:
        problem = "names the workspace root itself"
    if problem:
        fail(("%s: fleet_root %s %s: it must be a relative directory inside the workspace " +
              "(run directories are `<workspace root>/<fleet_root>/<package>/<name>/`), e.g. \".fleet\"") %
             (label, json.encode(fleet_root), problem))

def _run_path(fleet_root, run_dir):
    """fleet_root/run_dir with empty and `.` components dropped (fleet_root is checked)."""
    parts = [part for part in (fleet_root + "/" + run_dir).split("/") if part not in ("", ".")]
    return "/".join(parts)

def run_dir_claim(fleet_root, run_dir, label):
    """Encodes one instance's run directory for check_run_dirs."""
    return _run_path(fleet_root, run_dir) + "\t" + label

def _nested_message(outer_label, outer_path, inner_label, inner_path):
    if outer_path == inner_path:
        relation = "both %s" % outer_path
    else:
        relation = "%s holds %s" % (outer_path, inner_path)
    return ("instances %s and %s have nested run directories (%s): running one would " +
            "overwrite the other's files. Rename one of them.") % (outer_label, inner_label, relation)

def check_run_dirs(claims, what):
    """Fails naming both labels when one run directory equals or lies inside another.

    Args:
      claims: iterable of run_dir_claim strings (duplicates of the same label are fine).
      what: what is being checked, for the message (a target label).
    """

    # With `/` appended, a directory is a string prefix of everything under it,
    # and sorts right before it: comparing neighbours finds every nesting.
    entries = []
    for claim in {claim: True for claim in claims}:
        path, label = claim.split("\t", 1)
        entries.append((path + "/", label))
    entries = sorted(entries)
    for index in range(1, len(entries)):
        outer_key, outer_label = entries[index - 1]
        inner_key, inner_label = entries[index]
        if inner_key.startswith(outer_key) and inner_label != outer_label:
            fail("%s: %s" % (what, _nested_message(outer_label, outer_key[:-1], inner_label, inner_key[:-1])))

def _find_parent_marker(directory):
    """(owner label or None, marker name to use) for the parent claim of `directory`."""
    base = ("_fleet_run_dir_%d" % hash(directory)).replace("-", "n")
    for attempt in range(100):
        marker = base if attempt == 0 else "%s_%d" % (base, attempt)
        existing = native.existing_rule(marker)
        if existing == None:
            return None, marker
        tags = existing.get("tags", [])
        if (_PARENT_TAG + directory) in tags:
            return [t for t in tags if t.startswith(_OWNER_TAG)][0][len(_OWNER_TAG):], marker
    fail("%s: too many run directories hash alike" % directory)

def _package_run_dir(package, name):
    return (package + "/" + name) if package else name

def claim_run_dir_in_package(package, name, label):
    """Loading-time check within one package: `name`'s run directory nests with no other's.

    Names without `/` cost one lookup. A name `c/b` checks that no instance `c`
    exists and leaves a private marker for `c`, so an instance `c` declared
    later fails too.

    Args:
      package: the package (run directories are `<package>/<name>`).
      name: the instance's name.
      label: the instance's label string.
    """
    owner, _ = _find_parent_marker(name)
    if owner != None:
        inner = owner.rsplit(":", 1)[1]
        fail(_nested_message(label, _package_run_dir(package, name), owner, _package_run_dir(package, inner)))
    parts = name.split("/")
    for count in range(1, len(parts)):
        parent = "/".join(parts[:count])
        existing = native.existing_rule(parent)
        if existing != None and existing.get("kind") == "tf_instance_rule":
            outer = loading_label_string(package, parent)
            fail(_nested_message(outer, _package_run_dir(package, parent), label, _package_run_dir(package, name)))
        owner, marker = _find_parent_marker(parent)
        if owner == None:
            native.filegroup(
                name = marker,
                srcs = [],
                tags = ["manual", _OWNER_TAG + label, _PARENT_TAG + parent],
                visibility = ["//visibility:private"],
            )
