#!/usr/bin/env python3
"""Checks the files that only run elsewhere (GitHub Actions, the Bazel Central
Registry) against this repository: they parse, every repository command they
run exists and is executable, every option they pass to tools/release is one
it accepts, every working directory and local workflow they name exists, and
the BCR templates name the archive tools/release produces. Also: ci.yml runs
Bazel 7 and 8 through bazelisk on the BCR test module, with MODULE.bazel and
(8) with WORKSPACE enabled by the flags of tools/release's .bazelrc snippet;
publish.yaml calls publish-to-bcr's reusable workflow, pinned, with templates
whose maintainer is filled from the publishing repository, never written in;
.bcr/presubmit.yml builds the test module on Bazel 7.x and 8.x; no BUILD file
uses a native rule Bazel 9 removed.

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
RUNNER_COMMANDS = {"brew", "echo", "for", "do", "done", "gh", "cat", "test", "git", "cargo", "bazel"}
PUBLISH_TO_BCR = "bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml@"


def run_lines(workflow):
    """Every shell command line of every step of every job."""
    for job in (workflow.get("jobs") or {}).values():
        for step in job.get("steps") or []:
            for line in str(step.get("run", "")).splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    yield line


def check_paths(root, workflow, problems, where):
    """Working directories and local reusable workflows must exist in the repository."""
    for name, job in (workflow.get("jobs") or {}).items():
        uses = str(job.get("uses", ""))
        if uses.startswith("./") and not (root / uses).is_file():
            problems.append(f"{where}: job {name} calls {uses}, which is not in the repository")
        for step in job.get("steps") or []:
            directory = step.get("working-directory")
            if directory and not (root / directory).is_dir():
                problems.append(f"{where}: job {name} works in {directory}, which is not in the repository")


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
    workflows = sorted([*(root / ".github/workflows").glob("*.yml"), *(root / ".github/workflows").glob("*.yaml")])
    names = {w.name for w in workflows}
    for wanted in ("ci.yml", "release.yml", "publish.yaml"):
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
        check_paths(root, workflow, problems, where)
        lines = list(run_lines(workflow))
        if not lines:
            problems.append(f"{where}: runs nothing")
        for line in lines:
            for words in simple_commands(line):
                check_command(root, words, problems, where)


def load_workflow(root, name):
    try:
        return yaml.safe_load((root / ".github/workflows" / name).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}  # reported by check_workflows


def bazelrc_flags(root):
    """The flags of tools/release's Bazel 8 WORKSPACE .bazelrc snippet (`common --x` lines)."""
    release = (root / "tools/release").read_text()
    match = re.search(r'bazelrc\.bazel8-workspace\.snippet" <<SNIPPET\n(.*?)\nSNIPPET', release, re.S)
    return re.findall(r"^common (--\S+)$", match.group(1), re.M) if match else []


def check_bazel_jobs(root, problems):
    """ci.yml: Bazel 7.x and 8.x through bazelisk, the test module with MODULE.bazel, and
    with WORKSPACE on 8 as docs/install.md's .bazelrc snippet enables it."""
    ci = load_workflow(root, "ci.yml")
    versions, module_runs, workspace_runs = set(), [], []
    for job in (ci.get("jobs") or {}).values():
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        job_versions = {str(v) for v in matrix.get("bazel") or []}
        if not job_versions or "USE_BAZEL_VERSION" not in (job.get("env") or {}):
            continue
        versions |= job_versions
        for step in job.get("steps") or []:
            run = str(step.get("run", ""))
            if step.get("working-directory") == "e2e/bcr_test_module" and "bazel build" in run:
                (workspace_runs if "--enable_workspace" in run else module_runs).append(run)
    for version in ("7.x", "8.x"):
        if version not in versions:
            problems.append(f".github/workflows/ci.yml: no job runs Bazel {version} (bazelisk, USE_BAZEL_VERSION)")
    if not module_runs:
        problems.append(".github/workflows/ci.yml: no Bazel 7/8 job builds e2e/bcr_test_module with MODULE.bazel")
    flags = bazelrc_flags(root)
    if not flags:
        problems.append("tools/release: no `common --...` lines in bazelrc.bazel8-workspace.snippet")
    if not any(all(flag in run.split() for flag in flags) for run in workspace_runs):
        problems.append(f".github/workflows/ci.yml: no Bazel 8 job builds e2e/bcr_test_module with WORKSPACE ({' '.join(flags)})")


def check_publish(root, problems):
    """publish.yaml: publish-to-bcr's reusable workflow, pinned, reading templates whose
    maintainer a job filled from the publishing repository (tools/bcr fill-templates)."""
    where = ".github/workflows/publish.yaml"
    publish = load_workflow(root, "publish.yaml")
    jobs = publish.get("jobs") or {}
    callers = [job for job in jobs.values() if str(job.get("uses", "")).startswith(PUBLISH_TO_BCR)]
    if not callers:
        problems.append(f"{where}: no job calls {PUBLISH_TO_BCR}<version>")
    for job in callers:
        ref = str(job["uses"])[len(PUBLISH_TO_BCR):]
        if not re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", ref):
            problems.append(f"{where}: publish-to-bcr is not pinned to a release tag or commit: @{ref}")
        inputs = job.get("with") or {}
        for key in ("tag_name", "registry_fork", "templates_ref"):
            if key not in inputs:
                problems.append(f"{where}: the publish-to-bcr call has no {key}")
        if "publish_token" not in (job.get("secrets") or {}):
            problems.append(f"{where}: the publish-to-bcr call passes no publish_token")
    text = (root / ".github/workflows" / "publish.yaml").read_text() if (root / ".github/workflows/publish.yaml").is_file() else ""
    if "tools/bcr fill-templates --maintainer" not in text or "github.repository_owner" not in text:
        problems.append(f"{where}: the maintainer is not filled from the publishing repository (tools/bcr fill-templates, github.repository_owner)")
    release = load_workflow(root, "release.yml")
    if not any(str(job.get("uses", "")) == "./.github/workflows/publish.yaml" for job in (release.get("jobs") or {}).values()):
        problems.append(".github/workflows/release.yml: no job calls ./.github/workflows/publish.yaml")


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
    if metadata and "{MAINTAINER}" not in json.dumps(metadata.get("maintainers")):
        problems.append(".bcr/metadata.template.json: maintainers has no {MAINTAINER} entry for publish.yaml to fill")
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
    test_module = (presubmit or {}).get("bcr_test_module") or {}
    module_path = test_module.get("module_path", "")
    if not module_path or not (root / module_path / "MODULE.bazel").is_file():
        problems.append(f".bcr/presubmit.yml: bcr_test_module's module_path {module_path!r} has no MODULE.bazel")
    elif f"{module_path}/*" not in (root / "tools/release").read_text():
        problems.append(f".bcr/presubmit.yml: tools/release does not ship {module_path} in the archive")
    bazels = {str(v) for v in ((test_module.get("matrix") or {}).get("bazel") or [])}
    if not {"7.x", "8.x"} <= bazels:
        problems.append(f".bcr/presubmit.yml: the test module runs on Bazel {sorted(bazels)}, not 7.x and 8.x")
    if not test_module.get("tasks"):
        problems.append(".bcr/presubmit.yml: bcr_test_module has no tasks")
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
    check_bazel_jobs(root, problems)
    check_publish(root, problems)
    check_native_rules(root, problems)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
