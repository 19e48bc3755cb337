#!/usr/bin/env bash
# A tool that takes its tools from $FLEET_TOOLS_DIR (no fixed path):
#   list_tools.sh OUT    writes the variant's name and the digest of every tools file.
set -euo pipefail
out="$1"
[[ -n "${FLEET_VARIANT:-}" && -d "${FLEET_TOOLS_DIR:-}" ]] || {
  echo "list_tools: FLEET_VARIANT and FLEET_TOOLS_DIR must be set" >&2
  exit 1
}
{
  echo "variant=$FLEET_VARIANT"
  (cd "$FLEET_TOOLS_DIR/" && find -L . -type f -print0 | sort -z | xargs -0 sha256sum)
} >"$out"
