#!/usr/bin/env bash
# End-to-end tests of rules_fleet on a real remote state backend: a private
# PostgreSQL (e2e/services/postgres) and the seed's fleet (fleet/: twelve
# clusters of one component, one schema, one Terraform workspace each), with
# real Bazel and real terraform, on two private copies of this workspace
# ("two machines": each its own Bazel output base and fleet root, sharing only
# the database).
#
#   e2e/backends/run_tests.sh            # FLEET_HELPER defaults to <repo>/target/release/fleet
#   e2e/backends/run_tests.sh NAME...    # only the named checks (--list prints them)
#   E2E_BACKENDS_ROUNDS=10 e2e/backends/run_tests.sh fleet-12 two-runners   # the measurement
#   E2E_KEEP=1 e2e/backends/run_tests.sh # keeps the temp dir (logs, reports) and says where
#
# The connection string is in the environment of `bazel run` only
# (PG_CONN_STR); its password is read from the service's 0600 file. Runs are
# steered through TF_VAR_* (fleet/window.sh); waits poll for a condition with a
# deadline, nothing sleeps to synchronise.
#
# Prints one line per check and, last, `e2e-backends: N passed, N failed`.
set -uo pipefail
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=e2e/lib.sh
source "$here/../lib.sh"
e2e_suite e2e-backends

rounds="${E2E_BACKENDS_ROUNDS:-2}"
postgres="$repo_root/e2e/services/postgres"
s3="$repo_root/e2e/services/s3"
clusters=()
for n in 01 02 03 04 05 06 07 08 09 10 11 12; do clusters+=("cluster-$n"); done
six=("${clusters[@]:0:6}")

# Runs this driver started in the background that a failed check left behind.
stop_leftovers() {
  local pid
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null; done
  touch "$marks/release" 2>/dev/null
}

suite_setup() {
  if [[ ! -x "$helper" ]] || ! "$helper" run --help >/dev/null 2>&1; then
    fail "helper" "$helper is missing or has no 'run' command (cargo build --release)"
    finish
  fi
  command -v terraform >/dev/null 2>&1 || { fail "terraform" "terraform is not on PATH"; finish; }
  e2e_tmp e2e-backends
  background=()
  marks="$tmp/marks"
  mkdir -p "$marks"
  export TF_VAR_e2e_dir="$marks"
  export FLEET_POSTGRES_STATE="$tmp/postgres"
  e2e_at_exit stop_leftovers
  e2e_at_exit eval '"$postgres" stop >>"$logs/postgres.log" 2>&1'
  if ! "$postgres" start >"$logs/postgres-start.out" 2>"$logs/postgres.log"; then
    fail "postgres start" "$(tail -3 "$logs/postgres.log")"
    finish
  fi
  url="$(tail -1 "$logs/postgres-start.out")"
  password="$(cat "$FLEET_POSTGRES_STATE/password")"
  # The connection string in the environment of `bazel run` only (no Bazel
  # action gets the client environment), without its password: Bazel's server
  # log records every command's client environment. The password stays in the
  # service's 0600 password file, which terraform's driver reads (PGPASSFILE).
  export PG_CONN_STR="$url"
  export PGPASSFILE="$FLEET_POSTGRES_STATE/pgpass"
  ws_a="$tmp/a/ws"
  ws_b="$tmp/b/ws"
  # The test provider (drift/): its binary, built once by cargo (as every driver builds it).
  local provider
  if ! provider="$("$repo_root/e2e/provider/package.sh" --build-only 2>"$logs/provider.log")"; then
    fail "build the test provider" "see $logs/provider.log"
    finish
  fi
  export FLEETTEST_TOKEN=e2e
  for side in a b; do
    e2e_copy_workspace "$tmp/$side/ws"
    e2e_output_base["$tmp/$side/ws"]="$tmp/$side/output_base"
    cp "$provider" "$tmp/$side/ws/drift/terraform-provider-fleettest"
    echo "# written by run_tests.sh (bazel run //drift:record.lock -- --fresh)" >"$tmp/$side/ws/drift/.terraform.lock.hcl"
  done
  if ! bz "$ws_a" run //drift:record.lock -- --fresh >"$logs/lock.log" 2>&1; then
    fail "lock the test provider" "see $logs/lock.log"
    finish
  fi
  cp "$ws_a/drift/.terraform.lock.hcl" "$ws_b/drift/.terraform.lock.hcl"
  if ! bz "$ws_a" build //... >"$logs/build-a.log" 2>&1 || ! bz "$ws_b" build //... >"$logs/build-b.log" 2>&1; then
    fail "build" "see $logs/build-a.log, $logs/build-b.log"
    finish
  fi
}

