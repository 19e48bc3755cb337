#!/usr/bin/env bash
# Renders one instance tree: copies each PATH FILE pair into the output directory.
# Usage: render.sh OUT_DIR [PATH FILE]...
set -euo pipefail
out="$1"
shift
mkdir -p "$out"
while [[ $# -gt 0 ]]; do
  dest="$out/$1"
  mkdir -p "$(dirname "$dest")"
  cp -L "$2" "$dest"
  chmod 0644 "$dest"
  shift 2
done
