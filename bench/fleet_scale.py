#!/usr/bin/env python3
"""Scale benchmark of the Terraform rules (issue 3): `bazel build` of fleets of
12, 100 and 1,000 instances, and the seed's naive parallel apply next to the
fleet's.

For each size N a temporary workspace modelled on e2e/terraform is generated
(local_repository to a snapshot of this checkout taken at start, so edits made
to the tree while the benchmark runs neither break nor invalidate it; the
elasticache-like component built on terraform_data; `tf_instances` with N
entries) and built with a fresh output base:

  cold    `bazel build //infra/...` on a new output base: JVM start, external
          repositories, loading, analysis, N renders + N validations
  no-op   the same build again on the same server

A fleet of one instance, built the same way in the same run, is the fixed
overhead. The per-instance cost is the marginal one:

  per-instance(N) = (cold(N) - cold(1)) / (N - 1)

Target (informational PASS/FAIL): per-instance(1000) <= 1.5 x per-instance(100).
The same ratio from CPU time (the server's and its actions') and the load
average during each build are printed next to it: other work on the machine
inflates wall time, not CPU time.

Then 12 applies are started at once two ways:

  naive   the seed's Test 4 shape (shared/seeds/atmos-parallel-instances.txt):
          one shared working directory; each of 12 background processes
          writes its instance's generated files into it (backend.tf.json with
          its own local state path, <instance>.terraform.tfvars.json), then
          runs `terraform init -reconfigure` and `terraform apply
          -auto-approve -var-file=...`; `wait`
  fleet   12 concurrent `bazel run //infra/elasticache:redis-cluster-N.apply`,
          and, when the rules have tf_fleet, `bazel run
          //infra/elasticache:redis.apply -- --parallelism 12` (`fleet run`)

and for each: how many failed, how many state files are left, and how many
of them hold their own instance's values.

With `--baseline REV` (a git revision of this repository, e.g. `main`) every
size is built twice in the same run, interleaved so both see the same load:
with the rules of REV (exported with `git archive`) and with the rules of this
checkout; the per-instance cost of each and their ratio are printed (issue 10:
the mock-provider plan per instance against the old per-instance validate).
REV's rules run with the same helper unless `--baseline-fleet` names another.

Usage: bench/fleet_scale.py [--sizes 12,100] [--fleet PATH]
                            [--baseline REV] [--baseline-fleet PATH]
                            [--terraform PATH] [--timeout SECS] [--jobs N]
                            [--skip-applies] [--keep]
  (--sizes 12,100,1000 adds the 1,000-instance fleet: about 10 minutes per build.)
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPONENT_TF = os.path.join(ROOT, "e2e", "terraform", "infra", "elasticache", "main.tf")
# Not part of the rule set: left out of the snapshot.
SNAPSHOT_IGNORE = shutil.ignore_patterns(".git", "target", "e2e", "bench", "bazel-*", ".fleet")
APPLIES = 12  # the seed's twelve ElastiCache clusters

WORKSPACE = """workspace(name = "fleet_scale")

local_repository(
    name = "rules_fleet",
    path = "{root}",
)

load("@rules_fleet//rules:repositories.bzl", "rules_fleet_dependencies", "terraform_local_toolchain")

rules_fleet_dependencies()

terraform_local_toolchain()
"""

MODULE = """module(name = "fleet_scale")

bazel_dep(name = "rules_fleet", version = "0.1.0")
local_path_override(
    module_name = "rules_fleet",
    path = "{root}",
)

fleet = use_extension("@rules_fleet//rules:extensions.bzl", "fleet")
fleet.terraform_local()
use_repo(fleet, "terraform")

register_toolchains("@terraform//:toolchain")
"""

# No disk cache: every size's cold build really runs its actions.
BAZELRC = """startup --host_jvm_args=-Xmx3g
build --symlink_prefix=/
build --disk_cache=
"""

BUILD = """load("@rules_fleet//rules:defs.bzl", "tf_component", "tf_instances")