sql() { "$postgres" psql -At -F $'\t' "$@"; }

# fresh_database: an empty database (and run directories that forgot it, when asked).
fresh_database() {
  "$postgres" fresh >>"$logs/postgres.log" 2>&1 || return 1
  [[ "${1:-}" == keep-run-dirs ]] || rm -rf "$ws_a/.fleet" "$ws_b/.fleet"
  rm -f "$marks"/*
}

# states_ok NAMES...: the schema holds exactly NAMES' workspaces, each with its own values.
states_ok() {
  sql -c "SELECT name, data::jsonb::text FROM fleet_e2e.states ORDER BY name" >"$tmp/states.tsv" 2>>"$logs/postgres.log"
  states_result="$(python3 "$here/check.py" states "$tmp/states.tsv" "$@")"
  [[ "$states_result" == ok ]]
}

# fleet_apply WS RUNNER ROUND TARGET LOG ARGS...: bazel run TARGET.apply -- ARGS as RUNNER.
fleet_run() {
  local ws="$1" runner="$2" round="$3" target="$4" log="$5"
  shift 5
  TF_VAR_runner="$runner" TF_VAR_round="$round" bz "$ws" run "$target" -- "$@" >"$log" 2>&1
}

# wait_for FILE SECONDS: polls until FILE exists.
wait_for() {
  local deadline=$((SECONDS + $2))
  until [[ -e "$1" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# advisory_locks: the advisory locks sessions hold in the database (terraform's state locks).
advisory_locks() {
  sql -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted" 2>>"$logs/postgres.log"
}

# fleet_pid WS: the `fleet run` process of the runner working in WS.
fleet_pid() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    [[ "$(cat "$dir/comm" 2>/dev/null)" == fleet ]] || continue
    { tr '\0' '\n' <"$dir/cmdline"; } 2>/dev/null | grep -qx run || continue
    { tr '\0' '\n' <"$dir/environ"; } 2>/dev/null | grep -qx "BUILD_WORKSPACE_DIRECTORY=$1" && echo "$pid"
  done
}

# terraforms_of RUN_DIR: processes still running in that run directory.
terraforms_of() {
  local dir
  for dir in /proc/[0-9]*; do
    { tr '\0' '\n' <"$dir/environ"; } 2>/dev/null | grep -qx "FLEET_RUN_DIR=$1" && echo "${dir#/proc/}"
  done
}

wait_gone() { # wait_gone RUN_DIR SECONDS
  local deadline=$((SECONDS + $2))
  while [[ -n "$(terraforms_of "$1")" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# --- checks --------------------------------------------------------------------

check_postgres_service() {
  local mode
  mode="$(stat -c %a "$FLEET_POSTGRES_STATE/password")"
  check "postgres start: a fresh cluster on 127.0.0.1, password in a 0600 file" "$url, password file mode $mode" \
    eval '[[ "$url" == postgres://fleet@127.0.0.1:*/fleet?sslmode=disable && "$mode" == 600 && "$(stat -c %a "$PGPASSFILE")" == 600 ]] && ! grep -qF "$password" "$logs/postgres-start.out"'
  check "postgres: the password file lets a client in, a wrong password is refused" "" \
    eval 'psql "$url" -Atc "select 1" >/dev/null 2>&1 && ! PGPASSFILE=/dev/null PGPASSWORD=wrong psql "$url" -c "select 1" >/dev/null 2>&1'
  check "postgres status: running" "" eval '"$postgres" status >/dev/null'
}

