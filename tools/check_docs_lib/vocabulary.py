"""One word per concept: the synonyms table of docs/glossary.md against the names
the code exposes and the words the docs use.

The table's rows are `| use | not | deprecated aliases |`, each cell a list of
code spans. A synonym (a `not` span) is
- a word, `concurrency` or `instance_group`: it matches any name whose words
  (split at `_`, `-` and case changes) hold its words in a row;
- a flag, `--instance`: that flag of any command; `fleet SUB --lock`: of that
  command (its nested subcommands included);
- an attribute, `fleet_verify(lock)`: that attribute of that rule or macro.
A deprecated alias is a name the code may still expose with a synonym in it: a
rule, macro or provider name (`tf_instance_group`), `rule(attr)`, `fleet SUB
--flag`, a bare flag (`--timeout`: on every command) or `Provider.field`.

Names: `fleet SUB --flag` for every flag `--help` shows, `rule` and `rule(attr)`
for every public rule and macro of the Bazel and the Buck2 rules. A deprecated
CLI alias is a hidden flag: it never shows, and a flag that shows is refused even
when the table lists it.

Docs: a code span of README.md or docs/*.md (but the glossary) holding a word or
flag synonym must stand on a line that also names a word to use or says
"deprecated", so the docs never teach the old name as the current one.
"""

import os
import re

from . import markdown

GLOSSARY = os.path.join("docs", "glossary.md")
_SPAN = re.compile(r"`([^`]+)`")
_ATTRIBUTE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(([a-z_][a-z0-9_]*)\)$")


class Synonym:
    def __init__(self, text, use):
        self.text, self.use = text, use
        attribute = _ATTRIBUTE.match(text)
        if attribute:
            self.kind, self.rule, self.attribute = "attribute", attribute.group(1), attribute.group(2)
        elif text.startswith("fleet "):
            self.kind = "command flag"
        elif text.startswith("--"):
            self.kind = "flag"
        else:
            self.kind, self.words = "word", words(text)

    def matches(self, name):
        """Whether NAME (`fleet SUB --flag`, `rule` or `rule(attr)`) uses this synonym."""
        if self.kind == "attribute":
            return name == f"{self.rule}({self.attribute})"
        if self.kind == "command flag":
            return name == self.text
        if self.kind == "flag":
            return name.startswith("fleet ") and name.split()[-1] == self.text
        own = words(_last_part(name))
        n = len(self.words)
        return any(own[i:i + n] == self.words for i in range(len(own) - n + 1))

    def in_text(self, span):
        """Whether a docs code span uses this word or flag synonym."""
        if self.kind == "flag":
            return self.text in re.findall(r"--[a-z0-9-]+", span)
        if self.kind == "word":
            return any(self.matches(token) for token in re.findall(r"[A-Za-z0-9_]+", span))
        return False


def words(name):
    """`tf_instance_group` -> [tf, instance, group]; `TfInstanceGroupInfo` too (and info)."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w.lower() for w in re.split(r"[_\-\s.]+", name) if w]


def _last_part(name):
    """The part of a name a synonym is judged on: the flag, the attribute or the rule."""
    if name.startswith("fleet "):
        return name.split()[-1].lstrip("-")
    attribute = _ATTRIBUTE.match(name)
    return attribute.group(2) if attribute else name


def read_table(root):
    """(synonyms, deprecated alias names) of the glossary's `## Synonyms` table."""
    text = markdown.read(os.path.join(root, GLOSSARY))
    synonyms, deprecated = [], set()
    for _, heading, lines in markdown.sections(text):
        if heading.strip() != "Synonyms":
            continue
        for line in lines:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 3 or not line.lstrip().startswith("|") or set(cells[0]) <= set("-: ") or cells[0] == "use":
                continue
            use = _SPAN.findall(cells[0])
            synonyms += [Synonym(span, use) for span in _SPAN.findall(cells[1])]
            deprecated |= set(_SPAN.findall(cells[2]))
    if not synonyms:
        raise ValueError(f"{GLOSSARY}: no `## Synonyms` table")
    return synonyms, deprecated


def _allowed(name, deprecated):
    # A CLI alias is hidden from --help: a flag --help shows is never one.
    return not name.startswith("fleet ") and name in deprecated


def exposed_names(flags, rules):
    """The names to judge: {`fleet SUB --flag`} | {rule, `rule(attr)`}."""
    names = {f"fleet {sub} {flag}" for sub, subflags in flags.items() for flag in subflags}
    for rule, attrs in rules.items():
        names.add(rule)
        names |= {f"{rule}({attr})" for attr in attrs}
    return names


def name_problems(names, synonyms, deprecated):
    found = []
    for name in sorted(names):
        for synonym in synonyms:
            if synonym.matches(name) and not _allowed(name, deprecated):
                use = " or ".join(f"`{u}`" for u in synonym.use)
                found.append(f"{name}: named with `{synonym.text}`, a synonym of {use} ({GLOSSARY}#synonyms); "
                             f"rename it, or declare the old name a deprecated alias there")
    return found


def doc_problems(root, files, synonyms):
    found = []
    for name in files:
        if os.path.normpath(name) == GLOSSARY:
            continue
        in_fence = False
        for number, line in enumerate(markdown.read(os.path.join(root, name)).splitlines(), 1):
            if line.startswith("```"):
                in_fence = not in_fence
            spans = [line.strip()] if in_fence else _SPAN.findall(line)
            for synonym in synonyms:
                if not any(synonym.in_text(span) for span in spans):
                    continue
                if "deprecat" in line.lower() or any(u.lstrip("-") in line for u in synonym.use):
                    continue
                found.append(f"{name}:{number}: uses `{synonym.text}` without saying it is deprecated; "
                             f"the word is {' or '.join(synonym.use)} ({GLOSSARY}#synonyms)")
    return found
