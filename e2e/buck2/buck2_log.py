#!/usr/bin/env python3
"""What a buck2 command ran, from its event log (`buck2 log show`, one JSON event a line).

  buck2_log.py ran LOG [CATEGORY...]      actions that ran a command locally: "<target> <category>" a line
  buck2_log.py overlap LOG [CATEGORY...]  the most local commands running at once, and how many ran

Local commands are the `Local`/`Execute` executor stages of action executions (the
process itself, not queueing or materialization); CATEGORY filters by action
category (`terraform_check`, `variant_build`, ...). The e2e driver and
bench/buck2_scale.py use it to prove which actions ran and that they ran in parallel.
"""

import json
import sys


def _events(path):
    with open(path) as f:
        for line in f:
            try:
                event = json.loads(line).get("Event")
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event


def _seconds(timestamp):
    return timestamp[0] + timestamp[1] / 1e9


def _action_name(data):
    """(target, category) of an ActionExecution span start."""
    key = data.get("key", {}) or {}
    owner = key.get("owner", {}) or {}
    target = "?"
    for value in owner.values():
        label = value.get("label", value) if isinstance(value, dict) else None
        if isinstance(label, dict):
            package = label.get("package", "")
            name = label.get("name", "")
            target = "%s:%s" % (package, name)
            break
    name = data.get("name", {}) or {}
    return target, name.get("category", "?")


def local_commands(path):
    """[(start, end, target, category)] of every command an action ran locally."""
    actions = {}  # ActionExecution span id -> (target, category)
    parents = {}  # ExecutorStage span id -> its ActionExecution span id (through parents)
    starts = {}
    commands = []
    for event in _events(path):
        data = event.get("data", {})
        span = event.get("span_id")
        parent = event.get("parent_id")
        if "SpanStart" in data:
            start = data["SpanStart"].get("data", {}) or {}
            if "ActionExecution" in start:
                actions[span] = _action_name(start["ActionExecution"])
            parents[span] = parent
            stage = (start.get("ExecutorStage") or {}).get("stage", {})
            if "Execute" in ((stage.get("Local") or {}).get("stage") or {}):
                starts[span] = _seconds(event["timestamp"])
        elif "SpanEnd" in data and span in starts:
            action = parents.get(span)
            while action is not None and action not in actions:
                action = parents.get(action)
            target, category = actions.get(action, ("?", "?"))
            commands.append((starts.pop(span), _seconds(event["timestamp"]), target, category))
    return commands


def overlap(commands):
    """The most commands running at the same instant."""
    edges = sorted([(s, 1) for s, _, _, _ in commands] + [(e, -1) for _, e, _, _ in commands])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def main(argv):
    if len(argv) < 3 or argv[1] not in ("ran", "overlap"):
        sys.exit(__doc__)
    categories = set(argv[3:])
    commands = [c for c in local_commands(argv[2]) if not categories or c[3] in categories]
    if argv[1] == "ran":
        for _, _, target, category in sorted(commands, key=lambda c: (c[2], c[3])):
            print(target, category)
    else:
        print(overlap(commands), len(commands))


if __name__ == "__main__":
    main(sys.argv)
