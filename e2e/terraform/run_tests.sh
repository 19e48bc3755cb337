#!/usr/bin/env bash
# End-to-end tests of the Terraform rules, with real Bazel and real terraform,
# on a private copy of this workspace (the source tree is never written to).
#
#   e2e/terraform/run_tests.sh            # FLEET_HELPER defaults to <repo>/target/release/fleet
#   e2e/terraform/run_tests.sh NAME...    # only the named checks (--list prints them)
#   e2e/terraform/run_tests.sh --rules-only   # only the rule checks (secrets, nesting, quoting)
#
# Prints one line per check and, last, `e2e-terraform: N passed, N failed`;
# exits non-zero when a check failed.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=e2e/lib.sh
source "$here/../lib.sh"
e2e_suite e2e-terraform
terraform_bin="${TERRAFORM_BIN:-$(command -v terraform || true)}"

suite_setup() {
  if [[ ! -x "$helper" ]] || ! "$helper" tf --help >/dev/null 2>&1; then
    fail "helper" "$helper is missing or has no 'tf' command (cargo build --release)"
    finish
  fi
  if [[ -z "$terraform_bin" ]]; then
    fail "terraform" "terraform is not on PATH"
    finish
  fi
  e2e_tmp e2e-terraform
  ws="$tmp/ws"
  dl="$tmp/download"
  e2e_copy_workspace "$ws"
  bin_dir="$(bz "$ws" info bazel-bin 2>/dev/null)"
  run_dirs="$ws/.fleet/infra/elasticache"
}

expect_failure() { # NAME LOG PATTERN... (every pattern must appear)
  local name="$1" log="$2"
  shift 2
  for pattern in "$@"; do
    if ! grep -qF -- "$pattern" "$log"; then
      fail "$name" "missing '$pattern': $(grep -m2 -E 'ERROR|Error' "$log")"
      return
    fi
  done
  pass "$name"
}

# refused NAME "TARGET..." PATTERN...: building the targets (failing packages
# re-enabled, --keep_going) fails, and the output holds every pattern.
refused() {
  local name="$1" targets="$2" log
  log="$logs/refused-$(echo "$name" | tr -c 'A-Za-z0-9\n' '-').log"
  shift 2
  # shellcheck disable=SC2086 # targets is a list of labels without spaces
  if bz "$ws" build --deleted_packages= --keep_going $targets >"$log" 2>&1; then
    fail "$name" "the build succeeded"
  else
    expect_failure "$name" "$log" "$@"
  fi
}

