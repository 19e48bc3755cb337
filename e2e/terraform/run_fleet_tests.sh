#!/usr/bin/env bash
# End-to-end tests of tf_fleet and `fleet run`, with real Bazel and real
# terraform, on a private copy of this workspace (the source tree is never
# written to). The fleet is //fleets/chain:platform: network -> 2 subnets ->
# 3 apps wired by inputs_from, `flaky` (fails until told otherwise) and its
# dependent, and the twelve redis clusters, at parallelism 3.
#
#   e2e/terraform/run_fleet_tests.sh      # FLEET_HELPER defaults to <repo>/target/release/fleet
#   e2e/terraform/run_fleet_tests.sh NAME...   # only the named checks (--list prints them)
#   E2E_KEEP=1 e2e/terraform/run_fleet_tests.sh   # keeps the temp dir (logs, reports) and says where
#
# Runs are steered through the environment, never by editing sources:
# TF_VAR_e2e_dir names a directory of marker files read by
# fleets/chain/hook.sh (fixed, hold/release, fail-when-told/fail-now) and
# TF_VAR_e2e_round re-creates every chain instance's hook. Waits poll for a
# condition with a deadline; nothing sleeps to synchronise.
#
# Prints one line per check and, last, `e2e-fleet: N passed, N failed`;
# exits non-zero when a check failed.
set -uo pipefail
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=e2e/lib.sh
source "$here/../lib.sh"
e2e_suite e2e-fleet

