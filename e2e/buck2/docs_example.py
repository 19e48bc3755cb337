#!/usr/bin/env python3
"""Writes the Buck2 example of docs/install.md into a directory, file by file.

  docs_example.py DOC DEST

Each fenced block preceded by `<!-- buck2-example: PATH -->` becomes DEST/PATH, so
the test builds exactly what the documentation shows. Prints the paths written;
exits 1 when the document has no such block.
"""

import os
import re
import sys

MARK = re.compile(r"^<!-- buck2-example: (\S+) -->$")


def blocks(text):
    """[(path, content)] of the marked fenced blocks."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        mark = MARK.match(lines[i].strip())
        i += 1
        if not mark or i >= len(lines) or not lines[i].startswith("```"):
            continue
        body, i = [], i + 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        found.append((mark.group(1), "\n".join(body) + "\n"))
    return found


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    with open(argv[1], encoding="utf-8") as f:
        found = blocks(f.read())
    if not found:
        sys.exit("%s: no `buck2-example` block" % argv[1])
    for path, content in found:
        dest = os.path.join(argv[2], path)
        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        with open(dest, "w", encoding="utf-8") as f:
            f.write(content)
        print(path)


if __name__ == "__main__":
    main(sys.argv)
