"""Instance identities and stamped manifests (Buck2): the `fleet identity` actions the Bazel rules run.

`fleet identity stamp` parses the manifest and writes it compact with sorted keys, so a
manifest's bytes depend on its content only, whichever rule set assembled it.
"""

def instance_identity(ctx, fleet, terraform, tree, settings, upstreams):
    """Declares and computes `<name>.identity` of one instance (`fleet identity compute`).

    Args:
      ctx: the tf_instance rule context.
      fleet: the fleet helper artifact.
      terraform: the TerraformInfo of the instance's toolchain.
      tree: the rendered tree (a directory artifact).
      settings: dict of run-time settings (env, workspace, secret_env names, inputs_from).
      upstreams: dict upstream label -> its identity artifact (the `inputs_from` upstreams).

    Returns:
      The identity artifact (a sha256 in hex).
    """
    out = ctx.actions.declare_output(ctx.label.name + ".identity")
    cmd = cmd_args(
        fleet,
        "identity",
        "compute",
        "--rendered",
        tree,
        "--terraform",
        "%s %s" % (terraform.flavor, terraform.version),
        "--settings",
        json.encode(settings),
    )
    for label in sorted(upstreams.keys()):
        cmd.add("--upstream", cmd_args(upstreams[label], format = label + "={}"))
    cmd.add("--out", out.as_output())
    ctx.actions.run(cmd, category = "fleet_identity")
    return out

def stamped_manifest(ctx, fleet, name, text, identities):
    """Writes `name` (a manifest) with every instance's identity in it (`fleet identity stamp`).

    Args:
      ctx: the rule context.
      fleet: the fleet helper artifact.
      name: the manifest's file name.
      text: the manifest JSON without identities (manifest.bzl's manifest_json).
      identities: dict instance label -> identity artifact, one per instance of the manifest.

    Returns:
      The manifest artifact.
    """
    unstamped = ctx.actions.write(name.replace(".json", ".unstamped.json"), text)
    out = ctx.actions.declare_output(name)
    cmd = cmd_args(fleet, "identity", "stamp", "--manifest", unstamped)
    for label in sorted(identities.keys()):
        cmd.add("--identity", cmd_args(identities[label], format = label + "={}"))
    cmd.add("--out", out.as_output())
    ctx.actions.run(cmd, category = "fleet_manifest", identifier = name)
    return out