tf_component(
    name = "elasticache",
    srcs = ["main.tf"],
)

tf_instances(
    name = "redis",
    common = {{
        "vars": {{
            "node_type": "cache.t4g.small",
            "tags": {{"team": "platform"}},
        }},
    }},
    component = ":elasticache",
    instances = {{
        "redis-cluster-%d" % n: {{
            "vars": {{
                "cluster_id": "redis-cluster-%d" % n,
                "num_shards": 1 + n % 3,
            }},
        }}
        for n in range(1, {count} + 1)
    }},
)
"""

# The seed's loop: every process writes its generated files into the one
# shared directory, then inits and applies there. $1 = terraform, $2 = logs.
NAIVE_LOOP = """
terraform="$1"
logs="$2"
pids=()
for n in $(seq 1 {count}); do
  (
    name="redis-cluster-$n"
    printf '{{"terraform":{{"backend":{{"local":{{"path":"%s.tfstate"}}}}}}}}\\n' "$name" >backend.tf.json
    printf '{{"cluster_id":"%s","node_type":"cache.t4g.small","num_shards":%d,"tags":{{"team":"platform"}}}}\\n' \\
      "$name" $((1 + n % 3)) >"$name.terraform.tfvars.json"
    "$terraform" init -input=false -reconfigure -no-color &&
      "$terraform" apply -auto-approve -input=false -no-color -var-file="$name.terraform.tfvars.json"
  ) >"$logs/redis-cluster-$n.log" 2>&1 &
  pids+=($!)
done
for i in "${{!pids[@]}}"; do
  status=0
  wait "${{pids[$i]}}" || status=$?
  echo "$status" >"$logs/redis-cluster-$((i + 1)).status"
done
"""


def instance_names(count):
    return ["redis-cluster-%d" % n for n in range(1, count + 1)]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def make_workspace(path, count, rules):
    write(os.path.join(path, "WORKSPACE"), WORKSPACE.format(root=rules))
    write(os.path.join(path, "WORKSPACE.bzlmod"), 'workspace(name = "fleet_scale")\n')
    write(os.path.join(path, "MODULE.bazel"), MODULE.format(root=rules))
    write(os.path.join(path, ".bazelrc"), BAZELRC)
    write(os.path.join(path, ".bazelignore"), ".fleet\n")
    write(os.path.join(path, "BUILD.bazel"), "")
    write(os.path.join(path, "infra", "elasticache", "BUILD.bazel"), BUILD.format(count=count))
    shutil.copy(COMPONENT_TF, os.path.join(path, "infra", "elasticache", "main.tf"))


def remove_tree(path):
    """Removes a tree Bazel left read-only."""
    if not os.path.exists(path):
        return
    for parent, dirs, _ in os.walk(path):
        for d in dirs:
            full = os.path.join(parent, d)
            if not os.path.islink(full):
                try:
                    os.chmod(full, 0o755)
                except OSError:
                    pass
    shutil.rmtree(path, ignore_errors=True)


class Bazel:
    """tools/bazelw in one workspace, on its own output base."""

    def __init__(self, workspace, output_base, rules, helper, env, timeout, jobs, startup=()):
        self.bazelw = os.path.join(rules, "tools", "bazelw")
        self.startup = list(startup)
        self.workspace = workspace
        self.output_base = output_base
        self.helper = helper
        self.env = env
        self.timeout = timeout
        self.jobs = jobs
        self.running = False

    def command(self, verb, *args):
        cmd = [self.bazelw, "--output_base=" + self.output_base] + self.startup + [verb]
        if verb in ("build", "run"):
            cmd.append("--repo_env=FLEET_HELPER=" + self.helper)
            if self.jobs:
                cmd.append("--jobs=%d" % self.jobs)
        return cmd + list(args)

    def popen(self, log, verb, *args):
        self.running = True
        out = open(log, "w")
        try:
            return subprocess.Popen(self.command(verb, *args), cwd=self.workspace, env=self.env,
                                    stdout=out, stderr=subprocess.STDOUT)
        finally:
            out.close()

    def timed(self, log, verb, *args):
        """Runs one command; returns (exit status, wall seconds, mean 1-minute load average
        sampled while it ran). Fails the benchmark on timeout."""
        start = time.monotonic()
        proc = self.popen(log, verb, *args)
        loads = []
        while True:
            loads.append(os.getloadavg()[0])
            try:
                status = proc.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() - start > self.timeout:
                    proc.kill()
                    proc.wait()
                    self.shutdown()
                    sys.exit("fleet_scale: `bazel %s` in %s timed out after %ds (see %s)" % (
                        verb, self.workspace, self.timeout, log))
        return status, time.monotonic() - start, sum(loads) / len(loads)

    def server_cpu(self):
        """CPU seconds used so far by the server JVM and the actions it has reaped
        (utime + stime + cutime + cstime): unlike wall time, barely moved by other
        load on the machine."""
        try:
            with open(os.path.join(self.output_base, "server", "server.pid.txt")) as f:
                pid = int(f.read().strip())
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            return float("nan")
        # Fields 14-17 of /proc/PID/stat; [0] here is field 3.
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")

    def shutdown(self):
        if not self.running:
            return
        self.running = False
        subprocess.run(self.command("shutdown"), cwd=self.workspace, env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)


def profile_phases(path):
    """Seconds spent in each build phase, from a JSON trace profile (--profile)."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    events = data.get("traceEvents", data) if isinstance(data, dict) else data
    markers = sorted((e["ts"], e["name"]) for e in events
                     if isinstance(e, dict) and e.get("cat") == "build phase marker" and "ts" in e)
    end = max((e.get("ts", 0) + e.get("dur", 0) for e in events if isinstance(e, dict)), default=0)
    phases = {}
    for i, (ts, name) in enumerate(markers):
        stop = markers[i + 1][0] if i + 1 < len(markers) else end
        phases[name] = phases.get(name, 0.0) + (stop - ts) / 1e6
    return phases


