#!/usr/bin/env python3
"""Buck2 against Bazel (issue 30): the same fleet of N instances built cold by each,
side by side, in the same run.

For each size N (default 100) and each round, interleaved so both see the same load:

  bazel   bench/fleet_scale.py's workspace (the elasticache component, one
          `tf_instances` of N entries, the rules of this checkout through
          local_repository): `bazel build //infra/...` on a fresh output base
          (JVM start, loading, analysis, N renders + N build checks), then again (no-op)
  buck2   the same package as a BUCK file (load path changed) in a fresh Buck2
          project taking the same rules as a copied cell: `buck2 build //infra/...`
          with no daemon running (daemon start, loading, analysis, the same actions),
          then again (no-op)

Printed per tool: cold and no-op wall seconds (best of the rounds), the actions that
ran a process, the most of them running at once (Bazel: its --profile's action spans;
Buck2: the local `Execute` stages of its event log, e2e/buck2/buck2_log.py), and the
mean load average; then the ratios buck2 / bazel. Informational target: Buck2 runs the
instances' actions concurrently (at most >= 2 at once on a machine with >= 2 CPUs).

Usage: bench/buck2_scale.py [--sizes 100] [--rounds 2] [--buck2 PATH] [--fleet PATH]
                            [--terraform PATH] [--jobs N] [--timeout SECS] [--keep]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e", "buck2"))

import buck2_log  # noqa: E402
import fleet_scale as fs  # noqa: E402

BUCKCONFIG = """[cells]
root = .
prelude = prelude
toolchains = toolchains
rules_fleet = rules_fleet

[project]
ignore = .fleet
"""

TOOLCHAINS = """load("@rules_fleet//rules/buck2:defs.bzl", "fleet_toolchain", "terraform_toolchain")

terraform_toolchain(
    name = "terraform",
    repository = "terraform_local",
    terraform = "terraform",
    version = "{version}",
    visibility = ["PUBLIC"],
)

