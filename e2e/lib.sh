# The one fixture of the e2e drivers: where the checkout's pieces are, a
# private temp directory cleaned up on exit, a copy of an e2e workspace that
# consumes rules_fleet from this checkout, bazel through tools/bazelw, the
# PASS/FAIL bookkeeping, and named checks that can run alone.
#
# A driver sets `here` to its own directory, sources this file, calls
# `e2e_suite NAME`, defines its checks as functions, registers each with
# `e2e_check NAME FUNCTION`, and ends with `e2e_main "$@"`:
#
#   DRIVER              every check, in registration order
#   DRIVER NAME...      only the named checks (plus the setup they ask for)
#   DRIVER --list       the check names, one a line
#
# Its last line is `NAME: N passed, N failed` (the form CI reads); it exits
# non-zero when a check failed. E2E_KEEP=1 keeps the temp directory.
# shellcheck shell=bash

# shellcheck disable=SC2154 # here: set by the driver before it sources this file
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

# --- temp directory and cleanup ------------------------------------------------

e2e_exit_hooks=()

# e2e_tmp PREFIX: makes the driver's private directory $tmp (and $tmp/logs as
# $logs) and removes it on exit, after stopping every bazel server started in it.
e2e_tmp() {
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
  tmp="$(cd "$tmp" && pwd -P)"
  logs="$tmp/logs"
  mkdir -p "$logs"
  : >"$tmp/.e2e-servers"
  trap e2e_cleanup EXIT
  # Without these a signal would end the driver without its EXIT trap.
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# e2e_at_exit COMMAND...: runs the command on exit, before the servers stop
# (for processes a failed check left behind).
e2e_at_exit() {
  e2e_exit_hooks+=("$(printf '%q ' "$@")")
}

e2e_keep() { # whether to keep the temp dir (E2E_KEEP, or a driver's older *_KEEP name)
  [[ -n "${E2E_KEEP:-}${FLEET_E2E_KEEP:-}${E2E_CHECK_KEEP:-}${E2E_VARIANTS_KEEP:-}${E2E_PROVIDERS_KEEP:-}" ]]
}

e2e_cleanup() {
  local hook dir base
  for hook in "${e2e_exit_hooks[@]}"; do eval "$hook"; done
  [[ -n "${tmp:-}" && -d "$tmp" ]] || return 0
  # Output bases inside $tmp go with it; a default one (keyed by the copy's
  # path) would be left in the user's cache, so it is expunged.
  while IFS=$'\t' read -r dir base; do
    [[ -f "$dir/WORKSPACE" ]] || continue
    if [[ -n "$base" && "$base" == "$tmp"/* ]] || e2e_keep; then
      (cd "$dir" && e2e_bazel_exec "$base" shutdown >/dev/null 2>&1)
    else
      (cd "$dir" && e2e_bazel_exec "$base" clean --expunge >/dev/null 2>&1)
    fi
  done < <(sort -u "$tmp/.e2e-servers")
  if e2e_keep; then
    echo "kept $tmp (logs in $tmp/logs)"
    return 0
  fi
  chmod -R u+w "$tmp" 2>/dev/null
  rm -rf "$tmp"
}

# --- workspace copy --------------------------------------------------------------

# e2e_copy_workspace DEST [SRC [TAR_EXCLUDE...]]: copies the e2e workspace SRC
# (default: the driver's directory) to DEST, without .fleet run directories,
# and points its WORKSPACE / MODULE.bazel at this checkout's rules_fleet.
e2e_copy_workspace() {
  local dest="$1" src="${2:-$here}"
  shift $(($# < 2 ? $# : 2))
  local excludes=(--exclude=./.fleet) pattern
  for pattern in "$@"; do excludes+=("--exclude=$pattern"); done
  mkdir -p "$dest"
  tar -C "$src" "${excludes[@]}" -cf - . | tar -C "$dest" -xf -
  local file
  for file in "$dest/WORKSPACE" "$dest/MODULE.bazel"; do
    [[ -f "$file" ]] && sed -i "s|path = \"../..\"|path = \"$repo_root\"|" "$file"
  done
  return 0
}

# --- bazel -------------------------------------------------------------------------

# Per workspace directory: its output base (unset: Bazel's default for the path).
declare -A e2e_output_base=()
# A command prefix for bazel (e.g. a function running it as another user).
e2e_bazel_runner=()
# 1: pass the helper under test to the rules (--repo_env=FLEET_HELPER); 0: the
# rules fetch their own (release URLs).
e2e_pass_helper=1

e2e_bazel_exec() { # BASE COMMAND ARGS...: tools/bazelw in the current directory
  local base="$1"
  shift
  "${e2e_bazel_runner[@]}" "$bazelw" ${base:+"--output_base=$base"} "$@"
}

# bz DIR [--output_base=BASE] COMMAND ARGS...: bazel in DIR (through tools/bazelw),
# with DIR's output base and the helper from FLEET_HELPER.
bz() {
  local dir="$1" base
  shift
  base="${e2e_output_base[$dir]:-}"
  if [[ "${1:-}" == --output_base=* ]]; then
    base="${1#--output_base=}"
    shift
  fi
  local command="$1"
  shift
  [[ -n "${tmp:-}" ]] && printf '%s\t%s\n' "$dir" "$base" >>"$tmp/.e2e-servers"
  if [[ "$e2e_pass_helper" == 1 && "$command" != shutdown && "$command" != clean ]]; then
    set -- "--repo_env=FLEET_HELPER=$helper" "$@"
  fi
  (cd "$dir" && e2e_bazel_exec "$base" "$command" "$@")
}

# --- named checks --------------------------------------------------------------------

e2e_check_names=()
declare -A e2e_check_function=()
declare -A e2e_setup_done=()

# e2e_check NAME FUNCTION [ARG...]: registers a check; `DRIVER NAME` runs only it.
e2e_check() {
  e2e_check_names+=("$1")
  e2e_check_function[$1]="$(printf '%q ' "${@:2}")"
}

# e2e_needs FUNCTION...: runs each setup function once per driver run (the
# setup a check depends on, whether or not the check that first needed it ran).
e2e_needs() {
  local setup
  for setup in "$@"; do
    [[ -n "${e2e_setup_done[$setup]:-}" ]] && continue
    e2e_setup_done[$setup]=1
    "$setup"
  done
}

# e2e_main ARGS...: --list, or runs the named checks (all when none is named)
# after the driver's `suite_setup` function (when it defines one), then finish.
e2e_main() {
  if [[ "${1:-}" == --list ]]; then
    printf '%s\n' "${e2e_check_names[@]}"
    exit 0
  fi
  local name selected=("$@")
  for name in "${selected[@]}"; do
    if [[ -z "${e2e_check_function[$name]:-}" ]]; then
      echo "$e2e_suite_name: no check named '$name' (--list prints the names)" >&2
      exit 2
    fi
  done
  [[ ${#selected[@]} -gt 0 ]] || selected=("${e2e_check_names[@]}")
  if declare -F suite_setup >/dev/null; then e2e_needs suite_setup; fi
  for name in "${e2e_check_names[@]}"; do
    if [[ " ${selected[*]} " == *" $name "* ]]; then
      eval "${e2e_check_function[$name]}"
    fi
  done
  finish
}
