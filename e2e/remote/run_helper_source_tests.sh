#!/usr/bin/env bash
# The helper built from source (no FLEET_HELPER, no prebuilt release) follows its sources:
# on a private copy of rules_fleet, `bazel build @fleet_helper//:fleet` runs cargo; editing a
# module under src/ makes the next build re-run the repository rule and cargo rebuild the
# binary; a build with no edit, or after editing a file cargo does not read, re-runs nothing.
#
#   e2e/remote/run_helper_source_tests.sh      # needs cargo; E2E_KEEP=1 keeps logs
# Prints one line per check and, last, `remote-helper-source: N passed, N failed`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
source "$here/../lib.sh"
e2e_suite remote-helper-source

if ! command -v cargo >/dev/null 2>&1; then
  fail "cargo" "not on PATH: the from-source helper needs it"
  finish
fi

e2e_tmp e2e-helper-source
copy="$tmp/rules_fleet"
ws="$tmp/ws"
base="$tmp/output-base"
mkdir -p "$copy" "$ws"
# The helper must come from cargo: not from the caller's FLEET_HELPER.
e2e_pass_helper=0
unset FLEET_HELPER

tar -C "$repo_root" --exclude=./target --exclude=./.git --exclude=./e2e --exclude=./bench -cf - . | tar -C "$copy" -xf -
cat >"$ws/WORKSPACE" <<EOF
workspace(name = "helper_source")

local_repository(
    name = "rules_fleet",
    path = "$copy",
)

load("@rules_fleet//rules:repositories.bzl", "rules_fleet_dependencies")

rules_fleet_dependencies()
EOF
touch "$ws/BUILD.bazel"

# An unoptimised release build: this test is about when cargo runs, not what it makes.
build() { # build LOG
  bz "$ws" --output_base="$base" build --repo_env=CARGO_PROFILE_RELEASE_OPT_LEVEL=0 \
    --repo_env=CARGO_PROFILE_RELEASE_LTO=false @fleet_helper//:fleet >"$1" 2>&1
}
# state: the repository's copy of the binary (a new inode when the rule re-ran) and cargo's
# own output (a new mtime when cargo re-linked it).
state() {
  stat -c '%i' "$base/external/fleet_helper/fleet" 2>/dev/null
  stat -c '%Y.%y' "$base/external/fleet_helper.cargo-target/release/fleet" 2>/dev/null
}

echo "# building the helper from source (cargo, unoptimised)"
if ! build "$logs/first.log"; then
  fail "build @fleet_helper from source" "see below"
  tail -20 "$logs/first.log"
  finish
fi
first="$(state)"
check "the first build made the helper with cargo" "" test -x "$base/external/fleet_helper/fleet"

build "$logs/again.log"
check "a build with no edit re-runs nothing" "" test "$(state)" = "$first"

echo "# an edit cargo does not read" >>"$copy/README.md"
build "$logs/readme.log"
check "editing a file cargo does not read re-runs nothing" "" test "$(state)" = "$first"

# A module below src/, not only main.rs: the list must reach into subdirectories.
edited_file="$(cd "$copy" && find src -mindepth 2 -name '*.rs' | sort | head -1)"
sed -i '1i // an edit: the helper must be rebuilt' "$copy/$edited_file"
if build "$logs/edited.log"; then
  edited="$(state)"
  check "editing $edited_file rebuilds the helper" "before: $(tr '\n' ' ' <<<"$first"); after: $(tr '\n' ' ' <<<"$edited")" \
    eval '[[ "$(sed -n 1p <<<"$edited")" != "$(sed -n 1p <<<"$first")" && "$(sed -n 2p <<<"$edited")" != "$(sed -n 2p <<<"$first")" ]]'
  check "the rebuilt helper runs" "" eval '"$base/external/fleet_helper/fleet" --help >/dev/null'
else
  fail "rebuild after editing $edited_file" "see below"
  tail -20 "$logs/edited.log"
fi
finish