def log_field(log, pattern):
    with open(log) as f:
        found = re.findall(pattern, f.read())
    return found[-1] if found else None


def spawns(log):
    """Actions that ran a process (all but "internal") from `INFO: N processes: ...`."""
    line = log_field(log, r"INFO: \d+ process(?:es)?: ([^\n]*)")
    if not line:
        return 0
    return sum(int(n) for n, kind in re.findall(r"(\d+) ([\w-]+)", line) if kind != "internal")


def measure(tmp, count, bazel_args, tag=""):
    """Builds a fresh fleet of `count` instances cold, then again (no-op)."""
    name = "%s%d" % (tag, count)
    workspace = os.path.join(tmp, "ws-%s" % name)
    make_workspace(workspace, count, bazel_args["rules"])
    bazel = Bazel(workspace, os.path.join(tmp, "ob-%s" % name), **bazel_args)
    profile = os.path.join(tmp, "profile-%s.json" % name)
    cold_log = os.path.join(tmp, "build-cold-%s.log" % name)
    status, cold, load = bazel.timed(cold_log, "build", "--profile=" + profile, "//infra/...")
    cpu = bazel.server_cpu()
    if status != 0:
        bazel.shutdown()
        sys.exit("fleet_scale: cold build of %d instances failed (exit %d), see %s" % (count, status, cold_log))
    noop_log = os.path.join(tmp, "build-noop-%s.log" % name)
    status, noop, _ = bazel.timed(noop_log, "build", "//infra/...")
    if status != 0:
        bazel.shutdown()
        sys.exit("fleet_scale: no-op build of %d instances failed (exit %d), see %s" % (count, status, noop_log))
    return {
        "count": count,
        "load": load,
        "cpu": cpu,
        "cold": cold,
        "noop": noop,
        "phases": profile_phases(profile),
        "targets": log_field(cold_log, r"Analyzed (\d+) targets"),
        "spawns": spawns(cold_log),
        "noop_spawns": spawns(noop_log),
        "bazel": bazel,
        "workspace": workspace,
    }


