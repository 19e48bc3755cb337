#!/usr/bin/env python3
"""Benchmark of provider handling (issue 5): initialise N instances of one
component (default 12) from a cold machine, all at once, with the fleettest
provider packaged with 100 MiB of padding (e2e/provider/package.sh), two ways
in one run:

  fleet      N `fleet tf --action output` processes on one manifest: each
             links the package from a fresh content-addressed store (unpacked
             once, by whichever process gets the lock) into its run
             directory's read-only plugin dir, then `terraform init
             -plugin-dir -lockfile=readonly` (and a cheap `terraform output`)
  terraform  terraform's default: N directories, `terraform init` (and the
             same `terraform output`) in each, installing from a packed
             filesystem mirror with no plugin cache, so every instance
             unpacks its own copy

Both start cold (fresh store, fresh directories; the package itself is in
the page cache, as it would be after a download). Measured per variant:

  written    bytes the processes wrote: write_bytes - cancelled_write_bytes
             from /proc/self/io of this script, whose waited-for children
             (and theirs) add their I/O to it
  left       what they leave on disk: `du` of the store + run directories,
             or of the N directories
  wall       from starting the N processes until the last one exits, and
             until their writes are on disk (a `sync` after the last exit):
             the store is made durable before it is published (fsync), the
             copies terraform unpacks are left in the page cache, so the
             first figure charges fleet for durability and terraform not

`--repeat` rounds (default 3), variants alternating first, medians reported,
then the ratios terraform / fleet and the issue's targets (informational
PASS/FAIL): >= 5x fewer bytes written, and no slower.

Usage: bench/providers_bench.py [--fleet PATH] [--terraform PATH]
                                [--instances N] [--pad-mb N] [--repeat N]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = "fleet.test/rules-fleet/fleettest"
VERSION = "0.1.0"

MODULE = """
terraform {
  required_providers {
    fleettest = {
      source  = "%s"
      version = "%s"
    }
  }
}

resource "fleettest_record" "cluster" {
  name = "bench"
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


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, universal_newlines=True, **kwargs)


def package(pad_mb):
    """The padded package (reproducible: rebuilt only when missing)."""
    mirror = os.path.join(ROOT, "bench", "out", "providers-mirror-%d" % pad_mb)
    found = [
        os.path.join(d, f) for d, _, files in os.walk(mirror) for f in files if f.endswith(".zip")
    ]
    if found:
        return mirror, found[0]
    print("packaging the fleettest provider with %d MiB of padding (cargo build --release)" % pad_mb, flush=True)
    out = run(
        [os.path.join(ROOT, "e2e", "provider", "package.sh"), "--out", mirror, "--pad-mb", str(pad_mb)],
        stdout=subprocess.PIPE,
    ).stdout.splitlines()
    return mirror, out[0]


def io_written():
    fields = {}
    with open("/proc/self/io") as f:
        for line in f:
            key, value = line.split(":")
            fields[key] = int(value)
    return fields["write_bytes"] - fields["cancelled_write_bytes"]


def du(paths):
    paths = [p for p in paths if os.path.exists(p)]
    if not paths:
        return 0
    out = run(["du", "-s", "-c", "--block-size=1"] + paths, stdout=subprocess.PIPE).stdout
    return int(out.splitlines()[-1].split()[0])


def measure(commands, left):
    """Starts every command at once, waits for all, then syncs.

    Returns (wall until the last exit, wall until their writes are on disk, written, left).
    """
    subprocess.run(["sync"], check=True)
    before = io_written()
    start = time.monotonic()
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw) for cmd, kw in commands]
    errors = []
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            errors.append(err.decode(errors="replace")[-2000:])
    wall = time.monotonic() - start
    written = io_written() - before
    subprocess.run(["sync"], check=True)
    durable = time.monotonic() - start
    if errors:
        sys.exit("%d of %d processes failed; first:\n%s" % (len(errors), len(procs), errors[0]))
    return wall, durable, written, du(left)


