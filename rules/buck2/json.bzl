"""JSON text with sorted object keys, as Bazel's `json.encode` writes it.

Buck2's `json.encode` keeps dict insertion order; Bazel's sorts keys. Files the
rules write from user values (terraform.tfvars.json, backend.tf.json) are part of
each instance's identity, so both rule sets must write the same bytes.
"""

def _sorted(value):
    if type(value) == "dict":
        return {key: _sorted(value[key]) for key in sorted(value.keys())}
    if type(value) in ("list", "tuple"):
        return [_sorted(item) for item in value]
    return value

def sorted_json(value):
    """`value` as compact JSON with every object's keys sorted (Bazel's `json.encode`).

    Args:
      value: a JSON-able value (dicts with string keys, lists, tuples, strings, numbers, bools, None).

    Returns:
      The JSON text.
    """
    return json.encode(_sorted(value))
