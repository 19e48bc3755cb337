# shellcheck shell=bash
# The shared test of both rule sets: the same fleets built by Bazel (e2e/terraform and
# e2e/buck2/parity, as they are) and by Buck2 (their BUILD.bazel files translated
# mechanically to BUCK files: the load path and visibility only) must give byte-identical
# manifests, identities, reports and rendered trees, and the same refusals. Sourced by
# run_tests.sh.

# Packages of e2e/terraform (and parity/, from e2e/buck2) both builds take.
parity_packages=(infra/elasticache fleets/chain features parity parity/refusals parity/shared_pg_state negative/invalid
  negative/shared_state_in_package negative/nested_run_dirs negative/nested_run_dirs_instances negative/undeclared
  negative/empty_root negative/run_values negative/sensitive negative/retry)

# to_buck BUILD.bazel BUCK: the translation, as a user would do it by hand.
to_buck() {
  sed -e 's|@rules_fleet//rules:defs.bzl|@rules_fleet//rules/buck2:defs.bzl|' \
    -e 's|\["//visibility:private"\]|[]|' \
    -e 's|"//visibility:public"|"PUBLIC"|' -e 's|"//:__subpackages__"|"PUBLIC"|' \
    -e 's|"//fleets:__subpackages__"|"PUBLIC"|' "$1" >"$2"
}

# Both workspaces: Bazel's copy of e2e/terraform with parity/, Buck2's project with the
# same packages translated.
parity_setup() {
  bz_ws="$tmp/parity-bazel"
  b2_ws="$tmp/parity-buck2"
  e2e_copy_workspace "$bz_ws" "$repo_root/e2e/terraform"
  cp -r "$here/parity" "$bz_ws/parity"
  mkdir -p "$b2_ws"
  tar -C "$ws" --exclude=./buck-out --exclude=./.fleet -chf - .buckconfig prelude toolchains third_party | tar -C "$b2_ws" -xf -
  local package src
  for package in "${parity_packages[@]}"; do
    src="$bz_ws/$package"
    mkdir -p "$b2_ws/$package"
    tar -C "$src" --exclude=./BUILD.bazel -chf - . | tar -C "$b2_ws/$package" -xf -
    to_buck "$src/BUILD.bazel" "$b2_ws/$package/BUCK"
  done
}

