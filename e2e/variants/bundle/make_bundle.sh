#!/usr/bin/env bash
# Packs the buildsys tools bundle, byte for byte reproducibly:
#   make_bundle.sh OUT.tar BUILDSYS_MAKE COMMON_SH [FILLER_MIB]
# The bundle holds the build driver, its library, 24 task files the driver reads
# in every pass, and FILLER_MIB MiB of data files standing in for the compilers
# and SDK helpers a real bundle carries (the benchmark makes it large).
set -euo pipefail
out="$1" driver="$2" common="$3" filler_mib="${4:-1}"
stage="$out.stage"
rm -rf "$stage"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/share/tasks" "$stage/share/data"
cp "$driver" "$stage/bin/buildsys-make"
cp "$common" "$stage/lib/common.sh"
chmod 0755 "$stage/bin/buildsys-make"
chmod 0644 "$stage/lib/common.sh"

tasks=(fetch-sources check-licenses vendor-crates vendor-go build-kernel build-settings
  build-api build-host-ctr build-migrations build-packages build-kmod-kit assemble-rootfs
  write-manifest sign-rpms build-repo build-image build-os-image build-data-image
  compress-image check-image write-metadata publish-local write-checksums finalize)
: >"$stage/share/steps"
for i in "${!tasks[@]}"; do
  name="$(printf '%02d-%s' "$i" "${tasks[$i]}")"
  echo "$name" >>"$stage/share/steps"
  digest="$(printf '%s' "$name" | sha256sum | cut -c1-48)"
  {
    echo "# task $name"
    for line in $(seq 1 64); do
      echo "step $line of ${tasks[$i]}: $digest/$line"
    done
    echo "# end"
  } >"$stage/share/tasks/$name.task"
done
echo "# ${#tasks[@]} tasks" >>"$stage/share/steps"

# Data files of 64 KiB each, deterministic.
files=$((filler_mib * 16))
for n in $(seq 1 "$files"); do
  printf -v seed 'blob %04d of the fleet-os SDK helpers' "$n"
  head -c 65536 <(yes "$seed") >"$stage/share/data/blob-$(printf '%04d' "$n").bin"
done
find "$stage/share" -type f -exec chmod 0644 {} +

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
  -C "$stage" -cf "$out" bin lib share
