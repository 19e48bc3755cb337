#!/usr/bin/env python3
"""Prints the shell commands one job of a CI recipe (docs/ci/) runs, as one
script for `bash -eo pipefail`, so e2e/ci/recipes.sh can run them against the CI fixture repository.

    recipe_commands.py github docs/ci/github-actions.yml JOB
    recipe_commands.py gitlab docs/ci/gitlab-ci.yml JOB

GitHub: every `run` step of the job; GitLab: every `script` line. Commands
that talk to the CI service itself (gh, curl) are not runnable here: they are
printed as comments, and their names listed on stderr.
"""

import sys

import yaml

SERVICE_COMMANDS = ("gh ", "curl ")


def github_steps(doc, job):
    return [str(step["run"]) for step in doc["jobs"][job]["steps"] if "run" in step]


def gitlab_steps(doc, job):
    return [str(line) for line in doc[job]["script"]]


def main():
    kind, path, job = sys.argv[1:4]
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    steps = github_steps(doc, job) if kind == "github" else gitlab_steps(doc, job)
    if not steps:
        sys.exit(f"{path}: job {job} runs nothing")
    for step in steps:
        if step.lstrip().startswith(SERVICE_COMMANDS):
            print(f"service step skipped: {step.split()[0]}", file=sys.stderr)
            print("# (CI service) " + step.replace("\n", " "))
            continue
        # A GitHub step is its own shell (bash -e); GitLab lines share one.
        print("(\n" + step.rstrip("\n") + "\n)" if kind == "github" else step.rstrip("\n"))


if __name__ == "__main__":
    main()
