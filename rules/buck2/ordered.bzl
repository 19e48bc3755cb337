"""Bazel's depset order, for the lists the Buck2 rules pass up instead of depsets.

`depset(direct, transitive = [...]).to_list()` in Bazel's default order lists the
transitive sets first, left to right, then the direct elements, each element once
(first occurrence wins). Manifests list instances in that order, so both rule sets
must build their lists the same way.
"""

def ordered_union(direct, transitive = []):
    """The elements of `transitive` (lists, in order) then of `direct`, without repeats.

    Args:
      direct: list of elements.
      transitive: list of lists.

    Returns:
      A new list.
    """
    seen = {}
    out = []
    for items in transitive + [direct]:
        for item in items:
            if item not in seen:
                seen[item] = True
                out.append(item)
    return out

def merged_dicts(dicts):
    """One dict of every key of `dicts` (earlier dicts win on a repeated key).

    Args:
      dicts: list of dicts.

    Returns:
      A new dict.
    """
    out = {}
    for d in dicts:
        for key, value in d.items():
            if key not in out:
                out[key] = value
    return out
