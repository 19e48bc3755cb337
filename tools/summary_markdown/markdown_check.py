"""Checks a `fleet run --summary` file the way a pull-request comment shows it:
rendered by a real CommonMark renderer (markdown-it-py, HTML enabled, GFM
tables), nothing that came from data (resource addresses, instance names,
terraform's messages, the --affected-since REV) may become a link, an image,
emphasis or an HTML element; each piece of data must be shown as code.

  python3 tools/summary_markdown/markdown_check.py SUMMARY.md DATA...

exits 1 naming every problem. `problems(text, data)` is the same check for tests.
"""

import html.parser
import sys

from markdown_it import MarkdownIt

# What fleet's own template emits: nothing else may be an element.
OWN_HTML_TAGS = {"details", "summary", "code"}
# fleet emphasises only its own words (counts, section titles): strong, never em.
OWN_STRONG = ("planned", "applied", "destroyed", "Unaffected", "Removed", "Truncated")


def renderer():
    return MarkdownIt("commonmark", {"html": True}).enable("table")


class _Tags(html.parser.HTMLParser):
    """The elements of an HTML block and the text inside its <code> elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.code = []
        self.in_code = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        if tag == "code":
            self.in_code += 1
            self.code.append("")

    def handle_endtag(self, tag):
        if tag == "code" and self.in_code:
            self.in_code -= 1

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        if self.in_code:
            self.code[-1] += data


def _walk(tokens):
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def _html_pieces(token):
    parser = _Tags()
    parser.feed(token.content)
    parser.close()
    return parser.tags, parser.code


def problems(text, data):
    """Everything wrong with `text` given the data strings that must stay inert."""
    found = []
    tokens = list(_walk(renderer().parse(text)))
    code_texts = []
    for i, token in enumerate(tokens):
        kind = token.type
        if kind in ("link_open", "image"):
            found.append(f"{kind} {token.attrs} ({token.content!r})")
        elif kind == "em_open":
            found.append(f"emphasis at line {token.map}")
        elif kind == "strong_open":
            inner = []
            for later in tokens[i + 1:]:
                if later.type == "strong_close":
                    break
                inner.append(later)
            words = "".join(t.content for t in inner if t.type == "text")
            if words.strip() and not any(w in words for w in OWN_STRONG):
                found.append(f"strong text {words!r} is not fleet's own")
        elif kind in ("html_inline", "html_block"):
            tags, code = _html_pieces(token)
            for tag, attrs in tags:
                if tag not in OWN_HTML_TAGS or attrs:
                    found.append(f"HTML element <{tag} {attrs}> in {token.content.strip()!r}")
            code_texts.extend(code)
        elif kind == "code_inline":
            code_texts.append(token.content)
        elif kind in ("fence", "code_block"):
            code_texts.append(token.content)
        elif kind == "s_open":
            found.append("strikethrough")
    for item in data:
        if not any(item in c for c in code_texts):
            found.append(f"data {item!r} is not shown verbatim as code")
    return found


def main(argv):
    path, data = argv[1], argv[2:]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = problems(text, data)
    for problem in found:
        print(f"{path}: {problem}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
