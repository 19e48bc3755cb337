"""Claims within one package (Buck2): two instances of a package sharing state, or with
nested run directories, fail naming both, as the Bazel rules' loading-time checks do.

Buck2 cannot read an earlier target's attributes while a BUCK file loads, so each claim
is a private marker target `_fleet_<kind>_<digest of the claimed thing>_<n>`, numbered
in declaration order; marker n depends on marker n-1 and fails its analysis when it
conflicts with an earlier claim. Every instance depends on its own markers, so building
the later instance (or the package) fails with both labels named.
"""

load("//rules/private:run_dirs.bzl", "nested_run_dirs_message", "run_dir")
load("//rules/private:state_identity.bzl", "SHARED_STATE")

FleetClaimInfo = provider(
    doc = "The claims on one thing (a state, a directory) made so far in a package.",
    fields = {
        "claims": provider_field(typing.Any, default = []),  # list of struct(kind, owner, detail), in declaration order
    },
)

def _conflict(earlier, mine):
    """The message when two claims on one thing cannot both stand, else None."""
    if earlier.owner == mine.owner:
        return None
    if mine.kind == "state":
        return SHARED_STATE.format(key = mine.detail, first = earlier.owner, second = mine.owner)
    if "run_dir" not in (earlier.kind, mine.kind):
        return None  # two instances under one directory: siblings
    outer, inner = (earlier, mine) if earlier.kind == "run_dir" else (mine, earlier)
    return nested_run_dirs_message(outer.owner, outer.detail, inner.owner, inner.detail)

def _fleet_claim_impl(ctx):
    mine = struct(kind = ctx.attrs.kind, owner = ctx.attrs.owner, detail = ctx.attrs.detail)
    earlier = ctx.attrs.earlier[FleetClaimInfo].claims if ctx.attrs.earlier else []
    for claim in earlier:
        message = _conflict(claim, mine)
        if message:
            fail(message)
    return [DefaultInfo(), FleetClaimInfo(claims = earlier + [mine])]

fleet_claim = rule(
    impl = _fleet_claim_impl,
    doc = "A private marker: one instance's claim on a state or a run directory of its package.",
    attrs = {
        "detail": attrs.string(doc = "The state address, or the claimant's run directory."),
        "earlier": attrs.option(attrs.dep(providers = [FleetClaimInfo]), default = None, doc = "The previous claim on the same thing."),
        "kind": attrs.enum(["state", "run_dir", "parent_dir"], doc = "`state`; `run_dir`: the instance's own directory; `parent_dir`: a directory holding it."),
        "owner": attrs.string(doc = "The claiming instance's label string."),
    },
)

def _claim(kind, key, owner, detail):
    """Declares the next claim on `key`; returns its target name."""
    base = "_fleet_%s_%s" % ("state" if kind == "state" else "dir", sha256(key)[:16])
    count = 0
    for _ in range(10000):
        if not rule_exists("%s_%d" % (base, count)):
            break
        count += 1
    name = "%s_%d" % (base, count)
    fleet_claim(
        name = name,
        detail = detail,
        earlier = ":%s_%d" % (base, count - 1) if count else None,
        kind = kind,
        owner = owner,
    )
    return ":" + name

def claim_in_package(package, name, label, state):
    """Claims `state` and `name`'s run directory (and the directories holding it) for `label`.

    Args:
      package: the package (run directories are `<package>/<name>`).
      name: the instance's name (may hold `/`).
      label: the instance's label string.
      state: the instance's state address.

    Returns:
      The marker targets, for the instance to depend on.
    """
    claims = [_claim("state", state, label, state), _claim("run_dir", name, label, run_dir(package, name))]
    parts = name.split("/")
    for count in range(1, len(parts)):
        claims.append(_claim("parent_dir", "/".join(parts[:count]), label, run_dir(package, name)))
    return claims
