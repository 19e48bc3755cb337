"""Instance identity: a content digest of everything that decides an instance's plan.

`fleet identity compute` hashes the rendered tree (module files, vars, var_files,
backend, lock file), the provider packages, the terraform toolchain's flavor and
version, the helper's own version, the run-time settings and the identities of the
`inputs_from` upstreams. `fleet identity stamp` writes the identities into a
manifest. Both are build actions of the fleet helper: cacheable, path-independent.
"""

load(":claims.bzl", "check_unique_claims", "claim", "parse_claim")

def instance_identity(ctx, fleet, terraform, tree, providers, settings, upstreams):
    """Declares and computes `<name>.identity` of one instance.

    Args:
      ctx: the tf_instance rule context.
      fleet: the fleet helper File (from the fleet toolchain).
      terraform: the TerraformInfo of the instance's toolchain.
      tree: the rendered tree (a directory File).
      providers: the component's provider package structs (their `archive` Files are hashed).
      settings: dict of run-time settings (env, workspace, secret_env names, inputs_from).
      upstreams: dict upstream label -> its identity File (the `inputs_from` upstreams).

    Returns:
      The identity File (a sha256 in hex).
    """
    out = ctx.actions.declare_file(ctx.label.name + ".identity")
    args = ctx.actions.args()
    args.add_all(["identity", "compute"])
    args.add("--rendered", tree.path)
    args.add("--terraform", "%s %s" % (terraform.flavor, terraform.version))
    args.add("--settings", json.encode(settings))
    for package in providers:
        args.add("--provider-archive", package.archive)
    for label in sorted(upstreams.keys()):
        args.add("--upstream", "%s=%s" % (label, upstreams[label].path))
    args.add("--out", out)
    ctx.actions.run(
        executable = fleet,
        arguments = [args],
        inputs = [tree] + [p.archive for p in providers] + upstreams.values(),
        outputs = [out],
        mnemonic = "FleetIdentity",
        progress_message = "Computing the identity of %s" % ctx.label,
        execution_requirements = {"block-network": ""},
    )
    return out

def identity_claim(label, identity):
    """The claim "`label`'s identity is in `identity`", for `stamped_manifest`.

    Args:
      label: canonical label string of the instance.
      identity: its identity File.

    Returns:
      A claims.bzl claim: the label holds the identity file's path.
    """
    return claim(label, identity.path)

def _identity_argument(encoded):
    """`LABEL=PATH` for `fleet identity stamp --identity` (a top-level map_each)."""
    label, path = parse_claim(encoded)
    return "%s=%s" % (label, path)

def stamped_manifest(ctx, fleet, out, text, claims, identities):
    """Writes a manifest with every instance's identity in it.

    Args:
      ctx: the rule context.
      fleet: the fleet helper File.
      out: the manifest File to produce.
      text: the manifest JSON without identities (from manifest_json).
      claims: list of `identity_claim` strings, one per instance of the manifest.
      identities: depset of the identity Files the claims name.
    """
    unstamped = ctx.actions.declare_file(out.basename.replace(".json", ".unstamped.json"), sibling = out)
    ctx.actions.write(unstamped, text)
    args = ctx.actions.args()
    args.add_all(["identity", "stamp", "--manifest", unstamped])
    check_unique_claims(claims, str(ctx.label), "instance {key} has two identity files: {first} and {second}")
    args.add_all(claims, before_each = "--identity", map_each = _identity_argument)
    args.add("--out", out)
    ctx.actions.run(
        executable = fleet,
        arguments = [args],
        inputs = depset([unstamped], transitive = [identities]),
        outputs = [out],
        mnemonic = "FleetManifest",
        progress_message = "Writing the manifest of %s" % ctx.label,
        execution_requirements = {"block-network": ""},
    )
