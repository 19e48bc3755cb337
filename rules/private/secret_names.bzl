"""Which key names look like credentials: one rule set for `vars`, `backend_config` and `env`.

A name is split into words (at `_`, `-`, `.`, spaces and camelCase humps:
`dbPassword` -> db, password; `DATADOG_APP_KEY` -> datadog, app, key). It
looks like a secret when

- its lower-cased form (`-` read as `_`) contains one of SECRET_NAME_FRAGMENTS
  (`db_password`, `PGPASSWORD`, `oidc_token`), or
- one of its words is in SECRET_NAME_WORDS (`db_pass`, `admin_pwd`,
  `GITHUB_PAT`, `SENTRY_DSN`, `http_auth`), or
- two of its words in a row (or the two run together) are a pair of
  SECRET_NAME_PAIRS (`ssh_key`, `client_key`, `signingKey`, `encryptionkey`,
  `connection_string`, `conn_str`),

unless its last word is in NOT_SECRET_LAST_WORDS: then it names something
about a secret, not the secret (`token_ttl`, `public_key_path`, `key_name`,
`secret_name`, `password_length`, `shared_credentials_file`).
"""

SECRET_NAME_FRAGMENTS = [
    "access_key",
    "accesskey",
    "api_key",
    "apikey",
    "credential",
    "passphrase",
    "passwd",
    "password",
    "private_key",
    "privatekey",
    "secret",
    "token",
]

SECRET_NAME_WORDS = [
    "auth",
    "authorization",
    "basicauth",
    "dsn",
    "pass",
    "pat",
    "pgpass",
    "psk",
    "pw",
    "pwd",
]

SECRET_NAME_PAIRS = [
    ("account", "key"),
    ("app", "key"),
    ("auth", "key"),
    ("client", "key"),
    ("conn", "str"),
    ("connection", "string"),
    ("customer", "key"),
    ("encryption", "key"),
    ("hmac", "key"),
    ("master", "key"),
    ("shared", "key"),
    ("signing", "key"),
    ("ssh", "key"),
]

NOT_SECRET_LAST_WORDS = [
    "arn",
    "arns",
    "count",
    "days",
    "dir",
    "duration",
    "enabled",
    "endpoint",
    "expiration",
    "expiry",
    "file",
    "files",
    "hours",
    "id",
    "ids",
    "length",
    "lifetime",
    "minutes",
    "name",
    "names",
    "path",
    "paths",
    "period",
    "policy",
    "prefix",
    "rotation",
    "seconds",
    "size",
    "suffix",
    "ttl",
    "type",
    "uri",
    "url",
    "validation",
    "version",
]

# Names the shell itself sets (the working directories), not passwords.
_SHELL_NAMES = ["OLDPWD", "PWD"]

_SEPARATORS = "_-. /:"

def name_words(name):
    """Splits a key name into lower-case words.

    Args:
      name: the key name.

    Returns:
      list of words: `HTTPAuthToken` -> ["http", "auth", "token"].
    """
    words = []
    current = ""
    previous = ""
    for index in range(len(name)):
        char = name[index]
        following = name[index + 1] if index + 1 < len(name) else ""
        if char in _SEPARATORS:
            if current:
                words.append(current)
            current = ""
        elif char.isupper() and current and (previous.islower() or previous.isdigit() or
                                             (previous.isupper() and following.islower())):
            words.append(current)
            current = char.lower()
        else:
            current += char.lower()
        previous = char
    if current:
        words.append(current)
    return words

def _has_pair(words, pair):
    first, second = pair
    for index in range(len(words)):
        if words[index] == first + second:
            return True
        if words[index] == first and index + 1 < len(words) and words[index + 1] == second:
            return True
    return False

def secret_name_rule(name):
    """The rule a key name matches as a secret, or None.

    Args:
      name: the key name (a variable, a backend setting, an environment variable).

    Returns:
      a string saying which rule matched (`its name contains "password"`), or None.
    """
    if name in _SHELL_NAMES:
        return None
    words = name_words(name)
    if not words or words[-1] in NOT_SECRET_LAST_WORDS:
        return None
    normalized = name.lower().replace("-", "_")
    for fragment in SECRET_NAME_FRAGMENTS:
        if fragment in normalized:
            return "its name contains \"%s\"" % fragment
    for word in words:
        if word in SECRET_NAME_WORDS:
            return "its name has the word \"%s\"" % word
    for pair in SECRET_NAME_PAIRS:
        if _has_pair(words, pair):
            return "its name has \"%s_%s\"" % pair
    return None
