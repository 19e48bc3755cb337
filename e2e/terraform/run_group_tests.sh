#!/usr/bin/env bash
# End-to-end tests of run groups (tf_group, exclusive instances, on_change
# hooks) with real Bazel and real terraform, on a private copy of this
# workspace. The fleet is //fleets/groups:all: a parallel group of four caches
# (parallelism 2) with a hook, a serial group of three migrations, an
# exclusive instance and a dependent of a cache, at parallelism 4. Every
# instance logs its own start and end (fleets/groups/main.tf), and the hook
# its own (fleets/groups/flush.sh); check_group_events.py checks the rules on
# those timestamps.
#
#   e2e/terraform/run_group_tests.sh      # FLEET_HELPER defaults to <repo>/target/release/fleet
#   FLEET_E2E_KEEP=1 e2e/terraform/run_group_tests.sh   # keeps the temp dir and says where
#
# The analysis refusals (a member in two groups, order cycles) are skylib
# analysis tests: e2e/analysis/groups.
#
# Runs are steered through the environment and marker files (TF_VAR_e2e_dir:
# fail-<name>, hook-fails), never by editing sources. Nothing sleeps to
# synchronise: the instances' sleep is their workload.
set -uo pipefail
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
source "$here/../lib.sh"
e2e_suite e2e-groups

if [[ ! -x "$helper" ]] || ! "$helper" run --help >/dev/null 2>&1; then
  fail "helper" "$helper is missing or has no 'run' command (cargo build --release)"
  finish
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/e2e-groups.XXXXXX")"
ws="$tmp/ws"
logs="$tmp/logs"
marks="$tmp/marks"
mkdir -p "$ws" "$logs" "$marks"
ws="$(cd "$ws" && pwd -P)"

cleanup() {
  if [[ -n "${FLEET_E2E_KEEP:-}" ]]; then
    [[ -f "$ws/WORKSPACE" ]] && (cd "$ws" && "$bazelw" shutdown >/dev/null 2>&1)
    echo "kept $tmp (logs/, marks/, ws/.fleet/)"
    return
  fi
  [[ -f "$ws/WORKSPACE" ]] && (cd "$ws" && "$bazelw" clean --expunge >/dev/null 2>&1)
  chmod -R u+w "$tmp" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

tar -C "$here" --exclude=./.fleet -cf - . | tar -C "$ws" -xf -
sed -i "s|path = \"../..\"|path = \"$repo_root\"|" "$ws/WORKSPACE" "$ws/MODULE.bazel"
export TF_VAR_e2e_dir="$marks"

bz() {
  local command="$1"
  shift
  (cd "$ws" && "$bazelw" "$command" "--repo_env=FLEET_HELPER=$helper" "$@")
}

# round NAME ACTION: one `fleet run` of the fleet with a fresh e2e_round and
# events log; its exit status in $status, its report in $tmp/NAME.json.
round() {
  local name="$1" action="$2"
  export TF_VAR_e2e_round="$name"
  rm -f "$marks/events"
  bz run "//fleets/groups:all.$action" -- --report "$tmp/$name.json" >"$logs/$name.log" 2>&1
  status=$?
  touch "$marks/events"
  cp "$marks/events" "$logs/$name.events"
}

# report_has NAME FILTER: the python expression FILTER (over `r`, the report) is true.
report_has() {
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$tmp/$1.json"
}

round r1 apply
if [[ $status -eq 0 ]]; then
  pass "apply of the groups fleet succeeds"
else
  fail "apply of the groups fleet succeeds" "exit $status, see $logs/r1.log"
fi
if python3 "$here/check_group_events.py" "$logs/r1.events" "$tmp/r1.json" >"$logs/r1.check" 2>&1; then
  pass "limits, serial order, exclusivity, overlap and the hook hold on the instances' own timestamps"
else
  fail "limits, serial order, exclusivity, overlap and the hook hold on the instances' own timestamps" "$(grep FAIL "$logs/r1.check" | head -5)"
fi
check "the summary shows the groups" "" grep -qE "^group caches \(parallel, parallelism 2\): 4 succeeded; on_change succeeded" "$logs/r1.log"
check "the hook got its group's report (4 members) and action" "" grep -qx "hook //fleets/groups:caches apply members=4" "$logs/r1.events"

# Same round again: terraform changes nothing, so the hook does not run.
export TF_VAR_e2e_round=r1
rm -f "$marks/events"
bz run //fleets/groups:all.apply -- --report "$tmp/again.json" >"$logs/again.log" 2>&1
status=$?
check "an apply that changes nothing runs no hook" "exit $status" \
  bash -c "[[ $status -eq 0 ]] && ! grep -q hook: '$marks/events' 2>/dev/null && grep -q 'on_change not run' '$logs/again.log'"

round r2 plan
check "a plan runs no hook" "exit $status" \
  bash -c "[[ $status -eq 0 ]] && ! grep -q hook: '$logs/r2.events'"

touch "$marks/hook-fails" "$marks/fail-mig-2"
round r3 apply
rm -f "$marks/hook-fails" "$marks/fail-mig-2"
check "a failing hook or member fails the run" "exit $status" test "$status" -ne 0
check "a failing hook fails its group and skips its dependents" "" report_has r3 \
  "[g['status'] for g in r['groups'] if g['name'] == 'caches'] == ['failed'] and [i['reason'] for i in r['instances'] if i['name'] == 'cdn'] == ['the on_change hook of caches failed']"
check "after a serial member fails the later ones are skipped" "" report_has r3 \
  "[(i['status'], i['reason']) for i in r['instances'] if i['name'] == 'mig-3'] == [('skipped', 'earlier member of migrations failed: mig-2')]"
check "in a parallel group the others complete" "" report_has r3 \
  "sorted(i['name'] for i in r['instances'] if i['status'] == 'succeeded') == ['account', 'cache-1', 'cache-2', 'cache-3', 'cache-4', 'mig-1']"

finish
