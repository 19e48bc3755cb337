# shellcheck shell=bash
# Checks of e2e/buck2/run_tests.sh: the twelve-cluster fleet, the inputs_from chain and
# a misfit, on the copied workspace $ws. Sourced by run_tests.sh.

# state_field INSTANCE FIELD: serial, lineage, or a field of the terraform_data input.
state_field() {
  python3 - "$ws/.fleet/infra/elasticache/$1/terraform.tfstate" "$2" <<'EOF'
import json, sys
state = json.load(open(sys.argv[1]))
field = sys.argv[2]
if field in ("serial", "lineage"):
    print(state[field])
else:
    res = [r for r in state["resources"] if r["type"] == "terraform_data"][0]
    print(res["instances"][0]["attributes"]["input"]["value"][field])
EOF
}

# Setup of several checks: //infra/... and //fleets/... built once (status, event log).
fleet_built() {
  fleet_build_status=0
  b2 "$ws" build //infra/... //fleets/... >"$logs/build.log" 2>&1 || fleet_build_status=$?
  b2_log "$ws" "$tmp/build-events.json"
}

# apply_all PREFIX: the 12 `.apply` runs started at once; prints how many succeeded.
apply_all() {
  local prefix="$1" pids=() ok=0 name pid
  for name in "${instances[@]}"; do
    b2 "$ws" run "//infra/elasticache:$name.apply" -- -auto-approve -no-color >"$logs/$prefix-$name.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" && ok=$((ok + 1))
  done
  echo "$ok"
}
applied_once() { first_apply_ok="$(apply_all apply1)"; }

check_build() {
  e2e_needs fleet_built
  if [[ $fleet_build_status -ne 0 ]]; then
    fail "buck2 build //infra/... //fleets/... checks 27 instances" "$(grep -m3 -E 'Error|error|FAILED' "$logs/build.log")"
    return
  fi
  local passed=0 name report
  for name in "${instances[@]}"; do
    report="$(b2_out "$ws" "//infra/elasticache:$name[check]")"
    grep -q '"result": "pass"' "$report" 2>/dev/null && passed=$((passed + 1))
  done
  local checks renders
  checks="$(python3 "$log_tool" ran "$tmp/build-events.json" terraform_check | wc -l)"
  renders="$(python3 "$log_tool" ran "$tmp/build-events.json" terraform_render | wc -l)"
  # 27 instances: 12 redis, the chain's 6 (its 5 readers of inputs_from check with the
  # component's validate instead), the groups' 9.
  check "buck2 build //infra/... //fleets/...: a render + build-check action pair per instance" \
    "$passed/12 redis reports pass; $renders renders, $checks plan checks (12 redis, network, 9 in groups)" \
    [ "$passed" -eq 12 -a "$renders" -eq 27 -a "$checks" -eq 22 ]
  local out leaks
  out="$(b2 "$ws" root --kind project 2>/dev/null)/buck-out"
  leaks="$(grep -rlF -e "$ws" -e "$HOME" -e "$repo_root" "$out"/v2/art/root/*/infra/elasticache \
    --include='*.json' --include='*.tf' --include='*.identity' 2>/dev/null | head -3)"
  check "rendered trees, reports, identities and manifests hold no absolute paths" "${leaks:-none}" [ -z "$leaks" ]
}

check_parallel() {
  e2e_needs fleet_built
  local most count
  read -r most count < <(python3 "$log_tool" overlap "$tmp/build-events.json")
  check "the build's actions ran in parallel" "$count local commands, at most $most at once on $(nproc) CPUs" \
    [ "$count" -gt 0 -a "$most" -ge 2 ]
}

check_concurrent_apply() {
  e2e_needs fleet_built applied_once
  if [[ "$first_apply_ok" -ne 12 ]]; then
    fail "12 concurrent buck2 run .apply all succeed" "$first_apply_ok/12: $(tail -3 "$logs/apply1-redis-cluster-1.log")"
  else
    pass "12 concurrent buck2 run .apply all succeed"
  fi
  local own=0 name lineages=()
  for name in "${instances[@]}"; do
    [[ "$(state_field "$name" cluster_id 2>/dev/null)" == "$name" ]] && own=$((own + 1))
    lineages+=("$(state_field "$name" lineage 2>/dev/null)")
  done
  local distinct
  distinct="$(printf '%s\n' "${lineages[@]}" | sort -u | grep -c .)"
  check "12 distinct state files, each holding its own instance's values" "own values: $own, distinct lineages: $distinct" \
    [ "$own" -eq 12 -a "$distinct" -eq 12 ]
}

