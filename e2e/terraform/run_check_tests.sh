#!/usr/bin/env bash
# End-to-end tests of the build-time instance check (issue 10), with real Bazel,
# real terraform and the real fleettest provider, on a private copy of this
# workspace:
# 1. `bazel build` of an instance whose values fit its component passes and
#    writes <name>.check.json (output group `check`): planned addresses and
#    actions, no sensitive value, the same bytes at another workspace path.
# 2. Instances that do not fit fail `bazel build`, naming the label, the
#    component and terraform's reason at the component's source file (never a
#    sandbox path): wrong type, missing required variable, validation rule,
#    precondition, bad for_each, module call with a wrong argument.
# 3. A component using fleettest, which refuses to configure without a token,
#    builds (nothing configured), with its mock file; without it the generated
#    data-source value fails the precondition; a real plan fails for want of a token.
# 4. check = "validate" ignores values and runs once per component; "none" runs nothing;
#    an instance fed by inputs_from (no values at build time) validates, with a note.
# 5. The same instance at another workspace path: the same check.json bytes.
# 6. A toolchain without mock providers (a terraform that says 1.6.6) validates, with a note.
# 7. The mistakes of issue 25, one negative package each, fail the build with their
#    message: a variable the component does not declare (negative/undeclared: vars,
#    var_files, secret_env, inputs_from, env), a component whose root holds no .tf file
#    (negative/empty_root; check/above builds with root = "b"), values from env and the
#    workspace (negative/run_values; check/run_values builds only with them), a sensitive
#    value quoted by a failed validation (negative/sensitive: never in Bazel's output).
#
#   e2e/terraform/run_check_tests.sh     # FLEET_HELPER defaults to <repo>/target/release/fleet
#   e2e/terraform/run_check_tests.sh NAME...   # only the named checks (--list prints them)
#
# Prints one line per check and, last, `e2e-check: N passed, N failed`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=e2e/lib.sh
source "$here/../lib.sh"
e2e_suite e2e-check

unset TF_CLI_CONFIG_FILE TF_DATA_DIR TF_LOG TF_PLUGIN_CACHE_DIR FLEETTEST_TOKEN
export CHECKPOINT_DISABLE=1
has() { grep -qF -- "$2" "$1"; }
lacks() { [[ -f "$1" ]] && ! grep -qF -- "$2" "$1"; }
quiet() { # quiet LOG COMMAND...: runs the command with its output in LOG.
  local log="$1"
  shift
  "$@" >"$log" 2>&1
}
password="e2e-sensitive-4f1d9c"

# The workspace copy, the fleettest provider binary, its package and the lock file.
suite_setup() {
  if [[ ! -x "$helper" ]] || ! "$helper" check --help >/dev/null 2>&1; then
    fail "helper" "$helper is missing or has no 'check' command (cargo build --release)"
    finish
  fi
  e2e_tmp e2e-check
  ws="$tmp/ws"
  e2e_copy_workspace "$ws"
  echo "# building the fleettest provider (e2e/provider/package.sh: cargo build --release --locked)"
  local provider
  if ! provider="$("$repo_root/e2e/provider/package.sh" --build-only 2>"$logs/provider.log")"; then
    fail "build the fleettest provider" "$(tail -3 "$logs/provider.log")"
    finish
  fi
  cp "$provider" "$ws/check/provider/"
  : >"$ws/check/provider/.terraform.lock.hcl"
  bz "$ws" run //check/provider:tokened.lock -- --fresh >"$logs/lock.log" 2>&1 ||
    fail "tokened.lock writes the lock file" "$(tail -3 "$logs/lock.log")"
  bin_dir="$(bz "$ws" info bazel-bin 2>/dev/null)"
}

# Setup of two checks: //check/shape:fits built (status in fits_status, its report kept).
built_fits() {
  fits_status=0
  bz "$ws" build //check/shape:fits --output_groups=+check >"$logs/fits.log" 2>&1 || fits_status=$?
  [[ $fits_status -eq 0 ]] && cp "$bin_dir/check/shape/fits.check.json" "$tmp/fits.check.json"
}

