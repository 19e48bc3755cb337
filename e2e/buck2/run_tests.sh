#!/usr/bin/env bash
# End-to-end tests of the Buck2 rules (rules/buck2), with a real buck2 and real
# terraform, on a private copy of e2e/buck2/workspace that takes rules_fleet as a
# copied cell (third_party/rules_fleet) and the helper from $FLEET_HELPER:
#
#   e2e/buck2/run_tests.sh            # buck2: $BUCK2, else <repo>/../shared/tools/buck2/buck2, else PATH
#   e2e/buck2/run_tests.sh NAME...    # only the named checks (--list prints them)
#
# Without a buck2 it prints one line saying so and exits 77 (tools/test counts the
# suite as skipped). Every buck2 daemon it starts is killed on exit. Prints one line
# per check and, last, `e2e-buck2: N passed, N failed`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=e2e/lib.sh
source "$here/../lib.sh"
e2e_suite e2e-buck2
terraform_bin="${TERRAFORM_BIN:-$(command -v terraform || true)}"
log_tool="$here/buck2_log.py"
instances=()
for n in $(seq 1 12); do instances+=("redis-cluster-$n"); done
variants=(aws-dev aws-ecs-2 aws-k8s-1.30 aws-k8s-1.31 aws-k8s-1.31-nvidia metal-dev metal-k8s-1.31 vmware-k8s-1.31)
rounds="${E2E_BUCK2_ROUNDS:-5}"

# The buck2 to test: $BUCK2, the shared build next to the checkout, or PATH.
find_buck2() {
  local candidate
  for candidate in "${BUCK2:-}" "$repo_root/../shared/tools/buck2/buck2" "$(command -v buck2 2>/dev/null)"; do
    if [[ -n "$candidate" && -x "$candidate" ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

b2_dirs=()
# b2 DIR ARGS...: buck2 in DIR (its daemon is killed on exit).
b2() {
  local dir="$1"
  shift
  if [[ " ${b2_dirs[*]} " != *" $dir "* ]]; then
    b2_dirs+=("$dir")
    e2e_at_exit b2_kill "$dir"
  fi
  (cd "$dir" && "$buck2" "$@")
}
b2_kill() { (cd "$1" && "$buck2" kill >/dev/null 2>&1); }

# b2_out DIR TARGET: the path of TARGET's (single) output, absolute.
b2_out() {
  b2 "$1" build "$2" --show-full-output 2>/dev/null | awk '{ print $2 }' | tail -1
}

# b2_log DIR FILE: the event log of DIR's last buck2 command, as JSON lines.
b2_log() { b2 "$1" log show >"$2" 2>/dev/null; }

# snapshot_rules DEST: this checkout as a user copies it (no .git, builds, e2e, bench).
snapshot_rules() {
  mkdir -p "$1"
  tar -C "$repo_root" --exclude=./.git --exclude=./target --exclude=./e2e --exclude=./bench \
    --exclude=./dist --exclude=./.fleet --exclude='./bazel-*' -cf - . | tar -C "$1" -xf -
}

# new_project DEST: a copy of e2e/buck2/workspace (links followed) with rules_fleet,
# the toolchains and the tools bundle in place.
new_project() {
  local dest="$1"
  mkdir -p "$dest"
  tar -C "$here/workspace" -chf - . | tar -C "$dest" -xf -
  mkdir -p "$dest/third_party"
  cp -a "$rules_copy" "$dest/third_party/rules_fleet"
  ln -sf "$terraform_bin" "$dest/toolchains/terraform"
  ln -sf "$helper" "$dest/toolchains/fleet"
  sed -i "s|version = \"1.11.4\"|version = \"$terraform_version\"|" "$dest/toolchains/BUCK"
  local bundle="$repo_root/e2e/variants/bundle"
  "$bundle/make_bundle.sh" "$tmp/tools.tar" "$bundle/buildsys-make" "$bundle/common.sh" 1 &&
    cp "$tmp/tools.tar" "$dest/project/tools.tar"
}

suite_setup() {
  if [[ ! -x "$helper" ]] || ! "$helper" tf --help >/dev/null 2>&1; then
    fail "helper" "$helper is missing or has no 'tf' command (cargo build --release)"
    finish
  fi
  if [[ -z "$terraform_bin" ]]; then
    fail "terraform" "terraform is not on PATH"
    finish
  fi
  # fleet gives terraform its own CLI config; the caller's (maybe a missing file) must not matter.
  unset TF_CLI_CONFIG_FILE TF_PLUGIN_CACHE_DIR TF_DATA_DIR TF_LOG
  export CHECKPOINT_DISABLE=1
  e2e_tmp e2e-buck2
  terraform_version="$("$terraform_bin" version -json | python3 -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])')"
  rules_copy="$tmp/rules_fleet"
  snapshot_rules "$rules_copy"
  ws="$tmp/ws"
  new_project "$ws"
  # Actions run in the buck2 daemon's environment: these reach every terraform and tool.
  export FLEET_STORE="$tmp/store"
  export TF_VAR_e2e_dir="$tmp/marks"
  mkdir -p "$tmp/marks"
}

source "$here/checks_fleet.sh"
source "$here/checks_variants.sh"
source "$here/checks_parity.sh"
source "$here/checks_install.sh"

if [[ "${1:-}" != --list ]]; then
  if ! buck2="$(find_buck2)"; then
    echo "e2e-buck2: skipped: no buck2 (set BUCK2, put one at $repo_root/../shared/tools/buck2/buck2 or on PATH)"
    exit 77
  fi
fi
e2e_main "$@"
