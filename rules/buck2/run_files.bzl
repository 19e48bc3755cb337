"""What `buck2 run` targets hand to `fleet tf` / `fleet run`: a runfiles tree and the command.

Bazel gives a run target a runfiles tree in which manifests name files by `short_path`.
Buck2 has none, so the run rules lay one out themselves (a symlinked directory of the
same paths: `pkg/name.rendered`, `terraform/terraform` for `../terraform/terraform`) and
pass it as `--runfiles`. `fleet` resolves manifest paths in it as in Bazel's, so both
rule sets share one manifest format. `buck2 run` sets no BUILD_WORKSPACE_DIRECTORY:
the command names the project root as `--workspace-root`.
"""

def runfiles_tree(ctx, name, run_files):
    """A directory `name` holding each artifact of `run_files` (runfiles path -> artifact) at its path.

    Paths of other repositories (`../repo/x`) sit at `repo/x`, where fleet looks second.

    Args:
      ctx: the rule context.
      name: the directory's name.
      run_files: dict runfiles path -> artifact.

    Returns:
      The directory artifact.
    """
    entries = {}
    for path, artifact in run_files.items():
        if path.startswith("../"):
            path = path[len("../"):]
        entries[path] = artifact
    return ctx.actions.symlinked_dir(name, entries)

def fleet_command(ctx, fleet, subcommand, manifest, tree, run_files, arguments, trailing = []):
    """The command line of a run target: `fleet SUBCOMMAND --manifest M ARGUMENTS --runfiles T --workspace-root ROOT TRAILING`.

    Args:
      ctx: the rule context.
      fleet: the `fleet` artifact.
      subcommand: `tf` or `run`.
      manifest: the manifest artifact.
      tree: the runfiles tree (runfiles_tree).
      run_files: dict of the artifacts in the tree (built and materialized before the run).
      arguments: more arguments, after `--manifest`.
      trailing: arguments at the end (`--` for `fleet tf`: what follows goes to terraform).

    Returns:
      cmd_args for RunInfo; `buck2 run TARGET -- ARGS` appends ARGS.
    """
    return cmd_args(
        [fleet, subcommand, "--manifest", manifest] + arguments +
        ["--runfiles", tree, "--workspace-root", ctx.label.project_root] + trailing,
        hidden = run_files.values(),
    )