# expect_misfit NAME COMPONENT REASON AT: bazel build fails naming the instance and REASON at AT.
expect_misfit() {
  local name="$1" component="$2" reason="$3" at="$4" log="$logs/${1//[:\/]/_}.log"
  if bz "$ws" build "$name" >"$log" 2>&1; then
    fail "$name fails the build" "it built"
    return
  fi
  check "$name fails: does not fit $component" "" has "$log" "rules_fleet: $name does not fit $component:"
  check "$name fails: terraform's reason" "$reason" has "$log" "$reason"
  check "$name fails: at the component's source" "$at" has "$log" "$at"
  # The failure text fleet printed: from its first line to the first unindented one after it.
  sed -n '/^rules_fleet: /,/^[^ ]/p' "$log" | sed '$d' >"$log.text"
  check "$name fails: no absolute or sandbox path, no sensitive value" "$(wc -l <"$log.text") lines" \
    bash -c '[[ -s "$1" ]] && ! grep -qE "fleet-check\.|/sandbox/|execroot|$2|$3" "$1"' _ "$log.text" "$password" "$tmp"
}

# spawned LOG MNEMONIC: how many actions of MNEMONIC the build of that execution log ran.
spawned() { grep -c "\"mnemonic\": \"$2\"" "$1"; }

# a fitting instance
check_fits() {
  e2e_needs built_fits
  if [[ $fits_status -eq 0 ]]; then
    pass "an instance whose values fit its component builds"
    result="$bin_dir/check/shape/fits.check.json"
    check "fits.check.json records the planned addresses and actions" "" \
      python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["result"]=="pass", r; \
  a={c["address"]:c["actions"] for c in r["resources"]}; \
  assert a=={"terraform_data.cluster":["create"],"terraform_data.replica[\"r1\"]":["create"]}, a' "$result"
    check "fits.check.json holds no sensitive value" "" lacks "$result" "$password"
    check "fits.check.json holds no absolute path" "" lacks "$result" "$tmp"
  else
    fail "an instance whose values fit its component builds" "$(tail -15 "$logs/fits.log")"
  fi
}

# instances that do not fit
check_misfits() {
  shape=//check/shape:shape
  expect_misfit //check/shape:wrong_type "$shape" "list of string required" "check/shape/main.tf:3"
  expect_misfit //check/shape:missing_required "$shape" 'required variable "shape"' "check/shape/main.tf:3"
  expect_misfit //check/shape:too_many_nodes "$shape" "shape.nodes must be at most 6." "check/shape/main.tf:9"
  expect_misfit //check/shape:no_zones "$shape" "shape.zones must name at least one zone." "check/shape/main.tf:40"
  expect_misfit //check/shape:bad_for_each "$shape" '"for_each" sets must not contain null values' "check/shape/main.tf:47"
  expect_misfit //check/bad_call:calls_wrong //check/bad_call:bad_call \
    'An argument named "zone_count" is not expected here.' "check/bad_call/main.tf:5"
}

# a provider that refuses to configure without a token
check_provider() {
  if bz "$ws" build //check/provider:fits >"$logs/provider-fits.log" 2>&1; then
    pass "an instance of a component using fleettest (no token anywhere) builds: nothing configured"
  else
    fail "an instance of a component using fleettest (no token anywhere) builds" "$(tail -15 "$logs/provider-fits.log")"
  fi
  expect_misfit //check/provider:unmocked_digest //check/provider:unmocked \
    "the echo digest must be 64 hex characters." "check/provider/main.tf:4"
  check "... and with the mock file given to the instance (tf_instance mocks) it builds" "" \
    quiet "$logs/mocked-here.log" bz "$ws" build //check/provider:mocked_here
  bz "$ws" run //check/provider:fits.plan >"$logs/provider-plan.log" 2>&1
  check "a real plan of the same instance fails: the provider wants a token" "" has "$logs/provider-plan.log" "fleettest: no token"
}

