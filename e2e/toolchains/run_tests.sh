#!/usr/bin/env bash
# The toolchain repositories and the bzlmod extension's logic, on Bazel 4.2.3:
#
#   split      a workspace registers rules_fleet's toolchains (helper and terraform for the
#              host and other platforms, every binary behind a URL that does not exist) and
#              builds targets using no rule of rules_fleet, one resolving a toolchain of its
#              own: the build succeeds and no binary's repository was fetched; a target that
#              needs the helper does try the missing URL (the registration is real).
#   extension  rules/private/fleet_extension.bzl, driven from a WORKSPACE with a
#              module_ctx-shaped struct (Bazel 4.2 has no bzlmod): a platform's constraints,
#              Labels of a repository rules_fleet does not depend on (fleet.platform), reach
#              the generated toolchains as labels Bazel resolved, the toolchains resolve for
#              that platform, and the extension's metadata names the root module's direct and
#              dev dependencies and says it is reproducible.
#   string-constraint  the same with the constraint as a string in fleet.helper's
#              exec_compatible_with: refused, pointing at fleet.platform (pasted into a
#              generated BUILD file, a string `@repo//...` would make Bazel 7/8 fail with
#              "No repository visible": the extension's repositories see rules_fleet's
#              dependencies only).
#
#   e2e/toolchains/run_tests.sh [NAME...]      (--list prints the names)
# Prints one line per check and, last, `e2e-toolchains: N passed, N failed`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=e2e/lib.sh
source "$here/../lib.sh"
e2e_suite e2e-toolchains

suite_setup() {
  if [[ ! -x "$helper" ]]; then
    fail "helper" "$helper is missing (cargo build --release, or set FLEET_HELPER)"
    finish
  fi
  e2e_tmp e2e-toolchains
}

# copy NAME: a private copy of the workspace NAME taking rules_fleet from this checkout.
copy() {
  local ws="$tmp/$1"
  e2e_copy_workspace "$ws" "$here/$1"
  sed -i "s|path = \"../../..\"|path = \"$repo_root\"|" "$ws/WORKSPACE"
  echo "$ws"
}

# fetched WS: the external repositories Bazel has fetched for WS, one a line.
fetched() {
  local base
  base="$(bz "$1" info output_base 2>/dev/null)"
  find "$base/external" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort
}

check_split() {
  local ws log="$logs/split.log"
  ws="$(copy split)"
  if ! bz "$ws" build //demo:all >"$log" 2>&1; then
    fail "a build using no rule of rules_fleet succeeds with every binary URL missing" "$(grep -m5 -E 'ERROR|rror' "$log")"
    return
  fi
  pass "a build using no rule of rules_fleet succeeds with every binary URL missing"
  fetched "$ws" >"$logs/split-fetched.txt"
  if grep -qx "fleet_helper_toolchains" "$logs/split-fetched.txt" && grep -qx "terraform_toolchains" "$logs/split-fetched.txt"; then
    pass "the toolchain targets came from @fleet_helper_toolchains and @terraform_toolchains"
  else
    fail "the toolchain targets came from the light repositories" "fetched: $(tr '\n' ' ' <"$logs/split-fetched.txt")"
  fi
  if grep -E '^(fleet_helper|fleet_helper_linux_arm64|terraform_linux_amd64|terraform_darwin_arm64)$' "$logs/split-fetched.txt" >"$logs/split-binaries.txt"; then
    fail "no binary's repository was fetched" "$(tr '\n' ' ' <"$logs/split-binaries.txt")"
  else
    pass "no binary's repository was fetched ($(wc -l <"$logs/split-fetched.txt") repositories, none of the helper or terraform)"
  fi
  # The registration is real: a target that needs the helper reaches for its URL.
  if bz "$ws" build @rules_fleet//tools:fleet >"$logs/split-helper.log" 2>&1; then
    fail "a target needing the helper fetches it" "the build succeeded without the helper"
  else
    check "a target needing the helper fetches it (and fails on the missing file)" "" \
      grep -q "nonexistent/rules_fleet/fleet" "$logs/split-helper.log"
  fi
  bz "$ws" shutdown >/dev/null 2>&1
}

check_extension() {
  local ws log="$logs/extension.log" base
  ws="$(copy extension)"
  if ! bz "$ws" build //:fleet @extension_metadata//:metadata.json >"$log" 2>&1; then
    fail "the extension's repositories build (host helper from FLEET_HELPER)" "$(grep -m5 -E 'ERROR|rror' "$log")"
    return
  fi
  pass "the extension's repositories build (host helper from FLEET_HELPER)"
  base="$(bz "$ws" info output_base 2>/dev/null)"
  check "the gpu_pool toolchain names the Label @real_constraints//:gpu as Bazel resolved it" "" \
    grep -q '"@real_constraints//:gpu"' "$base/external/fleet_helper_toolchains/BUILD.bazel"
  check "so does the gpu_pool terraform toolchain" "" \
    grep -q '"@real_constraints//:gpu"' "$base/external/terraform_toolchains/BUILD.bazel"
  local want='{"reproducible": true, "root_module_direct_deps": ["terraform_toolchains"], "root_module_direct_dev_deps": ["terraform_local_toolchains"]}'
  local got
  got="$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$base/external/extension_metadata/metadata.json" 2>&1)"
  check "extension_metadata: reproducible, the root module's direct and dev dependencies" "$got" test "$got" = "$want"
  check "no gpu_pool binary was fetched for the host" "" test ! -e "$base/external/fleet_helper_gpu_pool"
  # Resolved for the gpu platform, the helper is the gpu_pool one (whose URL is missing).
  if bz "$ws" build --platforms=//:gpu_platform //:fleet >"$logs/extension-gpu.log" 2>&1; then
    fail "for a gpu_pool platform the gpu_pool helper is picked" "the build succeeded with the host's"
  else
    check "for a gpu_pool platform the gpu_pool helper is picked (its missing URL is fetched)" "" \
      grep -q "nonexistent/rules_fleet/fleet-gpu" "$logs/extension-gpu.log"
  fi
  bz "$ws" shutdown >/dev/null 2>&1
}

check_string_constraint() {
  local ws log="$logs/string-constraint.log"
  ws="$(copy extension)"
  sed -i 's|^run_fleet_extension()$|run_fleet_extension(platform_constraints = {"gpu_pool": ["@real_constraints//:gpu"]})|' "$ws/WORKSPACE"
  sed -i 's|^        platform = \[_tag(name = "gpu_pool".*$|        platform = [],|' "$ws/user_module/modules.bzl"
  if bz "$ws" build //:fleet >"$log" 2>&1; then
    fail "a string constraint of another repository is refused" "the build succeeded"
  else
    check "a string constraint of another repository is refused, pointing at fleet.platform" "" \
      grep -q 'names @real_constraints//:gpu.*fleet.platform(name = "gpu_pool"' "$log"
  fi
  bz "$ws" shutdown >/dev/null 2>&1
}

e2e_check split check_split
e2e_check extension check_extension
e2e_check string-constraint check_string_constraint
e2e_main "$@"