# Secrets in backend_config, vars and env are refused; secret_env keeps them out of outputs.
check_secrets() {
  # The refusals themselves (secret-like keys, secret_env conflicts) are
  # analysis tests in e2e/analysis (//secrets:all).
  local manifest="$bin_dir/negative/secret_env_manifest/db.manifest.json" marker="fleet-e2e-secret-$RANDOM$RANDOM"
  if FLEET_E2E_DB_PASSWORD="$marker" bz "$ws" build --action_env=FLEET_E2E_DB_PASSWORD --output_groups=+manifest //negative/secret_env_manifest:db >"$logs/secret-env.log" 2>&1 &&
    python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["instances"][0]; sys.exit(e.get("secret_env") != {"db_password": "FLEET_E2E_DB_PASSWORD"} or "db_password" in e["env"])' "$manifest" &&
    ! grep -rqF "$marker" "$bin_dir/negative/secret_env_manifest"; then
    pass "an instance with secret_env (and an allowed secret-like key) builds; its manifest names the env var, no output holds the value"
  else
    fail "secret_env instance builds, manifest holds the name only" "$(grep -m2 ERROR "$logs/secret-env.log"; cat "$manifest" 2>/dev/null)"
  fi

  # END-TO-END LEAK CHECK (needs the runner's `secret_env` support in fleet tf): the
  # secret comes from the environment of `bazel run`, reaches terraform, and is
  # found nowhere in the run directory or Bazel's outputs afterwards.
  if FLEET_E2E_DB_PASSWORD="$marker" bz "$ws" run //negative/secret_env_manifest:db.apply -- -auto-approve -no-color >"$logs/secret-env-apply.log" 2>&1; then
    local want leaks
    want="$(printf '%s' "$marker" | sha256sum | cut -d' ' -f1)"
    leaks="$(grep -rlF "$marker" "$ws/.fleet" "$bin_dir/negative/secret_env_manifest" "$logs/secret-env-apply.log" 2>/dev/null | head -3)"
    if grep -qF "$want" "$ws/.fleet/negative/secret_env_manifest/db/terraform.tfstate" && [[ -z "$leaks" ]]; then
      pass "secret_env: apply reads the secret from the environment; no file under .fleet or bazel-bin holds it"
    else
      fail "secret_env apply without leaks" "hash in state: $(grep -c "$want" "$ws/.fleet/negative/secret_env_manifest/db/terraform.tfstate" 2>/dev/null), leaked into: $leaks"
    fi
  elif grep -q 'unknown field `secret_env`' "$logs/secret-env-apply.log"; then
    echo "SKIP secret_env apply leak check: this fleet helper does not read secret_env yet"
  else
    fail "secret_env apply" "$(tail -5 "$logs/secret-env-apply.log")"
  fi

  # A value terraform prints itself (a failed validation shows `var.db_password is
  # "..."`): `bazel run` shows `(sensitive value)` instead, and no file holds it.
  local short="short-$RANDOM" invalid="$logs/secret-env-invalid.log"
  if FLEET_E2E_DB_PASSWORD="$short" bz "$ws" run //negative/secret_env_manifest:db.plan -- -no-color >"$invalid" 2>&1; then
    fail "a secret_env value failing validation" "the plan succeeded: $(tail -5 "$invalid")"
  elif grep -qF 'var.db_password is (sensitive value)' "$invalid" &&
    [[ -z "$(grep -rlF "$short" "$invalid" "$ws/.fleet" 2>/dev/null)" ]]; then
    pass "a secret_env value failing validation: bazel run shows (sensitive value), no output or file holds the value"
  else
    fail "a secret_env value failing validation is hidden" "$(grep -m3 -F -e "$short" -e 'var.db_password' "$invalid"; grep -rlF "$short" "$ws/.fleet" 2>/dev/null | head -3)"
  fi
}

check_nested_run_dirs() {
  refused "nested run directories in one package are refused while loading, naming both" \
    //negative/nested_run_dirs:all \
    "instances //negative/nested_run_dirs:c and //negative/nested_run_dirs:c/b have nested run directories"
  refused "nested run directories in one tf_instances are refused while loading, naming both" \
    //negative/nested_run_dirs_instances:all \
    "instances //negative/nested_run_dirs_instances:c and //negative/nested_run_dirs_instances:c/b have nested run directories"
  # Across packages (the fleet's analysis): e2e/analysis //run_dirs:all.
}

# Names holding ' $ ( ) ; reach fleet literally through both launchers.
check_quoting() {
  local instance='//negative/quoting:it'\''s-$HOME-(1);x' fleet='//negative/quoting:fleet'\''s-$HOME-(1)'
  local state="$ws/.fleet/negative/quoting/it's-\$HOME-(1);x/terraform.tfstate"
  bz "$ws" run "$instance.apply" -- -auto-approve -no-color >"$logs/quoting-apply.log" 2>&1
  if grep -q '"cluster_id": "quoted"' "$state" 2>/dev/null; then
    pass "an instance named with ' \$ ( ) ; builds and its .apply runs, in its own run directory"
  else
    fail "hostile instance name: .apply" "$(grep -m3 -E 'ERROR|Error|error|rules_fleet' "$logs/quoting-apply.log")"
  fi
  if bz "$ws" run "$fleet.plan" -- --parallelism 1 >"$logs/quoting-fleet.log" 2>&1 &&
    grep -qF "it's-\$HOME-(1);x" "$logs/quoting-fleet.log"; then
    pass "a fleet named with ' \$ ( runs its .plan on that instance"
  else
    fail "hostile fleet name: .plan" "$(grep -m3 -E 'ERROR|Error|error|rules_fleet' "$logs/quoting-fleet.log")"
  fi
}

instances=()
for n in $(seq 1 12); do instances+=("redis-cluster-$n"); done

