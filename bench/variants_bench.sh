#!/usr/bin/env bash
# Benchmark of variant builds: the 8 variants of e2e/variants built cold and warm with
# their tools bundle in `tree` mode, `shared` mode, and the baseline measured in the same
# run: `private`, the tool's own install made safe by the sandbox alone (every variant
# unpacks the bundle into its own sandbox).
#
#   bench/variants_bench.sh [--bundle-mib N] [--cold-reps N] [--warm-reps N]   (defaults: 64, 2, 5)
#
# Scenarios, each with --jobs=8 --local_cpu_resources=8 (8 actions at once):
#   cold            new output base (and, for shared, an empty store)
#   new-base        new output base, store already holding the bundle (shared only;
#                   for tree and private it is the same as cold)
#   warm            same output base, every variant reruns (a version bump), tools cached
# Reports the median wall time of `bazel build` (server already up, bundle tar already
# built), the extractions one build did, and the ratio to the private baseline of the same
# scenario. Modes are interleaved so background load hits them alike.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd "$here/.." && pwd -P)"
bazelw="$repo_root/tools/bazelw"
helper="${FLEET_HELPER:-$repo_root/target/release/fleet}"
bundle_mib=64
cold_reps=2
warm_reps=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bundle-mib) bundle_mib="$2" ;;
    --cold-reps) cold_reps="$2" ;;
    --warm-reps) warm_reps="$2" ;;
    *)
      echo "usage: $0 [--bundle-mib N] [--cold-reps N] [--warm-reps N]" >&2
      exit 2
      ;;
  esac
  shift 2
done
[[ -x "$helper" ]] || {
  echo "variants_bench: $helper is missing (cargo build --release)" >&2
  exit 1
}

tmp="$(mktemp -d "${TMPDIR:-/tmp}/variants-bench.XXXXXX")"
ws="$tmp/ws"
bases=()
cleanup() {
  local base
  for base in ${bases[@]+"${bases[@]}"}; do
    (cd "$ws" && "$bazelw" "--output_base=$base" shutdown >/dev/null 2>&1) || true
  done
  chmod -R u+w "$tmp" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$ws"
tar -C "$repo_root/e2e/variants" --exclude=./project/build -cf - . | tar -C "$ws" -xf -
sed -i "s|path = \"../..\"|path = \"$repo_root\"|" "$ws/WORKSPACE" "$ws/MODULE.bazel"
echo "$bundle_mib" >"$ws/bundle/filler_mib.txt"

# bz BASE COMMAND ARGS...
bz() {
  local base="$1" command="$2"
  shift 2
  (cd "$ws" && "$bazelw" "--output_base=$base" "$command" "--repo_env=FLEET_HELPER=$helper" "$@")
}

# Every build of an output base uses the same flags, so nothing but the variants reruns.
flags() { echo "--jobs=8 --local_cpu_resources=8 --action_env=FLEET_STORE=$1"; }

# new_base NAME STORE: a fresh output base with the server up and the bundle tar built (untimed).
new_base() {
  local base="$tmp/base-$1"
  bases+=("$base")
  # shellcheck disable=SC2046
  bz "$base" build //bundle:tools.tar $(flags "$2") >"$tmp/$1.prepare.log" 2>&1 || {
    tail -20 "$tmp/$1.prepare.log" >&2
    exit 1
  }
  echo "$base"
}

round=0
bump_versions() {
  round=$((round + 1))
  sed -i -E "s/\"1\.31\.[0-9]+\"/\"1.31.$((100 + round))\"/" "$ws/project/BUILD.bazel"
}

# extractions MODE BASE LOG: bundle extractions the build did.
extractions() {
  local mode="$1" base="$2" log="$3"
  case "$mode" in
    private) grep -c '"mnemonic": "Genrule"' "$log" || true ;;
    tree) grep -c '"mnemonic": "FleetToolsExtract"' "$log" || true ;;
    shared) cat "$(bz "$base" info bazel-bin 2>/dev/null)"/project/*.shared.fleet_tools.json | grep -c '"extracted":true' || true ;;
  esac
}

suffix() { case "$1" in private) echo .private ;; tree) echo "" ;; shared) echo .shared ;; esac; }

# timed MODE BASE STORE: builds the 8 variants; prints "seconds extractions".
timed() {
  local mode="$1" base="$2" store="$3" log="$tmp/exec.json" start end
  rm -f "$log"
  start="$(date +%s.%N)"
  # shellcheck disable=SC2046
  bz "$base" build "//project:variants$(suffix "$mode")" $(flags "$store") "--execution_log_json_file=$log" \
    >"$tmp/build.log" 2>&1 || {
    tail -20 "$tmp/build.log" >&2
    exit 1
  }
  end="$(date +%s.%N)"
  echo "$(echo "$end - $start" | bc) $(extractions "$mode" "$base" "$log")"
}

# record KEY SECONDS EXTRACTIONS: appends one sample.
declare -A samples count
record() {
  samples["$1"]+="$(printf '%.2f' "$2") "
  count["$1"]="$3"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
modes=(private tree shared)
declare -A warm_base warm_store
# Cold: a new output base per mode and repetition (and an empty store for shared);
# new-base: another new output base on the store the shared cold build filled.
for rep in $(seq 1 "$cold_reps"); do
  for mode in "${modes[@]}"; do
    store="$tmp/store-$mode-$rep"
    base="$(new_base "$mode-$rep" "$store")"
    [[ -n "${files:-}" ]] || files="$(tar -tf "$(bz "$base" info bazel-bin 2>/dev/null)/bundle/tools.tar" | grep -vc '/$')"
    read -r seconds extracted < <(timed "$mode" "$base" "$store")
    record "$mode,cold" "$seconds" "$extracted"
    if [[ "$mode" == shared ]]; then
      other="$(new_base "shared-$rep-other" "$store")"
      read -r seconds extracted < <(timed shared "$other" "$store")
      record "shared,new-base" "$seconds" "$extracted"
      bz "$other" shutdown >/dev/null 2>&1
    fi
    if [[ $rep -eq 1 ]]; then
      warm_base["$mode"]="$base" warm_store["$mode"]="$store"
    else
      bz "$base" shutdown >/dev/null 2>&1
    fi
  done
done
# Warm: every variant reruns (a version bump), the tools are already there; modes interleaved.
for _ in $(seq 1 "$warm_reps"); do
  bump_versions
  for mode in "${modes[@]}"; do
    read -r seconds extracted < <(timed "$mode" "${warm_base[$mode]}" "${warm_store[$mode]}")
    record "$mode,warm" "$seconds" "$extracted"
  done
done
for mode in private tree; do
  samples["$mode,new-base"]="${samples[$mode,cold]}" count["$mode,new-base"]="${count[$mode,cold]}"
done

echo "variants bench: 8 variants, bundle of $files files (${bundle_mib} MiB of data), $(nproc) cores, --jobs=8;" \
  "median of $cold_reps cold / $warm_reps warm builds; load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after"
printf '%-9s %-8s %8s %12s %11s   %s\n' scenario mode wall_s extractions vs_private samples
for scenario in cold new-base warm; do
  base_time="$(median <<<"${samples[private,$scenario]}")"
  for mode in "${modes[@]}"; do
    t="$(median <<<"${samples[$mode,$scenario]}")"
    printf '%-9s %-8s %8.2f %12s %11.2f   %s\n' "$scenario" "$mode" "$t" "${count[$mode,$scenario]}" \
      "$(echo "scale=4; $t / $base_time" | bc)" "${samples[$mode,$scenario]}"
  done
done