# Terraform's pg backend alone, twelve at once on a new schema: the first-use
# races fleet serialises and retries (reproduced before fleet's fix, kept as the
# proof that they exist in terraform 1.11).
check_race() {
  local attempt dir n init_races=0 ws_races=0
  # Up to 10 rounds: on a loaded machine the twelve inits can miss each other.
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    for n in "${clusters[@]}"; do
      dir="$tmp/race/$attempt/$n"
      mkdir -p "$dir"
      cat >"$dir/main.tf" <<EOF
terraform {
  backend "pg" {
    schema_name = "race_$attempt"
  }
}
resource "terraform_data" "x" { input = "$n" }
EOF
    done
    for n in "${clusters[@]}"; do
      (cd "$tmp/race/$attempt/$n" && TF_DATA_DIR=.tfdata terraform init -input=false -no-color >init.log 2>&1) &
    done
    wait
    for n in "${clusters[@]}"; do
      (cd "$tmp/race/$attempt/$n" && { TF_DATA_DIR=.tfdata terraform init -input=false -no-color >>init.log 2>&1 || true; } &&
        TF_DATA_DIR=.tfdata terraform workspace select -or-create=true -no-color "$n" >workspace.log 2>&1) &
    done
    wait
    init_races=$((init_races + $(cat "$tmp/race/$attempt"/*/init.log | grep -c 'duplicate key value violates unique constraint "pg_')))
    ws_races=$((ws_races + $(cat "$tmp/race/$attempt"/*/workspace.log | grep -c 'Already locked for workspace creation')))
    ((init_races > 0 && ws_races > 0)) && break
  done
  # Either race is the proof: which one a loaded machine shows varies (the
  # inits' catalog race needs twelve inits in the same instant).
  check "terraform alone races on a new pg schema: init or workspace creation fails when 12 run at once" \
    "$init_races init failures (duplicate key in the catalog), $ws_races workspace creations refused, in $attempt rounds of 12" \
    eval '((init_races > 0 || ws_races > 0))'
}

# The seed's fleet: twelve at parallelism 12 from a fresh database, $rounds rounds.
check_fleet_12() {
  local round ok=0 bad=() took retries total_retries=0 times=()
  for ((round = 1; round <= rounds; round++)); do
    # Odd rounds: fresh run directories too; even ones keep them (init skipped:
    # the apply itself meets the empty database).
    if ((round % 2)); then fresh_database; else fresh_database keep-run-dirs; fi
    local log="$logs/fleet-12.$round.log" start=$SECONDS
    if fleet_run "$ws_a" a "r$round" //fleet:all.apply "$log" --parallelism 12 && states_ok "${clusters[@]}"; then
      ok=$((ok + 1))
    else
      bad+=("round $round: exit or states: ${states_result:-?} (see $log)")
    fi
    took="$(grep -o 'in [0-9.]*s;' "$log" | tr -dc '0-9.')"
    retries="$(cat "$ws_a"/.fleet/fleet/*/logs/apply.log 2>/dev/null | grep -c 'raced another terraform')"
    total_retries=$((total_retries + retries))
    times+=("${took}s")
  done
  echo "# fleet-12: $ok of $rounds rounds ok; run times ${times[*]}; $total_retries raced steps run again"
  check "12 pg instances with workspaces at parallelism 12 from a fresh database: 12 workspaces with their own values" \
    "$ok/$rounds rounds${bad:+; ${bad[*]}}" eval '((ok == rounds))'
}

# Two runners ("two machines": two copies, own output bases and fleet roots)
# apply the same six instances at once: never both at once on one instance.
check_two_runners() {
  local round ok=0 bad=() pid_a pid_b code_a code_b windows
  for ((round = 1; round <= rounds; round++)); do
    fresh_database
    fleet_run "$ws_a" a "t$round" //fleet:six.apply "$logs/two-a.$round.log" &
    pid_a=$!
    fleet_run "$ws_b" b "t$round" //fleet:six.apply "$logs/two-b.$round.log" &
    pid_b=$!
    background+=("$pid_a" "$pid_b")
    wait "$pid_a"
    code_a=$?
    wait "$pid_b"
    code_b=$?
    windows="$(python3 "$here/check.py" windows "$marks/windows" a,b "${six[@]}")"
    if ((code_a == 0 && code_b == 0)) && [[ "$windows" == ok* ]] && states_ok "${six[@]}"; then
      ok=$((ok + 1))
    else
      bad+=("round $round: exits $code_a/$code_b, windows: $windows, states: ${states_result:-?}")
    fi
  done
  echo "# two-runners: $ok of $rounds rounds ok; last round: $windows windows"
  check "two runners from two copies apply six pg instances at once: both succeed, no overlapping applies, six workspaces with their values" \
    "$ok/$rounds rounds${bad:+; ${bad[*]}}" eval '((ok == rounds))'
}