# state_field INSTANCE FIELD: serial, lineage, or the cluster_id terraform stored.
state_field() {
  python3 - "$run_dirs/$1/terraform.tfstate" "$2" <<'EOF'
import json, sys
state = json.load(open(sys.argv[1]))
field = sys.argv[2]
if field == "cluster_id":
    res = [r for r in state["resources"] if r["type"] == "terraform_data"][0]
    print(res["instances"][0]["attributes"]["input"]["value"]["cluster_id"])
elif field == "num_shards":
    res = [r for r in state["resources"] if r["type"] == "terraform_data"][0]
    print(res["instances"][0]["attributes"]["input"]["value"]["num_shards"])
else:
    print(state[field])
EOF
}

# spawned_instances LOG MNEMONIC...: instance names whose actions of those mnemonics ran.
spawned_instances() {
  python3 - "$@" <<'EOF'
import json, re, sys
path, mnemonics = sys.argv[1], set(sys.argv[2:])
text = open(path).read()
decoder, pos, names = json.JSONDecoder(), 0, []
while True:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos >= len(text):
        break
    spawn, pos = decoder.raw_decode(text, pos)
    if spawn.get("mnemonic") in mnemonics:
        # One name per spawn (a tree output lists each of its files).
        for out in spawn.get("actualOutputs", []) or spawn.get("listedOutputs", []):
            p = out["path"] if isinstance(out, dict) else out
            m = re.search(r"/([^/]+)\.(rendered|check\.json)", p)
            if m:
                names.append(m.group(1))
                break
print(" ".join(sorted(set(names))) if names else "-", len(names))
EOF
}

# apply_all LOG_PREFIX: starts the 12 applies at once (12 processes) and waits.
# Prints how many succeeded.
apply_all() {
  local prefix="$1" pids=() ok=0
  for name in "${instances[@]}"; do
    bz "$ws" run "//infra/elasticache:$name.apply" -- -auto-approve -no-color \
      >"$logs/$prefix-$name.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" && ok=$((ok + 1))
  done
  echo "$ok"
}

# Setup of several checks: //infra/... built once (its status in infra_build_status).
infra_built() {
  infra_build_status=0
  bz "$ws" build //infra/... >"$logs/build.log" 2>&1 || infra_build_status=$?
}
# Setup of several checks: the 12 applies started at once (successes in first_apply_ok).
applied_once() {
  first_apply_ok="$(apply_all apply1)"
}

# bazel build //infra/... renders and validates all 12, hermetically
check_build() {
  e2e_needs infra_built
  if [[ $infra_build_status -eq 0 ]]; then
    valid=0
    for name in "${instances[@]}"; do
      grep -q '"result": "pass"' "$bin_dir/infra/elasticache/$name.check.json" 2>/dev/null && valid=$((valid + 1))
    done
    if [[ $valid -eq 12 ]]; then pass "build //infra/... validates 12 instances"; else fail "build //infra/... validates 12 instances" "$valid valid reports"; fi
    leaks="$(grep -rlF -e "$ws" -e "$HOME" -e "$repo_root" "$bin_dir"/infra/elasticache/*.rendered \
      "$bin_dir"/infra/elasticache/*.check.json "$bin_dir"/infra/elasticache/*.manifest.json 2>/dev/null | head -3)"
    if [[ -z "$leaks" ]]; then pass "rendered trees, reports and manifests hold no absolute paths"; else fail "no absolute paths in outputs" "$leaks"; fi
  else
    fail "build //infra/... validates 12 instances" "see below"
    tail -30 "$logs/build.log"
  fi
}

# 12 concurrent applies: 12 successes, 12 distinct states
check_concurrent_apply() {
  e2e_needs applied_once
  if [[ "$first_apply_ok" -eq 12 ]]; then pass "12 concurrent bazel run .apply all succeed"; else
    fail "12 concurrent bazel run .apply all succeed" "$first_apply_ok/12"
    tail -20 "$logs"/apply1-redis-cluster-1.log
  fi
  own=0
  lineages=()
  for name in "${instances[@]}"; do
    [[ "$(state_field "$name" cluster_id 2>/dev/null)" == "$name" ]] && own=$((own + 1))
    lineages+=("$(state_field "$name" lineage 2>/dev/null)")
  done
  distinct="$(printf '%s\n' "${lineages[@]}" | sort -u | grep -c .)"
  states="$(find "$ws/.fleet" -name terraform.tfstate -not -path '*/.terraform-data/*' | wc -l)"
  if [[ $own -eq 12 && $distinct -eq 12 && $states -eq 12 ]]; then
    pass "12 distinct state files, each holding its own instance's values"
  else
    fail "12 distinct state files" "own values: $own, distinct lineages: $distinct, state files: $states"
  fi
}