check_parity() {
  e2e_needs parity_setup
  local targets=(//infra/elasticache:all //fleets/chain:all //features:all //parity:all)
  if ! bz "$bz_ws" build --output_groups=+manifest,+identity,+check "${targets[@]}" >"$logs/parity-bazel.log" 2>&1; then
    fail "parity: Bazel builds the fleets" "$(grep -m3 ERROR "$logs/parity-bazel.log")"
    return
  fi
  local bazel_bin labels=() label subs=()
  bazel_bin="$(bz "$bz_ws" info bazel-bin 2>/dev/null)"
  mapfile -t labels < <(python3 -c '
import json, sys
seen = []
for path in sys.argv[1:]:
    for i in json.load(open(path))["instances"]:
        if i["label"] not in seen:
            seen.append(i["label"])
print("\n".join(seen))' "$bazel_bin/infra/elasticache/redis.manifest.json" "$bazel_bin/fleets/chain/platform.manifest.json" \
    "$bazel_bin/features/api.manifest.json" "$bazel_bin/parity/everything.manifest.json")
  for label in "${labels[@]}"; do
    subs+=("$label[manifest]" "$label[identity]" "$label[rendered]")
    [[ -f "$bazel_bin/$(echo "${label#//}" | tr : /).check.json" ]] && subs+=("$label[check]")
  done
  subs+=("//infra/elasticache:redis[manifest]" "//fleets/chain:platform[manifest]" "//parity:everything[manifest]")
  if ! b2 "$b2_ws" build "${subs[@]}" --show-full-output >"$tmp/parity-buck2.out" 2>"$logs/parity-buck2.log"; then
    fail "parity: Buck2 builds the fleets" "$(grep -m3 -iE 'error' "$logs/parity-buck2.log")"
    return
  fi
  python3 "$here/compare_outputs.py" "$bazel_bin" "$tmp/parity-buck2.out" \
    //infra/elasticache:redis //fleets/chain:platform //features:api //parity:everything >"$logs/parity-compare.log" 2>&1
  check "parity: Bazel and Buck2 write byte-identical manifests, identities, reports and rendered trees" \
    "${#labels[@]} instances: $(tail -1 "$logs/parity-compare.log"); $(head -2 "$logs/parity-compare.log" | grep -v compared | tr '\n' ' ')" \
    grep -q ' 0 differ$' "$logs/parity-compare.log"
}

# message_of LOG PATTERN: fleet's message as both builds print it: the line starting
# with PATTERN and the indented lines under it.
message_of() {
  awk -v p="$2" 'index($0, p) == 1 { on = 1; print; next } on && /^ / { print; next } on { exit }' "$1"
}

# line_from LOG PATTERN: the first line holding PATTERN, from PATTERN on.
line_from() {
  awk -v p="$2" '{ i = index($0, p); if (i) { print substr($0, i); exit } }' "$1"
}

# refused_alike NAME BAZEL_TARGET BUCK2_TARGET PATTERN: both builds fail with the same message.
refused_alike() {
  local name="$1" pattern="$4" a b
  bz "$bz_ws" build --deleted_packages= "$2" >"$logs/refused-bazel-$name.log" 2>&1
  b2 "$b2_ws" build "$3" >"$logs/refused-buck2-$name.log" 2>&1
  a="$(line_from "$logs/refused-bazel-$name.log" "$pattern")"
  b="$(line_from "$logs/refused-buck2-$name.log" "$pattern")"
  check "parity: $name fails both builds with the same message" "${b:-no message from Buck2}" [ -n "$a" -a "$a" = "$b" ]
}

# failed_alike NAME BAZEL_TARGET BUCK2_TARGET PATTERN [SECRET]: both builds fail with the
# same message (PATTERN's line and the indented lines under it); SECRET in neither output.
failed_alike() {
  local name="$1" pattern="$4" secret="${5:-}" a b leak=""
  bz "$bz_ws" build --verbose_failures "$2" >"$logs/failed-bazel-$name.log" 2>&1
  b2 "$b2_ws" build "$3" >"$logs/failed-buck2-$name.log" 2>&1
  a="$(message_of "$logs/failed-bazel-$name.log" "$pattern")"
  b="$(message_of "$logs/failed-buck2-$name.log" "$pattern")"
  if [[ -n "$secret" ]] && grep -qF -- "$secret" "$logs/failed-bazel-$name.log" "$logs/failed-buck2-$name.log"; then
    leak="; the secret value is in the output"
  fi
  check "parity: $name fails both builds with the same message" "$(echo "${b:-no message from Buck2}" | head -2 | tr '\n' ' ')$leak" \
    [ -n "$a" -a "$a" = "$b" -a -z "$leak" ]
}

# run_refused_alike NAME TARGET PATTERN: `bazel run` and `buck2 run` of TARGET are refused
# by fleet with the same message, exit 4 (unsafe input).
run_refused_alike() {
  local name="$1" pattern="$3" a b bz_status=0 b2_status=0
  FLEET_PARITY_NAME=parity-name bz "$bz_ws" run "$2" >"$logs/run-bazel-$name.log" 2>&1 || bz_status=$?
  FLEET_PARITY_NAME=parity-name b2 "$b2_ws" run "$2" >"$logs/run-buck2-$name.log" 2>&1 || b2_status=$?
  a="$(line_from "$logs/run-bazel-$name.log" "$pattern")"
  b="$(line_from "$logs/run-buck2-$name.log" "$pattern")"
  check "parity: $name is refused by both run targets with the same message" \
    "exit $bz_status and $b2_status; ${b:-no message from Buck2}" [ -n "$a" -a "$a" = "$b" -a $bz_status -eq 4 -a $b2_status -eq 4 ]
}

# The refusals of issues 23, 25 and 26, each alike in both rule sets.
check_refusals_of_new_features() {
  local pkg=//parity/refusals name
  for name in 'var_name: vars["db_pass"]' 'var_value: vars["name"]' 'backend_config: backend_config["secret_key"]' \
    'env_name: env["GITHUB_PAT"]' 'env_value: env["DATABASE_URL"]'; do
    refused_alike "secret in ${name%%:*}" "$pkg:${name%%:*}" "$pkg:${name%%:*}" "$pkg:$name looks like a secret"
  done
  refused_alike "malformed secret_env" "$pkg:secret_env_bad_name" "$pkg:secret_env_bad_name" \
    "$pkg:secret_env_bad_name: secret_env[\"token\"]"
  refused_alike "a variable in vars and secret_env" "$pkg:secret_env_and_vars" "$pkg:secret_env_and_vars" \
    "$pkg:secret_env_and_vars: variable \"name\" is in both"
  run_refused_alike "secret_env feeding a variable not sensitive" "$pkg:not_sensitive.plan" \
    "$pkg:not_sensitive: secret_env gives variable name"
  refused_alike "one pg schema and workspace for two instances" //parity/shared_pg_state:all //parity/shared_pg_state: \
    "instances //parity/shared_pg_state:cluster-a and //parity/shared_pg_state:cluster-b share state"
  local undeclared=//negative/undeclared
  for name in misspelt_var misspelt_var_file misspelt_secret_env misspelt_inputs_from misspelt_env unknown_var; do
    failed_alike "undeclared variable ($name)" "$undeclared:$name" "$undeclared:$name" "rules_fleet: $undeclared:$name sets "
  done
  refused_alike "a component whose root holds no .tf file" //negative/empty_root:empty //negative/empty_root:empty \
    "rules_fleet: //negative/empty_root:b: its root module"
  for name in env_nodes unknown_workspace; do
    failed_alike "a misfit by its $name" "//negative/run_values:$name" "//negative/run_values:$name" \
      "rules_fleet: //negative/run_values:$name does not fit"
  done
  for name in bad_pin:e2e-sensitive-4f1d9c bad_pin_file:e2e-sensitive-file-81c2 bad_pin_env:e2e-sensitive-env-5d07; do
    failed_alike "a sensitive value failing validation (${name%%:*})" "//negative/sensitive:${name%%:*}" \
      "//negative/sensitive:${name%%:*}" "rules_fleet: //negative/sensitive:${name%%:*} does not fit" "${name#*:}"
  done
}

check_parity_refusals() {
  e2e_needs parity_setup
  local a b
  bz "$bz_ws" build //negative/invalid:broken-cluster >"$logs/misfit-bazel.log" 2>&1
  b2 "$b2_ws" build //negative/invalid:broken-cluster >"$logs/misfit-buck2.log" 2>&1
  a="$(message_of "$logs/misfit-bazel.log" "rules_fleet: //negative/invalid:broken-cluster does not fit")"
  b="$(message_of "$logs/misfit-buck2.log" "rules_fleet: //negative/invalid:broken-cluster does not fit")"
  check "parity: a misfit fails buck2 build with the same message as bazel build" "$(echo "$b" | head -3 | tr '\n' ' ')" \
    [ -n "$a" -a "$a" = "$b" ]
  refused_alike "shared state in a package" //negative/shared_state_in_package:all //negative/shared_state_in_package: \
    "instances //negative/shared_state_in_package:cluster-1 and //negative/shared_state_in_package:cluster-2 share state"
  refused_alike "nested run directories in a package" //negative/nested_run_dirs:all //negative/nested_run_dirs: \
    "instances //negative/nested_run_dirs:c and //negative/nested_run_dirs:c/b have nested run directories"
  refused_alike "nested run directories in one tf_instances" //negative/nested_run_dirs_instances:all //negative/nested_run_dirs_instances: \
    "instances //negative/nested_run_dirs_instances:c and //negative/nested_run_dirs_instances:c/b have nested run directories"
  check_refusals_of_new_features
  refused_alike "a retry with an unknown key" //negative/retry:unknown_key //negative/retry:unknown_key \
    "//negative/retry:unknown_key: retry (instance): unknown key"
  refused_alike "a retry pattern Starlark can tell is malformed" //negative/retry:bad_pattern //negative/retry:bad_pattern \
    "//negative/retry:bad_pattern: retry (instance): pattern"
  bz "$bz_ws" shutdown >/dev/null 2>&1
}

e2e_check parity check_parity
e2e_check parity-refusals check_parity_refusals