# Runs this driver started that a failed check left behind, then what they started.
stop_leftovers() {
  local pid
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in $(check procs "$ws/.fleet/" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
}

suite_setup() {
  if [[ ! -x "$helper" ]] || ! "$helper" run --help >/dev/null 2>&1; then
    fail "helper" "$helper is missing or has no 'run' command (cargo build --release)"
    finish
  fi
  if ! command -v terraform >/dev/null 2>&1; then
    fail "terraform" "terraform is not on PATH"
    finish
  fi
  e2e_tmp e2e-fleet
  ws="$tmp/ws"
  marks="$tmp/marks"
  mkdir -p "$marks"
  background=()
  e2e_at_exit stop_leftovers
  e2e_copy_workspace "$ws"
  write_check_py
  # Every terraform of every run sees these (fleets/chain/hook.sh reads them).
  export TF_VAR_e2e_dir="$marks"
  export TF_VAR_e2e_round=r1
  fleet_root="$ws/.fleet"
  bin_dir="$(bz "$ws" info bazel-bin 2>/dev/null)"
  manifest="$bin_dir/fleets/chain/platform.manifest.json"
}

# fleet_run ACTION LOG ARGS...: `bazel run //fleets/chain:platform.ACTION -- ARGS`; returns its status.
fleet_run() {
  local action="$1" log="$2"
  shift 2
  bz "$ws" run "//fleets/chain:platform.$action" -- "$@" >"$log" 2>&1
}

# Checks over reports, manifests, states and processes.
write_check_py() {
  cat >"$tmp/check.py" <<'EOF'
import json, os, sys

def load(path):
    with open(path) as f:
        return json.load(f)

def by_name(report):
    return {i["name"]: i for i in report["instances"]}

def deps_by_name(manifest):
    names = {i["label"]: i["name"] for i in manifest["instances"]}
    return {i["name"]: [names[d] for d in i["deps"]] for i in manifest["instances"]}

def ran(report):
    return [i for i in report["instances"] if i["started_unix_ms"] is not None and not i["reused"]]

def cmd_statuses(report):
    """name status reused reason, one instance a line."""
    for i in load(report)["instances"]:
        print("%s\t%s\t%s\t%s" % (i["name"], i["status"], "reused" if i["reused"] else "ran", i["reason"] or ""))

def cmd_order(report, manifest, direction):
    """Dependency pairs checked and violated (forward: a dependency ends before its dependent starts)."""
    r, deps = by_name(load(report)), deps_by_name(load(manifest))
    checked, bad = 0, []
    for name, inst in r.items():
        for dep in deps[name]:
            first, then = (r[dep], inst) if direction == "forward" else (inst, r[dep])
            if then["started_unix_ms"] is None:
                continue
            checked += 1
            if first["ended_unix_ms"] is None or first["ended_unix_ms"] > then["started_unix_ms"]:
                bad.append("%s started before %s ended" % (then["name"], first["name"]))
    print(checked, len(bad), "; ".join(bad) or "-")

def cmd_overlap(report):
    """The most instances running at once, from start and end times."""
    events = []
    for i in ran(load(report)):
        events += [(i["started_unix_ms"], 1), (i["ended_unix_ms"], -1)]
    # At equal times an end comes first: the scheduler starts the next one after it.
    events.sort(key=lambda e: (e[0], e[1]))
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    print(most)

def cmd_started_after(report, name):
    """Instances started after NAME ended."""
    r = load(report)
    end = by_name(r)[name]["ended_unix_ms"]
    late = [i["name"] for i in ran(r) if i["started_unix_ms"] > end]
    print(" ".join(late) or "-")

def cmd_ready_cancelled(report, manifest):
    """Cancelled instances whose dependencies had all succeeded: they could have started."""
    r, deps = by_name(load(report)), deps_by_name(load(manifest))
    ready = [n for n, i in r.items() if i["status"] == "cancelled" and
             all(r[d]["status"] == "succeeded" for d in deps[n])]
    print(len(ready))

def cmd_max_lock_wait(report):
    print(max([i["lock_wait_s"] or 0 for i in load(report)["instances"]] + [0]))

def cmd_states(fleet_root, round_):
    """Problems in the states: chain inputs must be the upstream outputs, hooks of ROUND, redis its own values."""
    problems = []
    def state(run_dir):
        s = load(os.path.join(fleet_root, run_dir, "terraform.tfstate"))
        res = {r["name"]: r["instances"][0]["attributes"] for r in s["resources"] if r["instances"]}
        return res, {k: v["value"] for k, v in s.get("outputs", {}).items()}
    wiring = {
        "subnet-a": {"vpc_id": ("network", "vpc_id")},
        "subnet-b": {"vpc_id": ("network", "vpc_id")},
        "flaky": {"vpc_id": ("network", "vpc_id")},
        "app-1": {"subnet_id": ("subnet-a", "subnet_id")},
        "app-2": {"subnet_id": ("subnet-b", "subnet_id")},
        "app-3": {"subnet_id": ("subnet-b", "subnet_id"), "peer_subnet_id": ("subnet-a", "subnet_id")},
        "flaky-consumer": {"subnet_id": ("flaky", "subnet_id")},
        "network": {},
    }
    for name, inputs in wiring.items():
        try:
            res, _ = state("fleets/chain/" + name)
            value = res["this"]["input"]["value"]
            for var, (up, out) in inputs.items():
                _, up_outputs = state("fleets/chain/" + up)
                if value[var] != up_outputs[out] or not value[var]:
                    problems.append("%s.%s=%r, %s#%s=%r" % (name, var, value[var], up, out, up_outputs.get(out)))
            if round_ != "-" and res["hook"]["triggers_replace"]["value"] != [round_]:
                problems.append("%s hook of %s" % (name, res["hook"]["triggers_replace"]["value"]))
        except (OSError, KeyError, IndexError, ValueError, TypeError) as e:
            problems.append("%s: %r" % (name, e))
    for n in range(1, 13):
        name = "redis-cluster-%d" % n
        try:
            res, outputs = state("infra/elasticache/" + name)
            if res["cluster"]["input"]["value"]["cluster_id"] != name or outputs["cluster_id"] != name:
                problems.append("%s holds %s" % (name, outputs.get("cluster_id")))
        except (OSError, KeyError, IndexError, ValueError, TypeError) as e:
            problems.append("%s: %r" % (name, e))
    for root, dirs, files in os.walk(fleet_root):
        if ".terraform.tfstate.lock.info" in files:
            problems.append("state lock left in " + root)
    print("; ".join(problems) or "ok")

def cmd_empty_states(fleet_root):
    """Run directories whose state still holds resources."""
    left = []
    for root, dirs, files in os.walk(fleet_root):
        if "terraform.tfstate" in files and ".terraform-data" not in root:
            if load(os.path.join(root, "terraform.tfstate")).get("resources"):
                left.append(os.path.relpath(root, fleet_root))
    print(" ".join(sorted(left)) or "-")

def environ(pid):
    try:
        with open("/proc/%s/environ" % pid, "rb") as f:
            return dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
    except OSError:
        return {}

def cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []

def cmd_procs(prefix):
    """Processes started for a run directory under PREFIX (terraform, hook shells, ...)."""
    me = str(os.getpid())
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if pid != me and environ(pid).get(b"FLEET_RUN_DIR", b"").startswith(prefix.encode()):
            print(pid)

def parent(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[1]
    except (OSError, IndexError):
        return "0"

def cmd_fleet_pids(workspace):
    """`fleet run` processes working for WORKSPACE (not their children between fork and exec)."""
    def is_runner(pid):
        argv = cmdline(pid)
        return len(argv) > 1 and argv[0].endswith(b"/fleet") and argv[1] == b"run" and \
            environ(pid).get(b"BUILD_WORKSPACE_DIRECTORY") == workspace.encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if is_runner(pid) and not is_runner(parent(pid)):
            print(pid)

def cmd_manifest(manifest):
    m = load(manifest)
    deps = deps_by_name(m)
    print(len(m["instances"]), m["parallelism"], ",".join(sorted(deps)), ",".join(deps["subnet-a"]),
          ",".join(sorted(deps["app-3"])))

commands = {k[4:].replace("_", "-"): v for k, v in globals().items() if k.startswith("cmd_")}
commands[sys.argv[1]](*sys.argv[2:])
EOF
}
check() { python3 "$tmp/check.py" "$@"; }

# wait_until SECONDS COMMAND...: polls COMMAND until it succeeds; fails after SECONDS.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS > deadline)) && return 1
    sleep 0.1
  done
}
exists() { [[ -e "$1" ]]; }
gone() { ! kill -0 "$1" 2>/dev/null; }
no_run_processes() { [[ -z "$(check procs "$ws/.fleet/")" ]]; }
# status_of REPORT NAME: the instance's status.
status_of() { check statuses "$1" | awk -F'\t' -v n="$2" '$1 == n { print $2 }'; }
# names_where REPORT AWK_CONDITION: sorted names of matching instances ($2 status, $3 ran|reused, $4 reason).
names_where() { check statuses "$1" | awk -F'\t' "$2 { print \$1 }" | sort | tr '\n' ' ' | sed 's/ $//'; }
# hooks_of ROUND: sorted instance names whose hook ran in ROUND (one per run).
hooks_of() { awk -v r="$1" '$2 == r { print $1 }' "$marks/hooks" 2>/dev/null | sort | tr '\n' ' ' | sed 's/ $//'; }

chain="app-1 app-2 app-3 flaky flaky-consumer network subnet-a subnet-b"

# Setups several checks share (each runs once): the fleet built; the
# keep-going apply (flaky fails); the --resume after it (flaky fixed).
fleet_built() {
  fleet_build_status=0
  bz "$ws" build //fleets/chain:platform >"$logs/build.log" 2>&1 || fleet_build_status=$?
}
kept_going() {
  e2e_needs fleet_built
  r1="$tmp/keep-going.json"
  keep_going_status=0
  fleet_run apply "$logs/keep-going.log" --report "$r1" || keep_going_status=$?
}
resumed_after_keep_going() {
  e2e_needs kept_going
  touch "$marks/fixed"
  resumed="$tmp/resumed.json"
  resume_status=0
  # No report at $resumed yet: --resume reads the fleet's last report under .fleet/.reports/.
  fleet_run apply "$logs/resume.log" --resume --report "$resumed" || resume_status=$?
}

# <fleet> builds and validates every instance, dependencies included
check_build() {
  e2e_needs fleet_built
  if [[ $fleet_build_status -eq 0 ]]; then
    valid=0
    for name in $chain; do
      # Instances fed by inputs_from are checked by the component's validation (no values at build time).
      report="$bin_dir/fleets/chain/$name.check.json"
      [[ -f "$report" ]] || report="$bin_dir/fleets/chain/service.validation.json"
      grep -q '"result": "pass"' "$report" 2>/dev/null && valid=$((valid + 1))
    done
    for n in $(seq 1 12); do
      grep -q '"result": "pass"' "$bin_dir/infra/elasticache/redis-cluster-$n.check.json" 2>/dev/null && valid=$((valid + 1))
    done
    if [[ $valid -eq 20 ]]; then pass "building the fleet validates its 16 listed instances and their 4 dependencies"; else
      fail "building the fleet validates all 20 instances" "$valid valid reports"
    fi
  else
    fail "building the fleet validates all 20 instances" "$(grep -m3 ERROR "$logs/build.log")"
  fi
  read -r count parallelism names subnet_deps app3_deps < <(check manifest "$manifest" 2>/dev/null)
  expected_names="$(printf '%s\n' $chain $(seq -f 'redis-cluster-%g' 1 12) | sort | tr '\n' ',' | sed 's/,$//')"
  if [[ "${count:-}" == 20 && "$parallelism" == 3 && "$names" == "$expected_names" &&
    "$subnet_deps" == "network" && "$app3_deps" == "subnet-a,subnet-b" ]]; then
    pass "the manifest holds the 20 instances, parallelism 3, and deps implied by inputs_from"
  else
    fail "fleet manifest" "count ${count:-?}, parallelism ${parallelism:-?}, subnet-a deps '${subnet_deps:-}', app-3 deps '${app3_deps:-}', names ${names:-}"
  fi
}

# a dependency cycle, or shared state, fails analysis naming the culprits
check_analysis_failures() {
  if bz "$ws" build //fleets/cycle:cycle >"$logs/cycle.log" 2>&1; then
    fail "a cycle fails analysis" "the build succeeded"
  elif grep -q "cycle in dependency graph" "$logs/cycle.log" &&
    grep -qE '^\.-> //fleets/cycle:a$' "$logs/cycle.log" && grep -qE '^\|   //fleets/cycle:b$' "$logs/cycle.log" &&
    grep -qE '^\|   //fleets/cycle:c$' "$logs/cycle.log" && grep -qE '^`-- //fleets/cycle:a$' "$logs/cycle.log"; then
    pass "an inputs_from cycle a -> b -> c -> a fails analysis, naming the cycle"
  else
    fail "a cycle fails analysis naming it" "$(grep -m5 -A5 ERROR "$logs/cycle.log")"
  fi

  if bz "$ws" build //fleets/shared_state >"$logs/shared.log" 2>&1; then
    fail "a fleet whose instances share state fails analysis" "the build succeeded"
  elif grep -q "Analysis of target '//fleets/shared_state:shared_state' failed" "$logs/shared.log" &&
    grep -qF "//fleets/shared_state:shared_state: instances //fleets/shared_state/east:network and //fleets/shared_state/west:network share state" "$logs/shared.log"; then
    pass "a fleet of two instances sharing one S3 key fails analysis, naming both"
  else
    fail "a fleet whose instances share state fails analysis naming both" "$(grep -m3 ERROR "$logs/shared.log")"
  fi
}

# keep-going: order, limit, the failure's dependents skipped, the rest applied
check_keep_going() {
  e2e_needs kept_going
  status=$keep_going_status
  if [[ ! -f "$r1" ]]; then
    fail "keep-going apply writes a report" "exit $status: $(tail -5 "$logs/keep-going.log")"
  else
    read -r checked violations detail < <(check order "$r1" "$manifest" forward)
    # 8 dependency pairs; flaky-consumer never started.
    if [[ "$checked" -eq 7 && "$violations" -eq 0 ]]; then
      pass "order: in each of the 7 dependency pairs that ran, the dependency ended before its dependent started"
    else
      fail "dependency order" "$checked pairs checked, $violations violated: $detail"
    fi
    most="$(check overlap "$r1")"
    if [[ "$most" -eq 3 ]]; then pass "at most 3 (the fleet's parallelism) ran at once, and 3 did"; else
      fail "concurrency limit 3" "$most ran at once"
    fi
    skipped="$(names_where "$r1" '$2 == "skipped"')"
    reason="$(check statuses "$r1" | awk -F'\t' '$1 == "flaky-consumer" { print $4 }')"
    succeeded="$(names_where "$r1" '$2 == "succeeded"' | wc -w)"
    states="$(check states "$fleet_root" r1)"
    if [[ $status -eq 1 && "$(status_of "$r1" flaky)" == failed && "$skipped" == flaky-consumer &&
      "$reason" == "upstream dependencies failed: flaky" && $succeeded -eq 18 && ! -e "$fleet_root/fleets/chain/flaky-consumer/terraform.tfstate" ]]; then
      pass "flaky failed, its dependent was skipped (upstream dependencies failed: flaky), the other 18 applied (exit 1)"
    else
      fail "failure handling" "exit $status, flaky $(status_of "$r1" flaky), skipped '$skipped' ($reason), $succeeded succeeded"
    fi
    if [[ "$states" == "flaky-consumer: "* && "$states" != *";"* ]]; then
      pass "every applied instance's state holds its upstreams' outputs (inputs_from) or its own values"
    else
      fail "states after the keep-going apply" "$states"
    fi
  fi
}

# --resume re-runs exactly the failed and skipped ones
check_resume() {
  e2e_needs resumed_after_keep_going
  status=$resume_status
  reran="$(names_where "$resumed" '$3 == "ran"' 2>/dev/null)"
  reused="$(names_where "$resumed" '$3 == "reused" && $2 == "succeeded"' 2>/dev/null | wc -w)"
  if [[ $status -eq 0 && "$reran" == "flaky flaky-consumer" && $reused -eq 18 &&
    "$(hooks_of r1)" == "app-1 app-2 app-3 flaky flaky flaky-consumer network subnet-a subnet-b" &&
    "$(check states "$fleet_root" r1)" == ok ]]; then
    pass "--resume re-ran exactly flaky and flaky-consumer (report and hooks agree), all 20 now applied"
  else
    fail "--resume" "exit $status, re-ran '$reran', reused $reused, hooks of r1: $(hooks_of r1)"
  fi
}

# --fail-fast launches nothing after the failure
check_fail_fast() {
  e2e_needs fleet_built resumed_after_keep_going
  # With --parallelism 2: subnet-a is held in flight and flaky waits for fail-now.
  # Once both have said so, both slots are theirs; whatever else is ready
  # (redis clusters, app-2...) waits for a slot that the failure frees.
  export TF_VAR_e2e_round=r2
  rm -f "$marks/fixed" "$marks/release" "$marks"/held-* "$marks"/waiting-*
  touch "$marks/hold-subnet-a" "$marks/fail-when-told"
  ff="$tmp/fail-fast.json"
  fleet_run apply "$logs/fail-fast.log" --fail-fast --parallelism 2 --report "$ff" &
  runner=$!
  background+=("$runner")
  if wait_until 60 exists "$marks/held-subnet-a" && wait_until 60 exists "$marks/waiting-flaky"; then
    touch "$marks/fail-now"
    # A runner that did not stop would wait for subnet-a until the hook gives up:
    # release it after a while, so that it goes on to launch what the check catches.
    wait_until 40 gone "$runner" || touch "$marks/release"
  fi
  status=0
  wait "$runner" || status=$?
  rm -f "$marks/fail-when-told" "$marks/fail-now" "$marks/hold-subnet-a"
  if [[ -f "$ff" ]]; then
    late="$(check started-after "$ff" flaky 2>/dev/null)"
    cancelled="$(names_where "$ff" '$2 == "cancelled"' | wc -w)"
    ready="$(check ready-cancelled "$ff" "$manifest")"
    if [[ $status -ne 0 && "$(status_of "$ff" flaky)" == failed && "$late" == "-" &&
      "$(status_of "$ff" subnet-a)" == interrupted && $ready -ge 1 ]] && no_run_processes; then
      pass "--fail-fast: nothing started after flaky failed ($ready ready to start, $cancelled cancelled), subnet-a interrupted"
    else
      fail "--fail-fast" "exit $status, started after the failure: $late, flaky $(status_of "$ff" flaky), subnet-a $(status_of "$ff" subnet-a), ready but cancelled $ready, processes left: $(check procs "$fleet_root/" | wc -l)"
    fi
  else
    fail "--fail-fast" "no report (exit $status): $(tail -5 "$logs/fail-fast.log")"
  fi
}

# SIGINT mid-run: no terraform left, a resumable report
check_sigint() {
  e2e_needs fleet_built resumed_after_keep_going
  export TF_VAR_e2e_round=r3
  rm -f "$marks/release" "$marks"/held-*
  touch "$marks/fixed" "$marks/hold"
  interrupted_report="$tmp/interrupted.json"
  fleet_run apply "$logs/sigint.log" --report "$interrupted_report" &
  runner=$!
  background+=("$runner")
  sent=0
  if wait_until 60 exists "$marks/held-network"; then
    for pid in $(check fleet-pids "$ws"); do kill -INT "$pid" && sent=$((sent + 1)); done
  fi
  wait_until 60 gone "$runner"
  status=0
  wait "$runner" || status=$?
  left="$(check procs "$fleet_root/" | wc -l)"
  touch "$marks/release"
  if [[ $sent -eq 1 && $status -eq 130 && $left -eq 0 && -f "$interrupted_report" &&
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["interrupted_by"])' "$interrupted_report")" == SIGINT &&
    "$(status_of "$interrupted_report" network)" == interrupted ]]; then
    pass "SIGINT to fleet run: network interrupted, exit 130, no terraform or hook process left"
  else
    fail "SIGINT mid-run" "signalled $sent fleet run(s), exit $status, $left processes left, network $(status_of "$interrupted_report" network 2>/dev/null)"
  fi
  rm -f "$marks/hold"
  unfinished="$(names_where "$interrupted_report" '$2 != "succeeded"' 2>/dev/null)"
  status=0
  fleet_run apply "$logs/sigint-resume.log" --resume --report "$interrupted_report" || status=$?
  reran="$(names_where "$interrupted_report" '$3 == "ran"' 2>/dev/null)"
  if [[ $status -eq 0 && -n "$unfinished" && "$reran" == "$unfinished" &&
    "$(names_where "$interrupted_report" '$2 == "succeeded"' | wc -w)" -eq 20 && "$(check states "$fleet_root" r3)" == ok ]]; then
    pass "--resume after SIGINT re-ran exactly the $(wc -w <<<"$unfinished") unfinished instances; all 20 applied"
  else
    fail "resume after SIGINT" "exit $status, unfinished '$unfinished', re-ran '$reran'"
  fi
}

