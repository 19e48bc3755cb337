#!/usr/bin/env python3
"""Benchmark of `fleet run` (issues 4 and 14) against the seed's working
workaround, side by side in one run, best of --rounds (3) interleaved (the
side that goes first alternates), machine load printed beside each result.

Sides:
  fleet       `fleet run --action A --parallelism P` on a manifest of N
              instances (what the tf_fleet target runs)
  workaround  the seed's working workaround (shared/seeds/atmos-parallel-
              instances.txt): one shared component directory, a workspace and
              a TF_DATA_DIR per instance, TF_PLUGIN_CACHE_DIR, one pre-init,
              then `init && <action>` of every instance in the background and
              `wait` (capped at P concurrent with xargs -P when P < N)
  serial      (cold apply 12 only) `terraform init && terraform apply`, one
              instance after the other, each in its own directory

Scenarios and the issue's targets (informational PASS/FAIL):
  cold apply   12 at 12 and 100 at 25, each create a simulated --latency s
               (terraform_data + local-exec sleep): fleet <= 0.95x workaround;
               physical limit = latency x ceil(N / P)
  warm plan    40 and 100 unchanged instances, builtin-only component, all
               at once: fleet <= 0.5x workaround (which runs init + plan);
               physical limit = the same plans with nothing else (one
               `terraform plan` per instance on the workaround's initialised
               data directories, same parallelism, with the Go GC settings
               fleet gives terraform); printed beside it: the same with Go's
               defaults, and the workaround given fleet's GC settings (what
               fleet gains by running one process instead of two)
  warm plan    12 instances using the fleettest provider packaged with
               --pad-mb (100) MiB of padding (e2e/provider/package.sh):
               fleet <= 0.3x workaround (which installs from a filesystem
               mirror through its plugin cache); printed beside it: the
               plans alone with the same provider binary unpadded, what
               terraform's own check of the package (every `plan` hashes it
               against the lock file) costs

Both sides hold the same state: warm scenarios apply every instance on both
sides first (untimed), then plan once untimed (fleet records its inits).
Terraform processes per instance come from fleet's JSON report (the
workaround runs init + action: 2). Wall times are per round; the ratios use
each side's best round.

Usage: bench/runner_bench.py [--fleet PATH] [--terraform PATH] [--latency S]
         [--rounds N] [--only cold,warm,provider] [--sizes-cold 12@12,100@25]
         [--sizes-warm 40,100] [--provider-instances 12] [--pad-mb N]
         [--provider-binary PATH] [--skip-serial]
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

COMPONENT = """
variable "name" {{
  type = string
}}
resource "terraform_data" "cluster" {{
  input = var.name
  provisioner "local-exec" {{
    command = "sleep {latency}"
  }}
}}
output "id" {{
  value = terraform_data.cluster.id
}}
"""

SOURCE = "fleet.test/rules-fleet/fleettest"
VERSION = "0.1.0"

PROVIDER_COMPONENT = """
terraform {
  required_providers {
    fleettest = {
      source  = "%s"
      version = "%s"
    }
  }
}
variable "name" {
  type = string
}
resource "fleettest_record" "cluster" {
  name = var.name
}
output "id" {
  value = fleettest_record.cluster.id
}
""" % (SOURCE, VERSION)

LOCK = """# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "%s" {
  version     = "%s"
  constraints = "%s"
  hashes = [
    "%s",
    "%s",
  ]
}
"""


def base_env(tmp):
    rc = os.path.join(tmp, "bench.terraformrc")
    with open(rc, "w") as f:
        f.write("disable_checkpoint = true\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TF_") and not k.startswith("FLEET") and k not in ("GOGC", "GOMEMLIMIT")}
    # The fleettest provider refuses to configure without a token.
    env.update(TF_CLI_CONFIG_FILE=rc, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1", FLEETTEST_TOKEN="bench")
    for var in ("BUILD_WORKSPACE_DIRECTORY", "RUNFILES_DIR"):
        env.pop(var, None)
    return env


def names(n):
    return ["redis-cluster-%d" % i for i in range(1, n + 1)]


def load():
    return os.getloadavg()[0]


class Fleet:
    """A manifest of N instances and its workspace, driven by `fleet run`."""

    def __init__(self, args, tmp, n, component, env, provider=None):
        self.args, self.tmp, self.n, self.env = args, tmp, n, env
        self.runfiles = os.path.join(tmp, "runfiles")
        self.workspace = os.path.join(tmp, "ws")
        self.store = os.path.join(tmp, "store")
        os.makedirs(self.workspace)
        instances = []
        for name in names(n):
            rendered = os.path.join(self.runfiles, "infra", name + ".rendered")
            os.makedirs(rendered)
            with open(os.path.join(rendered, "main.tf"), "w") as f:
                f.write(component)
            with open(os.path.join(rendered, "backend.tf.json"), "w") as f:
                json.dump({"terraform": {"backend": {"local": {"path": "terraform.tfstate"}}}}, f)
            with open(os.path.join(rendered, "terraform.tfvars.json"), "w") as f:
                json.dump({"name": name}, f)
            entry = {"label": "//infra:" + name, "name": name,
                     "rendered": "infra/%s.rendered" % name, "run_dir": "infra/" + name}
            if provider:
                with open(os.path.join(rendered, ".terraform.lock.hcl"), "w") as f:
                    f.write(provider["lock"])
                entry["providers"] = [provider["package"]]
            instances.append(entry)
        if provider:
            os.symlink(provider["zip"], os.path.join(self.runfiles, os.path.basename(provider["zip"])))
        self.manifest = os.path.join(tmp, "manifest.json")
        with open(self.manifest, "w") as f:
            json.dump({"schema": 1, "target": "//infra:fleet", "terraform": args.terraform,
                       "instances": instances}, f)
        self.report_path = os.path.join(tmp, "report.json")

    def run(self, action, parallelism):
        """Returns (wall, report)."""
        cmd = [self.args.fleet, "run", "--action", action, "--manifest", self.manifest,
               "--runfiles", self.runfiles, "--workspace-root", self.workspace, "--store", self.store,
               "--parallelism", str(parallelism), "--report", self.report_path]
        start = time.monotonic()
        proc = subprocess.run(cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wall = time.monotonic() - start
        if proc.returncode != 0:
            sys.exit("fleet run --action %s failed (exit %d):\n%s" % (
                action, proc.returncode, proc.stdout.decode(errors="replace")[-3000:]))
        with open(self.report_path) as f:
            return wall, json.load(f)

    def states(self):
        return sum(1 for name in names(self.n) if state_has_resource(
            os.path.join(self.workspace, ".fleet", "infra", name, "terraform.tfstate")))


def processes_per_instance(report):
    """Terraform processes per instance from the report (None if it has no counts)."""
    counts = [i.get("terraform_processes") for i in report["instances"]]
    if not counts or any(c is None for c in counts):
        return None
    return sum(counts) / len(counts)


def state_has_resource(path):
    try:
        with open(path) as f:
            return len(json.load(f).get("resources", [])) == 1
    except (OSError, ValueError):
        return False


class Workaround:
    """The seed's workaround: one shared directory, TF_DATA_DIR + workspace per instance."""

    def __init__(self, args, tmp, n, component, env, lock=None):
        self.args, self.n, self.env = args, n, env
        self.comp = os.path.join(tmp, "component")
        os.makedirs(self.comp)
        with open(os.path.join(self.comp, "main.tf"), "w") as f:
            f.write(component)
        if lock:
            with open(os.path.join(self.comp, ".terraform.lock.hcl"), "w") as f:
                f.write(lock)
        self.data = os.path.join(tmp, "tf-data")
        self.logs = os.path.join(tmp, "logs")
        os.makedirs(self.logs)
        self.env = dict(env, TF_PLUGIN_CACHE_DIR=os.path.join(tmp, "plugin-cache"))
        os.makedirs(self.env["TF_PLUGIN_CACHE_DIR"])

    def _script(self, steps, parallelism, pre_init):
        tf = self.args.terraform
        env = 'TF_DATA_DIR="%s/$1" TF_WORKSPACE="$1"' % self.data
        one = " && ".join('%s %s %s >>"%s/$1.log" 2>&1' % (env, tf, step, self.logs) for step in steps)
        pre = ""
        if pre_init:
            pre = 'TF_DATA_DIR="%s/%s" %s init -input=false -no-color >/dev/null\n' % (
                self.data, names(self.n)[0], tf)
        if parallelism >= self.n:
            body = "".join("one %s &\n" % name for name in names(self.n))
            body += "fail=0\nfor p in $(jobs -p); do wait $p || fail=1; done\nexit $fail\n"
        else:
            body = "printf '%%s\\n' %s | xargs -P %d -I{} bash -c '%s' _ {}\n" % (
                " ".join(names(self.n)), parallelism, one.replace("'", "'\\''"))
        return "set -e\ncd %s\none() { %s; }\n%s%s" % (self.comp, one, pre, body)

    def run(self, steps, parallelism, pre_init=False):
        script = self._script(steps, parallelism, pre_init)
        start = time.monotonic()
        subprocess.run(["bash", "-c", script], env=self.env, check=True)
        return time.monotonic() - start

    def apply(self, parallelism, pre_init=True):
        return self.run(["init -input=false -no-color",
                         'apply -auto-approve -input=false -no-color -var "name=$1"'], parallelism, pre_init)

    def plan(self, parallelism):
        return self.run(["init -input=false -no-color", self._plan_step()], parallelism)

    def plan_only(self, parallelism):
        """The floor: the same plans, nothing else (data dirs already initialised)."""
        return self.run([self._plan_step()], parallelism)

    def with_env(self, extra):
        """The same workaround with `extra` in terraform's environment."""
        other = Workaround.__new__(Workaround)
        other.__dict__.update(self.__dict__)
        other.env = dict(self.env, **extra)
        return other

    def _plan_step(self):
        return 'plan -input=false -no-color -var "name=$1" -out="%s/$1.tfplan"' % self.logs

    def states(self):
        return sum(1 for name in names(self.n) if state_has_resource(
            os.path.join(self.comp, "terraform.tfstate.d", name, "terraform.tfstate")))


