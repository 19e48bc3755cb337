# The CI recipes of docs/ci/, run for real: each job's commands (not the CI
# service: the steps that call gh / curl are left out, and the file they
# would post is checked instead) against the fixture repository of
# run_tests.sh, which sources this file after its scenarios. `bazel` in the
# recipes is tools/bazelw (the offline wrapper of the real bazel).
# shellcheck shell=bash

recipe_bin="$tmp/recipe-bin"
mkdir -p "$recipe_bin"
export BAZEL="${BAZEL:-$(command -v bazel)}"
printf '#!/bin/sh\nexec %s "$@"\n' "$bazelw" >"$recipe_bin/bazel"
chmod +x "$recipe_bin/bazel"

# run_job KIND FILE JOB NAME ENV...: runs the job's commands in the repository; sets rc.
run_job() {
  local kind="$1" file="$2" job="$3" name="$4"
  shift 4
  if ! python3 "$here/recipe_commands.py" "$kind" "$repo_root/docs/ci/$file" "$job" >"$tmp/$name.sh" 2>"$logs/$name.skipped"; then
    rc=99
    return
  fi
  (cd "$repo" && env PATH="$recipe_bin:$PATH" FLEET=//all:all "$@" bash -eo pipefail "$tmp/$name.sh") >"$logs/$name.log" 2>&1
  rc=$?
}

# report_names REPORT: short names the report ran, sorted.
report_names() { ran "$1"; }

# A pull request's commit: db-1 plans again, db-3 gets a new value.
db_vars '{"db-1": {"value": "v3"}}'
commit "db-1 plans again"
rbz run //all:all.apply >"$logs/recipes-apply-base.log" 2>&1 || fail "apply before the recipes" "$(tail -5 "$logs/recipes-apply-base.log")"

# set_db_values DB1 DB3: the values of db-1 and db-3.
set_db_values() {
  db_vars "{\"db-1\": {\"value\": \"$1\"}, \"db-3\": {\"value\": \"$2\"}}"
}

recipe_round() { # KIND FILE PLAN_JOB APPLY_JOB DRIFT_JOB VALUE: one pull request through one recipe
  local kind="$1" file="$2" plan_job="$3" apply_job="$4" drift_job="$5" value="$6"
  local base_sha out="$tmp/$kind" at="$repo"
  base_sha="$(git -C "$repo" rev-parse HEAD)"
  set_db_values "$db1_value" "$value"
  commit "db-3: $value"
  mkdir -p "$out"
  local -a env
  if [[ $kind == github ]]; then
    env=(RUNNER_TEMP="$out" BASE="$base_sha" PR=1 GITHUB_ENV="$out/github_env" FLEET_PLAN_SET_KEY=e2e-key)
    at="$out"
  else
    env=(CI_MERGE_REQUEST_DIFF_BASE_SHA="$base_sha" CI_COMMIT_BEFORE_SHA="$base_sha" FLEET_PLAN_SET_KEY=e2e-key)
  fi

  run_job "$kind" "$file" "$plan_job" "$kind-plan" "${env[@]}"
  check "$kind recipe, pull request: plans db-3 only and writes the summary it posts" "exit $rc; $(tail -5 "$logs/$kind-plan.log")" \
    test "$rc|$(report_names "$at/fleet-plan.json")|$(grep -c '| `db-3` | changes |' "$at/fleet-summary.md")" = "0|db-3|1"
  check "$kind recipe: the CI-service step was left out, nothing else" "$(cat "$logs/$kind-plan.skipped")" \
    test "$(wc -l <"$logs/$kind-plan.skipped")" -eq 1
  check "$kind recipe, pull request: the plan set of db-3 is sealed with the key" "" python3 -c '
import json,sys; s=json.load(open(sys.argv[1])); sys.exit(not (s["seal"]["algorithm"] == "hmac-sha256" and [e["label"] for e in s["index"]["instances"]] == ["//db:db-3"]))' "$at/fleet-plan-set/plan-set.json"

  run_job "$kind" "$file" "$apply_job" "$kind-apply" "${env[@]}"
  check "$kind recipe, merge: applies exactly the reviewed plan set (db-3), sealed with the key" "exit $rc; $(tail -5 "$logs/$kind-apply.log")" \
    python3 -c '
import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not (r["plan_set"]["seal_algorithm"] == "hmac-sha256" and [(i["name"], i["status"]) for i in r["instances"]] == [("db-3", "succeeded")]))' "$at/fleet-apply.json"
  check "$kind recipe: after the apply db-3's state holds $value" "" grep -q "db-3:$value" "$repo/.fleet/db/db-3/terraform.tfstate"

  # Drift: db-1's configuration moves on and nobody applies it.
  db1_value="drift-$value"
  set_db_values "$db1_value" "$value"
  commit "db-1: unapplied"
  run_job "$kind" "$file" "$drift_job" "$kind-drift" "${env[@]}"
  check "$kind recipe, nightly: the job passes and its summary shows db-1's drift" "exit $rc; $(tail -5 "$logs/$kind-drift.log")" \
    test "$rc|$(grep -c '| `db-1` | changes |' "$at/fleet-drift.md")" = "0|1"
  if [[ $kind == github ]]; then
    check "github recipe: the drift status (2) reaches the issue step" "" grep -qx "status=2" "$out/github_env"
  else
    check "gitlab recipe: the drift status (2) is printed" "" grep -q "drift status 2" "$logs/$kind-drift.log"
  fi
}

db1_value=v3
recipe_round github github-actions.yml plan apply drift v4
recipe_round gitlab gitlab-ci.yml fleet-plan fleet-apply fleet-drift v5