# Bazel's phase markers, grouped: server start, loading + analysis, execution.
PHASE_GROUPS = {
    "Launch Blaze": "start",
    "Initialize command": "start",
    "Evaluate target patterns": "analysis",
    "Load and analyze dependencies": "analysis",
    "Analyze licenses": "analysis",
    "Prepare for build": "execution",
    "Build artifacts": "execution",
    "Complete build": "execution",
}


def phase_summary(phases):
    """Seconds of start, loading + analysis and execution from the profile's phase markers."""
    groups = {"start": 0.0, "analysis": 0.0, "execution": 0.0}
    for name, seconds in phases.items():
        groups[PHASE_GROUPS.get(name, "execution")] += seconds
    return groups


def marginal(results, count, key):
    """(value(N) - value(1)) / (N - 1): the cost of one more instance."""
    return (results[count][key] - results[1][key]) / (count - 1)


def print_builds(results, sizes, title="this checkout"):
    print("\n== %s: bazel build //infra/... (fresh output base; the JVM start is part of cold) ==" % title)
    print("%9s %8s %7s %8s %7s %9s %8s %8s %12s %10s %8s %12s %6s" % (
        "instances", "targets", "spawns", "cold s", "start s", "load+an s", "exec s", "no-op s",
        "per-inst ms", "cold/N ms", "cpu s", "cpu/inst ms", "load"))
    for count in [1] + sizes:
        r = results[count]
        phase = phase_summary(r["phases"])
        wall = cpu = "-"
        if count > 1:
            wall = "%.1f" % (1000 * marginal(results, count, "cold"))
            cpu = "%.1f" % (1000 * marginal(results, count, "cpu"))
        print("%9d %8s %7d %8.1f %7.1f %9.1f %8.1f %8.2f %12s %10.1f %8.1f %12s %6.1f" % (
            count, r["targets"], r["spawns"], r["cold"], phase["start"], phase["analysis"],
            phase["execution"], r["noop"], wall, 1000 * r["cold"] / count, r["cpu"], cpu, r["load"]))
    print("per-inst = (cold(N) - cold(1)) / (N - 1), cold(1) = %.1fs being the fixed overhead;" % results[1]["cold"])
    print("spawns = sandboxed actions run (render + check per instance); start = JVM launch + command init;")
    print("load+an = target patterns + loading + analysis; exec = execution (profile phase markers);")
    print("cpu = CPU seconds of the server and its actions in the cold build, cpu/inst its marginal cost;")
    print("load = mean 1-minute load average during the cold build (%d CPUs)" % os.cpu_count())
    print("actions run by the no-op builds: %s" % ", ".join(
        "%d: %s" % (c, results[c]["noop_spawns"]) for c in sizes))
    for small, large in zip(sizes, sizes[1:]):
        print("per-instance cost %d vs %d: wall %.2fx, cpu %.2fx" % (
            large, small, marginal(results, large, "cold") / marginal(results, small, "cold"),
            marginal(results, large, "cpu") / marginal(results, small, "cpu")))
    if 100 in sizes and 1000 in sizes:
        ratio = marginal(results, 1000, "cold") / marginal(results, 100, "cold")
        print("target: per-instance cost (wall) at 1,000 <= 1.5x the cost at 100: %.2fx %s" % (
            ratio, "PASS" if ratio <= 1.5 else "FAIL"))
    else:
        print("target: per-instance cost at 1,000 <= 1.5x at 100: not measured (needs sizes 100 and 1000)")
    print("profile phases (s):")
    for count in [1] + sizes:
        phases = results[count]["phases"]
        print("  %5d: %s" % (count, ", ".join("%s %.1f" % kv for kv in phases.items()) or "no profile"))


