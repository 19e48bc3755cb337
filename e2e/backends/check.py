"""Checks of e2e/backends/run_tests.sh over terraform's pg states, apply windows
and fleet reports. Each command prints one line the driver compares.

  states SQL_TSV NAMES...      problems in the states (names, values), or "ok"
  windows LOG RUNNERS NAMES... overlapping windows of one instance, or "ok N"
  report REPORT FIELD          per instance: name=value of a report field
"""

import json
import sys


def expected_values(name):
    """The values fleet/BUILD.bazel gives cluster-NN (num_shards = 1 + (NN - 1) % 3)."""
    n = int(name.rsplit("-", 1)[1])
    return {"cluster_id": name, "node_type": "cache.t4g.small", "num_shards": 1 + (n - 1) % 3}


def cluster_input(state):
    for resource in state.get("resources", []):
        if resource["type"] == "terraform_data" and resource["name"] == "cluster":
            return resource["instances"][0]["attributes"]["input"]["value"]
    return None


def cmd_states(tsv, *names):
    """TSV of `name<TAB>data` rows (psql -At -F tab): exactly NAMES, each with its own values."""
    problems, found = [], {}
    with open(tsv) as f:
        for line in f:
            if not line.strip():
                continue
            name, data = line.rstrip("\n").split("\t", 1)
            found[name] = json.loads(data)
    if sorted(found) != sorted(names):
        problems.append("workspaces %s, expected %s" % (sorted(found), sorted(names)))
    for name in names:
        if name not in found:
            continue
        got = cluster_input(found[name])
        if got != expected_values(name):
            problems.append("%s holds %s" % (name, got))
    print("; ".join(problems) or "ok")


def cmd_windows(log, runners, *names):
    """Each instance has one complete window per runner and no two windows of it overlap."""
    runners = runners.split(",")
    windows = {}
    with open(log) as f:
        for line in f:
            kind, name, runner, at = line.split()
            key = (name, runner)
            if kind == "start":
                windows.setdefault(key, []).append([float(at), None])
            elif windows.get(key) and windows[key][-1][1] is None:
                windows[key][-1][1] = float(at)
    problems, count = [], 0
    for name in names:
        spans = []
        for runner in runners:
            mine = windows.get((name, runner), [])
            if not mine or any(end is None for _, end in mine):
                problems.append("%s: runner %s has no complete window %s" % (name, runner, mine))
            spans += [(start, end, runner) for start, end in mine if end is not None]
        spans.sort()
        count += len(spans)
        for (s1, e1, r1), (s2, e2, r2) in zip(spans, spans[1:]):
            if s2 < e1:
                problems.append("%s: %s's apply [%.3f, %.3f] overlaps %s's [%.3f, %.3f]" % (name, r1, s1, e1, r2, s2, e2))
    print("; ".join(problems) or "ok %d" % count)


def cmd_app(tsv):
    """web's recorded cache_endpoint, from a `name<TAB>data` TSV."""
    with open(tsv) as f:
        for line in f:
            name, data = line.rstrip("\n").split("\t", 1)
            if name == "web":
                for resource in json.loads(data).get("resources", []):
                    if resource["name"] == "app" and resource["instances"]:
                        print(resource["instances"][0]["attributes"]["input"]["value"]["cache_endpoint"])
                        return
                print("(no resources)")
                return
    print("(no web workspace)")


def cmd_order(report, first, then):
    """Whether FIRST ended before THEN started."""
    with open(report) as f:
        byname = {i["name"]: i for i in json.load(f)["instances"]}
    a, b = byname[first], byname[then]
    print("ok" if a["ended_unix_ms"] and b["started_unix_ms"] and a["ended_unix_ms"] <= b["started_unix_ms"] else
          "%s ended at %s, %s started at %s" % (first, a["ended_unix_ms"], then, b["started_unix_ms"]))


def cmd_count(report, status):
    """How many instances have STATUS (while the report is being rewritten too)."""
    try:
        with open(report) as f:
            print(sum(1 for i in json.load(f)["instances"] if i["status"] == status))
    except (OSError, ValueError):
        print(0)


def cmd_report(report, field):
    with open(report) as f:
        data = json.load(f)
    print(" ".join("%s=%s" % (i["name"], i.get(field)) for i in data["instances"]))


if __name__ == "__main__":
    globals()["cmd_" + sys.argv[1]](*sys.argv[2:])