# check = "validate" and "none"
check_modes() {
  check 'check = "none" builds an instance that does not fit' "" \
    quiet "$logs/none.log" bz "$ws" build //check/shape:unchecked --execution_log_json_file="$tmp/none.json"
  ran="$(($(spawned "$tmp/none.json" TerraformCheck) + $(spawned "$tmp/none.json" TerraformValidate)))"
  check 'check = "none" runs neither plan nor validate' "$ran action(s)" test "$ran" = 0
  check 'check = "validate" ignores values (nodes = 9 builds)' "" \
    quiet "$logs/validate.log" bz "$ws" build //check/shape:validated_only //check/shape:validated_too \
    --execution_log_json_file="$tmp/validate.json"
  validates="$(spawned "$tmp/validate.json" TerraformValidate)"
  check 'validate runs once per component, not once per instance' "$validates action(s) for 2 instances" test "$validates" = 1
  plans="$(spawned "$tmp/validate.json" TerraformCheck)"
  check 'check = "validate" runs no plan' "$plans action(s)" test "$plans" = 0

  check 'an instance fed by inputs_from builds (no values at build time)' "" \
    quiet "$logs/upstream.log" bz "$ws" build //check/shape:reads_upstream
  check '... and says at analysis that it checks with validate instead of plan' "" has "$logs/upstream.log" \
    "rules_fleet: //check/shape:reads_upstream: admin_pin get their values only at run time (inputs_from, secret_env); checking with validate instead of plan"
}

# the same instance at another path: the same bytes
check_other_path() {
  other="$tmp/elsewhere/ws"
  e2e_copy_workspace "$other"
  e2e_needs built_fits
  if bz "$other" build //check/shape:fits --output_groups=+check >"$logs/elsewhere.log" 2>&1; then
    check "fits.check.json is byte-identical at another workspace path" "" \
      cmp "$tmp/fits.check.json" "$(bz "$other" info bazel-bin 2>/dev/null)/check/shape/fits.check.json"
  else
    fail "fits builds at another workspace path" "$(tail -5 "$logs/elsewhere.log")"
  fi
}

# a toolchain without mock providers: validate, with a note
check_old_terraform() {
  # terraform 1.11 that says it is 1.6.6: the rules must not plan with it.
  printf '#!/bin/sh\n[ "$1" = version ] && { echo %s; exit 0; }\nexec %s "$@"\n' \
    "'{\"terraform_version\": \"1.6.6\"}'" "$(command -v terraform)" >"$tmp/terraform-1.6"
  chmod +x "$tmp/terraform-1.6"
  check 'on terraform 1.6 an instance that does not fit builds (validate)' "" \
    quiet "$logs/old-terraform.log" bz "$ws" build //check/shape:too_many_nodes "--repo_env=TERRAFORM=$tmp/terraform-1.6"
  check '... and analysis says so' "" has "$logs/old-terraform.log" \
    "rules_fleet: //check/shape:too_many_nodes: terraform 1.6.6 has no mock providers (needs 1.7); checking with validate instead of plan"
}

