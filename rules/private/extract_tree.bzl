"""The hermetic extraction action shared by the rules that unpack an archive."""

def extract_tree(ctx, fleet, archive, name, mnemonic, progress_message, execution_requirements = None):
    """Declares `name` as a tree artifact and unpacks `archive` into it with `fleet extract --out`.

    The helper validates every entry (exit 4 on hostile or corrupt archives), so a
    bad archive fails the build instead of producing a partial tree.

    Args:
      ctx: the rule context.
      fleet: the `fleet` helper binary (a File).
      archive: the tar, tar.gz or zip File.
      name: the tree artifact's name, relative to the package.
      mnemonic: the action's mnemonic.
      progress_message: the action's progress message.
      execution_requirements: optional dict passed to the action.

    Returns:
      The declared tree artifact.
    """
    tree = ctx.actions.declare_directory(name)
    ctx.actions.run(
        executable = fleet,
        # --quiet: the action's output is the tree itself, not the path fleet would print.
        arguments = ["extract", "--archive", archive.path, "--out", tree.path, "--quiet"],
        inputs = [archive],
        outputs = [tree],
        mnemonic = mnemonic,
        progress_message = progress_message,
        execution_requirements = execution_requirements,
    )
    return tree
