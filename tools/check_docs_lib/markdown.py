"""What docs/cli.md and docs/rules.md list, section by section.

A section is a heading and everything up to the next heading of the same or a
higher level (so its subsections belong to it). It belongs to what its heading
names in a code span: `fleet SUB` (cli.md; one heading may name several) or a
rule's name, alone or as a signature `rule(a, b = 1)` (rules.md; the first code
span naming a public rule wins).

Each section yields two sets. *Mentioned*: a flag anywhere in its text, an
attribute in any code span (`vars`, `vars = {}`).
*Listed*: what the section declares as the command's flags or the rule's
attributes. The checker wants everything in the code mentioned and everything
listed in the code, so a passing reference to another tool's flag
(GNU `timeout --foreground`) is not taken for a claim.

Listed in a `fleet SUB` section: every flag of a usage line (a line starting
with `fleet `, after indentation, and the indented lines continuing it), of the
first cell of a table row, and of the code spans opening a bullet
(`- `--link PATH` makes ...`).

Listed in a rule's section: the parameters of a signature heading, the first
cell of each row of a table whose header starts with `attribute`, and the code
spans that open a bullet (`- `vars`: ...`, `- `backend`, `backend_config`: ...`).
Bazel's common attributes (`tags`, `visibility`, ...) are neither.
"""

import re

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_FLAG = re.compile(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def sections(text):
    """[(level, heading, [lines])], fenced code kept as lines, headings in fences ignored."""
    found, stack, fence = [], [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        match = None if fence else _HEADING.match(line)
        if match:
            level = len(match.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            section = (level, match.group(2), [])
            found.append(section)
            stack.append(section)
            continue
        for open_section in stack:
            open_section[2].append(line)
    return found


_BULLET_SPANS = re.compile(r"^\s*[-*] ((?:`[^`]+`(?:,\s*|\s+and\s+|\s+or\s+)?)+)")
COMMON = {"name", "tags", "visibility", "testonly", "features", "compatible_with",
          "target_compatible_with", "exec_compatible_with", "deprecation", "restricted_to"}


def _first_cell(line):
    return line.strip().strip("|").split("|")[0] if line.lstrip().startswith("|") else ""


def _bullet_spans(line):
    match = _BULLET_SPANS.match(line)
    return _CODE_SPAN.findall(match.group(1)) if match else []


def cli_sections(text):
    """{subcommand: (flags mentioned, flags listed) under headings naming `fleet SUB`}."""
    result = {}
    for _, heading, lines in sections(text):
        subs = [m.group(1) for span in _CODE_SPAN.findall(heading) if (m := re.match(r"^fleet ([a-z][a-z0-9-]*)", span))]
        if not subs:
            continue
        mentioned, listed, in_usage = set(), set(), False
        for line in lines:
            mentioned |= set(_FLAG.findall(line))
            in_usage = line.strip().startswith("fleet ") or (in_usage and line[:1].isspace() and line.strip() != "")
            if in_usage:
                listed |= set(_FLAG.findall(line))
            for span in _CODE_SPAN.findall(_first_cell(line)) + _bullet_spans(line):
                if span.startswith("--"):
                    listed |= set(_FLAG.findall(span.split()[0]))
        for sub in subs:
            seen = result.setdefault(sub, (set(), set()))
            seen[0].update(mentioned | listed)
            seen[1].update(listed)
    return result


def _signature_params(span):
    """Parameter names of `rule(a, b = 1, ...)`, without `name`."""
    inner = span[span.index("(") + 1 : span.rindex(")")]
    params, depth, current = [], 0, ""
    for char in inner + ",":
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            params.append(current.split("=")[0].strip())
            current = ""
        else:
            current += char
    return {p for p in params if _IDENT.match(p) and p != "name"}


def _table_attrs(lines):
    attrs, in_attr_table = set(), False
    for line in lines:
        if not line.startswith("|"):
            in_attr_table = False
            continue
        first = line.strip("|").split("|")[0].strip()
        if first.lower() == "attribute":
            in_attr_table = True
        elif in_attr_table and not set(first) <= set("-: "):
            attrs |= {s for s in _CODE_SPAN.findall(first) if _IDENT.match(s)}
    return attrs


def _bullet_attrs(lines):
    return {s for line in lines for s in _bullet_spans(line) if _IDENT.match(s)}


def _mentioned_attrs(lines):
    names = set()
    for line in lines:
        for span in _CODE_SPAN.findall(line):
            match = re.match(r"^([a-z_][a-z0-9_]*)(\s*=.*)?$", span)
            if match:
                names.add(match.group(1))
    return names


def rule_sections(text, rules):
    """{rule: (attributes mentioned, attributes listed) under headings naming it}."""
    result = {}
    for _, heading, lines in sections(text):
        for span in _CODE_SPAN.findall(heading):
            name = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)", span)
            if not name or name.group(1) not in rules:
                continue
            listed = _table_attrs(lines) | _bullet_attrs(lines)
            if "(" in span and span.endswith(")"):
                listed |= _signature_params(span)
            listed -= COMMON
            seen = result.setdefault(name.group(1), (set(), set()))
            seen[0].update(listed | _mentioned_attrs(lines))
            seen[1].update(listed)
            break
    return result