check_second_apply_noop() {
  e2e_needs fleet_built applied_once
  local before=() name i nochange=0 ok
  for name in "${instances[@]}"; do before+=("$(state_field "$name" serial 2>/dev/null)"); done
  ok="$(apply_all apply2)"
  for i in "${!instances[@]}"; do
    name="${instances[$i]}"
    grep -q "No changes" "$logs/apply2-$name.log" && [[ "$(state_field "$name" serial)" == "${before[$i]}" ]] &&
      nochange=$((nochange + 1))
  done
  check "second apply is a no-op (No changes, same serial) for all 12" "$ok succeeded, $nochange unchanged" \
    [ "$ok" -eq 12 -a "$nochange" -eq 12 ]
}

check_change_one_instance() {
  e2e_needs fleet_built
  b2 "$ws" build //infra/... >"$logs/noop.log" 2>&1
  b2_log "$ws" "$tmp/noop-events.json"
  local ran
  ran="$(python3 "$log_tool" ran "$tmp/noop-events.json" | wc -l)"
  check "a no-op rebuild runs no action" "$ran command(s)" [ "$ran" -eq 0 ]
  local build_file="$ws/infra/elasticache/BUCK" before
  before="$(cat "$build_file")"
  sed -i 's|"num_shards": 1 + n % 3,|"num_shards": 7 if n == 5 else 1 + n % 3,|' "$build_file"
  if [[ "$before" == "$(cat "$build_file")" ]]; then
    fail "change one instance" "could not edit redis-cluster-5's vars in $build_file"
    return
  fi
  b2 "$ws" build //infra/... >"$logs/changed.log" 2>&1
  b2_log "$ws" "$tmp/changed-events.json"
  local changed
  changed="$(python3 "$log_tool" ran "$tmp/changed-events.json" terraform_render terraform_check | sort -u | tr '\n' ' ')"
  check "changing redis-cluster-5's vars re-runs only its render + check" "$changed" \
    [ "$changed" = "root//infra/elasticache:redis-cluster-5 terraform_check root//infra/elasticache:redis-cluster-5 terraform_render " ]
}

# inputs_from is refused before the upstream is applied; then the fleet applies the chain in order.
check_fleet_run() {
  e2e_needs fleet_built
  local early=0
  b2 "$ws" run //fleets/chain:subnet-a.apply -- -auto-approve -no-color >"$logs/subnet-early.log" 2>&1 || early=$?
  check "inputs_from is refused before its upstream is applied, naming it" "exit $early" \
    grep -q "reads //fleets/chain:network#vpc_id: no outputs" "$logs/subnet-early.log"
  local report="$tmp/platform.apply.json"
  if ! b2 "$ws" run //fleets/chain:platform.apply -- --report "$report" >"$logs/platform-apply.log" 2>&1; then
    fail "buck2 run :platform.apply applies the chain and the redis clusters" "$(grep -m3 -E 'error|failed' "$logs/platform-apply.log")"
    return
  fi
  local summary
  summary="$(python3 - "$report" "$(b2_out "$ws" '//fleets/chain:platform[manifest]')" "$ws/.fleet/fleets/chain" <<'EOF'
import json, os, sys
report, manifest, runs = (json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3])
by = {i["name"]: i for i in report["instances"]}
names = {i["label"]: i["name"] for i in manifest["instances"]}
bad = [n for n, i in by.items() if i["status"] != "succeeded"]
for inst in manifest["instances"]:
    for dep in inst["deps"]:
        if by[names[dep]]["ended_unix_ms"] > by[inst["name"]]["started_unix_ms"]:
            bad.append("%s before %s" % (inst["name"], names[dep]))
def output(name, key):
    return json.load(open(os.path.join(runs, name, "outputs.json")))[key]["value"]
if output("app-3", "id") != "vpc-network/subnet-b/app-3":
    bad.append("app-3 id %s" % output("app-3", "id"))
print(len(by), len(manifest["instances"]), " ".join(bad) or "ok")
EOF
)"
  check "buck2 run :platform.apply: 18 instances in dependency order, inputs_from read from upstream outputs" "$summary" \
    [ "$summary" = "18 18 ok" ]
}