def run_serial(args, tmp, n, env):
    dirs = []
    for name in names(n):
        d = os.path.join(tmp, "serial", name)
        os.makedirs(d)
        with open(os.path.join(d, "main.tf"), "w") as f:
            f.write(COMPONENT.format(latency=args.latency))
        dirs.append((name, d))
    start = time.monotonic()
    for name, d in dirs:
        e = dict(env, TF_DATA_DIR=os.path.join(d, ".terraform"))
        subprocess.run([args.terraform, "init", "-input=false", "-no-color"], cwd=d, env=e,
                       stdout=subprocess.DEVNULL, check=True)
        subprocess.run([args.terraform, "apply", "-auto-approve", "-input=false", "-no-color",
                        "-var", "name=" + name], cwd=d, env=e, stdout=subprocess.DEVNULL, check=True)
    return time.monotonic() - start


def verdict(ok):
    return "PASS" if ok else "FAIL"


def rounds_of(args, measure):
    """Runs `measure(round, side)` for both sides, --rounds times, alternating
    which goes first. Returns {side: [(wall, load, extra)]}."""
    results = {"fleet": [], "workaround": []}
    for r in range(args.rounds):
        order = ["fleet", "workaround"] if r % 2 == 0 else ["workaround", "fleet"]
        for side in order:
            before = load()
            wall, extra = measure(r, side)
            results[side].append((wall, (before + load()) / 2, extra))
            print("  round %d %-10s %7.2fs  load %.2f" % (r + 1, side, wall, results[side][-1][1]), flush=True)
    return results


