"""The attributes of rules_fleet's public rules and macros, read from the .bzl
syntax trees (Starlark parses as Python) without running anything.

Public: the names rules/defs.bzl and rules/repositories.bzl define or
re-export (for Buck2: rules/buck2/defs.bzl). A rule's attributes are the keys of its `attrs` (a dict literal, a
name bound to one, `dict(a, **b)`, `a | b` or `a + b` of those), without the
private `_x`. A macro's are its parameters, without `name`, `*args`,
`**kwargs` and Bazel's common attributes, plus the attributes of a rule or
macro it passes its `**kwargs` to, except those it sets itself.
"""

import ast
import os
import re

PUBLIC_FILES = ("rules/defs.bzl", "rules/repositories.bzl")
# The Buck2 rules' public API (docs/buck2.md, with docs/rules.md for what they share).
BUCK2_FILES = ("rules/buck2/defs.bzl",)
# Attributes every target has; documented by Bazel, not per rule.
COMMON = {"name", "tags", "visibility", "testonly", "features", "compatible_with",
          "target_compatible_with", "exec_compatible_with", "deprecation", "restricted_to"}
_RULE_FUNCTIONS = {"rule", "repository_rule", "macro"}


class Module:
    """One .bzl file: its top-level bindings and loads."""

    def __init__(self, root, path):
        self.root, self.path = root, path
        with open(os.path.join(root, path), encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
        self.defs, self.assigns, self.loads = {}, {}, {}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                self.defs[node.name] = node
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.assigns[node.targets[0].id] = node.value
            elif isinstance(node, ast.Expr) and _is_load(node.value):
                self._add_load(node.value)

    def _add_load(self, call):
        source = _label_to_path(call.args[0].value, self.path)
        for arg in call.args[1:]:
            self.loads[arg.value] = (source, arg.value)
        for keyword in call.keywords:
            self.loads[keyword.arg] = (source, keyword.value.value)

    def public_names(self):
        names = set(self.defs) | set(self.assigns)
        return sorted(n for n in names if not n.startswith("_") and not n.isupper() and not n.endswith("Info"))


def _is_load(node):
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "load"


def _label_to_path(label, importer):
    """`//rules/private:x.bzl` or `:x.bzl` -> repository-relative path."""
    match = re.match(r"^(?:@[^/]*)?//([^:]*):(.+)$", label)
    if match:
        return os.path.join(match.group(1), match.group(2))
    if label.startswith(":"):
        return os.path.join(os.path.dirname(importer), label[1:])
    raise ValueError(f"{importer}: cannot follow load of {label}")


class Resolver:
    def __init__(self, root):
        self.root, self.modules = root, {}

    def module(self, path):
        if path not in self.modules:
            self.modules[path] = Module(self.root, path)
        return self.modules[path]

    def binding(self, module, name):
        """(module, node) where NAME is bound: a FunctionDef or an expression."""
        if name in module.defs:
            return module, module.defs[name]
        if name in module.assigns:
            value = module.assigns[name]
            if isinstance(value, ast.Name):
                return self.binding(module, value.id)
            return module, value
        if name in module.loads:
            path, symbol = module.loads[name]
            return self.binding(self.module(path), symbol)
        raise ValueError(f"{module.path}: {name} is not defined")

    def is_bound(self, module, name):
        return name in module.defs or name in module.assigns or name in module.loads

    def attributes(self, module, name):
        """Public attributes of the rule or macro bound to NAME, or None if it is neither."""
        module, node = self.binding(module, name)
        if isinstance(node, ast.FunctionDef):
            return self._macro_attributes(module, node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _RULE_FUNCTIONS:
            attrs = next((k.value for k in node.keywords if k.arg == "attrs"), None)
            keys = self.dict_keys(module, attrs) if attrs is not None else set()
            return {k for k in keys if not k.startswith("_")}
        return None

    def _macro_attributes(self, module, func):
        args = func.args
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs} - COMMON
        kwargs = args.kwarg.arg if args.kwarg else None
        forwarded = set()
        for call in ast.walk(func):
            if not (kwargs and isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
                continue
            if not any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == kwargs for k in call.keywords):
                continue
            if not self.is_bound(module, call.func.id):
                continue  # a builtin such as dict()
            callee = self.attributes(module, call.func.id)
            if callee is not None:
                forwarded |= callee - {k.arg for k in call.keywords if k.arg}
        return (params | forwarded) - COMMON

    def dict_keys(self, module, node):
        if isinstance(node, ast.Dict):
            keys = set()
            for key, value in zip(node.keys, node.values):
                keys |= {key.value} if key is not None else self.dict_keys(module, value)
            return keys
        if isinstance(node, ast.Name):
            bound_module, value = self.binding(module, node.id)
            return self.dict_keys(bound_module, value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.Add)):
            return self.dict_keys(module, node.left) | self.dict_keys(module, node.right)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            keys = set()
            for arg in node.args:
                keys |= self.dict_keys(module, arg)
            for keyword in node.keywords:
                keys |= {keyword.arg} if keyword.arg else self.dict_keys(module, keyword.value)
            return keys
        raise ValueError(f"{module.path}:{node.lineno}: cannot read attribute names from {ast.dump(node)[:80]}")


def public_rules(root, files=PUBLIC_FILES):
    """{public rule or macro name: set of its attribute names} of the names `files` export."""
    resolver, result = Resolver(root), {}
    for path in files:
        module = resolver.module(path)
        for name in module.public_names():
            attrs = resolver.attributes(module, name)
            if attrs is not None:
                result[name] = attrs
    return result