def print_comparison(baseline, results, sizes, rev):
    """Per-instance cost of this checkout's rules against REV's, measured in the same run."""
    print("\n== per-instance cold build cost: this checkout vs %s (same run, interleaved) ==" % rev)
    print("%9s %14s %14s %8s %14s %14s %8s" % (
        "instances", rev + " ms", "now ms", "ratio", rev + " cpu ms", "now cpu ms", "ratio"))
    for count in sizes:
        old_wall, new_wall = marginal(baseline, count, "cold"), marginal(results, count, "cold")
        old_cpu, new_cpu = marginal(baseline, count, "cpu"), marginal(results, count, "cpu")
        print("%9d %14.1f %14.1f %7.2fx %14.1f %14.1f %7.2fx" % (
            count, 1000 * old_wall, 1000 * new_wall, new_wall / old_wall,
            1000 * old_cpu, 1000 * new_cpu, new_cpu / old_cpu))
    print("ratio = now / %s; below 1.00x the check costs less than what it replaced" % rev)


def snapshot_revision(rev, dest):
    """The rules of git revision `rev` of this repository, exported into `dest`."""
    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", rev],
                             stdout=subprocess.PIPE, check=False)
    if archive.returncode != 0:
        sys.exit("fleet_scale: git archive %s failed" % rev)
    subprocess.run(["tar", "-x", "-C", dest, "--exclude=e2e", "--exclude=bench"],
                   input=archive.stdout, check=True)


def state_values(path):
    """(lineage, cluster_id stored by terraform_data) of a state file, or None."""
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    cluster = None
    for resource in state.get("resources", []):
        if resource.get("type") == "terraform_data":
            try:
                cluster = resource["instances"][0]["attributes"]["input"]["value"]["cluster_id"]
            except (KeyError, IndexError, TypeError):
                pass
    return state.get("lineage"), cluster


def judge_states(paths_by_name):
    """paths_by_name: state path -> instance it belongs to. Returns counts."""
    own = foreign = empty = 0
    lineages = set()
    strays = []
    for path, name in paths_by_name.items():
        values = state_values(path)
        if values is None:
            continue
        lineages.add(values[0])
        if values[1] == name:
            own += 1
        elif values[1] is None:
            empty += 1
        else:
            foreign += 1
            strays.append("%s holds %s's values" % (os.path.basename(path), values[1]))
    return {"files": len(paths_by_name), "own": own, "foreign": foreign, "empty": empty,
            "lineages": len(lineages), "strays": strays}


def first_errors(logs):
    """Tally of the first `Error:` line of each failed run's log."""
    tally = {}
    for log in logs:
        with open(log, errors="replace") as f:
            match = re.search(r"^(?:│ )?Error: (.*)$", f.read(), re.M)
        reason = match.group(1).strip()[:90] if match else "no Error: line"
        tally[reason] = tally.get(reason, 0) + 1
    return tally


def naive_loop(tmp, terraform, env, timeout):
    shared = os.path.join(tmp, "naive", "elasticache")
    logs = os.path.join(tmp, "naive", "logs")
    os.makedirs(logs)
    os.makedirs(shared)
    shutil.copy(COMPONENT_TF, os.path.join(shared, "main.tf"))
    start = time.monotonic()
    subprocess.run(["bash", "-c", NAIVE_LOOP.format(count=APPLIES), "naive", terraform, logs],
                   cwd=shared, env=env, timeout=timeout, check=True)
    wall = time.monotonic() - start
    failed_logs = []
    for name in instance_names(APPLIES):
        with open(os.path.join(logs, name + ".status")) as f:
            if f.read().strip() != "0":
                failed_logs.append(os.path.join(logs, name + ".log"))
    states = {path: os.path.basename(path)[:-len(".tfstate")]
              for path in glob.glob(os.path.join(shared, "*.tfstate"))}
    result = judge_states(states)
    result.update(wall=wall, failed=len(failed_logs), errors=first_errors(failed_logs))
    return result


def fleet_states(fleet_root):
    """State files under a fleet root -> the instance whose run directory holds them."""
    run_dirs = os.path.join(fleet_root, "infra", "elasticache")
    states = {}
    for path in glob.glob(os.path.join(fleet_root, "**", "*.tfstate"), recursive=True):
        if "/.terraform-data/" in path:
            continue
        rel = os.path.relpath(path, run_dirs).split(os.sep)
        states[path] = rel[0] if len(rel) == 2 else path
    return states


