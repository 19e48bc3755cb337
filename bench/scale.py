#!/usr/bin/env python3
"""Scale benchmark (issue 31): the runner and the manifests at thousands of
instances.

runner  `fleet run --action plan --parallelism P` over a generated manifest of
        N instances (flat, no dependencies) whose terraform is a no-op
        stand-in (`#!/bin/sh` + `exit 0`): every instance is prepared, locked,
        run, reported, so what is measured is the runner's own cost. Per size:
        CPU (user + sys of fleet and its children, from wait4) and wall per
        instance, peak RSS (fleet's, from wait4) per instance, bytes of the
        JSON report and of the largest the progress journal grew to (sampled
        while it runs; it is removed at the end). With --baseline-helper (a
        `fleet` built from main) the same sizes run with it too, interleaved,
        and the ratios are printed.
        Targets: CPU <= 2 ms per instance at 10,000 and within 1.2x per
        instance of 1,000; peak RSS <= 2 KB per instance.
bazel   (--bazel-sizes) `bazel build` of generated fleets (bench/fleet_scale.py's
        workspace: one tf_instances of N) flat, and of one chain of N
        (`deps` on the previous one): analysis time (`--nobuild`), and for
        --build-sizes a no-op build after the manifests are built
        (`--output_groups=manifest`), manifest bytes per instance (every
        `*.manifest.json` under bazel-bin). Targets: chain of 1,000 <= 2 KB of
        manifests per instance; analysis of 10,000 <= 60 s; no-op build <= 10 s.

Where a target is missed the line says which phase holds it
(docs/performance.md explains).

Usage: bench/scale.py [--fleet PATH] [--baseline-helper PATH]
         [--sizes 1000,10000] [--parallelism 100] [--rounds 1]
         [--bazel-sizes 300,1000] [--build-sizes 300] [--shapes flat,chain]
         [--bazel-flag FLAG] [--bazel-startup-flag FLAG] [--keep]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def make_runner_fleet(base, count):
    """A runfiles tree with `count` rendered instances and a manifest."""
    runfiles = os.path.join(base, "runfiles")
    stub = os.path.join(base, "terraform")
    write(stub, "#!/bin/sh\nexit 0\n")
    os.chmod(stub, 0o755)
    instances = []
    for k in range(count):
        name = "i%06d" % k
        rendered = "pkg/%s.rendered" % name
        write(os.path.join(runfiles, rendered, "main.tf"), "")
        instances.append({
            "label": "//pkg:" + name,
            "name": name,
            "rendered": rendered,
            "run_dir": "pkg/" + name,
            "deps": [],
        })
    manifest = {"schema": 1, "target": "//pkg:fleet", "parallelism": 0,
                "terraform": stub, "instances": instances}
    write(os.path.join(base, "manifest.json"), json.dumps(manifest))
    return runfiles


def run_once(helper, base, count, parallelism):
    ws = os.path.join(base, "ws")
    if os.path.isdir(ws):
        shutil.rmtree(ws)
    os.makedirs(ws)
    report = os.path.join(base, "report.json")
    for stale in (report, report + ".journal"):
        if os.path.exists(stale):
            os.remove(stale)
    env = dict(os.environ)
    for var in ("BUILD_WORKSPACE_DIRECTORY", "RUNFILES_DIR", "TF_CLI_CONFIG_FILE"):
        env.pop(var, None)
    env["TF_CLI_CONFIG_FILE"] = os.path.join(base, "missing.terraformrc")
    cmd = [helper, "run", "--action", "plan", "--parallelism", str(parallelism),
           "--manifest", os.path.join(base, "manifest.json"),
           "--runfiles", os.path.join(base, "runfiles"),
           "--workspace-root", ws, "--report", report]
    journal = report + ".journal"
    biggest = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            try:
                biggest[0] = max(biggest[0], os.path.getsize(journal))
            except OSError:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=base)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    done.set()
    sampler.join()
    code = os.waitstatus_to_exitcode(status)
    with open(report) as f:
        counts = json.load(f)["counts"]
    return {
        "code": code,
        "ok": counts.get("succeeded", 0),
        "cpu": usage.ru_utime + usage.ru_stime,
        "wall": wall,
        "rss_kb": usage.ru_maxrss,
        "report": os.path.getsize(report),
        "journal": biggest[0],
        "load": os.getloadavg()[0],
    }


def runner(args, tmp):
    sides = [("this", args.fleet)]
    if args.baseline_helper:
        sides.append(("baseline", args.baseline_helper))
    results = {}
    for count in args.sizes:
        base = os.path.join(tmp, "runner-%d" % count)
        make_runner_fleet(base, count)
        for r in range(args.rounds):
            order = sides if r % 2 == 0 else list(reversed(sides))
            for side, helper in order:
                if side == "baseline" and count > args.baseline_max:
                    continue
                res = run_once(helper, base, count, args.parallelism)
                best = results.get((side, count))
                if best is None or res["cpu"] < best["cpu"]:
                    results[(side, count)] = res
                print("  %-8s N=%-6d exit %d, %d ok: cpu %.1f s, wall %.1f s, rss %d KB, "
                      "report %d B, journal %d B (load %.1f)" % (
                          side, count, res["code"], res["ok"], res["cpu"], res["wall"],
                          res["rss_kb"], res["report"], res["journal"], res["load"]),
                      flush=True)
        shutil.rmtree(base, ignore_errors=True)
    print("\nrunner, per instance (best of %d):" % args.rounds)
    print("%-8s %7s %12s %12s %10s %10s %10s" % (
        "side", "N", "cpu ms", "wall ms", "rss B", "report B", "journal B"))
    for (side, count), r in sorted(results.items()):
        print("%-8s %7d %12.2f %12.2f %10.0f %10.0f %10.0f" % (
            side, count, 1000 * r["cpu"] / count, 1000 * r["wall"] / count,
            1024 * r["rss_kb"] / count, r["report"] / count, r["journal"] / count))
    for count in args.sizes:
        this, old = results.get(("this", count)), results.get(("baseline", count))
        if this and old:
            print("N=%d: baseline / this: cpu %.1fx, wall %.1fx" % (
                count, old["cpu"] / this["cpu"], old["wall"] / this["wall"]))
    judge_runner(results, args.sizes, process_starts(args.fleet, tmp))


def process_starts(helper, tmp, count=300):
    """CPU of one start of the no-op terraform and of a guard (`fleet
    __guard` without orders: it starts, finds none and exits), measured
    from a small parent: the floor the runner's four process starts per
    planned instance (init and plan, each a guard and a terraform) put
    under its CPU per instance."""
    stub = os.path.join(tmp, "start-stub")
    write(stub, "#!/bin/sh\nexit 0\n")
    os.chmod(stub, 0o755)
    costs = {}
    for name, cmd in (("terraform", [stub]), ("guard", [helper, "__guard", "--", stub])):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        for _ in range(count):
            subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        costs[name] = ((after.ru_utime + after.ru_stime)
                       - (before.ru_utime + before.ru_stime)) / count
    return costs


def verdict(ok):
    return "PASS" if ok else "FAIL"


def judge_runner(results, sizes, starts):
    per = {n: results[("this", n)]["cpu"] / n for n in sizes if ("this", n) in results}
    big = max(per) if per else None
    if big is None:
        return
    floor = 2 * starts["terraform"] + 2 * starts["guard"]
    print("target cpu <= 2 ms/instance at N=%d: %.2f ms %s%s" % (
        big, 1000 * per[big], verdict(per[big] <= 0.002),
        "" if per[big] <= 0.002 else
        " (held by process starts: 2 no-op terraforms at %.2f ms and 2 guards at %.2f ms"
        " = %.2f ms per instance; the runner's own work is the other %.2f ms)" % (
            1000 * starts["terraform"], 1000 * starts["guard"], 1000 * floor,
            1000 * (per[big] - floor))))
    small = min(per)
    if small != big:
        ratio = per[big] / per[small]
        print("target cpu/instance N=%d within 1.2x of N=%d: %.2fx %s" % (
            big, small, ratio, verdict(ratio <= 1.2)))
    rss = {n: 1024 * results[("this", n)]["rss_kb"] for n in sizes}
    small, big = min(sizes), max(sizes)
    growth = (rss[big] - rss[small]) / (big - small) if big != small else None
    for n in sizes:
        held = ""
        if rss[n] > 2048 * n:
            held = " (peak %d MB" % (rss[n] // 2**20)
            if growth is not None:
                held += ": ~%d MB fixed, %.0f B more per instance" % (
                    (rss[n] - growth * n) // 2**20, growth)
            held += ")"
        print("target peak RSS <= 2 KB/instance at N=%d: %.0f B %s%s" % (
            n, rss[n] / n, verdict(rss[n] <= 2048 * n), held))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", default=os.path.join(ROOT, "target", "release", "fleet"))
    parser.add_argument("--baseline-helper", metavar="PATH",
                        help="a fleet built from main: the same runs with it, interleaved")
    parser.add_argument("--baseline-max", type=int, default=4000,
                        help="skip the baseline above this size (it is quadratic)")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--parallelism", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--bazel-sizes", default="", help="e.g. 300,1000 (chain and flat)")
    parser.add_argument("--build-sizes", default="", help="sizes also built (manifests, no-op)")
    parser.add_argument("--shapes", default="flat,chain", help="Bazel fleets: flat, chain or both")
    parser.add_argument("--bazel-flag", action="append", default=[],
                        help="extra flag for every bazel build, e.g. --nested_set_depth_limit=20000 "
                        "(a chain deeper than 3,500 needs it: Bazel's depset depth limit)")
    parser.add_argument("--bazel-startup-flag", action="append", default=[],
                        help="extra startup flag, e.g. --host_jvm_args=-Xss256m (a chain of "
                        "10,000 overflows the JVM's default thread stack)")
    parser.add_argument("--baseline-rev", metavar="REV",
                        help="also build the Bazel fleets with the rules of this git revision")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per bazel command")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    args.fleet = os.path.abspath(args.fleet)
    if args.baseline_helper:
        args.baseline_helper = os.path.abspath(args.baseline_helper)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.bazel_sizes = [int(s) for s in args.bazel_sizes.split(",") if s]
    args.build_sizes = [int(s) for s in args.build_sizes.split(",") if s]
    args.shapes = [s for s in args.shapes.split(",") if s]
    tmp = tempfile.mkdtemp(prefix="fleet-scale-")
    try:
        if args.sizes:
            print("runner: fleet run --action plan --parallelism %d, no-op terraform" % args.parallelism)
            runner(args, tmp)
        if args.bazel_sizes:
            import scale_bazel
            scale_bazel.run(args, tmp)
    finally:
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