fleet_toolchain(
    name = "fleet",
    fleet = "fleet",
)
"""


def find_buck2(explicit):
    for candidate in [explicit, os.environ.get("BUCK2"),
                      os.path.join(fs.ROOT, "..", "shared", "tools", "buck2", "buck2"), shutil.which("buck2")]:
        if candidate and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


def make_buck2_project(path, count, rules, helper, terraform, version):
    """A Buck2 project with the fleet of bench/fleet_scale.py, rules_fleet copied in as a cell."""
    fs.write(os.path.join(path, ".buckconfig"), BUCKCONFIG)
    fs.write(os.path.join(path, "prelude", "prelude.bzl"), "")
    fs.write(os.path.join(path, "toolchains", "BUCK"), TOOLCHAINS.format(version=version))
    os.symlink(terraform, os.path.join(path, "toolchains", "terraform"))
    os.symlink(helper, os.path.join(path, "toolchains", "fleet"))
    build = fs.BUILD.format(count=count).replace("@rules_fleet//rules:defs.bzl", "@rules_fleet//rules/buck2:defs.bzl")
    fs.write(os.path.join(path, "infra", "elasticache", "BUCK"), build)
    shutil.copy(fs.COMPONENT_TF, os.path.join(path, "infra", "elasticache", "main.tf"))
    shutil.copytree(rules, os.path.join(path, "rules_fleet"), symlinks=True)


class Buck2:
    """buck2 in one project; its daemon is killed by kill()."""

    def __init__(self, binary, project, env, timeout, jobs):
        self.binary, self.project, self.env, self.timeout, self.jobs = binary, project, env, timeout, jobs

    def timed(self, log, *args):
        """(exit status, wall seconds, mean load average) of `buck2 ARGS`."""
        cmd = [self.binary] + list(args)
        if self.jobs and args and args[0] == "build":
            cmd += ["-j", str(self.jobs)]
        start, loads = time.monotonic(), []
        with open(log, "w") as out:
            proc = subprocess.Popen(cmd, cwd=self.project, env=self.env, stdout=out, stderr=subprocess.STDOUT)
            while True:
                loads.append(os.getloadavg()[0])
                try:
                    status = proc.wait(timeout=2)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() - start > self.timeout:
                        proc.kill()
                        proc.wait()
                        self.kill()
                        sys.exit("buck2_scale: `buck2 %s` timed out (see %s)" % (" ".join(args), log))
        return status, time.monotonic() - start, sum(loads) / len(loads)

    def event_log(self, path):
        with open(path, "w") as out:
            subprocess.run([self.binary, "log", "show"], cwd=self.project, env=self.env, stdout=out,
                           stderr=subprocess.DEVNULL, check=False)
        return buck2_log.local_commands(path)

    def kill(self):
        subprocess.run([self.binary, "kill"], cwd=self.project, env=self.env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False, timeout=120)


def measure_buck2(tmp, count, round_, args):
    name = "buck2-%d-r%d" % (count, round_)
    project = os.path.join(tmp, name)
    make_buck2_project(project, count, args["rules"], args["helper"], args["terraform"], args["version"])
    buck2 = Buck2(args["buck2"], project, args["env"], args["timeout"], args["jobs"])
    cold_log = os.path.join(tmp, "build-cold-%s.log" % name)
    status, cold, load = buck2.timed(cold_log, "build", "//infra/...")
    if status != 0:
        buck2.kill()
        sys.exit("buck2_scale: cold build of %d instances failed (exit %d), see %s" % (count, status, cold_log))
    commands = buck2.event_log(os.path.join(tmp, "events-%s.json" % name))
    status, noop, _ = buck2.timed(os.path.join(tmp, "build-noop-%s.log" % name), "build", "//infra/...")
    noop_commands = buck2.event_log(os.path.join(tmp, "events-noop-%s.json" % name))
    buck2.kill()
    shutil.rmtree(project, ignore_errors=True)
    return {"cold": cold, "noop": noop, "load": load, "actions": len(commands),
            "parallel": buck2_log.overlap(commands), "noop_actions": len(noop_commands)}


def bazel_overlap(profile):
    """(actions, most at once) from a Bazel JSON trace profile's action spans."""
    try:
        with open(profile) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return 0, 0
    events = data.get("traceEvents", data) if isinstance(data, dict) else data
    spans = [(e["ts"], e["ts"] + e["dur"], "", "") for e in events
             if isinstance(e, dict) and e.get("cat") == "action processing" and "dur" in e]
    return len(spans), buck2_log.overlap(spans)


def measure_bazel(tmp, count, round_, bazel_args):
    tag = "bazel-r%d-" % round_
    r = fs.measure(tmp, count, bazel_args, tag=tag)
    r["bazel"].shutdown()
    fs.remove_tree(r["bazel"].output_base)
    fs.remove_tree(r["workspace"])
    actions, parallel = bazel_overlap(os.path.join(tmp, "profile-%s%d.json" % (tag, count)))
    return {"cold": r["cold"], "noop": r["noop"], "load": r["load"], "actions": r["spawns"],
            "parallel": parallel, "profiled": actions, "noop_actions": r["noop_spawns"]}


def best(runs, key):
    return min(r[key] for r in runs)


