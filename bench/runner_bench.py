#!/usr/bin/env python3
"""Benchmark of `fleet run` (issue 4): N instances of one component whose
create takes a simulated 2 s (terraform_data + local-exec `sleep 2`), applied
three ways in one run:

  fleet       fleet run --action apply --parallelism P
  serial      a loop of `terraform init && terraform apply`, one instance after
              the other, each in its own directory (what N `bazel run x.apply`
              in a row do today)
  workaround  the seed's working workaround (shared/seeds/atmos-parallel-
              instances.txt): one shared component directory, a workspace and
              a TF_DATA_DIR per instance, one pre-init, then init + apply of
              every instance in the background and `wait` (capped at P
              concurrent with xargs -P when P < N)

Prints wall times, ratios, the runner's overhead per instance and the issue's
targets (informational PASS/FAIL): fleet <= 1.1x workaround and fleet within
1.3x of the physical limit (latency x ceil(N / P)).

Usage: bench/runner_bench.py [--fleet PATH] [--terraform PATH] [--latency S]
                              [--skip-serial-100]
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


def base_env(tmp):
    rc = os.path.join(tmp, "bench.terraformrc")
    with open(rc, "w") as f:
        f.write("disable_checkpoint = true\n")
    env = dict(os.environ)
    env.update(TF_CLI_CONFIG_FILE=rc, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
    for var in ("TF_DATA_DIR", "TF_WORKSPACE", "BUILD_WORKSPACE_DIRECTORY", "RUNFILES_DIR"):
        env.pop(var, None)
    return env


def names(n):
    return ["redis-cluster-%d" % i for i in range(1, n + 1)]


def timed(fn):
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def run_fleet(args, tmp, n, parallelism, env):
    runfiles = os.path.join(tmp, "runfiles")
    workspace = os.path.join(tmp, "ws")
    os.makedirs(workspace)
    instances = []
    for name in names(n):
        rendered = os.path.join(runfiles, "infra", name + ".rendered")
        os.makedirs(rendered)
        with open(os.path.join(rendered, "main.tf"), "w") as f:
            f.write(COMPONENT.format(latency=args.latency))
        with open(os.path.join(rendered, "backend.tf.json"), "w") as f:
            json.dump({"terraform": {"backend": {"local": {"path": "terraform.tfstate"}}}}, f)
        with open(os.path.join(rendered, "terraform.tfvars.json"), "w") as f:
            json.dump({"name": name}, f)
        instances.append({"label": "//infra:" + name, "name": name,
                          "rendered": "infra/%s.rendered" % name, "run_dir": "infra/" + name})
    manifest = os.path.join(tmp, "manifest.json")
    with open(manifest, "w") as f:
        json.dump({"schema": 1, "target": "//infra:fleet", "terraform": args.terraform,
                   "instances": instances}, f)
    report = os.path.join(tmp, "report.json")
    cmd = [args.fleet, "run", "--action", "apply", "--manifest", manifest, "--runfiles", runfiles,
           "--workspace-root", workspace, "--parallelism", str(parallelism), "--report", report]
    wall = timed(lambda: subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True))
    with open(report) as f:
        data = json.load(f)
    ok = data["counts"]["succeeded"]
    states = sum(1 for name in names(n) if state_has_resource(
        os.path.join(workspace, ".fleet", "infra", name, "terraform.tfstate")))
    return wall, ok, states


def state_has_resource(path):
    try:
        with open(path) as f:
            return len(json.load(f).get("resources", [])) == 1
    except (OSError, ValueError):
        return False


def run_serial(args, tmp, n, env):
    dirs = []
    for name in names(n):
        d = os.path.join(tmp, "serial", name)
        os.makedirs(d)
        with open(os.path.join(d, "main.tf"), "w") as f:
            f.write(COMPONENT.format(latency=args.latency))
        dirs.append((name, d))

    def loop():
        for name, d in dirs:
            e = dict(env, TF_DATA_DIR=os.path.join(d, ".terraform"))
            subprocess.run([args.terraform, "init", "-input=false", "-no-color"], cwd=d, env=e,
                           stdout=subprocess.DEVNULL, check=True)
            subprocess.run([args.terraform, "apply", "-auto-approve", "-input=false", "-no-color",
                            "-var", "name=" + name], cwd=d, env=e, stdout=subprocess.DEVNULL, check=True)

    wall = timed(loop)
    states = sum(1 for _, d in dirs if state_has_resource(os.path.join(d, "terraform.tfstate")))
    return wall, states


def run_workaround(args, tmp, n, parallelism, env):
    comp = os.path.join(tmp, "workaround", "component")
    os.makedirs(comp)
    with open(os.path.join(comp, "main.tf"), "w") as f:
        f.write(COMPONENT.format(latency=args.latency))
    data = os.path.join(tmp, "workaround", "tf-data")
    logs = os.path.join(tmp, "workaround", "logs")
    os.makedirs(logs)
    one = ('TF_DATA_DIR="{data}/$1" TF_WORKSPACE="$1" {tf} init -input=false -no-color >"{logs}/$1.log" 2>&1 && '
           'TF_DATA_DIR="{data}/$1" TF_WORKSPACE="$1" {tf} apply -auto-approve -input=false -no-color '
           '-var "name=$1" >>"{logs}/$1.log" 2>&1').format(data=data, logs=logs, tf=args.terraform)
    pre_init = 'TF_DATA_DIR="{data}/{first}" {tf} init -input=false -no-color >/dev/null\n'.format(
        data=data, first=names(n)[0], tf=args.terraform)
    if parallelism >= n:
        body = "".join("apply_one %s &\n" % name for name in names(n)) + "wait\n"
    else:
        body = "printf '%%s\\n' %s | xargs -P %d -I{} bash -c '%s' _ {}\n" % (
            " ".join(names(n)), parallelism, one.replace("'", "'\\''"))
    script = "set -e\ncd %s\napply_one() { %s; }\n%s%s" % (comp, one.replace("$1", "$1"), pre_init, body)
    wall = timed(lambda: subprocess.run(["bash", "-c", script], env=env, check=True))
    states = sum(1 for name in names(n) if state_has_resource(
        os.path.join(comp, "terraform.tfstate.d", name, "terraform.tfstate")))
    return wall, states


def verdict(ok):
    return "PASS" if ok else "FAIL"


def scenario(args, n, parallelism, measure_serial, serial_per_instance=None):
    print("\n== %d instances, parallelism %d, create latency %.1fs ==" % (n, parallelism, args.latency))
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        env = base_env(tmp)
        fleet_wall, ok, fleet_states = run_fleet(args, os.path.join(tmp, "f"), n, parallelism, env)
        work_wall, work_states = run_workaround(args, os.path.join(tmp, "w"), n, parallelism, env)
        if measure_serial:
            serial_wall, serial_states = run_serial(args, os.path.join(tmp, "s"), n, env)
            serial_note = ""
        else:
            serial_wall, serial_states = serial_per_instance * n, None
            serial_note = " (estimated from the 12-instance run)"
    physical = args.latency * math.ceil(n / parallelism)
    print("%-34s %8.2fs  (%d/%d succeeded, %d state files with their resource)" % (
        "fleet run --parallelism %d" % parallelism, fleet_wall, ok, n, fleet_states))
    print("%-34s %8.2fs  (%s state files)%s" % ("serial terraform apply loop", serial_wall,
                                              "-" if serial_states is None else serial_states, serial_note))
    print("%-34s %8.2fs  (%d state files)" % ("workaround (TF_DATA_DIR + & / wait)", work_wall, work_states))
    print("%-34s %8.2fs" % ("physical limit (latency x waves)", physical))
    print("fleet / workaround      %.2fx" % (fleet_wall / work_wall))
    print("fleet / physical limit  %.2fx" % (fleet_wall / physical))
    print("serial / fleet          %.1fx (speed-up)" % (serial_wall / fleet_wall))
    print("runner overhead per instance: %.0f ms beyond the physical limit, %+.0f ms vs the workaround" % (
        1000 * (fleet_wall - physical) / n, 1000 * (fleet_wall - work_wall) / n))
    print("target fleet <= 1.1x workaround:     %s" % verdict(fleet_wall <= 1.1 * work_wall))
    print("target fleet <= 1.3x physical limit: %s" % verdict(fleet_wall <= 1.3 * physical))
    return (serial_wall / n) if measure_serial else serial_per_instance


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", default=os.path.join(ROOT, "target", "release", "fleet"))
    parser.add_argument("--terraform", default=shutil.which("terraform") or "/usr/local/bin/terraform")
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--skip-serial-100", action="store_true",
                        help="estimate the 100-instance serial loop from the 12-instance one")
    args = parser.parse_args()
    if not os.path.exists(args.fleet):
        sys.exit("no fleet binary at %s: run `cargo build --release` first" % args.fleet)
    print("fleet %s, terraform %s, %d CPUs" % (args.fleet, args.terraform, os.cpu_count()))
    per_instance = scenario(args, 12, 12, True)
    scenario(args, 100, 25, not args.skip_serial_100, per_instance)


if __name__ == "__main__":
    main()
