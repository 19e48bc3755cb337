#!/usr/bin/env python3
"""Checks one apply of //fleets/groups:all against the instances' own log.

Reads <events> (lines "start NAME NS" / "end NAME NS" written by each
instance's provisioner and by the caches' hook, "hook:<label>") and the run
report, and prints one "ok ..." or "FAIL ..." line per rule; exits 1 when a
rule failed. The rules (issue 16's "checked by"):
  caches at most 2 at once (and 2 at some point), everything at most 4;
  mig-1, mig-2, mig-3 one after the other, in order;
  account alone: nothing else (instance or hook) overlaps it;
  more than one group at once (a cache overlaps a migration);
  the hook once, after every cache ended, and cdn (a dependent of cache-1)
  only after the hook.
"""

import json
import sys

CACHES = ["cache-1", "cache-2", "cache-3", "cache-4"]
MIGRATIONS = ["mig-1", "mig-2", "mig-3"]
HOOK = "hook://fleets/groups:caches"


def intervals(path):
    starts, spans, counts = {}, {}, {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3 or parts[0] not in ("start", "end"):
                continue
            kind, name, ns = parts[0], parts[1], int(parts[2])
            if kind == "start":
                starts[name] = ns
                counts[name] = counts.get(name, 0) + 1
            elif name in starts:
                spans[name] = (starts[name], ns)
    return spans, counts


def overlap(a, b):
    return a[0] < b[1] and b[0] < a[1]


def most_at_once(spans):
    points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    best = now = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best


def main():
    events, report_path = sys.argv[1], sys.argv[2]
    spans, counts = intervals(events)
    results = []

    def rule(ok, text):
        results.append(ok)
        print(("ok " if ok else "FAIL ") + text)

    everyone = CACHES + MIGRATIONS + ["account", "cdn"]
    missing = [n for n in everyone + [HOOK] if n not in spans]
    rule(not missing, "every instance and the hook logged a start and an end (missing: %s)" % missing)
    if missing:
        return 1
    caches = [spans[n] for n in CACHES]
    rule(most_at_once(caches) == 2, "caches at most 2 at once, and 2 at some point (saw %d)" % most_at_once(caches))
    instances = [spans[n] for n in everyone]
    rule(most_at_once(instances) <= 4, "at most 4 instances at once (saw %d)" % most_at_once(instances))
    order = all(spans[a][1] <= spans[b][0] for a, b in zip(MIGRATIONS, MIGRATIONS[1:]))
    rule(order, "migrations one after the other in order: %s" % [spans[n] for n in MIGRATIONS])
    alone = [n for n in everyone + [HOOK] if n != "account" and overlap(spans[n], spans["account"])]
    rule(not alone, "account ran alone (overlapped by %s)" % alone)
    together = any(overlap(spans[c], spans[m]) for c in CACHES for m in MIGRATIONS)
    rule(together, "the caches and the migrations ran at the same time")
    rule(counts.get(HOOK) == 1, "the hook ran once (ran %s times)" % counts.get(HOOK))
    last_cache = max(e for _, e in caches)
    rule(spans[HOOK][0] >= last_cache, "the hook started after the last cache ended")
    rule(spans["cdn"][0] >= spans[HOOK][1], "cdn (depends on cache-1) started after the hook ended")

    with open(report_path) as f:
        report = json.load(f)
    groups = {g["name"]: g for g in report.get("groups", [])}
    caches_group = groups.get("caches", {})
    hook = caches_group.get("hook") or {}
    rule(
        caches_group.get("concurrency") == 2
        and len(caches_group.get("members", [])) == 4
        and hook.get("status") == "succeeded"
        and caches_group.get("status") == "succeeded",
        "report: caches group with concurrency 2, 4 members, hook succeeded",
    )
    rule(
        groups.get("migrations", {}).get("mode") == "serial"
        and groups.get("migrations", {}).get("hook") is None,
        "report: migrations group is serial, without a hook run",
    )
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
