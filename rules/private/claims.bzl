"""Claims: "`owner` holds `key`", checked for uniqueness across a set of targets.

One encoding and one check for every "two instances must not share X" rule:
run directories (run_dirs.bzl), state identities (state_identity.bzl), group
memberships (group_order.bzl) and instance identities (identity.bzl). Claims
travel up the build graph in depsets (Bazel) or lists (Buck2) and are checked
where they meet: an instance and its direct deps (dep_claims.bzl), a
`tf_instances`, a `tf_fleet`.
Within one package the same keys are claimed at loading time
(package_claims.bzl, Bazel only), so the error comes before analysis.

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here.
"""

def claim(key, owner):
    """Encodes "`owner` holds `key`" (both strings without a tab).

    Args:
      key: what is claimed (a run directory, a state identity, a member label).
      owner: who claims it (an instance or group label string).

    Returns:
      The claim string.
    """
    return key + "\t" + owner

def parse_claim(encoded):
    """The (key, owner) pair of a `claim` string.

    Args:
      encoded: a string made by `claim`.

    Returns:
      A (key, owner) tuple.
    """
    key, owner = encoded.split("\t", 1)
    return key, owner

def check_unique_claims(claims, what, message):
    """Fails when two owners claim one key; one owner claiming a key twice is fine.

    Args:
      claims: iterable of `claim` strings.
      what: the target being analysed; the failure starts with it.
      message: the rest of the failure, a `str.format` template with `{key}`,
        `{first}` and `{second}` (the two owners, in claim order).
    """
    owners = {}
    for encoded in claims:
        key, owner = parse_claim(encoded)
        other = owners.get(key)
        if other == None:
            owners[key] = owner
        elif other != owner:
            fail("%s: %s" % (what, message.format(key = key, first = other, second = owner)))