def fleet_bazel_runs(tmp, bazel, workspace, timeout):
    """12 `bazel run <instance>.apply` started at once, like the seed's loop."""
    logs = os.path.join(tmp, "fleet-logs")
    os.makedirs(logs)
    start = time.monotonic()
    procs = [bazel.popen(os.path.join(logs, name + ".log"), "run",
                         "//infra/elasticache:%s.apply" % name, "--", "-auto-approve", "-no-color")
             for name in instance_names(APPLIES)]
    failed_logs = []
    for name, proc in zip(instance_names(APPLIES), procs):
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = proc.wait()
        if status != 0:
            failed_logs.append(os.path.join(logs, name + ".log"))
    wall = time.monotonic() - start
    result = judge_states(fleet_states(os.path.join(workspace, ".fleet")))
    result.update(wall=wall, failed=len(failed_logs), errors=first_errors(failed_logs))
    return result


def fleet_run(tmp, bazel, timeout):
    """`bazel run //infra/elasticache:redis.apply` (tf_fleet: `fleet run`), in its own fleet root.

    Returns None when the rules have no fleet target."""
    query = bazel.popen(os.path.join(tmp, "query-fleet.log"), "query", "//infra/elasticache:redis.apply")
    if query.wait(timeout=timeout) != 0:
        return None
    fleet_root = os.path.join(tmp, "fleet-run-root")
    report = os.path.join(tmp, "fleet-run-report.json")
    log = os.path.join(tmp, "fleet-run.log")
    start = time.monotonic()
    proc = bazel.popen(log, "run", "//infra/elasticache:redis.apply", "--", "--parallelism", str(APPLIES),
                       "--fleet-root", fleet_root, "--report", report)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    wall = time.monotonic() - start
    try:
        with open(report) as f:
            counts = json.load(f)["counts"]
        failed = APPLIES - counts["succeeded"]
    except (OSError, ValueError, KeyError):
        failed = APPLIES
    result = judge_states(fleet_states(fleet_root))
    result.update(wall=wall, failed=failed, errors=first_errors([log]) if failed else {})
    return result