def base_env(tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_") and not k.startswith("FLEET")}
    env.update(CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
    env.pop("BUILD_WORKSPACE_DIRECTORY", None)
    env.pop("RUNFILES_DIR", None)
    return env


def fleet_round(args, tmp, zip_path, h1, zh):
    """N `fleet tf` processes on one manifest, one fresh store."""
    runfiles = os.path.join(tmp, "runfiles")
    rendered = os.path.join(runfiles, "rendered")
    os.makedirs(rendered)
    with open(os.path.join(rendered, "main.tf"), "w") as f:
        f.write(MODULE)
    with open(os.path.join(rendered, ".terraform.lock.hcl"), "w") as f:
        f.write(LOCK % (SOURCE, VERSION, VERSION, h1, zh))
    os.symlink(zip_path, os.path.join(runfiles, os.path.basename(zip_path)))
    os.symlink(args.terraform, os.path.join(runfiles, "terraform"))
    platform = os.path.basename(zip_path)[: -len(".zip")].split("_", 2)[2]
    instances = [
        {
            "label": "//bench:cache-%d" % n,
            "name": "cache-%d" % n,
            "rendered": "rendered",
            "run_dir": "bench/cache-%d" % n,
            "providers": [
                {"source": SOURCE, "version": VERSION, "platform": platform, "archive": os.path.basename(zip_path), "h1": [h1]}
            ],
        }
        for n in range(1, args.instances + 1)
    ]
    manifest = os.path.join(tmp, "manifest.json")
    with open(manifest, "w") as f:
        json.dump({"schema": 1, "target": "//bench:caches", "terraform": "terraform", "instances": instances}, f)
    workspace, store = os.path.join(tmp, "ws"), os.path.join(tmp, "store")
    os.makedirs(workspace)
    env = base_env(tmp)
    commands = [
        (
            [args.fleet, "tf", "--manifest", manifest, "--action", "output", "--only", i["label"],
             "--runfiles", runfiles, "--workspace-root", workspace, "--store", store, "--", "-no-color"],
            {"env": env, "cwd": tmp},
        )
        for i in instances
    ]
    return measure(commands, [store, os.path.join(workspace, ".fleet")])


def terraform_round(args, tmp, mirror, h1, zh):
    """N directories, `terraform init` from a packed filesystem mirror, no plugin cache."""
    rc = os.path.join(tmp, "mirror.tfrc")
    with open(rc, "w") as f:
        f.write('disable_checkpoint = true\nprovider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' % mirror)
    env = base_env(tmp)
    env["TF_CLI_CONFIG_FILE"] = rc
    dirs = []
    for n in range(1, args.instances + 1):
        d = os.path.join(tmp, "cache-%d" % n)
        os.makedirs(d)
        with open(os.path.join(d, "main.tf"), "w") as f:
            f.write(MODULE)
        with open(os.path.join(d, ".terraform.lock.hcl"), "w") as f:
            f.write(LOCK % (SOURCE, VERSION, VERSION, h1, zh))
        dirs.append(d)
    # The same terraform commands `fleet tf --action output` runs: init, then output.
    script = '"$0" init -input=false -no-color && "$0" output -no-color'
    commands = [(["sh", "-c", script, args.terraform], {"env": env, "cwd": d}) for d in dirs]
    return measure(commands, [os.path.join(d, ".terraform") for d in dirs])


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return "%.1f %s" % (n, unit) if unit != "B" else "%d B" % n
        n /= 1024.0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fleet", default=os.path.join(ROOT, "target", "release", "fleet"))
    parser.add_argument("--terraform", default=shutil.which("terraform") or "/usr/local/bin/terraform")
    parser.add_argument("--instances", type=int, default=12)
    parser.add_argument("--pad-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    args.fleet = os.path.abspath(args.fleet)
    args.terraform = os.path.abspath(args.terraform)

    mirror, zip_path = package(args.pad_mb)
    h1 = run([args.fleet, "hash", zip_path, "--format", "h1"], stdout=subprocess.PIPE).stdout.strip()
    zh = run([args.fleet, "hash", zip_path, "--format", "zh"], stdout=subprocess.PIPE).stdout.strip()
    print("package %s: %s, %s" % (os.path.basename(zip_path), human(os.path.getsize(zip_path)), h1))
    print("%d instances at once, %d round(s), variants alternating\n" % (args.instances, args.repeat))

    results = {"fleet": [], "terraform": []}
    for r in range(args.repeat):
        order = ["fleet", "terraform"] if r % 2 == 0 else ["terraform", "fleet"]
        for variant in order:
            tmp = tempfile.mkdtemp(prefix="providers-bench-%s." % variant)
            try:
                if variant == "fleet":
                    got = fleet_round(args, tmp, zip_path, h1, zh)
                else:
                    got = terraform_round(args, tmp, mirror, h1, zh)
            finally:
                subprocess.run(["chmod", "-R", "u+w", tmp])
                shutil.rmtree(tmp, ignore_errors=True)
            results[variant].append(got)
            print(
                "round %d %-9s wall %6.2fs  on disk %6.2fs  written %10s  left %10s"
                % (r + 1, variant, got[0], got[1], human(got[2]), human(got[3])),
                flush=True,
            )

    med = {v: [statistics.median(x[i] for x in results[v]) for i in range(4)] for v in results}
    print()
    print("%-10s %10s %10s %12s %12s" % ("variant", "wall", "on disk", "written", "left"))
    for v in ("fleet", "terraform"):
        print("%-10s %9.2fs %9.2fs %12s %12s" % (v, med[v][0], med[v][1], human(med[v][2]), human(med[v][3])))
    written_ratio = med["terraform"][2] / max(med["fleet"][2], 1)
    left_ratio = med["terraform"][3] / max(med["fleet"][3], 1)
    speed = med["terraform"][0] / med["fleet"][0]
    durable_speed = med["terraform"][1] / med["fleet"][1]
    print()
    print("bytes written:          terraform / fleet = %.1fx" % written_ratio)
    print("bytes left:             terraform / fleet = %.1fx" % left_ratio)
    print("wall, processes exit:   terraform / fleet = %.2fx (above 1: fleet faster)" % speed)
    print("wall, writes on disk:   terraform / fleet = %.2fx (fleet syncs its store; terraform never syncs)" % durable_speed)
    print()
    print("%s target: >= 5x fewer bytes written (%.1fx)" % ("PASS" if written_ratio >= 5 else "FAIL", written_ratio))
    print(
        "%s target: no slower, until the writes are on disk (fleet %.2fs, terraform %.2fs)"
        % ("PASS" if med["fleet"][1] <= med["terraform"][1] else "FAIL", med["fleet"][1], med["terraform"][1])
    )
    print(
        "%s no slower until the processes exit (fleet %.2fs, terraform %.2fs)"
        % ("PASS" if med["fleet"][0] <= med["terraform"][0] else "FAIL", med["fleet"][0], med["terraform"][0])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
