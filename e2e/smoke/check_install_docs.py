#!/usr/bin/env python3
"""Checks that docs/install.md shows, for each Bazel version, exactly the snippets
tools/release writes, and that the release notes hold them under the same versions.

    check_install_docs.py DOCS DIST VERSION BASE_URL

A snippet in the docs is the fenced block after a `<!-- snippet: FILE -->` line, FILE being
what tools/release wrote into DIST. The release's own values read as placeholders there:
VERSION, the GitHub release URL of OWNER, `<sha256 of rules_fleet-VERSION.tar.gz>`,
`<integrity of rules_fleet-VERSION.tar.gz>`, and one `<os>-<arch>` line for the helpers.
Prints one line per problem and exits 1 if there is any; "ok" otherwise.
"""

import base64
import hashlib
import pathlib
import re
import sys

# The Bazel versions docs/install.md and the release notes have a section for, and the
# snippets each shows (4.2-6: WORKSPACE only; 7: both; 8: bzlmod, or WORKSPACE when enabled).
SECTIONS = {
    "Bazel 8": ["MODULE.bazel.snippet", "bazelrc.bazel8-workspace.snippet", "WORKSPACE.snippet"],
    "Bazel 7": ["MODULE.bazel.snippet", "WORKSPACE.snippet"],
    "Bazel 4.2 to 6": ["WORKSPACE.snippet"],
}
DOCS_URL = "https://github.com/OWNER/rules_fleet/releases/download/vVERSION"
HELPER_LINE = re.compile(r'^#   [a-z0-9]+-[a-z0-9_]+: urls = \["[^"]*/fleet-[^"]*"\], sha256 = "[0-9a-f]{64}"$')
DOCS_HELPER_LINE = (
    '#   <os>-<arch>: urls = ["' + DOCS_URL + '/fleet-VERSION-<os>-<arch>"], sha256 = "<sha256 of that file>"'
)


def normalize(text, dist, version, base_url):
    """The snippet as the docs show it."""
    lines, helper_seen = [], False
    for line in text.splitlines():
        if HELPER_LINE.match(line):
            if not helper_seen:
                lines.append(DOCS_HELPER_LINE)
            helper_seen = True
            continue
        lines.append(line)
    text = "\n".join(lines) + "\n"
    archive = (dist / f"rules_fleet-{version}.tar.gz").read_bytes()
    text = text.replace(hashlib.sha256(archive).hexdigest(), "<sha256 of rules_fleet-VERSION.tar.gz>")
    text = text.replace(
        "sha256-" + base64.b64encode(hashlib.sha256(archive).digest()).decode(),
        "<integrity of rules_fleet-VERSION.tar.gz>",
    )
    return text.replace(base_url, DOCS_URL).replace(version, "VERSION")


def sections(text, level):
    """{heading text: its body} for headings of `level` (`##` or `###`)."""
    found, current, fenced = {}, None, False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"^(#+) (.*?)\s*$", line)
        if match and len(match.group(1)) <= len(level):
            current = match.group(2) if match.group(1) == level else None
            if current is not None:
                found[current] = ""
            continue
        if current is not None:
            found[current] += line
    return found


def marked_snippets(body):
    """[(file, block)] of the `<!-- snippet: FILE -->` fenced blocks of a section."""
    pattern = re.compile(r"<!-- snippet: (\S+) -->\n```[a-z]*\n(.*?)```\n", re.S)
    return [(m.group(1), m.group(2)) for m in pattern.finditer(body)]


def check_docs(docs, dist, version, base_url, problems):
    bodies = sections(docs.read_text(), "##")
    for section, wanted in SECTIONS.items():
        body = bodies.get(section)
        if body is None:
            problems.append(f"{docs.name}: no section '## {section}'")
            continue
        shown = marked_snippets(body)
        names = [name for name, _ in shown]
        for name in wanted:
            if name not in names:
                problems.append(f"{docs.name}: ## {section} does not show {name}")
        for name, block in shown:
            path = dist / name
            if not path.is_file():
                problems.append(f"{docs.name}: ## {section} shows {name}, which tools/release does not write")
                continue
            expected = normalize(path.read_text(), dist, version, base_url)
            if block != expected:
                problems.append(
                    f"{docs.name}: ## {section}: the {name} block differs from tools/release's; it should read:\n{expected}"
                )


def check_notes(dist, problems):
    notes = sections((dist / "release_notes.md").read_text(), "###")
    for section, wanted in SECTIONS.items():
        body = notes.get(section)
        if body is None:
            problems.append(f"release_notes.md: no section '### {section}'")
            continue
        for name in wanted:
            if (dist / name).read_text() not in body:
                problems.append(f"release_notes.md: ### {section} does not hold {name}")


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    docs, dist, version, base_url = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    problems = []
    check_docs(docs, dist, version, base_url, problems)
    check_notes(dist, problems)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
