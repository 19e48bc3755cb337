"""The Bazel half of bench/scale.py: analysis, no-op build and manifest bytes
of generated fleets, flat (one tf_instances of N) and as one chain (N
tf_instance, each with `deps` on the previous one), with the rules of this
checkout and, with --baseline-rev, of that revision, interleaved."""

import glob
import os
import shutil
import subprocess
import time

import fleet_scale

CHAIN_BUILD = """load("@rules_fleet//rules:defs.bzl", "tf_component", "tf_instance")

tf_component(
    name = "elasticache",
    srcs = ["main.tf"],
)

[
    tf_instance(
        name = "c%d" % n,
        check = "none",
        component = ":elasticache",
        deps = [":c%d" % (n - 1)] if n > 1 else [],
        vars = {{
            "cluster_id": "c%d" % n,
            "node_type": "cache.t4g.small",
            "num_shards": 1,
            "tags": {{"team": "platform"}},
        }},
    )
    for n in range(1, {count} + 1)
]
"""


def make(path, count, rules, shape):
    fleet_scale.make_workspace(path, count, rules)
    if shape == "chain":
        fleet_scale.write(os.path.join(path, "infra", "elasticache", "BUILD.bazel"),
                          CHAIN_BUILD.format(count=count))


def manifest_bytes(workspace):
    total = 0
    for path in glob.glob(os.path.join(workspace, "bazel-bin", "infra", "**", "*.json"), recursive=True):
        if path.endswith((".manifest.json", ".manifest.unstamped.json")):
            total += os.path.getsize(path)
    return total


def measure(tmp, rules, helper, count, shape, build, timeout, tag, flags=(), startup=()):
    ws = os.path.join(tmp, "bz-%s-%s-%d" % (tag, shape, count))
    make(ws, count, rules, shape)
    env = dict(os.environ)
    env.pop("TF_CLI_CONFIG_FILE", None)
    bazel = fleet_scale.Bazel(ws, os.path.join(tmp, "ob-%s-%s-%d" % (tag, shape, count)),
                              rules, helper, env, timeout, 0, startup)
    result = {}
    try:
        # --symlink_prefix=/ in the generated rc: ask for bazel-bin explicitly.
        status, wall, load = bazel.timed(os.path.join(ws, "analysis.log"), "build", "--nobuild", *flags,
                                         "--profile=" + os.path.join(ws, "analysis.profile.json"),
                                         "//infra/...")
        phases = fleet_scale.profile_phases(os.path.join(ws, "analysis.profile.json"))
        result["analysis_cmd"] = wall
        result["analysis"] = sum(v for k, v in phases.items() if "analy" in k.lower()) or wall
        result["status"] = status
        result["load"] = load
        if status != 0:
            with open(os.path.join(ws, "analysis.log"), errors="replace") as f:
                errors = [line for line in f if "ERROR" in line or "rror:" in line]
            print("  analysis failed (%s, %d instances):\n    %s" % (
                shape, count, "    ".join(errors[-10:]) or "no ERROR line"), flush=True)
        if build and status == 0:
            args = (*flags, "--output_groups=manifest", "--symlink_prefix=bazel-", "//infra/...")
            status, wall, _ = bazel.timed(os.path.join(ws, "build.log"), "build", *args)
            result["build"] = wall
            result["status"] = status
            status, wall, _ = bazel.timed(os.path.join(ws, "noop.log"), "build", *args)
            result["noop"] = wall
            result["bytes"] = manifest_bytes(ws)
    finally:
        bazel.shutdown()
        fleet_scale.remove_tree(os.path.join(tmp, "ob-%s-%s-%d" % (tag, shape, count)))
    return result


def run(args, tmp):
    rules = os.path.join(tmp, "rules-this")
    shutil.copytree(fleet_scale.ROOT, rules, ignore=fleet_scale.SNAPSHOT_IGNORE, symlinks=True)
    sides = [("this", rules, args.fleet)]
    if args.baseline_rev:
        old = os.path.join(tmp, "rules-baseline")
        fleet_scale.snapshot_revision(args.baseline_rev, old)
        sides.append(("baseline", old, args.baseline_helper or args.fleet))
    rows = []
    for count in args.bazel_sizes:
        for shape in args.shapes:
            for tag, rules_dir, helper in sides:
                build = count in args.build_sizes
                t0 = time.monotonic()
                r = measure(tmp, rules_dir, helper, count, shape, build, args.timeout, tag,
                            args.bazel_flag, args.bazel_startup_flag)
                r.update(side=tag, count=count, shape=shape)
                rows.append(r)
                print("  %-8s %-5s N=%-6d exit %s: analysis %.1f s (command %.1f s)%s (load %.1f, %.0f s)" % (
                    tag, shape, count, r.get("status"), r["analysis"], r["analysis_cmd"],
                    ", manifests %d B/instance, build %.1f s, no-op %.1f s" % (
                        r["bytes"] / count, r["build"], r["noop"]) if "bytes" in r else "",
                    r["load"], time.monotonic() - t0), flush=True)
    judge(rows)


def judge(rows):
    def verdict(ok):
        return "PASS" if ok else "FAIL"
    this = [r for r in rows if r["side"] == "this"]
    for r in this:
        if r["shape"] == "chain" and "bytes" in r:
            per = r["bytes"] / r["count"]
            print("target chain of %d: manifests <= 2 KB/instance: %.0f B %s" % (
                r["count"], per, verdict(per <= 2048)))
        if r["count"] >= 10000:
            print("target analysis of %d (%s) <= 60 s: %.1f s %s%s" % (
                r["count"], r["shape"], r["analysis"],
                verdict(r["analysis"] <= 60 and r["status"] == 0),
                "" if r["status"] == 0 else " (the build failed: exit %d)" % r["status"]))
            if "noop" in r:
                print("target no-op build of %d (%s) <= 10 s: %.1f s %s" % (
                    r["count"], r["shape"], r["noop"], verdict(r["noop"] <= 10)))
    base = {(r["count"], r["shape"]): r for r in rows if r["side"] == "baseline"}
    for r in this:
        old = base.get((r["count"], r["shape"]))
        if old and "bytes" in r and "bytes" in old:
            print("%s N=%d: manifests baseline / this: %.1fx (%d B vs %d B per instance)" % (
                r["shape"], r["count"], old["bytes"] / r["bytes"], old["bytes"] / r["count"],
                r["bytes"] / r["count"]))
        if old:
            print("%s N=%d: analysis baseline / this: %.2fx" % (
                r["shape"], r["count"], old["analysis"] / r["analysis"]))