# two fleet applies at once take turns per instance
check_concurrent_applies() {
  e2e_needs fleet_built resumed_after_keep_going
  export TF_VAR_e2e_round=r4
  rm -f "$marks/release" "$marks"/held-*
  touch "$marks/hold"
  fleet_run apply "$logs/twin-a.log" --report "$tmp/twin-a.json" &
  twin_a=$!
  fleet_run apply "$logs/twin-b.log" --report "$tmp/twin-b.json" &
  twin_b=$!
  background+=("$twin_a" "$twin_b")
  waited=0
  wait_until 90 grep -q "waiting for lock" "$logs/twin-a.log" "$logs/twin-b.log" 2>/dev/null && waited=1
  touch "$marks/release"
  status_a=0
  status_b=0
  wait "$twin_a" || status_a=$?
  wait "$twin_b" || status_b=$?
  ok_a="$(names_where "$tmp/twin-a.json" '$2 == "succeeded"' 2>/dev/null | wc -w)"
  ok_b="$(names_where "$tmp/twin-b.json" '$2 == "succeeded"' 2>/dev/null | wc -w)"
  lock_wait="$(check max-lock-wait "$tmp/twin-a.json" 2>/dev/null) $(check max-lock-wait "$tmp/twin-b.json" 2>/dev/null)"
  hooks="$(hooks_of r4)"
  states="$(check states "$fleet_root" r4)"
  if [[ $status_a -eq 0 && $status_b -eq 0 && $ok_a -eq 20 && $ok_b -eq 20 && $waited -eq 1 &&
    "$hooks" == "$chain" && "$states" == ok ]]; then
    pass "two applies at once both succeed; one waited for the other's lock (max waits $lock_wait s); each change applied once; states correct"
  else
    fail "two concurrent applies" "exit $status_a/$status_b, succeeded $ok_a/$ok_b, lock waited: $waited, hooks of r4: '$hooks', states: $states"
  fi
}

