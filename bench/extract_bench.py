#!/usr/bin/env python3
"""Benchmarks of `fleet extract` against GNU tar, measured in one run.

Targets (issue 2), printed as PASS/FAIL lines at the end (informational: the
script always exits 0 once it has measured):
  - cold extraction of a ~200 MB tar.gz of ~2,000 files: fleet / `tar -xzf` <= 1.0
  - warm path with --sha256: <= 5 ms per call (without --sha256 reported too)
  - 32 cold racers on one fresh store: wall time <= 1.3 x one cold extraction
The same cold comparison is reported for the hermetic `--out` mode.

Usage: bench/extract_bench.py [--fleet PATH] [--repeat N] [--warm-calls N]
       bench/extract_bench.py --warm-only [--fleet PATH] [--warm-calls N]
--warm-only skips the cold runs and racers: it times the warm path (with and
without --sha256, and with --verify, which re-hashes the tree) on a small
archive of 500 files, for before/after comparisons on a busy machine.
The archive is generated once (deterministic content, mixed compressibility)
into bench/out/ and reused. Page caches cannot be dropped here, so cold runs
alternate fleet and tar, and every timed run starts after a sync.
"""

import argparse
import gzip
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
ARCHIVE = os.path.join(OUT, "tools-2000.tar.gz")
SEED = 20240601
FILES = 2000
# Uncompressed bytes; about 70 % of the files are incompressible, so the
# gzip archive lands near 200 MB.
TOTAL = 280 * 1024 * 1024


def generate(path):
    """Writes the deterministic benchmark archive (once; cached)."""
    rng = random.Random(SEED)
    mean = TOTAL // FILES
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT) as tar:
                for i in range(FILES):
                    kind = rng.random()
                    size = int(rng.expovariate(1.0 / mean)) if i % 10 else rng.randrange(0, 512)
                    size = min(size, mean * 8)
                    if kind < 0.7:
                        data = rng.randbytes(size)
                    else:
                        line = ("file %d: %s\n" % (i, "lorem ipsum dolor sit amet " * 3)).encode()
                        data = (line * (size // len(line) + 1))[:size]
                    info = tarfile.TarInfo("tools/d%02d/s%d/f%04d.%s" % (i % 40, i % 7, i, "sh" if i % 5 == 0 else "bin"))
                    info.size = len(data)
                    info.mode = 0o755 if i % 5 == 0 else 0o644
                    info.mtime = 1_600_000_000
                    info.uname = info.gname = "root"
                    tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, path)


def sha256_of(path):
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def rmtree(path):
    """Removes a tree even when fleet published it read-only."""
    if not os.path.lexists(path):
        return
    for dirpath, dirnames, _ in os.walk(path):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, 0o755)
    os.chmod(path, 0o755)
    shutil.rmtree(path)


def timed(argv):
    os.sync()
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def fmt_s(x):
    return "%.3f s" % x


