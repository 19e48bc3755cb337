#!/usr/bin/env python3
"""Checks the files that only run elsewhere (GitHub Actions, the Bazel Central
Registry) against this repository: they parse, every repository command they
run exists and is executable, every option they pass to tools/release is one
it accepts, and the BCR templates name the archive tools/release produces.

    e2e/smoke/check_ci_files.py [REPO_ROOT]

Prints one line per problem and exits 1 if there is any; 0 and "ok" otherwise.
"""

import json
import os
import pathlib
import re
import shlex
import sys

import yaml

# Commands a workflow may run that come from the runner, not the repository.
RUNNER_COMMANDS = {"brew", "echo", "for", "do", "done", "gh", "cat", "test"}


def run_lines(workflow):
    """Every shell command line of every step of every job."""
    for job in (workflow.get("jobs") or {}).values():
        for step in job.get("steps") or []:
            for line in str(step.get("run", "")).splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    yield line


def simple_commands(line):
    """The simple commands of a shell line: split on && || ; | and drop redirections."""
    for part in re.split(r"&&|\|\||;|\|", line):
        try:
            words = shlex.split(part)
        except ValueError:
            words = part.split()
        if words:
            yield words


def release_options(root):
    usage = (root / "tools/release").read_text()
    return set(re.findall(r"--[a-z][a-z-]*", usage))


def check_command(root, words, problems, where):
    program = words[0]
    if "/" in program:
        path = root / program
        if not path.is_file():
            problems.append(f"{where}: runs {program}, which is not in the repository")
        elif not path.stat().st_mode & 0o111:
            problems.append(f"{where}: runs {program}, which is not executable")
        if program.endswith("tools/release"):
            known = release_options(root)
            for word in words[1:]:
                option = word.split("=", 1)[0]
                if option.startswith("--") and option not in known:
                    problems.append(f"{where}: tools/release has no option {option}")
    elif program not in RUNNER_COMMANDS and "=" not in program:
        problems.append(f"{where}: runs {program}, neither a repository script nor a runner command")


def check_workflows(root, problems):
    workflows = sorted((root / ".github/workflows").glob("*.yml"))
    names = {w.name for w in workflows}
    for wanted in ("ci.yml", "release.yml"):
        if wanted not in names:
            problems.append(f".github/workflows/{wanted} is missing")
    for path in workflows:
        where = str(path.relative_to(root))
        try:
            workflow = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            problems.append(f"{where}: not YAML: {error}")
            continue
        if not isinstance(workflow, dict) or not workflow.get("jobs"):
            problems.append(f"{where}: no jobs")
            continue
        # YAML 1.1 reads the key `on` as True.
        if "on" not in workflow and True not in workflow:
            problems.append(f"{where}: no trigger (on:)")
        lines = list(run_lines(workflow))
        if not lines:
            problems.append(f"{where}: runs nothing")
        for line in lines:
            for words in simple_commands(line):
                check_command(root, words, problems, where)


def check_bcr(root, problems):
    bcr = root / ".bcr"
    templates = {}
    for name in ("metadata.template.json", "source.template.json"):
        try:
            templates[name] = json.loads((bcr / name).read_text())
        except (OSError, ValueError) as error:
            problems.append(f".bcr/{name}: {error}")
    source = templates.get("source.template.json", {})
    if source:
        for key in ("integrity", "strip_prefix", "url"):
            if key not in source:
                problems.append(f".bcr/source.template.json: no {key}")
        release = (root / "tools/release").read_text()
        if source.get("strip_prefix") != "rules_fleet-{VERSION}" or "rules_fleet-$version" not in release:
            problems.append(".bcr/source.template.json: strip_prefix is not the archive's top directory rules_fleet-{VERSION}")
        if not str(source.get("url", "")).endswith("/rules_fleet-{VERSION}.tar.gz"):
            problems.append(".bcr/source.template.json: url does not name rules_fleet-{VERSION}.tar.gz")
    metadata = templates.get("metadata.template.json", {})
    for key in ("homepage", "maintainers", "repository", "versions"):
        if metadata and key not in metadata:
            problems.append(f".bcr/metadata.template.json: no {key}")
    check_presubmit(root, bcr / "presubmit.yml", problems)


def check_presubmit(root, path, problems):
    try:
        presubmit = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        problems.append(f".bcr/presubmit.yml: {error}")
        return
    tasks = (presubmit or {}).get("tasks") or {}
    if not tasks:
        problems.append(".bcr/presubmit.yml: no tasks")
    for name, task in tasks.items():
        for target in task.get("build_targets") or []:
            match = re.fullmatch(r"@rules_fleet//([\w/]*):([\w.-]+)", target)
            if not match:
                problems.append(f".bcr/presubmit.yml: {name}: {target} is not a @rules_fleet// target")
                continue
            package, target_name = match.groups()
            build = root / package / "BUILD.bazel"
            if not build.is_file():
                problems.append(f".bcr/presubmit.yml: {name}: no package {package}")
            elif target_name != "all" and f'name = "{target_name}"' not in build.read_text():
                problems.append(f".bcr/presubmit.yml: {name}: no target {target_name} in {package}")


# Rules Bazel 8 only autoloads (from rules_shell, rules_python) and Bazel 9 no longer has:
# a BUILD file or macro of this repository must load them, or better not use them.
NATIVE_ONLY_AUTOLOADED = ("sh_binary", "sh_test", "sh_library", "py_binary", "py_test", "py_library")
SKIPPED_DIRS = {".git", "target", "bazel_offline", "node_modules", "dist"}


def starlark_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("bazel-"))
        for name in sorted(filenames):
            if name in ("BUILD", "BUILD.bazel") or name.endswith(".bzl"):
                yield pathlib.Path(dirpath) / name


def check_native_rules(root, problems):
    for path in starlark_files(root):
        text = path.read_text(errors="replace")
        for match in re.finditer(r"^\s*(%s)\(" % "|".join(NATIVE_ONLY_AUTOLOADED), text, re.M):
            rule = match.group(1)
            if not re.search(r'load\([^)]*"%s"' % rule, text):
                problems.append(
                    f"{path.relative_to(root)}: uses the native {rule}, which Bazel 8 only autoloads "
                    "and Bazel 9 removed (use an executable file, or load it from its rule set)"
                )


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[2]).resolve()
    problems = []
    check_workflows(root, problems)
    check_bcr(root, problems)
    check_native_rules(root, problems)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
