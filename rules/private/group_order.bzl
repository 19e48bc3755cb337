"""Analysis checks of run groups: one group per member, and no order cycle
between dependencies, serial orders and `on_change` hooks.

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here.
"""

load(":claims.bzl", "check_unique_claims", "claim")

def membership_claim(member, group):
    """Encodes "`member` is a direct member of `group`" for check_memberships.

    Args:
      member: label string of an instance or group.
      group: label string of the group listing it.

    Returns:
      The claim string.
    """
    return claim(member, group)

def check_memberships(claims, what):
    """Fails naming both groups when a member is listed by two groups.

    Args:
      claims: iterable of membership_claim strings (the same claim twice is fine).
      what: the target being analysed, for the message.
    """
    check_unique_claims(claims, what, "{key} is a member of two groups: {first} and {second} (a member belongs to one group)")

def _group_instances(groups, instance_labels):
    """Group label -> list of instance labels inside it (nested groups included), without recursion."""
    inside = {}
    for _ in range(len(groups) + 1):
        for group in groups:
            if group["label"] in inside:
                continue
            nested = [m for m in group["members"] if m not in instance_labels]
            if [m for m in nested if m not in inside]:
                continue
            found = []
            for member in group["members"]:
                found.extend(inside[member] if member in inside else [member])
            inside[group["label"]] = found
    return inside

def _edges(entries, groups):
    """Predecessor lists over instances and virtual nodes: `{node: [(before, why)]}`."""
    instance_labels = {e["label"]: True for e in entries}
    inside = _group_instances(groups, instance_labels)
    preds = {e["label"]: [(d, "deps") for d in e["deps"]] for e in entries}
    for group in groups:
        label = group["label"]
        if group["mode"] == "serial":
            members = group["members"]
            for k in range(len(members) - 1):
                step = "serial order of %s" % label
                node = "%s#%d" % (label, k)
                preds[node] = [(i, step) for i in inside.get(members[k], [members[k]])]
                for i in inside.get(members[k + 1], [members[k + 1]]):
                    preds.setdefault(i, []).append((node, step))
        if group.get("on_change"):
            members = {i: True for i in inside.get(label, [])}
            node = "%s!on_change" % label
            step = "on_change of %s" % label
            preds[node] = [(i, step) for i in members]
            for entry in entries:
                if entry["label"] in members:
                    continue
                if [d for d in entry["deps"] if d in members]:
                    preds[entry["label"]].append((node, step))
    return preds

def _cycle(preds, start, open_nodes):
    """Walks back from `start` through unfinished nodes until one repeats: the cycle, in order."""
    path = [start]
    seen = {start: 0}
    at = start
    for _ in range(len(preds) + 1):
        back = [p for p in preds.get(at, []) if p[0] in open_nodes][0]
        at = back[0]
        if at in seen:
            return [at] + reversed(path[seen[at]:])
        seen[at] = len(path)
        path.append(at)
    return path

def check_group_order(what, entries, groups):
    """Fails naming the cycle when deps, serial orders and hooks contradict each other.

    Args:
      what: the target being analysed, for the message.
      entries: manifest instance entries (dicts with `label` and `deps`).
      groups: manifest group entries (dicts with `label`, `mode`, `members`, `on_change`).
    """
    preds = _edges(entries, groups)
    entry_labels = {e["label"]: True for e in entries}
    waiting = {node: len(p) for node, p in preds.items()}
    succs = {}
    for node, p in preds.items():
        for before, _ in p:
            succs.setdefault(before, []).append(node)
    ready = [node for node, n in waiting.items() if n == 0]

    # Kahn's algorithm (Starlark has no while loop and cannot grow a list it iterates).
    for index in range(len(waiting)):
        if index >= len(ready):
            break
        for after in succs.get(ready[index], []):
            waiting[after] -= 1
            if waiting[after] == 0:
                ready.append(after)
    open_nodes = {node: True for node, n in waiting.items() if n > 0}
    if not open_nodes:
        return
    cycle = _cycle(preds, sorted(open_nodes.keys())[0], open_nodes)
    shown = [node for node in cycle if node in entry_labels]
    reasons = {}
    for k in range(len(cycle) - 1):
        for before, why in preds.get(cycle[k + 1], []):
            if before == cycle[k]:
                reasons[why] = True
    fail("%s: order cycle: %s (through %s)" % (
        what,
        " -> ".join(shown),
        ", ".join(sorted(reasons.keys())),
    ))