def warm_only(args):
    """Per-call time of the warm path, best of three rounds of N calls."""
    work = os.path.join(OUT, "warm-only")
    rmtree(work)
    os.makedirs(work)
    archive = os.path.join(work, "small.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        for i in range(500):
            data = (b"file %d " % i) * 200
            info = tarfile.TarInfo("d%d/f%d" % (i % 10, i))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    digest = sha256_of(archive)
    store = os.path.join(work, "store")
    subprocess.run([args.fleet, "extract", "--archive", archive, "--store", store], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def per_call(extra):
        rounds = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(args.warm_calls):
                subprocess.run([args.fleet, "extract", "--archive", archive, "--store", store] + extra, check=True, stdout=subprocess.DEVNULL)
            rounds.append((time.perf_counter() - start) / args.warm_calls)
        return min(rounds)

    print("fleet: %s (%d calls x 3 rounds, best round)" % (args.fleet, args.warm_calls))
    print("warm: --sha256, per call          %.2f ms" % (per_call(["--sha256", digest]) * 1000))
    print("warm: without --sha256, per call  %.2f ms" % (per_call([]) * 1000))
    verify = subprocess.run([args.fleet, "extract", "--help"], capture_output=True, text=True).stdout
    if "--verify" in verify:
        print("warm: --sha256 --verify, per call %.2f ms (500 files re-hashed)" % (per_call(["--sha256", digest, "--verify"]) * 1000))
    rmtree(work)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fleet", default=os.path.join(ROOT, "target", "release", "fleet"))
    ap.add_argument("--repeat", type=int, default=3, help="cold runs of each tool (median)")
    ap.add_argument("--warm-calls", type=int, default=100, help="warm calls with --sha256")
    ap.add_argument("--racers", type=int, default=32)
    ap.add_argument("--warm-only", action="store_true", help="only the warm path, on a small archive")
    args = ap.parse_args()

    if not os.access(args.fleet, os.X_OK):
        sys.exit("no fleet binary at %s: run `cargo build --release` first" % args.fleet)
    if args.warm_only:
        return warm_only(args)
    os.makedirs(OUT, exist_ok=True)
    if not os.path.exists(ARCHIVE):
        print("generating %s (once) ..." % ARCHIVE, flush=True)
        generate(ARCHIVE)
    size = os.path.getsize(ARCHIVE)
    digest = sha256_of(ARCHIVE)
    work = os.path.join(OUT, "work")
    rmtree(work)
    os.makedirs(work)
    print("archive: %s, %.0f MB, %d files, sha256 %s" % (ARCHIVE, size / 1e6, FILES, digest[:16]))
    print("fleet:   %s" % args.fleet)

    # Cold: alternate tar / fleet store / fleet --out, fresh directories.
    cold = {"tar": [], "store": [], "out": []}
    for r in range(args.repeat):
        order = ["tar", "store", "out"] if r % 2 == 0 else ["out", "store", "tar"]
        for tool in order:
            dest = os.path.join(work, "%s-%d" % (tool, r))
            if tool == "tar":
                os.makedirs(dest)
                cold[tool].append(timed(["tar", "-xzf", ARCHIVE, "-C", dest]))
            elif tool == "store":
                cold[tool].append(timed([args.fleet, "extract", "--archive", ARCHIVE, "--store", dest]))
            else:
                cold[tool].append(timed([args.fleet, "extract", "--archive", ARCHIVE, "--out", dest]))
            rmtree(dest)
    med = {k: statistics.median(v) for k, v in cold.items()}

    # Warm: a complete version, called again and again.
    store = os.path.join(work, "warm-store")
    subprocess.run([args.fleet, "extract", "--archive", ARCHIVE, "--store", store], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    warm_calls = max(args.warm_calls, 100)
    start = time.perf_counter()
    for _ in range(warm_calls):
        subprocess.run([args.fleet, "extract", "--archive", ARCHIVE, "--store", store, "--sha256", digest], check=True, stdout=subprocess.DEVNULL)
    warm_sha = (time.perf_counter() - start) / warm_calls
    plain_calls = 10
    start = time.perf_counter()
    for _ in range(plain_calls):
        subprocess.run([args.fleet, "extract", "--archive", ARCHIVE, "--store", store], check=True, stdout=subprocess.DEVNULL)
    warm_plain = (time.perf_counter() - start) / plain_calls
    rmtree(store)

    # Racers: N processes started back to back on one fresh store, without
    # and with --sha256 (Bazel knows the digest; then waiters skip hashing).
    def race(extra, label):
        walls = []
        for r in range(args.repeat):
            store = os.path.join(work, "race-%s-%d" % (label, r))
            os.sync()
            start = time.perf_counter()
            procs = [
                subprocess.Popen(
                    [args.fleet, "extract", "--archive", ARCHIVE, "--store", store, "--timeout", "600"] + extra,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(args.racers)
            ]
            codes = [p.wait() for p in procs]
            walls.append(time.perf_counter() - start)
            if any(codes):
                sys.exit("a racer failed: exit codes %s" % codes)
            rmtree(store)
        return statistics.median(walls), walls

    racers, racer_walls = race([], "plain")
    racers_sha, racer_sha_walls = race(["--sha256", digest], "sha")
    rmtree(work)

    rows = [
        ("cold: GNU tar -xzf", med["tar"], cold["tar"], ""),
        ("cold: fleet extract --store", med["store"], cold["store"], "%.2f x tar" % (med["store"] / med["tar"])),
        ("cold: fleet extract --out", med["out"], cold["out"], "%.2f x tar" % (med["out"] / med["tar"])),
        ("warm: --sha256, per call", warm_sha, None, "%d calls" % warm_calls),
        ("warm: without --sha256, per call", warm_plain, None, "%d calls" % plain_calls),
        ("%d cold racers, wall" % args.racers, racers, racer_walls, "%.2f x one cold extraction" % (racers / med["store"])),
        ("%d cold racers --sha256, wall" % args.racers, racers_sha, racer_sha_walls, "%.2f x one cold extraction" % (racers_sha / med["store"])),
    ]
    print()
    print("%-36s %12s  %-30s %s" % ("measurement", "median", "runs", "ratio"))
    for name, m, runs, note in rows:
        runs_s = " ".join("%.3f" % x for x in runs) if runs else ""
        print("%-36s %12s  %-30s %s" % (name, fmt_s(m) if m >= 0.1 else "%.2f ms" % (m * 1000), runs_s, note))
    print()

    def verdict(ok):
        return "PASS" if ok else "FAIL"

    cold_ratio = med["store"] / med["tar"]
    out_ratio = med["out"] / med["tar"]
    race_ratio = racers / med["store"]
    print("%s cold extraction (--store) vs tar -xzf: %.2f (target <= 1.0)" % (verdict(cold_ratio <= 1.0), cold_ratio))
    print("%s cold extraction (--out) vs tar -xzf: %.2f (target <= 1.0)" % (verdict(out_ratio <= 1.0), out_ratio))
    print("%s warm path with --sha256: %.2f ms per call (target <= 5 ms)" % (verdict(warm_sha <= 0.005), warm_sha * 1000))
    print("INFO warm path without --sha256: %.1f ms per call" % (warm_plain * 1000))
    race_sha_ratio = racers_sha / med["store"]
    print("%s %d cold racers vs one cold extraction: %.2f (target <= 1.3)" % (verdict(race_ratio <= 1.3), args.racers, race_ratio))
    print("%s %d cold racers with --sha256 vs one cold extraction: %.2f (target <= 1.3)" % (verdict(race_sha_ratio <= 1.3), args.racers, race_sha_ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