def best(results, side):
    return min(results[side], key=lambda x: x[0])


def print_result(title, results, floor, floor_label, target, per_instance, n):
    fleet, work = best(results, "fleet"), best(results, "workaround")
    ratio = fleet[0] / work[0]
    print("%-44s %8.2fs  (best of %d, load %.2f)" % ("fleet run", fleet[0], len(results["fleet"]), fleet[1]))
    print("%-44s %8.2fs  (best of %d, load %.2f)" % ("workaround", work[0], len(results["workaround"]), work[1]))
    print("%-44s %8.2fs" % (floor_label, floor))
    print("fleet / workaround      %.2fx   (target <= %.2fx: %s)" % (ratio, target, verdict(ratio <= target)))
    print("fleet / physical limit  %.2fx" % (fleet[0] / floor))
    print("fleet overhead per instance: %+.0f ms vs the physical limit, %+.0f ms vs the workaround" % (
        1000 * (fleet[0] - floor) / n, 1000 * (fleet[0] - work[0]) / n))
    print("terraform processes per instance: fleet %s, workaround %s" % (
        "n/a" if per_instance is None else "%.2f" % per_instance, per_instance_label(title)))
    SUMMARY.append((title, ratio, target, fleet[0] / floor, per_instance))


SUMMARY = []


