"""The one `bazel run` launcher of rules_fleet: finds the runfiles, then execs a command in them."""

load(":labels.bzl", "label_string")
load(":shell.bzl", "shell_quote")

def runfile(short_path):
    """An argument naming a file by its runfiles path (resolved under the main repository's runfiles).

    Args:
      short_path: the File's short_path.

    Returns:
      A launcher argument for `write_launcher`.
    """
    return struct(runfile = short_path)

# An argument standing for the main repository's runfiles directory itself.
RUNFILES_ROOT = struct(runfile = "")

def _quoted(text):
    """shell_quote, with each `{{` split by an empty quoted string (`{''{`, the same word).

    Bazel applies the template's substitutions one after another: a value holding `{{KEY}}`
    (target names may hold braces) would otherwise be expanded by a later one.
    """
    return shell_quote(text).replace("{{", "{''{")

def _word(argument):
    if type(argument) == "string":
        return _quoted(argument)
    if argument.runfile:
        return '"$main/"' + _quoted(argument.runfile)
    return '"$main"'

def write_launcher(ctx, description, command, in_caller_dir = False):
    """Writes `ctx.label.name` as an executable launcher running `command` with the caller's arguments appended.

    Args:
      ctx: the rule context (its template attribute `_launcher_template` is read).
      description: what the launcher does, for its header comment (one line).
      command: list of arguments: strings (passed as they are), `runfile(path)`, or `RUNFILES_ROOT`.
      in_caller_dir: run in the directory `bazel run` was called from (`BUILD_WORKING_DIRECTORY`),
        so relative paths among the caller's arguments are the caller's.

    Returns:
      The launcher File.
    """
    launcher = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.expand_template(
        template = ctx.file._launcher_template,
        output = launcher,
        substitutions = {
            # A comment line as it is: one line, and no `{{` another substitution could expand
            # (target names may hold braces).
            "{{DESCRIPTION}}": description.replace("\n", " ").replace("{{", "{ {"),
            "{{TARGET}}": _quoted(label_string(ctx.label)),
            "{{WORKSPACE}}": _quoted(ctx.workspace_name),
            "{{CHDIR}}": 'cd "${BUILD_WORKING_DIRECTORY:-.}"' if in_caller_dir else "",
            "{{COMMAND}}": " ".join([_word(argument) for argument in command]),
        },
        is_executable = True,
    )
    return launcher

LAUNCHER_ATTRS = {
    "_launcher_template": attr.label(
        default = Label("//rules/private:launcher.sh.tpl"),
        allow_single_file = True,
        doc = "The launcher template (launcher.bzl).",
    ),
}
