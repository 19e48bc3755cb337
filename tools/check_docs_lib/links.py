"""Relative links between the Markdown files: the file exists, and so does the
heading an `#anchor` names (GitHub's slugs)."""

import os
import re

from . import markdown

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading):
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    return {slug(heading) for _, heading, _ in markdown.sections(markdown.read(path))}


def problems(root, files):
    found = []
    for name in files:
        path = os.path.join(root, name)
        text = re.sub(r"```.*?```", "", markdown.read(path), flags=re.S)
        for target in _LINK.findall(text):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto: not checked here
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(dest):
                found.append(f"{name}: link to {target}: no such file")
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                found.append(f"{name}: link to {target}: no heading with that anchor")
    return found


_CODE_PATH = re.compile(r"`((?:src|tests|e2e|tools|rules|bench|docs)/[\w./-]*)`")


def code_path_problems(root, files):
    """Paths of the repository a document names in code spans (`tests/it/lock.rs`) exist."""
    found = []
    for name in files:
        for path in _CODE_PATH.findall(markdown.read(os.path.join(root, name))):
            if not os.path.exists(os.path.join(root, path.rstrip("/"))):
                found.append(f"{name}: names {path}: no such file or directory")
    return found
