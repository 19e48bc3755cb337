#!/usr/bin/env python3
"""Compares what Bazel and Buck2 built for the same fleets, byte for byte.

  compare_outputs.py BAZEL_BIN BUCK2_OUTPUTS FLEET_MANIFEST...

BAZEL_BIN is Bazel's bazel-bin; BUCK2_OUTPUTS is the output of
`buck2 build --show-full-output` for the instances' `[manifest]`, `[identity]`,
`[rendered]` and `[check]` sub-targets and the fleets' `[manifest]` (lines
`cell//pkg:name[sub] /abs/path`). FLEET_MANIFEST names fleets as `//pkg:name`.
For each fleet its manifest must be the same bytes; for each instance in it, its
own manifest, identity, build-check report and every file of its rendered tree
(path and bytes; modes are each build system's: Bazel makes outputs 0555) must be. Prints one line per difference and, last,
`N compared, N differ`; exits 1 on a difference.
"""

import filecmp
import json
import os
import re
import sys


def buck2_outputs(path):
    """{(//pkg:name, sub-target): path} from `--show-full-output` lines."""
    found = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\S+)//(\S*):(\S+)\[(\w+)\] (\S.*)$", line.strip())
            if m:
                label = "//%s:%s" % (m.group(2), m.group(3))
                found[(label, m.group(4))] = m.group(5)
    return found


def bazel_path(bazel_bin, label, suffix):
    package, name = label[2:].split(":", 1)
    return os.path.join(bazel_bin, package, name + suffix)


def tree(root):
    """{relative path: absolute path} of every file under root."""
    out = {}
    for parent, _, files in os.walk(root):
        for name in files:
            full = os.path.join(parent, name)
            out[os.path.relpath(full, root)] = full
    return out


def same_file(a, b):
    return os.path.isfile(a) and os.path.isfile(b) and filecmp.cmp(a, b, shallow=False)


def compare_tree(label, a, b, problems):
    ta, tb = tree(a), tree(b)
    for rel in sorted(set(ta) | set(tb)):
        if rel not in ta or rel not in tb:
            problems.append("%s: rendered %s only in %s" % (label, rel, "Bazel" if rel in ta else "Buck2"))
        elif not same_file(ta[rel], tb[rel]):
            problems.append("%s: rendered %s differs" % (label, rel))


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    bazel_bin, buck2 = argv[1], buck2_outputs(argv[2])
    problems, compared = [], 0
    instances = []
    for fleet in argv[3:]:
        ours = buck2.get((fleet, "manifest"))
        theirs = bazel_path(bazel_bin, fleet, ".manifest.json")
        compared += 1
        if not ours or not same_file(theirs, ours):
            problems.append("%s: fleet manifests differ (%s, %s)" % (fleet, theirs, ours))
        with open(theirs) as f:
            instances += [i["label"] for i in json.load(f)["instances"] if i["label"] not in instances]
    for label in instances:
        for sub, suffix in [("manifest", ".manifest.json"), ("identity", ".identity"), ("check", ".check.json")]:
            theirs = bazel_path(bazel_bin, label, suffix)
            ours = buck2.get((label, sub))
            if sub == "check" and not os.path.exists(theirs) and not ours:
                continue  # checked by the component's validation: nothing of its own
            compared += 1
            if not ours or not same_file(theirs, ours):
                problems.append("%s: %s differs (%s, %s)" % (label, sub, theirs, ours))
        compared += 1
        ours = buck2.get((label, "rendered"))
        if not ours:
            problems.append("%s: Buck2 built no rendered tree" % label)
        else:
            compare_tree(label, bazel_path(bazel_bin, label, ".rendered"), ours, problems)
    for problem in problems:
        print(problem)
    print("%d compared, %d differ" % (compared, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