# tf_instances creates a fleet; relative --report is the caller's
check_instances_fleet() {
  status=0
  bz "$ws" run //infra/elasticache:redis.plan -- --report redis-plan.json >"$logs/redis-plan.log" 2>&1 || status=$?
  plans=0
  for n in $(seq 1 12); do
    [[ -f "$fleet_root/infra/elasticache/redis-cluster-$n/plan.tfplan" ]] && plans=$((plans + 1))
  done
  if [[ $status -eq 0 && -f "$ws/redis-plan.json" && $plans -eq 12 &&
    "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["parallelism"], r["counts"]["succeeded"])' "$ws/redis-plan.json")" == "10 12" ]]; then
    pass "tf_instances' redis fleet: bazel run :redis.plan plans all 12 at parallelism 10; --report redis-plan.json lands in the caller's directory"
  else
    fail "tf_instances fleet plan" "exit $status, $plans plan files, report: $(ls "$ws"/redis-plan.json 2>&1)"
  fi
}

# destroy walks the graph in reverse
check_destroy() {
  e2e_needs fleet_built resumed_after_keep_going
  destroyed="$tmp/destroy.json"
  status=0
  fleet_run destroy "$logs/destroy.log" --report "$destroyed" || status=$?
  read -r checked violations detail < <(check order "$destroyed" "$manifest" reverse 2>/dev/null)
  remaining="$(check empty-states "$fleet_root")"
  if [[ $status -eq 0 && "${checked:-0}" -eq 8 && "${violations:-1}" -eq 0 && "$remaining" == "-" ]]; then
    pass "destroy: every dependent ended before its dependency started (8 pairs); no resources left"
  else
    fail "destroy in reverse order" "exit $status, ${checked:-?} pairs, ${violations:-?} violated: ${detail:-}; resources left in: $remaining"
  fi
}