def report(sizes, results):
    print("\n== cold build of N instances: bazel vs buck2 (best of %d interleaved rounds) ==" % len(results[sizes[0]]["bazel"]))
    print("%9s %6s %8s %8s %8s %9s %6s" % ("instances", "tool", "cold s", "no-op s", "actions", "parallel", "load"))
    for count in sizes:
        for tool in ("bazel", "buck2"):
            runs = results[count][tool]
            print("%9d %6s %8.1f %8.2f %8d %9d %6.1f" % (
                count, tool, best(runs, "cold"), best(runs, "noop"), runs[0]["actions"],
                max(r["parallel"] for r in runs), sum(r["load"] for r in runs) / len(runs)))
    print("actions: processes run (bazel: sandboxed spawns; buck2: local commands); parallel: the most")
    print("actions running at once (bazel: --profile action spans; buck2: event-log Execute stages);")
    print("load: mean 1-minute load average during the cold builds (%d CPUs)" % os.cpu_count())
    for count in sizes:
        bz, b2 = results[count]["bazel"], results[count]["buck2"]
        print("ratio buck2/bazel at %d: cold %.2fx, no-op %.2fx (no-op actions: bazel %d, buck2 %d)" % (
            count, best(b2, "cold") / best(bz, "cold"), best(b2, "noop") / best(bz, "noop"),
            max(r["noop_actions"] for r in bz), max(r["noop_actions"] for r in b2)))
        most = max(r["parallel"] for r in b2)
        verdict = "PASS" if most >= min(2, os.cpu_count() or 1) else "FAIL"
        print("target: buck2 runs the %d instances' actions concurrently: at most %d at once %s" % (count, most, verdict))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100", help="comma-separated fleet sizes")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per size (best is printed)")
    parser.add_argument("--buck2", help="buck2 binary (default: $BUCK2, ../shared/tools/buck2/buck2, PATH)")
    parser.add_argument("--fleet", default=os.path.join(fs.ROOT, "target", "release", "fleet"))
    parser.add_argument("--terraform", default=shutil.which("terraform") or "/usr/local/bin/terraform")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per build")
    parser.add_argument("--jobs", type=int, default=0, help="bazel --jobs and buck2 -j (default: each one's own)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    buck2 = find_buck2(args.buck2)
    if not buck2:
        sys.exit("buck2_scale: no buck2 (--buck2, $BUCK2, ../shared/tools/buck2/buck2 or PATH)")
    if not os.access(args.fleet, os.X_OK):
        sys.exit("buck2_scale: no helper at %s: run `cargo build --release` first" % args.fleet)
    version = json.loads(subprocess.run([args.terraform, "version", "-json"], capture_output=True,
                                        text=True, check=True).stdout)["terraform_version"]
    tmp = tempfile.mkdtemp(prefix="buck2-scale-")
    env = dict(os.environ, CHECKPOINT_DISABLE="1")
    for var in ("TF_CLI_CONFIG_FILE", "TF_DATA_DIR", "TF_WORKSPACE", "TF_PLUGIN_CACHE_DIR", "TF_CLI_ARGS",
                "BUILD_WORKSPACE_DIRECTORY", "RUNFILES_DIR"):
        env.pop(var, None)
    rules = os.path.join(tmp, "rules_fleet")
    shutil.copytree(fs.ROOT, rules, symlinks=True, ignore=fs.SNAPSHOT_IGNORE)
    helper = os.path.join(tmp, "fleet")
    shutil.copy(args.fleet, helper)
    bazel_args = dict(rules=rules, helper=helper, env=env, timeout=args.timeout, jobs=args.jobs)
    buck2_args = dict(rules=rules, helper=helper, env=env, timeout=args.timeout, jobs=args.jobs,
                      buck2=buck2, terraform=os.path.realpath(args.terraform), version=version)
    print("buck2_scale: buck2 %s, helper %s, terraform %s %s, %d CPUs, work dir %s" % (
        buck2, args.fleet, args.terraform, version, os.cpu_count(), tmp), flush=True)
    results = {count: {"bazel": [], "buck2": []} for count in sizes}
    try:
        for round_ in range(1, args.rounds + 1):
            for count in sizes:
                # Alternate who goes first, so neither always meets a cold file cache.
                order = ("bazel", "buck2") if round_ % 2 else ("buck2", "bazel")
                for tool in order:
                    print("round %d: %s builds %d instances cold, then no-op ..." % (round_, tool, count), flush=True)
                    if tool == "bazel":
                        results[count]["bazel"].append(measure_bazel(tmp, count, round_, bazel_args))
                    else:
                        results[count]["buck2"].append(measure_buck2(tmp, count, round_, buck2_args))
        report(sizes, results)
    finally:
        if args.keep:
            print("kept %s" % tmp)
        else:
            fs.remove_tree(tmp)


if __name__ == "__main__":
    main()
