"""Run directories: `<fleet_root>/<package>/<name>/`, one per instance, never nested.

An instance's run directory holds its state, TF_DATA_DIR and lock. If one run
directory held another (`c` and `c/b` in one package, or `//a:b` and `//a/b:c`),
running the outer instance would overwrite the inner one's files. Checks happen:
- at loading time, within one package (`tf_instance` / `tf_instances`): an
  instance whose name is a `/`-prefix of another's, in either order
  (package_claims.bzl);
- at analysis time, across packages, for an instance and its transitive `deps`,
  every instance of a `tf_instances` / `tf_instance_set`, and of a `tf_fleet`.
`fleet_root` itself must be a relative path inside the workspace (analysis).

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here.
"""

load(":claims.bzl", "claim", "parse_claim")

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

def check_same_fleet_root(label, fleet_root, deps):
    """Fails unless every dependency keeps its run directory under the same fleet_root.

    Args:
      label: the instance label string (for the message).
      fleet_root: the instance's fleet_root attribute.
      deps: the dependencies' TfInstanceInfo (each has `label` and `fleet_root`).
    """
    for dep in deps:
        if dep.fleet_root != fleet_root:
            fail("%s: fleet_root %s differs from %s's %s" % (label, fleet_root, dep.label, dep.fleet_root))

def run_dir(package, name):
    """An instance's run directory below the fleet root: `<package>/<name>`.

    Args:
      package: the instance's package ("" at the root).
      name: the instance's name (may hold `/`).

    Returns:
      The relative directory.
    """
    return (package + "/" + name) if package else name

def _run_path(fleet_root, run_dir):
    """fleet_root/run_dir with empty and `.` components dropped (fleet_root is checked)."""
    parts = [part for part in (fleet_root + "/" + run_dir).split("/") if part not in ("", ".")]
    return "/".join(parts)

def run_dir_claim(fleet_root, run_dir, label):
    """Encodes one instance's run directory for check_run_dirs."""
    return claim(_run_path(fleet_root, run_dir), label)

def nested_run_dirs_message(outer_label, outer_path, inner_label, inner_path):
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
    for encoded in {encoded: True for encoded in claims}:
        path, label = parse_claim(encoded)
        entries.append((path + "/", label))
    entries = sorted(entries)
    for index in range(1, len(entries)):
        outer_key, outer_label = entries[index - 1]
        inner_key, inner_label = entries[index]
        if inner_key.startswith(outer_key) and inner_label != outer_label:
            fail("%s: %s" % (what, nested_run_dirs_message(outer_label, outer_key[:-1], inner_label, inner_key[:-1])))