# The state lock is terraform's: a second runner waits --lock-timeout for it,
# then fails that instance as a lock timeout (exit 3) naming the holder.
check_lock_timeout() {
  fresh_database
  touch "$marks/hold-cluster-01"
  fleet_run "$ws_a" a l1 //fleet:all.apply "$logs/hold-a.log" --only cluster-01 &
  local pid_a=$! holder code_b report="$tmp/lock-timeout.json"
  background+=("$pid_a")
  if ! wait_for "$marks/held-cluster-01-a" 120; then
    fail "lock timeout" "runner a never held cluster-01 (see $logs/hold-a.log)"
    touch "$marks/release"
    return
  fi
  holder="$(fleet_pid "$ws_a")"
  fleet_run "$ws_b" b l1 //fleet:all.apply "$logs/timeout-b.log" --only cluster-01 --lock-timeout 5 --report "$report"
  code_b=$?
  touch "$marks/release"
  wait "$pid_a"
  local code_a=$?
  local line
  line="$(grep -m1 'timed out after 5s waiting for the state lock' "$logs/timeout-b.log")"
  check "a second runner gives up on terraform's state lock after --lock-timeout: exit 3" "exit $code_b" eval '((code_b == 3))'
  check "the message names the holder: who, operation, since when, the holding runner's pid" "$line" \
    eval '[[ -n "$holder" && "$line" == *"workspace \"cluster-01\"; held by Who: "*"@"*", Operation: OperationTypeApply, Created: "*" UTC, ID: pg session "*", fleet pid $holder (holds the workspace"* ]]'
  check "the report says lock_timeout with exit code 3" "$(python3 "$here/check.py" report "$report" status) $(python3 "$here/check.py" report "$report" exit_code)" \
    eval '[[ "$(python3 "$here/check.py" report "$report" status)" == "cluster-01=lock_timeout" && "$(python3 "$here/check.py" report "$report" exit_code)" == "cluster-01=3" ]]'
  check "the holder finishes its apply" "exit $code_a" eval '((code_a == 0))'
}

# A runner holding a state lock is killed (SIGKILL, then SIGINT): terraform gets
# SIGINT from fleet's guard (or the runner), releases the lock, and a third run
# that does not wait (--lock-timeout 0) applies the instance.
check_killed_holder() {
  local signal name ws run_dir pid code locks
  fresh_database
  for signal in KILL INT; do
    name="cluster-02"
    [[ "$signal" == INT ]] && name="cluster-03"
    rm -f "$marks/release" "$marks"/held-*
    touch "$marks/hold-$name"
    fleet_run "$ws_a" a "k$signal" //fleet:all.apply "$logs/killed-$signal.log" --only "$name" &
    background+=("$!")
    if ! wait_for "$marks/held-$name-a" 120; then
      fail "killed holder ($signal)" "runner a never held $name"
      continue
    fi
    pid="$(fleet_pid "$ws_a")"
    kill -"$signal" "$pid"
    run_dir="$ws_a/.fleet/fleet/$name"
    wait_gone "$run_dir" 120
    rm -f "$marks/hold-$name"
    locks="$(advisory_locks)"
    fleet_run "$ws_b" b "k$signal" //fleet:all.apply "$logs/after-$signal.log" --only "$name" --lock-timeout 0
    code=$?
    check "SIG$signal of the runner holding $name's state lock leaves no lock: a run that does not wait applies it" \
      "advisory locks held after the kill: $locks; third run exit $code" eval '[[ "$locks" == 0 ]] && ((code == 0))'
  done
  touch "$marks/release"
}

# Nothing secret in Bazel: the password is in no file of either copy, its
# output base (Bazel's server log records each command's client environment:
# PG_CONN_STR is there, without a password) or its fleet root.
check_secrets() {
  local found
  found="$(grep -rlF "$password" "$tmp/a" "$tmp/b" 2>/dev/null | head -3)"
  check "the connection string's password is in no Bazel input, output or run file" "${found:-none}" eval '[[ -z "$found" ]]'
}

report_field() { python3 "$here/check.py" report "$@"; }

# inputs_from on a remote backend: the upstream's outputs are read with
# `terraform output -json` only when an instance of the run reads them.
check_inputs_from() {
  fresh_database
  local code endpoint
  fleet_run "$ws_a" a i1 //stack:stack.apply "$logs/stack-apply.log"
  code=$?
  sql -c "SELECT name, data::jsonb::text FROM fleet_e2e.states ORDER BY name" >"$tmp/states.tsv" 2>>"$logs/postgres.log"
  endpoint="$(python3 "$here/check.py" app "$tmp/states.tsv")"
  check "inputs_from on pg: web gets cluster-01's endpoint, read with terraform output -json" \
    "exit $code, web's cache_endpoint $endpoint" \
    eval '((code == 0)) && [[ "$endpoint" == cluster-01.cache.internal:6379 ]] && grep -q "^\$ terraform output -json" "$ws_a/.fleet/fleet/cluster-01/logs/apply.log"'
  fleet_run "$ws_a" a i1 //fleet:all.apply "$logs/all-apply.log" --only cluster-02
  check "without a reader in the run, no terraform output runs (the old outputs.json is removed)" "" \
    eval 'grep -q "outputs not saved: the backend is not local and no instance of this fleet reads them" "$ws_a/.fleet/fleet/cluster-02/logs/apply.log" && [[ ! -e "$ws_a/.fleet/fleet/cluster-02/outputs.json" ]]'
}