# a second apply is a no-op
check_second_apply_noop() {
  e2e_needs applied_once
  serials_before=()
  for name in "${instances[@]}"; do serials_before+=("$(state_field "$name" serial 2>/dev/null)"); done
  ok="$(apply_all apply2)"
  nochange=0
  for i in "${!instances[@]}"; do
    name="${instances[$i]}"
    if grep -q "No changes" "$logs/apply2-$name.log" &&
      [[ "$(state_field "$name" serial 2>/dev/null)" == "${serials_before[$i]}" ]]; then
      nochange=$((nochange + 1))
    fi
  done
  if [[ "$ok" -eq 12 && $nochange -eq 12 ]]; then pass "second apply is a no-op (No changes, same serial) for all 12"; else
    fail "second apply is a no-op" "$ok succeeded, $nochange unchanged"
  fi
}

# changing one instance's vars re-runs only that instance's actions
check_change_one_instance() {
  e2e_needs infra_built applied_once
  bz "$ws" build //infra/... --execution_log_json_file="$tmp/noop.json" >"$logs/noop.log" 2>&1
  read -r names count < <(spawned_instances "$tmp/noop.json" TerraformRender TerraformCheck)
  if [[ "$names" == "-" ]]; then pass "no-op rebuild runs no render/validate action"; else
    fail "no-op rebuild runs no render/validate action" "ran for: $names"
  fi
  build_file="$ws/infra/elasticache/BUILD.bazel"
  before="$(cat "$build_file")"
  sed -i 's|"num_shards": 1 + n % 3,|"num_shards": 7 if n == 5 else 1 + n % 3,|' "$build_file"
  if [[ "$before" == "$(cat "$build_file")" ]]; then
    fail "change one instance" "could not edit redis-cluster-5's vars in $build_file"
  else
    bz "$ws" build //infra/... --execution_log_json_file="$tmp/changed.json" >"$logs/changed.log" 2>&1
    read -r names count < <(spawned_instances "$tmp/changed.json" TerraformRender TerraformCheck)
    if [[ "$names" == "redis-cluster-5" && "$count" -eq 2 ]]; then
      pass "changing redis-cluster-5's vars re-runs only its render + validate (execution log)"
    else
      fail "changing one instance re-runs only it" "execution log shows: $names ($count spawns)"
    fi
    serials_before=()
    for name in "${instances[@]}"; do serials_before+=("$(state_field "$name" serial 2>/dev/null)"); done
    bz "$ws" run //infra/elasticache:redis-cluster-5.apply -- -auto-approve -no-color >"$logs/apply5.log" 2>&1
    others=0
    for i in "${!instances[@]}"; do
      [[ "${instances[$i]}" == redis-cluster-5 ]] && continue
      [[ "$(state_field "${instances[$i]}" serial)" == "${serials_before[$i]}" ]] && others=$((others + 1))
    done
    if [[ "$(state_field redis-cluster-5 num_shards 2>/dev/null)" == 7 && $others -eq 11 ]]; then
      pass "applying the changed instance updates its state only"
    else
      fail "applying the changed instance updates its state only" "num_shards=$(state_field redis-cluster-5 num_shards 2>/dev/null), untouched others: $others/11"
    fi
  fi
}

# nested modules, var_files, deps + inputs_from
check_features() {
  input_of() { # INSTANCE FIELD: a field of the terraform_data input in features/INSTANCE's state
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["resources"][0]["instances"][0]["attributes"]["input"]["value"][sys.argv[2]])' \
      "$ws/.fleet/features/$1/terraform.tfstate" "$2" 2>/dev/null
  }
  if bz "$ws" build //features/... >"$logs/features.log" 2>&1 &&
    [[ -f "$bin_dir/features/database.rendered/modules/naming/main.tf" && -f "$bin_dir/features/database.rendered/fleet-001-large.auto.tfvars" ]]; then
    pass "nested local modules and var_files are rendered and validated"
  else
    fail "nested local modules and var_files are rendered and validated" "$(grep -m2 ERROR "$logs/features.log")"
  fi
  early=0
  bz "$ws" run //features:api.apply -- -auto-approve -no-color >"$logs/api-early.log" 2>&1 || early=$?
  bz "$ws" run //features:database.apply -- -auto-approve -no-color >"$logs/database.log" 2>&1
  bz "$ws" run //features:api.apply -- -auto-approve -no-color >"$logs/api.log" 2>&1
  if [[ $early -ne 0 ]] && grep -q "//features:database" "$logs/api-early.log" &&
    [[ "$(input_of api upstream)" == "fleet-database.internal" && "$(input_of database size)" == large ]]; then
    pass "inputs_from reads the upstream's outputs (refused before it is applied); var_files override vars"
  else
    fail "inputs_from / var_files" "early exit $early, api upstream '$(input_of api upstream)', database size '$(input_of database size)'"
  fi
}

