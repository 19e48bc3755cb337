"""Reads what a Bazel build did, for e2e/remote/run_tests.sh.

  spawn_stats.py summary BUILD_LOG      -> "internal=N remote=N ..." from the
                                           "N processes: ..." summary line
  spawn_stats.py runners EXEC_LOG       -> "remote=N remote-cache-hit=N ..." per
                                           spawn of an --execution_log_json_file
  spawn_stats.py outputs EXEC_LOG       -> "<sha256> <path>" of every output file
                                           the spawns produced, sorted by path
"""

import json
import re
import sys


def spawns(path):
    """The execution log is a stream of JSON objects, not one document."""
    text = open(path, encoding="utf-8").read()
    decoder, i = json.JSONDecoder(), 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return
        spawn, i = decoder.raw_decode(text, i)
        yield spawn


def summary(path):
    line = ""
    for candidate in open(path, encoding="utf-8", errors="replace"):
        if re.search(r"\d+ process(es)?: ", candidate):
            line = candidate
    counts = {}
    if line:
        body = line.split(": ", 2)[-1].strip().rstrip(".")
        for part in body.split(", "):
            number, _, kind = part.partition(" ")
            if number.isdigit():
                counts[kind.replace(" ", "-")] = int(number)
    return counts


def runners(path):
    counts = {}
    for spawn in spawns(path):
        runner = spawn.get("runner", "?")
        if spawn.get("remoteCacheHit"):
            runner = "remote-cache-hit"
        runner = runner.replace(" ", "-")
        counts[runner] = counts.get(runner, 0) + 1
    return counts


def outputs(path):
    found = {}
    for spawn in spawns(path):
        for output in spawn.get("actualOutputs", []):
            found[output["path"]] = output.get("digest", {}).get("hash", "")
    return found


def main():
    what, path = sys.argv[1], sys.argv[2]
    if what == "outputs":
        for output_path, digest in sorted(outputs(path).items()):
            print(digest, output_path)
        return
    counts = summary(path) if what == "summary" else runners(path)
    print(" ".join(f"{kind}={n}" for kind, n in sorted(counts.items())))


if __name__ == "__main__":
    main()