# Warm plans are one terraform process per instance; a changed backend_config
# inits again (-reconfigure when the state stays in place, refused when it moves).
check_warm_plan() {
  fresh_database
  local report="$tmp/plan.json" build="$ws_a/fleet/BUILD.bazel"
  fleet_run "$ws_a" a w1 //fleet:all.apply "$logs/warm-apply.log"
  fleet_run "$ws_a" a w1 //fleet:all.plan "$logs/warm-plan-1.log"
  fleet_run "$ws_a" a w1 //fleet:all.plan "$logs/warm-plan-2.log" --report "$report"
  local processes skipped
  processes="$(report_field "$report" terraform_processes)"
  skipped="$(report_field "$report" init_skipped)"
  check "a warm plan on pg: init skipped, one terraform process per instance" "$processes" \
    eval '[[ "$processes" != *=[!1]* && "$skipped" != *=False* && "$(grep -o "=1" <<<"$processes" | wc -l)" == 12 ]]'
  cp "$build" "$tmp/BUILD.saved"
  python3 - "$build" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
text = text.replace('"workspace": name,', '"workspace": name,\n            "backend_config": {"skip_index_creation": True} if name == "cluster-03" else {},')
open(path, "w").write(text)
PY
  fleet_run "$ws_a" a w1 //fleet:all.plan "$logs/reinit-plan.log" --report "$report"
  local code=$?
  skipped="$(report_field "$report" init_skipped)"
  check "a backend_config changed in place: that instance inits again with -reconfigure, the others skip init" "exit $code; $skipped" \
    eval '((code == 0)) && [[ "$skipped" == *"cluster-03=False"* && "$(grep -o "=True" <<<"$skipped" | wc -l)" == 11 ]] && grep -q "^\$ terraform init .*-reconfigure" "$ws_a/.fleet/fleet/cluster-03/logs/plan.log"'
  cp "$tmp/BUILD.saved" "$build"
  python3 - "$build" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
text = text.replace('"workspace": name,', '"workspace": name,\n            "backend_config": {"schema_name": "fleet_moved"} if name == "cluster-04" else {},')
open(path, "w").write(text)
PY
  fleet_run "$ws_a" a w1 //fleet:all.plan "$logs/moved-plan.log" --only cluster-04
  code=$?
  check "a backend_config that moves the state is refused, naming both" "exit $code" \
    eval '((code != 0)) && grep -q "the backend changed from pg .*fleet_e2e.* to pg .*fleet_moved.*, which moves the state" "$logs/moved-plan.log"'
  cp "$tmp/BUILD.saved" "$build"
}

# --detailed-exitcode on a remote backend: 0 without changes, 2 with one.
check_detailed_exitcode() {
  local code_same code_changed
  fleet_run "$ws_a" a d1 //fleet:all.apply "$logs/detailed-apply.log" --only cluster-05
  fleet_run "$ws_a" a d1 //fleet:all.plan "$logs/detailed-same.log" --only cluster-05 --detailed-exitcode
  code_same=$?
  # Another round re-creates the apply window: a change to plan.
  fleet_run "$ws_a" a d2 //fleet:all.plan "$logs/detailed-changed.log" --only cluster-05 --detailed-exitcode
  code_changed=$?
  check "plan --detailed-exitcode on pg: 0 without changes, 2 with one" "$code_same, $code_changed" \
    eval '((code_same == 0 && code_changed == 2))'
}

