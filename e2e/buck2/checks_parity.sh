# shellcheck shell=bash
# The shared test of both rule sets: the same fleets built by Bazel (e2e/terraform and
# e2e/buck2/parity, as they are) and by Buck2 (their BUILD.bazel files translated
# mechanically to BUCK files: the load path and visibility only) must give byte-identical
# manifests, identities, reports and rendered trees, and the same refusals. Sourced by
# run_tests.sh.

# Packages of e2e/terraform (and parity/, from e2e/buck2) both builds take.
parity_packages=(infra/elasticache fleets/chain features parity negative/invalid negative/shared_state_in_package
  negative/nested_run_dirs negative/nested_run_dirs_instances)

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
  bz "$bz_ws" shutdown >/dev/null 2>&1
}

e2e_check parity check_parity
e2e_check parity-refusals check_parity_refusals
