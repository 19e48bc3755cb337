"""Retries of transient failures: the `retry` dict of tf_component and tf_instance.

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label`, `while` or recursion here. `fleet` checks the manifest's retry again
(src/manifest.rs): only its regex engine knows every pattern it will refuse.
"""

RETRY_KEYS = ["patterns", "max_attempts", "delay", "max_delay", "apply", "defaults"]

# What a key left out means, once the component's and the instance's dicts are merged.
RETRY_DEFAULTS = {
    "apply": False,
    "defaults": False,
    "delay": "2s",
    "max_attempts": 3,
    "max_delay": "30s",
    "patterns": [],
}

_UNITS = {"h": 3600000, "m": 60000, "ms": 1, "s": 1000}
_DIGITS = "0123456789"

def duration_ms(where, key, text):
    """Milliseconds of a duration written like Go's: `500ms`, `2s`, `1m30s`, `1h`.

    Args:
      where: what to name in an error (`//pkg:name: retry`).
      key: the key holding it.
      text: the duration.

    Returns:
      An int.
    """
    bad = "%s: %s = %s is not a duration: write whole numbers with units ms, s, m or h, like \"500ms\", \"2s\" or \"1m30s\"" % (where, key, repr(text))
    if type(text) != "string" or not text:
        fail(bad)
    total = 0
    number = ""
    unit = ""
    for i in range(len(text)):
        c = text[i]
        if c in _DIGITS:
            if unit:
                if unit not in _UNITS or not number:
                    fail(bad)
                total += int(number) * _UNITS[unit]
                number = ""
                unit = ""
            number += c
        elif c in "hms":
            unit += c
        else:
            fail(bad)
    if unit not in _UNITS or not number:
        fail(bad)
    return total + int(number) * _UNITS[unit]

def check_pattern(where, pattern):
    """Fails on a pattern the regex engine would refuse, where Starlark can tell.

    Empty patterns, unbalanced `(` `)` or `[` `]`, a trailing `\\` and a repetition
    with nothing to repeat (`*x`, `(+x)`, `a|?`; `(?i)` is a group's flags). The
    helper compiles every pattern again and refuses the manifest (exit 4) on
    anything else.

    Args:
      where: what to name in an error.
      pattern: the regular expression.
    """
    if type(pattern) != "string":
        fail("%s: patterns must be strings, got %s" % (where, repr(pattern)))
    if not pattern:
        fail("%s: an empty pattern would match every error" % where)
    depth = 0
    in_class = False
    escaped = False
    previous = ""
    for i in range(len(pattern)):
        c = pattern[i]
        if escaped:
            escaped = False
            previous = "x"
            continue
        if c == "\\":
            escaped = True
            continue
        if in_class:
            if c == "]" and previous != "[" and previous != "^":
                in_class = False
                previous = "x"
            elif c == "^" and previous == "[":
                previous = "^"
            else:
                previous = "c"
            continue
        if c == "[":
            in_class = True
            previous = "["
            continue
        if c in "*+?" and previous in ["", "(", "|"] and not (c == "?" and previous == "("):
            fail("%s: pattern %s: %s at offset %d repeats nothing" % (where, repr(pattern), c, i))
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                fail("%s: pattern %s: unopened ) at offset %d" % (where, repr(pattern), i))
        previous = c if c in "(|" else "x"
    if escaped:
        fail("%s: pattern %s ends in a lone backslash" % (where, repr(pattern)))
    if in_class:
        fail("%s: pattern %s: unclosed [" % (where, repr(pattern)))
    if depth > 0:
        fail("%s: pattern %s: unclosed (" % (where, repr(pattern)))

def check_retry(where, retry):
    """Checks one `retry` dict as written on a component or an instance.

    Args:
      where: what to name in an error (`//pkg:name: retry`).
      retry: the dict (None or `{}`: nothing declared).

    Returns:
      The dict with its keys checked, durations kept as written.
    """
    if retry == None:
        return {}
    if type(retry) != "dict":
        fail("%s must be a dict with keys %s, got %s" % (where, ", ".join(RETRY_KEYS), repr(retry)))
    for key in retry:
        if key not in RETRY_KEYS:
            fail("%s: unknown key %s (known: %s)" % (where, repr(key), ", ".join(RETRY_KEYS)))
    if "patterns" in retry:
        if type(retry["patterns"]) != "list":
            fail("%s: patterns must be a list of regular expressions, got %s" % (where, repr(retry["patterns"])))
        for pattern in retry["patterns"]:
            check_pattern(where, pattern)
    if "max_attempts" in retry:
        n = retry["max_attempts"]
        if type(n) != "int" or n < 1:
            fail("%s: max_attempts = %s must be a whole number of at least 1 (the first attempt counts)" % (where, repr(n)))
    for key in ["delay", "max_delay"]:
        if key in retry:
            duration_ms(where, key, retry[key])
    for key in ["apply", "defaults"]:
        if key in retry and type(retry[key]) != "bool":
            fail("%s: %s must be True or False, got %s" % (where, key, repr(retry[key])))
    return dict(retry)

def retry_json(retry):
    """A macro's `retry` argument as the rule attribute carrying it ("" when None).

    Not checked here: a failure while loading would break every target of the
    package; the rule checks it at analysis, naming the target.

    Args:
      retry: the `retry` argument as written.

    Returns:
      Its JSON text.
    """
    return "" if retry == None else json.encode(retry)

def manifest_retry(where, component_json, instance_json):
    """The manifest's `retry` of an instance: the component's dict, then the instance's keys.

    Args:
      where: what to name in an error (the instance's label).
      component_json: the component's `retry_json` ("" when none).
      instance_json: the instance's `retry_json` ("" when none).

    Returns:
      The manifest dict (`patterns`, `max_attempts`, `delay_ms`, `max_delay_ms`,
      `apply`, `defaults`), or None when neither declares a retry.
    """
    merged = {}
    for text, whose in [(component_json, "component"), (instance_json, "instance")]:
        if text:
            merged.update(check_retry("%s: retry (%s)" % (where, whose), json.decode(text)))
    if not merged:
        return None
    full = dict(RETRY_DEFAULTS)
    full.update(merged)
    if not full["patterns"] and not full["defaults"]:
        fail("%s: retry has no patterns and defaults = False: nothing would be retried (set patterns, or defaults = True for the built-in transient errors)" % where)
    delay = duration_ms(where + ": retry", "delay", full["delay"])
    max_delay = duration_ms(where + ": retry", "max_delay", full["max_delay"])
    if max_delay < delay:
        fail("%s: retry: max_delay = %s is shorter than delay = %s" % (where, repr(full["max_delay"]), repr(full["delay"])))
    return {
        "apply": full["apply"],
        "defaults": full["defaults"],
        "delay_ms": delay,
        "max_attempts": full["max_attempts"],
        "max_delay_ms": max_delay,
        "patterns": list(full["patterns"]),
    }