# --affected-since on a remote backend: only the instance whose values changed
# since the base commit is planned (the base built in a worktree by fleet).
check_affected_since() {
  fresh_database
  local repo="$ws_a" report="$tmp/affected.json" code ran
  fleet_run "$repo" a a1 //fleet:all.apply "$logs/affected-apply.log"
  if [[ ! -d "$repo/.git" ]]; then
    git -C "$repo" init -q
    printf '.fleet/\n' >"$repo/.gitignore"
  fi
  git -C "$repo" add -A && git -C "$repo" -c user.name=e2e -c user.email=e2e@example.invalid commit -q -m base
  python3 - "$repo/fleet/BUILD.bazel" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
text = text.replace('"workspace": name,', '"workspace": name,\n            "env": {"CLUSTER_NOTE": "resized"} if name == "cluster-07" else {},', 1)
open(path, "w").write(text)
PY
  git -C "$repo" -c user.name=e2e -c user.email=e2e@example.invalid commit -q -am "cluster-07: env"
  fleet_run "$repo" a a1 //fleet:all.plan "$logs/affected-plan.log" --affected-since HEAD~1 --bazel "$bazelw" \
    "--affected-bazel-arg=--repo_env=FLEET_HELPER=$helper" --report "$report"
  code=$?
  ran="$(python3 -c 'import json,sys; print(" ".join(i["name"] for i in json.load(open(sys.argv[1]))["instances"] if i["started_unix_ms"]))' "$report" 2>/dev/null)"
  git -C "$repo" -c user.name=e2e -c user.email=e2e@example.invalid revert --no-edit HEAD >/dev/null
  check "--affected-since HEAD~1 on pg: only the changed instance is planned" "exit $code, planned [$ran]" \
    eval '((code == 0)) && [[ "$ran" == cluster-07 ]]'
}

# Drift on a remote backend: the test provider's record deleted outside
# terraform (its file removed: the provider reads a missing file as a deleted
# record) is a change (--detailed-exitcode 2), an untouched one is not (0).
check_drift() {
  local report="$tmp/drift.json" code_apply code_same code_drift changes
  fleet_run "$ws_a" a x1 //drift:drift.apply "$logs/drift-apply.log"
  code_apply=$?
  fleet_run "$ws_a" a x1 //drift:drift.plan "$logs/drift-same.log" --detailed-exitcode
  code_same=$?
  rm "$marks/record-1.json"
  fleet_run "$ws_a" a x1 //drift:drift.plan "$logs/drift-deleted.log" --detailed-exitcode --report "$report"
  code_drift=$?
  changes="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["instances"][0]["resource_changes"]["resources"])' "$report" 2>/dev/null)"
  check "drift on pg: a record deleted outside terraform is a change, plan --detailed-exitcode exits 2 (0 before)" \
    "apply $code_apply, plan $code_same then $code_drift; $changes" \
    eval '((code_apply == 0 && code_same == 0 && code_drift == 2)) && [[ "$changes" == *"fleettest_record.this"*"create"* ]]'
}

# destroy walks the graph in reverse: web before cluster-01.
check_destroy_order() {
  local report="$tmp/destroy.json" code order endpoint
  fleet_run "$ws_a" a i1 //stack:stack.apply "$logs/stack-apply-2.log"
  fleet_run "$ws_a" a i1 //stack:stack.destroy "$logs/stack-destroy.log" --report "$report"
  code=$?
  order="$(python3 "$here/check.py" order "$report" web cluster-01)"
  sql -c "SELECT name, data::jsonb::text FROM fleet_e2e.states ORDER BY name" >"$tmp/states.tsv" 2>>"$logs/postgres.log"
  endpoint="$(python3 "$here/check.py" app "$tmp/states.tsv")"
  check "destroy on pg in reverse order: web ends before cluster-01 starts, its workspace keeps no resources" "exit $code, $order, web: $endpoint" \
    eval '((code == 0)) && [[ "$order" == ok && "$endpoint" == "(no resources)" ]]'
}

# A runner killed mid-run; --resume runs exactly what did not finish.
check_resume() {
  fresh_database
  local report="$tmp/resume.json" deadline pid code statuses
  touch "$marks/hold-cluster-05"
  fleet_run "$ws_a" a r1 //fleet:all.apply "$logs/resume-1.log" --report "$report" &
  background+=("$!")
  deadline=$((SECONDS + 180))
  until [[ -e "$marks/held-cluster-05-a" && "$(python3 "$here/check.py" count "$report" succeeded)" == 11 ]]; do
    ((SECONDS < deadline)) || break
    sleep 0.2
  done
  pid="$(fleet_pid "$ws_a")"
  kill -KILL "$pid"
  wait_gone "$ws_a/.fleet/fleet/cluster-05" 120
  rm -f "$marks/hold-cluster-05"
  fleet_run "$ws_a" a r1 //fleet:all.apply "$logs/resume-2.log" --report "$report" --resume
  code=$?
  statuses="$(report_field "$report" reused)"
  check "--resume after SIGKILL on pg reruns only the unfinished instance, 11 reused, 12 workspaces right" "exit $code; $statuses" \
    eval '((code == 0)) && [[ "$statuses" == *"cluster-05=False"* && "$(grep -o "=True" <<<"$statuses" | wc -l)" == 11 ]] && states_ok "${clusters[@]}"'
}