check_invalid_instance() {
  if b2 "$ws" build //negative/invalid:broken-cluster >"$logs/invalid.log" 2>&1; then
    fail "a misfit instance fails buck2 build" "the build succeeded"
  else
    check "a misfit instance fails buck2 build with its label, its component and terraform's diagnostics" "" \
      grep -q "rules_fleet: //negative/invalid:broken-cluster does not fit //negative/invalid:broken:" "$logs/invalid.log"
    check "the misfit names terraform's reason at the component's source" "" \
      grep -q "at negative/invalid/main.tf:11" "$logs/invalid.log"
  fi
}

# secret_env: the value reaches terraform from the environment of `buck2 run`, and no file holds it.
check_secret_env() {
  local marker="fleet-e2e-secret-$RANDOM$RANDOM" want leaks
  if FLEET_E2E_DB_PASSWORD="$marker" b2 "$ws" run //negative/secret:db.apply -- -auto-approve -no-color >"$logs/secret.log" 2>&1; then
    want="$(printf '%s' "$marker" | sha256sum | cut -d' ' -f1)"
    leaks="$(grep -rlF "$marker" "$ws/.fleet" "$ws/buck-out/v2/art" "$logs/secret.log" 2>/dev/null | head -3)"
    local in_state=no
    grep -qF "$want" "$ws/.fleet/negative/secret/db/terraform.tfstate" 2>/dev/null && in_state=yes
    check "secret_env: apply reads the secret from the environment; no file under .fleet or buck-out holds it" \
      "its hash in the state: $in_state; leaked into: ${leaks:-nothing}" [ "$in_state" = yes -a -z "$leaks" ]
  else
    fail "secret_env apply" "$(tail -5 "$logs/secret.log")"
  fi
}

# Run groups: limits, serial order, the exclusive instance and the on_change hook, from
# the instances' and the hook's own timestamps (e2e/terraform/check_group_events.py).
check_groups() {
  local events="$TF_VAR_e2e_dir/events" status=0
  rm -f "$events"
  TF_VAR_e2e_round=groups b2 "$ws" run //fleets/groups:all.apply -- --report "$tmp/groups.json" >"$logs/groups.log" 2>&1 || status=$?
  if [[ $status -ne 0 ]]; then
    fail "buck2 run //fleets/groups:all.apply" "exit $status: $(grep -m3 -E 'error|failed' "$logs/groups.log")"
    return
  fi
  python3 "$repo_root/e2e/terraform/check_group_events.py" "$events" "$tmp/groups.json" >"$logs/groups.check" 2>&1
  check "run groups: parallelism, serial order, exclusive instance and on_change hook, as in Bazel" \
    "$(grep -c '^ok' "$logs/groups.check") rules ok; $(grep -m1 '^FAIL' "$logs/groups.check")" \
    [ "$(grep -c '^FAIL' "$logs/groups.check")" -eq 0 -a "$(grep -c '^ok' "$logs/groups.check")" -gt 0 ]
}

e2e_check build check_build
e2e_check parallel check_parallel
e2e_check concurrent-apply check_concurrent_apply
e2e_check second-apply-noop check_second_apply_noop
e2e_check change-one-instance check_change_one_instance
e2e_check fleet-run check_fleet_run
e2e_check invalid-instance check_invalid_instance
e2e_check secret-env check_secret_env
e2e_check groups check_groups

# The deprecated aliases still build, with the old limit in the manifest, and say so.
check_deprecated_aliases() {
  local status=0 manifest
  b2 "$ws" build //deprecated:old_set //deprecated:all >"$logs/deprecated.log" 2>&1 || status=$?
  manifest="$(b2_out "$ws" "//deprecated:all[manifest]")"
  check "deprecated aliases: tf_instance_group and tf_group(concurrency) build, the limit reaches the manifest" \
    "exit $status; $(grep -m2 -E 'rror' "$logs/deprecated.log")" \
    python3 -c 'import json, sys; g = json.load(open(sys.argv[1]))["groups"]; sys.exit(0 if [x["concurrency"] for x in g] == [2] else 1)' "$manifest"
  check "deprecated aliases: each prints one DEPRECATED line" "$(grep -c DEPRECATED "$logs/deprecated.log") lines" \
    [ "$(grep -c 'DEPRECATED: //deprecated: tf_instance_group is a deprecated alias of tf_instance_set' "$logs/deprecated.log")" -eq 1 \
    -a "$(grep -c 'DEPRECATED: //deprecated:old_limit: tf_group(concurrency = ...) is a deprecated alias of parallelism' "$logs/deprecated.log")" -eq 1 ]
}
e2e_check deprecated-aliases check_deprecated_aliases