def per_instance_label(title):
    return "2 (init + apply) + 1 pre-init" if title.startswith("cold") else "2 (init + plan)"


def cold_apply(args, n, parallelism, serial_per_instance):
    title = "cold apply %d at %d" % (n, parallelism)
    print("\n== %s, create latency %.1fs ==" % (title, args.latency), flush=True)
    component = COMPONENT.format(latency=args.latency)
    counts = []

    def measure(r, side):
        tmp = tempfile.mkdtemp(prefix="fleet-bench-cold-%s." % side)
        try:
            env = base_env(tmp)
            if side == "fleet":
                fleet = Fleet(args, tmp, n, component, env)
                wall, report = fleet.run("apply", parallelism)
                counts.append(processes_per_instance(report))
                ok = fleet.states()
            else:
                work = Workaround(args, tmp, n, component, env)
                wall = work.apply(parallelism)
                ok = work.states()
            if ok != n:
                sys.exit("%s round %d: %d of %d state files hold their resource" % (side, r + 1, ok, n))
            return wall, None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    results = rounds_of(args, measure)
    physical = args.latency * math.ceil(n / parallelism)
    print_result(title, results, physical, "physical limit (latency x waves)", 0.95, counts[-1], n)
    if serial_per_instance is None and not args.skip_serial:
        tmp = tempfile.mkdtemp(prefix="fleet-bench-serial.")
        try:
            serial = run_serial(args, tmp, n, base_env(tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print("serial init + apply loop: %.2fs, %.1fx the fleet run" % (serial, serial / best(results, "fleet")[0]))
        return serial / n
    return serial_per_instance


def warm_plan(args, n, parallelism, provider=None):
    kind = "builtin-only" if provider is None else "%d MiB provider package" % args.pad_mb
    title = "warm plan %d (%s)" % (n, kind)
    print("\n== %s, parallelism %d ==" % (title, parallelism), flush=True)
    component = COMPONENT.format(latency=0) if provider is None else PROVIDER_COMPONENT
    tmp = tempfile.mkdtemp(prefix="fleet-bench-warm.")
    try:
        env = base_env(tmp)
        lock = provider and provider["lock"]
        fleet = Fleet(args, os.path.join(tmp, "f"), n, component, env, provider)
        work_env = env
        if provider:
            work_env = dict(env, TF_CLI_CONFIG_FILE=mirror_config(tmp, provider["mirror"]))
        work = Workaround(args, os.path.join(tmp, "w"), n, component, work_env, lock)
        # Same state content on both sides: every instance applied, then one
        # untimed plan each (fleet records its inits, the workaround's data
        # directories and plugin cache are warm).
        fleet.run("apply", parallelism)
        work.apply(parallelism)
        if (fleet.states(), work.states()) != (n, n):
            sys.exit("setup: %d and %d of %d states hold their resource" % (fleet.states(), work.states(), n))
        fleet.run("plan", parallelism)
        work.plan(parallelism)
        counts = []

        def measure(r, side):
            if side == "fleet":
                wall, report = fleet.run("plan", parallelism)
                counts.append(processes_per_instance(report))
                return wall, None
            return work.plan(parallelism), None

        results = rounds_of(args, measure)
        # fleet runs terraform with its Go GC settings (src/go_runtime.rs): the
        # limit is the same plans alone with those; with Go's defaults, and the
        # workaround given the same settings, are printed beside it.
        tuned = work.with_env(fleet_go_env(min(n, parallelism)))
        floor = min(tuned.plan_only(parallelism) for _ in range(args.rounds))
        target = 0.5 if provider is None else 0.3
        print_result(title, results, floor, "physical limit (plans alone, fleet's GC)", target, counts[-1], n)
        default_floor = min(work.plan_only(parallelism) for _ in range(args.rounds))
        tuned_work = min(tuned.plan(parallelism) for _ in range(args.rounds))
        fleet_best = best(results, "fleet")[0]
        print("%-44s %8.2fs" % ("the plans alone, Go's default GC", default_floor))
        print("%-44s %8.2fs  (fleet / it: %.2fx; fleet's gain without its GC settings)" % (
            "workaround given fleet's GOGC/GOMEMLIMIT", tuned_work, fleet_best / tuned_work))
        if provider:
            unverified_floor(args, tmp, n, parallelism, env, best(results, "workaround")[0], floor)
    finally:
        subprocess.run(["chmod", "-R", "u+w", tmp])
        shutil.rmtree(tmp, ignore_errors=True)


def unverified_floor(args, tmp, n, parallelism, env, workaround, floor):
    """What terraform's own check of the package costs: the same plans alone with the same
    provider binary packaged without its padding. `terraform plan` hashes the whole package
    against the lock file every time (init does it twice), so a runner that keeps that check
    cannot go below the padded floor; this line shows where the plans would be without it."""
    bare = provider_package(args, 0)
    os.makedirs(os.path.join(tmp, "bare"))
    rc = mirror_config(os.path.join(tmp, "bare"), bare["mirror"])
    work = Workaround(args, os.path.join(tmp, "bare"), n, PROVIDER_COMPONENT, dict(env, TF_CLI_CONFIG_FILE=rc),
                      bare["lock"])
    work.apply(parallelism)
    tuned = work.with_env(fleet_go_env(min(n, parallelism)))
    tuned.plan(parallelism)
    bare_floor = min(tuned.plan_only(parallelism) for _ in range(args.rounds))
    print("%-44s %8.2fs  (/ workaround: %.2fx; terraform's check of the %d MiB: %+.0f ms per instance)" % (
        "plans alone, same provider without padding", bare_floor, bare_floor / workaround, args.pad_mb,
        1000 * (floor - bare_floor) / n))


def fleet_go_env(concurrent):
    """GOGC/GOMEMLIMIT as fleet gives them to `concurrent` terraforms at once
    (src/go_runtime.rs: memory / (2 x concurrent), none under 64 MiB)."""
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    share = total // (2 * max(concurrent, 1))
    return {"GOGC": "400", "GOMEMLIMIT": str(share)} if share >= 64 << 20 else {}


def mirror_config(tmp, mirror):
    rc = os.path.join(tmp, "mirror.tfrc")
    with open(rc, "w") as f:
        f.write('disable_checkpoint = true\nprovider_installation {\n  filesystem_mirror {\n'
                '    path = "%s"\n  }\n}\n' % mirror)
    return rc


def provider_package(args, pad_mb):
    """The fleettest package with `pad_mb` MiB of padding (built once into bench/out/). The
    unpadded one packs the binary of the padded one: the two differ by the padding only."""
    mirror = os.path.join(ROOT, "bench", "out", "providers-mirror-%d" % pad_mb)
    found = [os.path.join(d, f) for d, _, files in os.walk(mirror) for f in files if f.endswith(".zip")]
    if not found:
        binary = args.provider_binary
        if pad_mb != args.pad_mb:
            binary = provider_binary_of(provider_package(args, args.pad_mb)["zip"])
        print("packaging the fleettest provider with %d MiB of padding%s" % (
            pad_mb, "" if binary else " (cargo build --release)"), flush=True)
        cmd = [os.path.join(ROOT, "e2e", "provider", "package.sh"), "--out", mirror, "--pad-mb", str(pad_mb)]
        if binary:
            cmd += ["--binary", binary]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True,
                             universal_newlines=True).stdout.splitlines()
        found = [out[0]]
    zip_path = found[0]

    def hash_of(fmt):
        return subprocess.run([args.fleet, "hash", zip_path, "--format", fmt], stdout=subprocess.PIPE,
                              check=True, universal_newlines=True).stdout.strip()

    h1, zh = hash_of("h1"), hash_of("zh")
    platform = os.path.basename(zip_path)[: -len(".zip")].split("_", 2)[2]
    return {
        "mirror": mirror,
        "zip": zip_path,
        "lock": LOCK % (SOURCE, VERSION, VERSION, h1, zh),
        "package": {"source": SOURCE, "version": VERSION, "platform": platform,
                    "archive": os.path.basename(zip_path), "h1": [h1]},
    }


def provider_binary_of(zip_path):
    """Unpacks the provider executable of a package zip into bench/out/; returns its path."""
    out = os.path.join(ROOT, "bench", "out", "provider-binary")
    with zipfile.ZipFile(zip_path) as package:
        name = next(n for n in package.namelist() if n.startswith("terraform-provider-"))
        path = package.extract(name, out)
    os.chmod(path, 0o755)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", default=os.path.join(ROOT, "target", "release", "fleet"))
    parser.add_argument("--terraform", default=shutil.which("terraform") or "/usr/local/bin/terraform")
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="cold,warm,provider")
    parser.add_argument("--sizes-cold", default="12@12,100@25")
    parser.add_argument("--sizes-warm", default="40,100")
    parser.add_argument("--provider-instances", type=int, default=12)
    parser.add_argument("--pad-mb", type=int, default=100)
    parser.add_argument("--provider-binary", help="package this fleettest binary instead of building one")
    parser.add_argument("--skip-serial", action="store_true", help="do not time the serial apply loop")
    args = parser.parse_args()
    args.fleet = os.path.abspath(args.fleet)
    args.terraform = os.path.abspath(args.terraform)
    if not os.path.exists(args.fleet):
        sys.exit("no fleet binary at %s: run `cargo build --release` first" % args.fleet)
    only = set(args.only.split(","))
    print("fleet %s, terraform %s, %d CPUs, load %.2f %.2f %.2f" % (
        (args.fleet, args.terraform, os.cpu_count()) + os.getloadavg()), flush=True)
    if "cold" in only:
        serial = None
        for size in args.sizes_cold.split(","):
            n, p = (int(x) for x in size.split("@"))
            serial = cold_apply(args, n, p, serial)
    if "warm" in only:
        for n in (int(x) for x in args.sizes_warm.split(",")):
            warm_plan(args, n, n)
    if "provider" in only:
        n = args.provider_instances
        warm_plan(args, n, n, provider_package(args, args.pad_mb))
    print("\n== summary (load now %.2f) ==" % load())
    for title, ratio, target, physical, per_instance in SUMMARY:
        print("%-40s fleet/workaround %.2fx (<= %.2fx %s)  fleet/limit %.2fx  processes/instance %s" % (
            title, ratio, target, verdict(ratio <= target), physical,
            "n/a" if per_instance is None else "%.2f" % per_instance))


if __name__ == "__main__":
    main()
