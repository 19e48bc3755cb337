"""Secret refusal: credentials never enter Bazel (action inputs, outputs, caches).

`vars` land in `terraform.tfvars.json`, `backend_config` in `backend.tf.json` and
`env` in the manifest: all Bazel outputs, cached and possibly uploaded to a
remote cache. A key whose name looks like a credential (secret_names.bzl), or a
string value that plainly is one (secret_values.bzl), fails the instance's
analysis, naming the instance, the key path, the rule that matched and the way
out. One rule set serves `vars`, `backend_config` (any depth) and `env`. A key
holding a boolean, null, an empty string or a flag word (`true`, `no`, `1`) is
never refused by its name: it cannot hold a credential. Keys listed in
`allow_secret_like_keys` are never refused, by name or by value.

Pure Starlark, loaded by both rule sets (Bazel and Buck2): no `native`, `attr`,
`Label` or recursion here.
"""

load(":secret_names.bzl", "secret_name_rule")
load(":secret_values.bzl", "secret_value_rule")

# Starlark has no recursion and no while loop: walks visit at most this many values.
_MAX_VALUES = 1000000

# String values that cannot hold a credential.
_FLAG_VALUES = ["", "0", "1", "false", "no", "off", "on", "true", "yes"]

_IDENTIFIER_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_IDENTIFIER_REST = _IDENTIFIER_START + "0123456789"

def _cannot_be_secret(value):
    if value == None or type(value) == "bool":
        return True
    return type(value) == "string" and value.strip().lower() in _FLAG_VALUES

def _secret_like(root, value, allowed):
    """Returns [(key path, key, reason)] for every credential-looking key or value in `value`, breadth first.

    Args:
      root: the path of `value` (`vars`, `backend_config`, `env`).
      value: any JSON-able value; dicts and lists are walked.
      allowed: key names the user declared not secret.
    """
    found = []
    queue = [(root, value, None)]
    index = 0
    for _ in range(_MAX_VALUES):
        if index >= len(queue):
            break
        path, node, holder = queue[index]
        index += 1
        if type(node) == "dict":
            for key, child in node.items():
                key_path = "%s[%s]" % (path, json.encode(key))
                name = str(key)
                if name not in allowed and not _cannot_be_secret(child):
                    reason = secret_name_rule(name)
                    if reason:
                        found.append((key_path, name, reason))
                queue.append((key_path, child, name))
        elif type(node) in ("list", "tuple"):
            for position, child in enumerate(node):
                queue.append(("%s[%d]" % (path, position), child, holder))
        elif type(node) == "string" and holder not in allowed:
            reason = secret_value_rule(node, allowed)
            if reason:
                found.append((path, holder, reason))
    return found

_WHY = ("Values in vars, backend_config and env are written into Bazel action inputs and " +
        "outputs (terraform.tfvars.json, backend.tf.json, the manifest) and can be uploaded to a remote cache.")

def _not_secret_hint(key):
    return "If it is not a secret, name it in allow_secret_like_keys = [%s]." % json.encode(key)

def refuse_secrets(label, vars, backend_config, env, allowed = []):
    """Fails when vars, backend_config or env holds a key or value that looks like a credential.

    Args:
      label: the instance label string (for the message).
      vars: dict of Terraform variables (walked through nested dicts and lists).
      backend_config: dict of backend settings (walked likewise).
      env: dict of environment variables for run time.
      allowed: key names that look like secrets but are not (`allow_secret_like_keys`).
    """
    for variable, value in vars.items():
        for path, key, reason in _secret_like("vars", {variable: value}, allowed):
            fail(("%s: %s looks like a secret (%s). %s Read the variable from the environment at run time " +
                  "instead: secret_env = {%s: \"<ENV_VAR>\"}, then `<ENV_VAR>=... bazel run ...`. %s") %
                 (label, path, reason, _WHY, json.encode(variable), _not_secret_hint(key)))
    for path, key, reason in _secret_like("backend_config", backend_config, allowed):
        fail(("%s: %s looks like a secret (%s). %s Pass it through the environment when running " +
              "(the backend's own variables such as AWS_SECRET_ACCESS_KEY, ARM_ACCESS_KEY, GOOGLE_CREDENTIALS, " +
              "or TF_CLI_ARGS_init=-backend-config=KEY=...). %s") % (label, path, reason, _WHY, _not_secret_hint(key)))
    for path, key, reason in _secret_like("env", env, allowed):
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
