#!/usr/bin/env bash
# Stands in for cargo fetching a git dependency: it keeps its database in
# $TMPDIR/.cargo/git/db/<dependency>, created with a plain mkdir (so a second
# run using the same TMPDIR at the same time fails), fills it, checks nobody
# else wrote there, and removes it. The dependency's name: $FAKECARGO_DEP, default serde.
#   fakecargo.sh OUT VERSION
set -euo pipefail
out="$1" version="$2"
db="${TMPDIR:-/tmp}/.cargo/git/db" dep="${FAKECARGO_DEP:-serde}"
mkdir -p "$db"
if ! mkdir "$db/$dep"; then
  echo "fakecargo: failed to create directory $db/$dep (another build is using it)" >&2
  exit 1
fi
# Ours now: removed however this run ends, so a failure does not fail later runs.
trap 'rm -rf "$db/$dep"' EXIT
for i in $(seq 1 300); do
  echo "$FLEET_VARIANT" >"$db/$dep/pack-$i"
done
for i in $(seq 1 300); do
  if [ "$(cat "$db/$dep/pack-$i")" != "$FLEET_VARIANT" ]; then
    echo "fakecargo: $db/$dep/pack-$i was overwritten by another build" >&2
    exit 1
  fi
done
printf 'variant=%s\nversion=%s\n' "$FLEET_VARIANT" "$version" >"$out"
