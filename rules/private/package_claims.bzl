"""Loading-time claims of one package (Bazel only): a state address or a run
directory claimed twice in a package fails while loading, naming both instances.

Each claim is a private marker target whose tags name its key and owner
(claims.bzl's key and owner); `native.existing_rule` finds an earlier claim.
The analysis-time checks across packages are in state_identity.bzl and
run_dirs.bzl.
"""

load(":labels.bzl", "loading_label_string")
load(":run_dirs.bzl", "nested_run_dirs_message", "run_dir")
load(":state_identity.bzl", "SHARED_STATE")

_OWNER_TAG = "rules_fleet_%s_owner="
_KEY_TAG = "rules_fleet_%s="

def _find(kind, key):
    """(owner of the claim on `key` or None, the marker name a new claim takes)."""
    key_tag = (_KEY_TAG % kind) + key
    owner_tag = _OWNER_TAG % kind
    base = ("_fleet_%s_%d" % (kind, hash(key))).replace("-", "n")
    for attempt in range(100):
        marker = base if attempt == 0 else "%s_%d" % (base, attempt)
        existing = native.existing_rule(marker)
        if existing == None:
            return None, marker
        tags = existing.get("tags", [])
        if key_tag in tags:
            return [t for t in tags if t.startswith(owner_tag)][0][len(owner_tag):], marker
    fail("%s: too many %s claims hash alike in this package" % (key, kind))

def _package_claim(kind, key, owner):
    """Claims `key` (of `kind`) for `owner` in this package.

    Returns:
      The label string of the owner of an earlier claim on `key` (it may be
      `owner` itself), or None when this claim is the first.
    """
    found, marker = _find(kind, key)
    if found == None:
        native.filegroup(
            name = marker,
            srcs = [],
            tags = ["manual", (_OWNER_TAG % kind) + owner, (_KEY_TAG % kind) + key],
            visibility = ["//visibility:private"],
        )
    return found

def claim_state_in_package(name, address, label):
    """Loading-time check within one package: claims `address` for `label`.

    A second instance of the package with the same address fails naming both labels.

    Args:
      name: the claiming instance's name.
      address: the state address.
      label: the claiming instance's label string.
    """
    owner = _package_claim("state", address, label)
    if owner != None and owner != label:
        fail(SHARED_STATE.format(key = address, first = owner, second = label))

def claim_run_dir_in_package(package, name, label):
    """Loading-time check within one package: `name`'s run directory nests with no other's.

    Names without `/` cost one lookup. A name `c/b` checks that no instance `c`
    exists and claims `c` as a parent directory, so an instance `c` declared
    later fails too.

    Args:
      package: the package (run directories are `<package>/<name>`).
      name: the instance's name.
      label: the instance's label string.
    """
    holder, _ = _find("parent_dir", name)
    if holder != None:
        inner = holder.rsplit(":", 1)[1]
        fail(nested_run_dirs_message(label, run_dir(package, name), holder, run_dir(package, inner)))
    parts = name.split("/")
    for count in range(1, len(parts)):
        parent = "/".join(parts[:count])
        existing = native.existing_rule(parent)
        if existing != None and existing.get("kind") == "tf_instance_rule":
            outer = loading_label_string(package, parent)
            fail(nested_run_dirs_message(outer, run_dir(package, parent), label, run_dir(package, name)))
        _package_claim("parent_dir", parent, label)
