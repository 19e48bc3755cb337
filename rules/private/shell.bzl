"""Shell quoting for every value rules_fleet pastes into a generated script."""

def shell_quote(text):
    """Returns `text` as one single-quoted shell word, safe whatever it holds.

    Bazel target names may contain `'`, `$`, `(`, `"`, `;`, spaces and backticks:
    pasted unquoted (or inside double quotes) they would be expanded or executed.

    Args:
      text: any string (labels, paths, workspace names).

    Returns:
      `'text'`, with each `'` written as `'\\''`.
    """
    return "'" + text.replace("'", "'\\''") + "'"