# runs of one instance wait for each other; other instances do not
check_instance_lock() {
  lock="$run_dirs/redis-cluster-7/.fleet.lock"
  mkdir -p "$(dirname "$lock")"
  mkfifo "$tmp/held" "$tmp/release"
  "$helper" lock --path "$lock" -- bash -c "echo held >'$tmp/held'; read -r _ <'$tmp/release'" &
  holder=$!
  read -r _ <"$tmp/held"
  bz "$ws" run //infra/elasticache:redis-cluster-7.plan -- -no-color >"$logs/plan7.log" 2>&1 &
  waiter=$!
  other_ok=0
  bz "$ws" run //infra/elasticache:redis-cluster-8.plan -- -no-color >"$logs/plan8.log" 2>&1 && other_ok=1
  # The waiting line appears once the run reaches the lock; the deadline only bounds a broken run.
  deadline=$((SECONDS + 120))
  until grep -q "waiting for lock" "$logs/plan7.log" || ! kill -0 "$waiter" 2>/dev/null || ((SECONDS > deadline)); do
    sleep 0.2
  done
  still_waiting=0
  kill -0 "$waiter" 2>/dev/null && grep -q "waiting for lock" "$logs/plan7.log" && still_waiting=1
  echo go >"$tmp/release"
  wait "$holder"
  waiter_ok=0
  wait "$waiter" && waiter_ok=1
  if [[ $still_waiting -eq 1 && $waiter_ok -eq 1 && $other_ok -eq 1 ]]; then
    pass "a run waits for its instance's lock, then succeeds; another instance does not wait"
  else
    fail "instance lock" "waited: $still_waiting, waiter ok: $waiter_ok, other instance ok: $other_ok"
    tail -5 "$logs/plan7.log"
  fi
}

# an invalid instance fails the build with its label
check_invalid_instance() {
  if bz "$ws" build //negative/invalid:broken-cluster >"$logs/invalid.log" 2>&1; then
    fail "invalid instance fails the build" "the build succeeded"
  elif grep -q "rules_fleet: //negative/invalid:broken-cluster does not fit //negative/invalid:broken:" "$logs/invalid.log" &&
    grep -q "Reference to undeclared input variable" "$logs/invalid.log"; then
    pass "an invalid instance fails the build with its label and terraform's diagnostics"
  else
    fail "invalid instance fails the build with its label" "$(grep -m3 ERROR "$logs/invalid.log")"
  fi
}

# shared state within a package fails while loading, naming both instances
check_shared_state() {
  # Across packages (analysis): e2e/analysis //shared_state:all.
  if bz "$ws" build --deleted_packages= //negative/shared_state_in_package:all >"$logs/shared-pkg.log" 2>&1; then
    fail "shared state within a package fails" "the build succeeded"
  else
    expect_failure "shared state within a package fails naming both" "$logs/shared-pkg.log" \
      "instances //negative/shared_state_in_package:cluster-1 and //negative/shared_state_in_package:cluster-2 share state"
  fi
}

# secrets, nested run directories, fleet_root, hostile names

# --repo_env=TERRAFORM picks the local toolchain's binary
check_repo_env_terraform() {
  cp "$terraform_bin" "$tmp/terraform-copy"
  if bz "$ws" build --repo_env=TERRAFORM="$tmp/terraform-copy" //infra/elasticache:redis-cluster-1 >"$logs/tfenv.log" 2>&1 &&
    [[ "$(readlink "$(bz "$ws" info output_base 2>/dev/null)/external/terraform_local/terraform")" == "$tmp/terraform-copy" ]]; then
    pass "--repo_env=TERRAFORM selects the local terraform"
  else
    fail "--repo_env=TERRAFORM selects the local terraform" "$(grep -m2 ERROR "$logs/tfenv.log")"
  fi
  bz "$ws" shutdown >/dev/null 2>&1
}

