#!/usr/bin/env bash
# Builds the fleettest provider and packs it into Terraform's packed mirror
# layout for the host platform:
#   <out>/fleet.test/rules-fleet/fleettest/terraform-provider-fleettest_<version>_<os>_<arch>.zip
# Prints two lines on stdout: the zip's absolute path, then its zh: hash.
# Every driver builds the provider here, with one set of RUSTFLAGS: cargo keys
# its artifacts by them, so a plain `cargo build` would compile it all again.
#
# Usage: package.sh [--out DIR] [--pad-mb N] [--binary PATH | --build-only]
#   --out DIR      mirror root (default: e2e/provider/target/mirror)
#   --pad-mb N     add N MiB of incompressible padding to the zip (e.g. 100)
#   --binary PATH  pack this executable instead of building one
#   --build-only   build, print the executable's path, pack nothing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
hostname=fleet.test
namespace=rules-fleet
type=fleettest

out="$here/target/mirror"
pad_mb=0
binary=""
build_only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --pad-mb) pad_mb="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$pad_mb" in
  ''|*[!0-9]*) echo "package.sh: --pad-mb wants a whole number of MiB, got '$pad_mb'" >&2; exit 2 ;;
esac

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/Cargo.toml" | head -n1)"
case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "package.sh: unsupported OS $(uname -s)" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64|amd64) arch=amd64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "package.sh: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac

if [ -z "$binary" ]; then
  target_dir="${CARGO_TARGET_DIR:-$here/target}"
  # Paths are remapped so the binary does not depend on where the tree lives
  # (the last matching prefix wins).
  remap="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo --remap-path-prefix=$here=/fleettest"
  remap="$remap --remap-path-prefix=$target_dir=/fleettest/target"
  export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$remap"
  cargo build --release --locked --manifest-path "$here/Cargo.toml" >&2
  binary="$target_dir/release/terraform-provider-$type"
fi
[ -x "$binary" ] || { echo "package.sh: not an executable: $binary" >&2; exit 1; }
if [ -n "$build_only" ]; then
  echo "$binary"
  exit 0
fi

dir="$out/$hostname/$namespace/$type"
mkdir -p "$dir"
exec python3 "$here/mirror_zip.py" \
  --binary "$binary" \
  --binary-name "terraform-provider-${type}_v${version}" \
  --zip "$dir/terraform-provider-${type}_${version}_${os}_${arch}.zip" \
  --pad-mb "$pad_mb"