# expect_build_failure NAME TEXT... [-- BAZEL_ARGS...]: bazel build NAME fails and its output holds every TEXT.
expect_build_failure() {
  local name="$1" log="$logs/${1//[:\/]/_}.log" texts=() text
  shift
  while [[ $# -gt 0 && "$1" != -- ]]; do
    texts+=("$1")
    shift
  done
  [[ "${1:-}" == -- ]] && shift
  if bz "$ws" build "$@" "$name" >"$log" 2>&1; then
    fail "$name fails the build" "it built"
    return
  fi
  for text in "${texts[@]}"; do
    check "$name fails: $text" "" has "$log" "$text"
  done
}

# a variable the component does not declare: a hard error, whatever sets it
check_undeclared() {
  local pkg=//negative/undeclared
  local tail="which $pkg:component does not declare"
  check "an instance setting only declared variables builds" "" \
    quiet "$logs/undeclared-fits.log" bz "$ws" build "$pkg:fits"
  expect_build_failure "$pkg:misspelt_var" \
    "rules_fleet: $pkg:misspelt_var sets \"sizee\", $tail (did you mean \"size\"?)" "set in vars"
  expect_build_failure "$pkg:misspelt_var_file" \
    "rules_fleet: $pkg:misspelt_var_file sets \"sise\", $tail (did you mean \"size\"?)" \
    "set in var_files negative/undeclared/misspelt.tfvars"
  expect_build_failure "$pkg:misspelt_secret_env" \
    "rules_fleet: $pkg:misspelt_secret_env sets \"pasword\", $tail (did you mean \"password\"?)" "set in secret_env"
  expect_build_failure "$pkg:misspelt_inputs_from" \
    "rules_fleet: $pkg:misspelt_inputs_from sets \"upstream_ids\", $tail (did you mean \"upstream_id\"?)" "set in inputs_from"
  expect_build_failure "$pkg:misspelt_env" \
    "rules_fleet: $pkg:misspelt_env sets \"sizes\", $tail (did you mean \"size\"?)" "set in env TF_VAR_sizes"
  expect_build_failure "$pkg:unknown_var" \
    "rules_fleet: $pkg:unknown_var sets \"region\", $tail" "$pkg:component declares: password, size, upstream_id"
  check "... with no suggestion where no declared name is close" "" \
    bash -c '! grep -F "sets \"region\"" "$1" | grep -q "did you mean"' _ "$logs/${pkg//[:\/]/_}_unknown_var.log"
}

# a component whose root module holds no .tf file fails analysis; root = "b" places it
check_empty_root() {
  expect_build_failure //negative/empty_root:empty \
    "rules_fleet: //negative/empty_root:b: its root module (the directory terraform runs in) holds no .tf or .tf.json file: its files went to b/main.tf" \
    'set root = "b"'
  if bz "$ws" build //check/above:two --output_groups=+check >"$logs/above.log" 2>&1; then
    pass "a component declared above its module with root = \"b\" builds"
    local tree="$bin_dir/check/above/two.rendered"
    check "... its module is the top of the tree, nested modules below it" "" \
      test -f "$tree/main.tf" -a -f "$tree/modules/nodes/main.tf" -a ! -e "$tree/b"
    check "... and its check planned the module's resources" "" \
      has "$bin_dir/check/above/two.check.json" 'module.nodes.terraform_data.node[1]'
  else
    fail "a component declared above its module with root = \"b\" builds" "$(tail -15 "$logs/above.log")"
  fi
}

# values from env (TF_VAR_*) and the workspace: planned as the run will have them
check_run_values() {
  check "instances fitting only with env's TF_VAR_* and their workspace build (vars win over env)" "" \
    quiet "$logs/run-values.log" bz "$ws" build //check/run_values:all
  expect_build_failure //negative/run_values:env_nodes \
    "rules_fleet: //negative/run_values:env_nodes does not fit //negative/run_values:component:" "nodes must be at most 6."
  expect_build_failure //negative/run_values:unknown_workspace \
    "rules_fleet: //negative/run_values:unknown_workspace does not fit //negative/run_values:component:" \
    "workspace qa has no zones."
}

# a sensitive value quoted by a failed validation: never in Bazel's output, even with
# --verbose_failures (which prints the failed action's command line)
check_sensitive() {
  local name secret log
  for name in bad_pin:e2e-sensitive-4f1d9c bad_pin_file:e2e-sensitive-file-81c2 bad_pin_env:e2e-sensitive-env-5d07; do
    secret="${name#*:}"
    name="//negative/sensitive:${name%%:*}"
    log="$logs/${name//[:\/]/_}.log"
    expect_build_failure "$name" "rules_fleet: $name does not fit //negative/sensitive:component:" \
      "admin_pin (sensitive value) must be six digits." "(var.admin_pin is (sensitive value))" -- --verbose_failures
    check "$name: the value is nowhere in Bazel's output" "" lacks "$log" "$secret"
  done
}

e2e_check fits check_fits
e2e_check misfits check_misfits
e2e_check provider check_provider
e2e_check check-modes check_modes
e2e_check other-path check_other_path
e2e_check old-terraform check_old_terraform
e2e_check undeclared check_undeclared
e2e_check empty-root check_empty_root
e2e_check run-values check_run_values
e2e_check sensitive check_sensitive
e2e_main "$@"
