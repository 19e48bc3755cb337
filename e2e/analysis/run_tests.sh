#!/usr/bin/env bash
# Analysis and golden-file tests of rules_fleet: `bazel test` on a private copy of
# this workspace, with bazel_skylib 1.0.3 (Debian's bazel-skylib, a dev-only
# dependency) and real Bazel. One check per package:
#
#   e2e/analysis/run_tests.sh                  # every package's tests
#   e2e/analysis/run_tests.sh secrets verify   # some packages (--list prints them)
#
# - the refusals fail analysis with the expected message (skylib analysistest,
#   expect_failure): secret-like keys in vars/backend_config/env and bad secret_env,
#   shared state across packages (fleet, dependency), nested run directories across
#   packages, a bad fleet_root, an inputs_from reference without #OUTPUT, fleet_verify
#   without `expected` or with both names, a component whose root module holds no .tf
#   file (and tf_component(root) placing files relative to it);
# - every `bazel run` target uses the one launcher template, tf_lock takes its module
#   paths from TfComponentInfo, fleet_verify's deprecated `lock` still works, as do the
#   glossary's deprecated aliases tf_instance_group and tf_group(concurrency), each
#   warning once;
# - golden files (skylib diff_test) of a fleet manifest and of the files rules_fleet
#   writes into a rendered instance tree.
# Prints one line per test target and, last, `e2e-analysis: N passed, N failed`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=e2e/lib.sh
source "$here/../lib.sh"
e2e_suite e2e-analysis
skylib=/usr/share/bazel/tools/skylib

suite_setup() {
  if [[ ! -f "$skylib/lib/unittest.bzl" ]]; then
    fail "skylib" "$skylib is missing: apt-get install bazel-skylib (tools/setup does)"
    finish
  fi
  if [[ ! -x "$helper" ]]; then
    fail "helper" "$helper is missing (cargo build --release, or set FLEET_HELPER)"
    finish
  fi
  e2e_tmp e2e-analysis
  ws="$tmp/ws"
  e2e_copy_workspace "$ws"
}

# bazel_test PACKAGE: `bazel test //PACKAGE/...`; one PASS/FAIL per test target the
# package holds (`bazel query tests(...)`), judged by the testSummary event Bazel wrote
# for it into the build event file: console lines can be mangled by other output, and
# a test target with no result at all fails instead of going missing unnoticed.
bazel_test() {
  local package="$1" log="$logs/$1.log" bep="$tmp/$1.bep.json" status=0 seen=0
  local failed_before=$failed target result
  rm -f "$bep"
  bz "$ws" test --keep_going "--build_event_json_file=$bep" "//$package/..." >"$log" 2>&1 || status=$?
  while read -r target result; do
    seen=$((seen + 1))
    case "$result" in
      PASSED) pass "$target" ;;
      MISSING) fail "$target" "no test result in Bazel's build events ($bep); see $log" ;;
      *) fail "$target" "$result" ;;
    esac
  done < <(test_results "$bep" < <(bz "$ws" query "tests(//$package/...)" 2>>"$log"))
  if [[ $seen -eq 0 || ($status -ne 0 && $failed -eq $failed_before) ]]; then
    fail "bazel test //$package/..." "exit $status: $(grep -m5 -E '^ERROR|^FAIL' "$log")"
  fi
  grep -E '^(ERROR|FAIL:|DEBUG: .*unittest)' "$log" | head -20
}

# test_results BEP < TARGETS: `TARGET STATUS` for each target read on stdin, STATUS
# being its testSummary's overallStatus in the build event file (PASSED, FAILED,
# FLAKY, ...) or MISSING.
test_results() {
  python3 -c '
import json, sys
status = {}
try:
    with open(sys.argv[1]) as events:
        for line in events:
            event = json.loads(line)
            label = event.get("id", {}).get("testSummary", {}).get("label")
            if label:
                status[label] = event.get("testSummary", {}).get("overallStatus", "NO_STATUS")
except FileNotFoundError:
    pass
for target in sys.stdin.read().split():
    print(target, status.get(target, "MISSING"))
' "$1"
}

# deprecated_aliases: the old names' tests pass, and each warns once: one DEPRECATED
# line for the package's two tf_instance_group calls, one for the target setting
# tf_group(concurrency), in the first command that loads and analyses the package.
deprecated_aliases() {
  # Counted in a command of its own that loads the package first: a later command
  # of the same server replays the loading's DEBUG lines.
  local log="$logs/deprecated-build.log" n
  bz "$ws" build --nobuild //deprecated/... >"$log" 2>&1
  bazel_test deprecated
  n="$(grep -c 'DEPRECATED: //deprecated: tf_instance_group is a deprecated alias of tf_instance_set' "$log")"
  if [[ "$n" -eq 1 ]]; then pass "tf_instance_group warns once per package"; else
    fail "tf_instance_group warns once per package" "$n DEPRECATED lines in $log"; fi
  n="$(grep -c 'DEPRECATED: //deprecated:old_limit: tf_group(concurrency = ...) is a deprecated alias of parallelism' "$log")"
  if [[ "$n" -eq 1 ]]; then pass "tf_group(concurrency) warns once"; else
    fail "tf_group(concurrency) warns once" "$n DEPRECATED lines in $log"; fi
}

# Every top-level package is a check, but those holding no test: testing/ (the
# test helpers) and component/ (a fixture the tests build).
for build_file in "$here"/*/BUILD.bazel; do
  package="$(basename "$(dirname "$build_file")")"
  case "$package" in
    testing | component) ;;
    deprecated) e2e_check deprecated deprecated_aliases ;;
    *) e2e_check "$package" bazel_test "$package" ;;
  esac
done
e2e_main "$@"
