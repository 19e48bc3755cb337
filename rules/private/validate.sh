#!/usr/bin/env bash
# Validates one rendered instance tree, hermetically: a private copy of the tree,
# a private TF_DATA_DIR and CLI config, no backend, a read-only lock file.
# Usage: validate.sh TERRAFORM TREE REPORT LABEL [LOCK_TARGET [SLOT PACKAGE_DIR]...]
# Writes `terraform validate -json` output to REPORT; on failure prints the
# diagnostics under the instance's label and exits 1. Each SLOT
# (<host>/<namespace>/<type>/<version>/<os>_<arch>) of the read-only plugin
# directory links to an unpacked provider package; LOCK_TARGET is named when
# the lock file does not cover them.
set -uo pipefail
terraform="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
tree="$2"
report="$(cd "$(dirname "$3")" && pwd)/$(basename "$3")"
label="$4"
lock_target="${5:-}"
shift 5 2>/dev/null || shift $#

work="$(mktemp -d "${TMPDIR:-/tmp}/fleet-validate.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/module" "$work/home"
plugin_dir=()
while [[ $# -ge 2 ]]; do
  mkdir -p "$work/plugins/$(dirname "$1")"
  ln -s "$PWD/$2" "$work/plugins/$1"
  plugin_dir=("-plugin-dir=$work/plugins")
  shift 2
done
cp -RL "$tree/." "$work/module/"
chmod -R u+w "$work/module"
printf 'disable_checkpoint = true\n' >"$work/terraformrc"

# Only what we set here reaches terraform: nothing from the user's CLI config,
# no TF_CLI_ARGS, no workspace selection.
unset TF_CLI_ARGS TF_CLI_ARGS_init TF_CLI_ARGS_validate TF_WORKSPACE TF_PLUGIN_CACHE_DIR TF_LOG
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_DATA_DIR="$work/data" HOME="$work/home"
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

# lock_hint LOG: names the .lock target when terraform's complaint is about the lock file.
lock_hint() {
  if [[ -n "$lock_target" ]] && grep -qiE 'lock file|checksums|dependency changes' "$1"; then
    echo "rules_fleet: $label: the component's lock file does not cover its providers; regenerate it: bazel run $lock_target" >&2
  fi
}

cd "$work/module" || exit 1
if ! "$terraform" init -backend=false -input=false -lockfile=readonly ${plugin_dir[@]+"${plugin_dir[@]}"} -no-color >"$work/init.log" 2>&1; then
  {
    echo "rules_fleet: $label: terraform init failed:"
    cat "$work/init.log"
  } >&2
  lock_hint "$work/init.log"
  exit 1
fi
if "$terraform" validate -json -no-color >"$report" 2>"$work/validate.err"; then
  exit 0
fi
"$terraform" validate -no-color >"$work/validate.log" 2>&1
{
  echo "rules_fleet: $label: terraform validate found errors:"
  cat "$work/validate.log" "$work/validate.err"
} >&2
lock_hint "$work/validate.log"
exit 1
