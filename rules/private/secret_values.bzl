"""Which string values are plainly credentials, whatever key holds them.

- a PEM private key (`-----BEGIN ... PRIVATE KEY-----`);
- an AWS access key id (`AKIA...` / `ASIA...` and 16 more capitals or digits);
- a GitHub token (`ghp_...`, `gho_...`, `ghu_...`, `ghs_...`, `ghr_...`, `github_pat_...`);
- a Slack token (`xoxb-...`, `xoxp-...`, `xoxa-...`, `xoxr-...`, `xoxs-...`, `xapp-...`);
- a URL with a password (`scheme://user:password@host`; `https://user@host`
  and `postgres://host:5432/db` are fine);
- a JSON object (the string starts with `{` or `[`) with a key whose name
  looks like a secret (`{"password": ...}`; a key whose value is `true`,
  `false` or `null` is fine).
"""

load(":secret_names.bzl", "secret_name_rule")

_UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ALNUM = "abcdefghijklmnopqrstuvwxyz" + _UPPER_DIGITS
_TOKEN_PREFIXES = [
    ("ghp_", _ALNUM, 20, "a GitHub token"),
    ("gho_", _ALNUM, 20, "a GitHub token"),
    ("ghu_", _ALNUM, 20, "a GitHub token"),
    ("ghs_", _ALNUM, 20, "a GitHub token"),
    ("ghr_", _ALNUM, 20, "a GitHub token"),
    ("github_pat_", _ALNUM + "_", 20, "a GitHub token"),
    ("xoxa-", _ALNUM + "-", 10, "a Slack token"),
    ("xoxb-", _ALNUM + "-", 10, "a Slack token"),
    ("xoxp-", _ALNUM + "-", 10, "a Slack token"),
    ("xoxr-", _ALNUM + "-", 10, "a Slack token"),
    ("xoxs-", _ALNUM + "-", 10, "a Slack token"),
    ("xapp-", _ALNUM + "-", 10, "a Slack token"),
    ("AKIA", _UPPER_DIGITS, 16, "an AWS access key id"),
    ("ASIA", _UPPER_DIGITS, 16, "an AWS access key id"),
]

# Where a URL's authority ends.
_AUTHORITY_END = "/?# \t\n\"'"

def _find_all(text, needle):
    """Start indexes of every occurrence of `needle` in `text`."""
    found = []
    start = 0
    for _ in range(len(text)):
        at = text.find(needle, start)
        if at < 0:
            break
        found.append(at)
        start = at + 1
    return found

def _run_length(text, start, allowed, enough):
    """How many characters of `allowed` follow `start` (counting stops at `enough`)."""
    count = 0
    for index in range(start, min(len(text), start + enough)):
        if text[index] not in allowed:
            break
        count += 1
    return count

def _token(text):
    for prefix, allowed, length, what in _TOKEN_PREFIXES:
        for at in _find_all(text, prefix):
            if _run_length(text, at + len(prefix), allowed, length) >= length:
                return "its value holds %s (%s...)" % (what, prefix)
    return None

def _pem_private_key(text):
    begin = text.find("-----BEGIN ")
    if begin >= 0 and text.find("PRIVATE KEY", begin) >= 0:
        return "its value is a PEM private key (-----BEGIN ... PRIVATE KEY-----)"
    return None

def _url_with_password(text):
    for at in _find_all(text, "://"):
        start = at + 3
        end = len(text)
        for index in range(start, len(text)):
            if text[index] in _AUTHORITY_END:
                end = index
                break
        authority = text[start:end]
        if "@" not in authority:
            continue
        userinfo = authority[:authority.rfind("@")]
        if ":" in userinfo and userinfo[userinfo.find(":") + 1:]:
            return "its value is a URL with a password (scheme://user:password@host)"
    return None

def _unescaped_quotes(text):
    """Indexes of the `"` in `text` not escaped by a backslash."""
    quotes = []
    for at in _find_all(text, "\""):
        backslashes = 0
        for back in range(at - 1, -1, -1):
            if text[back] != "\\":
                break
            backslashes += 1
        if backslashes % 2 == 0:
            quotes.append(at)
    return quotes

def _json_secret_key(text, allowed):
    """A JSON key in `text` whose name looks like a secret: (key, rule), or None."""
    start = text.strip()[:1]
    if start != "{" and start != "[":
        return None
    quotes = _unescaped_quotes(text)
    for pair in range(len(quotes) // 2):
        opening, closing = quotes[2 * pair], quotes[2 * pair + 1]
        rest = text[closing + 1:].lstrip()
        if not rest.startswith(":"):
            continue
        value = rest[1:].lstrip()
        if value.startswith("true") or value.startswith("false") or value.startswith("null"):
            continue
        key = text[opening + 1:closing]
        rule = secret_name_rule(key)
        if rule and key not in allowed:
            return (key, rule)
    return None

def secret_value_rule(text, allowed):
    """The rule a string value matches as a credential, or None.

    Args:
      text: the string value.
      allowed: key names declared not secret (`allow_secret_like_keys`), for keys inside JSON.

    Returns:
      a string saying which rule matched (`its value is a URL with a password ...`), or None.
    """
    for rule in [_pem_private_key, _token, _url_with_password]:
        found = rule(text)
        if found:
            return found
    inner = _json_secret_key(text, allowed)
    if inner:
        return "its value is JSON with the key %s: %s" % (json.encode(inner[0]), inner[1])
    return None