# downloaded toolchain and helper release, verified by sha256
check_downloaded_toolchain() {
  version="$("$terraform_bin" version -json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])')"
  mkdir -p "$dl/dist" "$dl/app"
  zip -qj "$dl/dist/terraform_${version}_linux_amd64.zip" "$terraform_bin"
  cp "$helper" "$dl/dist/fleet"
  tf_sha="$(sha256sum "$dl/dist/terraform_${version}_linux_amd64.zip" | cut -d' ' -f1)"
  helper_sha="$(sha256sum "$dl/dist/fleet" | cut -d' ' -f1)"
  printf 'startup --host_jvm_args=-Xmx2g\nbuild --symlink_prefix=/\n' >"$dl/.bazelrc"
  cp "$here/infra/elasticache/main.tf" "$dl/app/main.tf"
  write_download_workspace() { # TERRAFORM_SHA256
    cat >"$dl/WORKSPACE" <<EOF
workspace(name = "e2e_download")

local_repository(
    name = "rules_fleet",
    path = "$repo_root",
)

load("@rules_fleet//rules:repositories.bzl", "rules_fleet_dependencies", "terraform_register_toolchains")

rules_fleet_dependencies(
    helper_sha256 = "$helper_sha",
    helper_urls = ["file://$dl/dist/fleet"],
)

terraform_register_toolchains(
    sha256 = "$1",
    urls = ["file://$dl/dist/terraform_${version}_linux_amd64.zip"],
    version = "$version",
)
EOF
  }
  cat >"$dl/app/BUILD.bazel" <<'EOF'
load("@rules_fleet//rules:defs.bzl", "tf_component", "tf_instance")

tf_component(
    name = "cache",
    srcs = ["main.tf"],
)

tf_instance(
    name = "one",
    component = ":cache",
    vars = {
        "cluster_id": "one",
        "node_type": "cache.t4g.small",
    },
)
EOF
  write_download_workspace "$tf_sha"
  # No FLEET_HELPER here: the helper must come from its release URL.
  if e2e_pass_helper=0 bz "$dl" run //app:one.apply -- -auto-approve -no-color >"$logs/download.log" 2>&1 &&
    grep -q '"terraform":"../terraform/terraform"' "$(e2e_pass_helper=0 bz "$dl" info bazel-bin 2>/dev/null)/app/one.manifest.json" &&
    [[ -f "$dl/.fleet/app/one/terraform.tfstate" ]]; then
    pass "terraform_register_toolchains (file:// zip + sha256) and a helper release validate and apply"
  else
    fail "downloaded toolchain and helper release" "$(grep -m3 -E 'ERROR|Error' "$logs/download.log")"
  fi
  write_download_workspace "0000000000000000000000000000000000000000000000000000000000000000"
  if e2e_pass_helper=0 bz "$dl" build //app:one >"$logs/badsha.log" 2>&1; then
    fail "a wrong sha256 fails the toolchain download" "the build succeeded"
  else
    expect_failure "a wrong sha256 fails the toolchain download" "$logs/badsha.log" "Checksum was $tf_sha but wanted 0000000000000000000000000000000000000000000000000000000000000000"
  fi
}

e2e_check build check_build
e2e_check concurrent-apply check_concurrent_apply
e2e_check second-apply-noop check_second_apply_noop
e2e_check change-one-instance check_change_one_instance
e2e_check features check_features
e2e_check instance-lock check_instance_lock
e2e_check invalid-instance check_invalid_instance
e2e_check shared-state check_shared_state
e2e_check secrets check_secrets
e2e_check nested-run-dirs check_nested_run_dirs
e2e_check quoting check_quoting
e2e_check repo-env-terraform check_repo_env_terraform
e2e_check downloaded-toolchain check_downloaded_toolchain

# --rules-only: the rule checks alone (refusals, quoting), as before named checks.
if [[ "${1:-}" == --rules-only ]]; then
  set -- secrets nested-run-dirs quoting
fi
e2e_main "$@"
