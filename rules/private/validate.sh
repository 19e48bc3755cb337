#!/usr/bin/env bash
# Validates one rendered instance tree, hermetically: a private copy of the tree,
# a private TF_DATA_DIR and CLI config, no backend, a read-only lock file.
# Usage: validate.sh TERRAFORM TREE REPORT LABEL
# Writes `terraform validate -json` output to REPORT; on failure prints the
# diagnostics under the instance's label and exits 1.
set -uo pipefail
terraform="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
tree="$2"
report="$(cd "$(dirname "$3")" && pwd)/$(basename "$3")"
label="$4"

work="$(mktemp -d "${TMPDIR:-/tmp}/fleet-validate.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/module" "$work/home"
cp -RL "$tree/." "$work/module/"
chmod -R u+w "$work/module"
printf 'disable_checkpoint = true\n' >"$work/terraformrc"

# Only what we set here reaches terraform: nothing from the user's CLI config,
# no TF_CLI_ARGS, no workspace selection.
unset TF_CLI_ARGS TF_CLI_ARGS_init TF_CLI_ARGS_validate TF_WORKSPACE TF_PLUGIN_CACHE_DIR TF_LOG
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_DATA_DIR="$work/data" HOME="$work/home"
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

cd "$work/module" || exit 1
if ! "$terraform" init -backend=false -input=false -lockfile=readonly -no-color >"$work/init.log" 2>&1; then
  {
    echo "rules_fleet: $label: terraform init failed:"
    cat "$work/init.log"
  } >&2
  exit 1
fi
if "$terraform" validate -json -no-color >"$report" 2>"$work/validate.err"; then
  exit 0
fi
{
  echo "rules_fleet: $label: terraform validate found errors:"
  "$terraform" validate -no-color 2>&1
  cat "$work/validate.err"
} >&2
exit 1