# s3_python ARGS...: python with boto3, against the test server.
s3_python() { FLEET_S3_STATE="$tmp/s3" "$s3" python "$@"; }

# s3_states: `name<TAB>state` of each workspace object in the bucket.
s3_states() {
  s3_python - <<'PY'
import boto3, json, os
s3 = boto3.client("s3", region_name="us-east-1")
for obj in s3.list_objects_v2(Bucket="fleet-states").get("Contents", []):
    parts = obj["Key"].split("/")
    if parts[0] == "env:" and parts[-1] == "terraform.tfstate":
        body = s3.get_object(Bucket="fleet-states", Key=obj["Key"])["Body"].read()
        print("%s\t%s" % (parts[1], json.dumps(json.loads(body))))
PY
}

# The seed's backend: s3 with use_lockfile (a conditional write of <key>.tflock)
# on moto's server (e2e/services/s3), two runners at once, and a lock timeout
# naming the holder from terraform's own lock info.
check_s3() {
  if ! FLEET_S3_STATE="$tmp/s3" "$s3" start >"$logs/s3-start.out" 2>"$logs/s3.log"; then
    fail "s3 server start" "$(tail -3 "$logs/s3.log")"
    return
  fi
  e2e_at_exit eval 'FLEET_S3_STATE="$tmp/s3" "$s3" stop >>"$logs/s3.log" 2>&1'
  # The test server's stand-in credentials, for `bazel run` (and boto3) only.
  export AWS_ENDPOINT_URL_S3="$(tail -1 "$logs/s3-start.out")" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  s3_python -c 'import boto3; boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="fleet-states")'
  rm -f "$marks"/*
  fleet_run "$ws_a" a s1 //s3:six.apply "$logs/s3-a.log" &
  local pid_a=$! code_a code_b windows
  fleet_run "$ws_b" b s1 //s3:six.apply "$logs/s3-b.log" &
  local pid_b=$!
  background+=("$pid_a" "$pid_b")
  wait "$pid_a"
  code_a=$?
  wait "$pid_b"
  code_b=$?
  windows="$(python3 "$here/check.py" windows "$marks/windows" a,b "${six[@]}")"
  s3_states >"$tmp/s3-states.tsv" 2>>"$logs/s3.log"
  states_result="$(python3 "$here/check.py" states "$tmp/s3-states.tsv" "${six[@]}")"
  # A failed runner's own words (the run directories go with $tmp): what terraform said.
  local said=""
  ((code_a == 0)) || said+=" a: $(grep -h -m3 -A4 'Error' "$logs/s3-a.log" | tr '\n' ' ' | cut -c1-600)"
  ((code_b == 0)) || said+=" b: $(grep -h -m3 -A4 'Error' "$logs/s3-b.log" | tr '\n' ' ' | cut -c1-600)"
  check "s3 (use_lockfile, moto): two runners apply six instances at once: both succeed, no overlapping applies, six workspace objects with their values" \
    "exits $code_a/$code_b, windows: $windows, states: $states_result$said" \
    eval '((code_a == 0 && code_b == 0)) && [[ "$windows" == ok* && "$states_result" == ok ]]'

  rm -f "$marks"/*
  touch "$marks/hold-cluster-01"
  fleet_run "$ws_a" a s2 //s3:six.apply "$logs/s3-hold-a.log" --only cluster-01 &
  pid_a=$!
  background+=("$pid_a")
  if ! wait_for "$marks/held-cluster-01-a" 120; then
    fail "s3 lock timeout" "runner a never held cluster-01 (see $logs/s3-hold-a.log)"
    touch "$marks/release"
    return
  fi
  local lock_id line
  lock_id="$(s3_python -c 'import boto3, json; print(json.loads(boto3.client("s3", region_name="us-east-1").get_object(Bucket="fleet-states", Key="env:/cluster-01/fleet/terraform.tfstate.tflock")["Body"].read())["ID"])')"
  fleet_run "$ws_b" b s2 //s3:six.apply "$logs/s3-timeout-b.log" --only cluster-01 --lock-timeout 5
  code_b=$?
  touch "$marks/release"
  wait "$pid_a"
  code_a=$?
  line="$(grep -m1 'timed out after 5s waiting for the state lock' "$logs/s3-timeout-b.log")"
  check "s3: a second runner ends as a lock timeout (exit 3) naming the holder from its .tflock (ID $lock_id)" "exit $code_b; $line" \
    eval '((code_b == 3 && code_a == 0)) && [[ -n "$lock_id" && "$line" == *"held by Who: "*", Operation: OperationTypeApply, Created: "*", ID: $lock_id"* ]]'
}

# ended PID: the process is gone, or a zombie its (re)parent has not reaped yet.
# Sealed plan sets on the remote backend: a set planned in one copy is
# applied from the other (own output base and fleet root, the same database);
# an instance whose state another apply moved in between (its serial in the
# database, read back by `terraform state pull`) is refused as stale_plan and
# not applied, the others are applied.
check_plan_set() {
  fresh_database
  local set="$tmp/pg-plan-set" report="$tmp/pg-plan-set-apply.json" before02 before01
  rm -rf "$set"
  fleet_run "$ws_a" a s0 //fleet:six.apply "$logs/plan-set-base.log" \
    || { fail "plan-set: first apply" "$(tail -3 "$logs/plan-set-base.log")"; return; }
  fleet_run "$ws_a" a s1 //fleet:six.plan "$logs/plan-set-plan.log" --plan-set "$set" \
    || { fail "plan-set: plan" "$(tail -3 "$logs/plan-set-plan.log")"; return; }
  check "the set records each pg workspace's serial at plan time" "" python3 -c '
import json,sys; s=json.load(open(sys.argv[1]))["index"]["instances"]
sys.exit(not (len(s) == 6 and all(e["state"]["serial"] > 0 and e["state"]["lineage"] and e["changes"] for e in s)))' "$set/plan-set.json"
  # Another apply of cluster-01, from the other copy, moves its state.
  fleet_run "$ws_b" b s2 //fleet:six.apply "$logs/plan-set-between.log" --only cluster-01 \
    || { fail "plan-set: the apply in between" "$(tail -3 "$logs/plan-set-between.log")"; return; }
  before01="$(grep -c "^start cluster-01 " "$marks/windows")"
  before02="$(grep -c "^start cluster-02 " "$marks/windows")"
  fleet_run "$ws_b" b s3 //fleet:six.apply "$logs/plan-set-apply.log" --plan-set "$set" --report "$report"
  local code=$?
  check "the set applied from the other copy: exit 1, cluster-01 stale_plan (state_serial), the five others applied" \
    "exit $code; $(tail -4 "$logs/plan-set-apply.log")" python3 -c '
import json,sys; r=json.load(open(sys.argv[1])); by={i["name"]: i for i in r["instances"]}
ok = by["cluster-01"]["status"] == "stale_plan" and "state_serial:" in by["cluster-01"]["reason"]
ok = ok and sorted(n for n, i in by.items() if i["status"] == "succeeded") == ["cluster-02", "cluster-03", "cluster-04", "cluster-05", "cluster-06"]
sys.exit(not (ok and int(sys.argv[2]) == 1))' "$report" "$code"
  check "nothing of cluster-01 ran, cluster-02 applied the set's plan once" \
    "cluster-01 $before01 -> $(grep -c "^start cluster-01 " "$marks/windows"), cluster-02 $before02 -> $(grep -c "^start cluster-02 " "$marks/windows")" \
    eval '[[ "$(grep -c "^start cluster-01 " "$marks/windows")" == "$before01" && "$(grep -c "^start cluster-02 " "$marks/windows")" == "$((before02 + 1))" ]]'
}

ended() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  [[ "${stat##*) }" == Z* ]]
}

check_postgres_stop() {
  local cluster pid
  cluster="$(cat "$FLEET_POSTGRES_STATE/cluster")"
  read -r _ pid _ <"$FLEET_POSTGRES_STATE/pid"
  "$postgres" stop >>"$logs/postgres.log" 2>&1
  check "postgres stop ends what start started and removes its cluster" "pid $pid" \
    eval 'ended "$pid" && [[ ! -e "$cluster" ]] && ! "$postgres" status >/dev/null'
  check "postgres stop again is a no-op" "" eval '"$postgres" stop >>"$logs/postgres.log" 2>&1'
}

e2e_check postgres-service check_postgres_service
e2e_check race check_race
e2e_check fleet-12 check_fleet_12
e2e_check two-runners check_two_runners
e2e_check lock-timeout check_lock_timeout
e2e_check killed-holder check_killed_holder
e2e_check inputs-from check_inputs_from
e2e_check warm-plan check_warm_plan
e2e_check detailed-exitcode check_detailed_exitcode
e2e_check drift check_drift
e2e_check affected-since check_affected_since
e2e_check destroy-order check_destroy_order
e2e_check resume check_resume
e2e_check plan-set check_plan_set
e2e_check s3 check_s3
e2e_check secrets check_secrets
e2e_check postgres-stop check_postgres_stop
e2e_main "$@"
