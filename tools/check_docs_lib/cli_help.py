"""The flags of every `fleet` subcommand, from its own --help (clap's format)."""

import re
import subprocess

# Flags every clap command has; documenting them once per command adds nothing.
_IMPLICIT = {"--help", "--version"}
_FLAG = re.compile(r"^\s+(?:-[A-Za-z0-9], )?(--[a-z0-9][a-z0-9-]*)")


def _help(helper, words):
    result = subprocess.run([helper, *words, "--help"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ValueError(f"`{helper} {' '.join(words)} --help` exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def _section(text, title):
    """Lines of clap's `Title:` block (up to the next unindented line)."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.rstrip() == f"{title}:":
            inside = True
            continue
        if inside and line and not line[0].isspace():
            break
        if inside:
            lines.append(line)
    return lines


def _subcommands(text):
    names = []
    for line in _section(text, "Commands"):
        match = re.match(r"^  ([a-z][a-z0-9-]*)(?:\s|$)", line)
        if match and match.group(1) != "help":
            names.append(match.group(1))
    return names


def _flags(text):
    return {m.group(1) for line in _section(text, "Options") if (m := _FLAG.match(line))} - _IMPLICIT


def subcommand_flags(helper):
    """{subcommand: set of flags}, nested subcommands' flags under their top-level one."""
    result = {}
    for sub in _subcommands(_help(helper, [])):
        flags, pending = set(), [[sub]]
        while pending:
            words = pending.pop()
            text = _help(helper, words)
            flags |= _flags(text)
            pending += [words + [nested] for nested in _subcommands(text)]
        result[sub] = flags
    return result