# retries: an apply throttled twice succeeds on its third attempt; one that changed a
# resource is not rerun when the instance takes back the component's `apply`; bad
# retry dicts fail analysis naming the target
check_retry() {
  local report="$tmp/retry.json" status=0 problems=""
  if ! bz "$ws" build //fleets/retry >"$logs/retry-build.log" 2>&1; then
    fail "retry: the fleet builds" "$(grep -m3 ERROR "$logs/retry-build.log")"
    return
  fi
  problems+="$(python3 - "$bin_dir/fleets/retry/retry.manifest.json" <<'EOF'
import json, sys
m = {i["name"]: i for i in json.load(open(sys.argv[1]))["instances"]}
want = {"patterns": ["RequestLimitExceeded"], "max_attempts": 3, "delay_ms": 100,
        "max_delay_ms": 150, "apply": True, "defaults": False}
if m["twice"].get("retry") != want:
    print(" manifest retry of twice: %s;" % m["twice"].get("retry"))
if m["not-idempotent"].get("retry") != dict(want, apply=False):
    print(" manifest retry of not-idempotent: %s;" % m["not-idempotent"].get("retry"))
EOF
)"
  bz "$ws" run //fleets/retry:retry.apply -- --report "$report" >"$logs/retry-apply.log" 2>&1 || status=$?
  problems+="$(python3 - "$report" "$marks" <<'EOF'
