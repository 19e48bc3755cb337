"""Secret refusal: credentials never enter Bazel (action inputs, outputs, caches).

`vars` land in `terraform.tfvars.json`, `backend_config` in `backend.tf.json` and
`env` in the manifest: all Bazel outputs, cached and possibly uploaded to a
remote cache. A key whose name looks like a credential fails the instance's analysis,
naming the instance, the key path and the way out. The heuristic is on names
only (values are never inspected) and deliberately simple:

- a key matches when its name, lower-cased with `-` read as `_`, contains one
  of SECRET_NAME_FRAGMENTS (`token_ttl` and `authorized_networks` match too:
  list such keys in `allow_secret_like_keys`);
- `backend_config` keys also match SECRET_BACKEND_KEYS exactly;
- `env` names also match when they contain `pass` (`DB_PASS`, `PGPASS`).

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here.
"""

SECRET_NAME_FRAGMENTS = [
    "access_key",
    "accesskey",
    "api_key",
    "apikey",
    "auth",
    "credential",
    "passphrase",
    "passwd",
    "password",
    "private_key",
    "privatekey",
    "secret",
    "token",
]

# Backend settings that carry credentials without a telling name fragment
# (the others, e.g. `oidc_request_token`, `http_auth`, `client_private_key_pem`,
# match SECRET_NAME_FRAGMENTS already).
SECRET_BACKEND_KEYS = [
    "client_key",
    "conn_str",
    "encryption_key",
    "kms_encryption_key",
    "sse_customer_key",
]

# Backend settings that look like secrets by name but hold a name, a path or a flag.
_NOT_SECRET_BACKEND_KEYS = [
    "oidc_token_file_path",
    "secret_suffix",
    "shared_credentials_file",
    "shared_credentials_files",
    "skip_credentials_validation",
    "web_identity_token_file",
]

_ENV_EXTRA_FRAGMENTS = ["pass"]

# Starlark has no recursion and no while loop: walks visit at most this many values.
_MAX_VALUES = 1000000

_IDENTIFIER_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_IDENTIFIER_REST = _IDENTIFIER_START + "0123456789"

def _matching_fragment(key, fragments):
    """The first fragment `key` contains (case-insensitive, `-` as `_`), or None."""
    normalized = key.lower().replace("-", "_")
    for fragment in fragments:
        if fragment in normalized:
            return fragment
    return None

def _secret_like_keys(root, value, fragments, exact_keys, allowed):
    """Returns [(key path, key, reason)] for every secret-looking dict key in `value`, breadth first.

    Args:
      root: the path of `value` (`vars`, `backend_config`).
      value: any JSON-able value; dicts and lists are walked.
      fragments: lower-case name fragments that mark a secret.
      exact_keys: key names that are secrets whatever they contain.
      allowed: key names the user declared not secret.
    """
    found = []
    queue = [(root, value)]
    index = 0
    for _ in range(_MAX_VALUES):
        if index >= len(queue):
            break
        path, node = queue[index]
        index += 1
        if type(node) == "dict":
            for key, child in node.items():
                key_path = "%s[%s]" % (path, json.encode(key))
                name = str(key)
                if name not in allowed:
                    if name in exact_keys:
                        found.append((key_path, name, "a credential setting of the backend"))
                    else:
                        fragment = _matching_fragment(name, fragments)
                        if fragment:
                            found.append((key_path, name, "its name contains \"%s\"" % fragment))
                queue.append((key_path, child))
        elif type(node) in ("list", "tuple"):
            for position, child in enumerate(node):
                queue.append(("%s[%d]" % (path, position), child))
    return found

_WHY = ("Values in vars, backend_config and env are written into Bazel action inputs and " +
        "outputs (terraform.tfvars.json, backend.tf.json, the manifest) and can be uploaded to a remote cache.")

def _not_secret_hint(key):
    return "If it is not a secret, name it in allow_secret_like_keys = [%s]." % json.encode(key)

def refuse_secrets(label, vars, backend_config, env, allowed = []):
    """Fails when vars, backend_config or env holds a key that looks like a credential.

    Args:
      label: the instance label string (for the message).
      vars: dict of Terraform variables (walked through nested dicts and lists).
      backend_config: dict of backend settings (walked likewise).
      env: dict of environment variables for run time.
      allowed: key names that look like secrets but are not (`allow_secret_like_keys`).
    """
    for variable, value in vars.items():
        for path, key, reason in _secret_like_keys("vars", {variable: value}, SECRET_NAME_FRAGMENTS, [], allowed):
            fail(("%s: %s looks like a secret (%s). %s Read the variable from the environment at run time " +
                  "instead: secret_env = {%s: \"<ENV_VAR>\"}, then `<ENV_VAR>=... bazel run ...`. %s") %
                 (label, path, reason, _WHY, json.encode(variable), _not_secret_hint(key)))
    backend_allowed = allowed + _NOT_SECRET_BACKEND_KEYS
    for path, key, reason in _secret_like_keys("backend_config", backend_config, SECRET_NAME_FRAGMENTS, SECRET_BACKEND_KEYS, backend_allowed):
        fail(("%s: %s looks like a secret (%s). %s Pass it through the environment when running " +
              "(the backend's own variables such as AWS_SECRET_ACCESS_KEY, ARM_ACCESS_KEY, GOOGLE_CREDENTIALS, " +
              "or TF_CLI_ARGS_init=-backend-config=KEY=...). %s") % (label, path, reason, _WHY, _not_secret_hint(key)))
    for path, key, reason in _secret_like_keys("env", env, SECRET_NAME_FRAGMENTS + _ENV_EXTRA_FRAGMENTS, [], allowed):
        fail(("%s: %s looks like a secret (%s). %s Export it in the environment of `bazel run` instead " +
              "(or map a Terraform variable to it with secret_env). %s") % (label, path, reason, _WHY, _not_secret_hint(key)))

def _is_name(text, rest):
    if not text or text[0] not in _IDENTIFIER_START:
        return False
    for char in text.elems():
        if char not in rest:
            return False
    return True

def check_secret_env(label, secret_env, vars, inputs_from):
    """Fails unless secret_env maps Terraform variable names to environment variable names.

    Args:
      label: the instance label string (for the message).
      secret_env: dict variable -> environment variable read at run time.
      vars: dict of the instance's variables (a variable cannot be in both).
      inputs_from: dict of variables read from upstream outputs (likewise).
    """
    for variable, env_name in secret_env.items():
        if not _is_name(variable, _IDENTIFIER_REST + "-"):
            fail("%s: secret_env key %s is not a Terraform variable name ([A-Za-z_][A-Za-z0-9_-]*)" % (label, json.encode(variable)))
        if type(env_name) != "string" or not _is_name(env_name, _IDENTIFIER_REST):
            fail("%s: secret_env[%s] = %s is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)" %
                 (label, json.encode(variable), json.encode(env_name)))
        for other, what in [(vars, "vars"), (inputs_from, "inputs_from")]:
            if variable in other:
                fail("%s: variable %s is in both %s and secret_env: give it one source" % (label, json.encode(variable), what))
