# Shared by the e2e drivers: where the checkout's pieces are, and the PASS/FAIL
# bookkeeping every driver reports with. A driver sets `here` to its own
# directory, sources this file, then calls `e2e_suite NAME`; its last line is
# `NAME: N passed, N failed` (the form CI reads), and it exits non-zero when
# a check failed.
# shellcheck shell=bash

repo_root="$(cd "$here/../.." && pwd -P)"
bazelw="$repo_root/tools/bazelw"
helper="${FLEET_HELPER:-$repo_root/target/release/fleet}"

passed=0
failed=0
e2e_suite_name="e2e"

e2e_suite() { # NAME: the name the summary line starts with
  e2e_suite_name="$1"
}
pass() {
  passed=$((passed + 1))
  echo "PASS $1"
}
fail() {
  failed=$((failed + 1))
  echo "FAIL $1${2:+: $2}"
}
check() { # check NAME DETAIL COMMAND...: pass NAME when the command succeeds.
  local name="$1" detail="$2"
  shift 2
  if "$@"; then pass "$name${detail:+ ($detail)}"; else fail "$name" "$detail"; fi
}
finish() {
  echo "$e2e_suite_name: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit $?
}