import json, sys
r = {i["name"]: i for i in json.load(open(sys.argv[1]))["instances"]}
def runs(name):
    try:
        return int(open("%s/retry-%s.count" % (sys.argv[2], name)).read())
    except OSError:
        return 0
t, n = r["twice"], r["not-idempotent"]
outcomes = [a["outcome"] for a in t.get("attempts", [])]
if t["status"] != "succeeded" or t.get("retries") != 2 or outcomes != ["retried", "retried", "succeeded"] or runs("twice") != 3:
    print(" twice: %s, retries %s, %s, %d runs;" % (t["status"], t.get("retries"), outcomes, runs("twice")))
delays = [a["delay_s"] for a in t.get("attempts", [])[:2]]
if any(d is None or d > 0.15 for d in delays):
    print(" delays above the cap: %s;" % delays)
reason = (n.get("attempts") or [{}])[0].get("reason") or ""
if n["status"] != "failed" or runs("not-idempotent") != 1 or "started changing resources" not in reason:
    print(" not-idempotent: %s, %d runs, %r;" % (n["status"], runs("not-idempotent"), reason))
EOF
)"
  grep -q "succeeded after 2 retries" "$logs/retry-apply.log" || problems+=" no 'succeeded after 2 retries' in the summary;"
  [[ $status -eq 1 ]] || problems+=" exit $status (want 1);"
  local target message
  for target in zero_attempts:"max_attempts = 0 must be a whole number of at least 1" \
    bad_delay:'delay = "2 seconds" is not a duration' \
    unknown_key:'unknown key "attempts"' \
    bad_pattern:'pattern "(Throttling": unclosed ('; do
    message="${target#*:}"
    target="//negative/retry:${target%%:*}"
    if bz "$ws" build "$target" >"$logs/retry-negative.log" 2>&1; then
      problems+=" $target built;"
    elif ! grep -qF "$target: retry (instance): $message" "$logs/retry-negative.log"; then
      problems+=" $target: $(grep -m1 -F 'retry' "$logs/retry-negative.log");"
    fi
  done
  if [[ -z "$problems" ]]; then
    pass "retry: a throttled apply succeeds after 2 retries (delays under the 150ms cap), a non-idempotent one that changed a resource runs once; bad retry dicts fail analysis naming target and key"
  else
    fail "retry" "$problems"
  fi
}

e2e_check build check_build
e2e_check analysis-failures check_analysis_failures
e2e_check keep-going check_keep_going
e2e_check resume check_resume
e2e_check fail-fast check_fail_fast
e2e_check sigint check_sigint
e2e_check concurrent-applies check_concurrent_applies
e2e_check instances-fleet check_instances_fleet
e2e_check destroy check_destroy
e2e_check retry check_retry
e2e_main "$@"
