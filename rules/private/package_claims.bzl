"""Loading-time claims of one package (Bazel only): a state address or a run
directory claimed twice in a package fails while loading, naming both instances.

Each claim is a private marker target whose tags name its owner; `native.existing_rule`
finds an earlier claim. The analysis-time checks across packages are in
state_identity.bzl and run_dirs.bzl.
"""

load(":labels.bzl", "loading_label_string")
load(":run_dirs.bzl", "nested_run_dirs_message")

_OWNER_TAG = "rules_fleet_run_dir_owner="
_PARENT_TAG = "rules_fleet_run_dir_parent="

def claim_state_in_package(name, address, label):
    """Loading-time check within one package: claims `address` for `label`.

    Creates a private marker target named after the address's hash; a second
    instance of the package with the same address fails naming both labels.

    Args:
      name: the claiming instance's name.
      address: the state address.
      label: the claiming instance's label string.
    """
    base = "_fleet_state_%d" % hash(address)
    base = base.replace("-", "n")
    for attempt in range(100):
        marker = base if attempt == 0 else "%s_%d" % (base, attempt)
        existing = native.existing_rule(marker)
        if existing == None:
            native.filegroup(
                name = marker,
                srcs = [],
                tags = ["manual", "rules_fleet_state_owner=" + label, "rules_fleet_state=" + address],
                visibility = ["//visibility:private"],
            )
            return
        tags = existing.get("tags", [])
        if ("rules_fleet_state=" + address) in tags:
            owner = [t for t in tags if t.startswith("rules_fleet_state_owner=")][0].split("=", 1)[1]
            fail("instances %s and %s share state (%s). Give each instance its own key/prefix/path or workspace." %
                 (owner, label, address))
    fail("%s (%s): too many state addresses hash alike" % (label, name))

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
        fail(nested_run_dirs_message(label, _package_run_dir(package, name), owner, _package_run_dir(package, inner)))
    parts = name.split("/")
    for count in range(1, len(parts)):
        parent = "/".join(parts[:count])
        existing = native.existing_rule(parent)
        if existing != None and existing.get("kind") == "tf_instance_rule":
            outer = loading_label_string(package, parent)
            fail(nested_run_dirs_message(outer, _package_run_dir(package, parent), label, _package_run_dir(package, name)))
        owner, marker = _find_parent_marker(parent)
        if owner == None:
            native.filegroup(
                name = marker,
                srcs = [],
                tags = ["manual", _OWNER_TAG + label, _PARENT_TAG + parent],
                visibility = ["//visibility:private"],
            )