def print_applies(label, r):
    print("%s\n    %2d/%d failed, %2d state files: %2d with their own instance's values, "
          "%d with another's, %d empty; %d distinct lineages  (%.1fs)" % (
              label, r["failed"], APPLIES, r["files"], r["own"], r["foreign"], r["empty"],
              r["lineages"], r["wall"]))
    for reason, n in sorted(r["errors"].items(), key=lambda kv: -kv[1]):
        print("    %2d x Error: %s" % (n, reason))
    for stray in r["strays"]:
        print("    %s" % stray)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="12,100", help="comma-separated fleet sizes (add 1000 on a quiet machine)")
    parser.add_argument("--baseline", metavar="REV", help="also build every size with the rules of this git revision")
    parser.add_argument("--baseline-fleet", metavar="PATH", help="helper for the baseline's rules (default: --fleet)")
    parser.add_argument("--fleet", default=os.path.join(ROOT, "target", "release", "fleet"),
                        help="helper binary, passed as --repo_env=FLEET_HELPER")
    parser.add_argument("--terraform", default="/usr/local/bin/terraform")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per bazel command")
    parser.add_argument("--jobs", type=int, default=0, help="bazel --jobs (default: bazel's own)")
    parser.add_argument("--skip-applies", action="store_true", help="only the build measurements")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or sizes[0] < 2:
        parser.error("--sizes takes sizes of 2 or more (a 1-instance fleet is the baseline)")
    if not os.access(args.fleet, os.X_OK):
        sys.exit("fleet_scale: no helper at %s: run `cargo build --release` first" % args.fleet)
    if not os.access(args.terraform, os.X_OK):
        sys.exit("fleet_scale: no terraform at %s" % args.terraform)

    tmp = tempfile.mkdtemp(prefix="fleet-scale-")
    cli_config = os.path.join(tmp, "terraformrc")
    write(cli_config, "")
    env = dict(os.environ, TF_CLI_CONFIG_FILE=cli_config, CHECKPOINT_DISABLE="1")
    for var in ("TF_DATA_DIR", "TF_WORKSPACE", "TF_PLUGIN_CACHE_DIR", "TF_CLI_ARGS",
                "BUILD_WORKSPACE_DIRECTORY", "RUNFILES_DIR"):
        env.pop(var, None)
    rules = os.path.join(tmp, "rules_fleet")
    shutil.copytree(ROOT, rules, symlinks=True, ignore=SNAPSHOT_IGNORE)
    # The helper too: a rebuild of target/release/fleet mid-run must not change the runs.
    helper = os.path.join(tmp, "fleet")
    shutil.copy(args.fleet, helper)
    bazel_args = dict(rules=rules, helper=helper, env=env, timeout=args.timeout, jobs=args.jobs)
    baseline_args = None
    if args.baseline:
        baseline_rules = os.path.join(tmp, "rules_fleet_baseline")
        snapshot_revision(args.baseline, baseline_rules)
        baseline_helper = os.path.join(tmp, "fleet-baseline")
        shutil.copy(args.baseline_fleet or args.fleet, baseline_helper)
        baseline_args = dict(bazel_args, rules=baseline_rules, helper=baseline_helper)
    print("fleet_scale: helper %s, terraform %s, %d CPUs, work dir %s" % (
        args.fleet, args.terraform, os.cpu_count(), tmp), flush=True)

    results = {}
    baseline = {}
    kept = None
    try:
        # Discarded: warms the OS file cache (Bazel's install base, terraform) so
        # the baseline pays the same as every size after it.
        print("warm-up build (not counted) ...", flush=True)
        warm = measure(os.path.join(tmp, "warm-up"), 1, bazel_args)
        warm["bazel"].shutdown()
        remove_tree(os.path.join(tmp, "warm-up"))
        for count in [1] + sizes:
            if baseline_args:
                print("building %d instance(s) cold, then no-op, with the rules of %s ..." % (
                    count, args.baseline), flush=True)
                b = measure(tmp, count, baseline_args, tag="baseline-")
                b["bazel"].shutdown()
                remove_tree(b["bazel"].output_base)
                baseline[count] = b
            print("building %d instance(s) cold, then no-op ..." % count, flush=True)
            r = measure(tmp, count, bazel_args)
            results[count] = r
            if count == APPLIES and not args.skip_applies:
                kept = r  # its server stays up for the fleet's applies
            else:
                r["bazel"].shutdown()
                remove_tree(r["bazel"].output_base)

        if baseline_args:
            print_builds(baseline, sizes, title="rules of %s" % args.baseline)
        print_builds(results, sizes)
        if baseline_args:
            print_comparison(baseline, results, sizes, args.baseline)

        if not args.skip_applies:
            print("\n== %d applies started at once ==" % APPLIES, flush=True)
            naive = naive_loop(tmp, args.terraform, env, timeout=args.timeout)
            if kept is None:
                kept = measure(tmp, APPLIES, bazel_args)
            runs = fleet_bazel_runs(tmp, kept["bazel"], kept["workspace"], args.timeout)
            fleet = fleet_run(tmp, kept["bazel"], args.timeout)
            print_applies("naive loop, one shared directory:", naive)
            print_applies("rules_fleet, 12 x bazel run redis-cluster-N.apply:", runs)
            if fleet is None:
                print("rules_fleet, bazel run redis.apply (fleet run): no tf_fleet target in these rules")
            else:
                print_applies("rules_fleet, bazel run redis.apply (fleet run --parallelism 12):", fleet)
    finally:
        if kept is not None:
            kept["bazel"].shutdown()
        for r in results.values():
            r["bazel"].shutdown()
        if args.keep:
            print("kept %s" % tmp)
        else:
            remove_tree(tmp)


if __name__ == "__main__":
    main()
