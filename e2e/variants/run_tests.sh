#!/usr/bin/env bash
# End-to-end tests of fleet_tools / variant_build / fleet_verify: eight variants of one
# project built at once by real Bazel, on a private copy of this workspace.
#
#   e2e/variants/run_tests.sh       # FLEET_HELPER defaults to <repo>/target/release/fleet
#   e2e/variants/run_tests.sh NAME...   # only the named checks (--list prints them)
#   E2E_VARIANTS_ROUNDS=5 E2E_KEEP=1 e2e/variants/run_tests.sh   # fewer rounds, keep logs
#
# 1. tree mode: 8 variants build; a rebuild after a server restart runs nothing; changing
#    one variant's args reruns that variant only; fleet_verify reruns variants when a
#    verified digest changes and not when the lock is merely reformatted.
# 2. naive: the tool's own install (remove, unpack, rewrite tags) in 8 unsandboxed actions
#    at once (--jobs=8) fails in at least one of the rounds: the test has teeth.
# 3. shared mode: the same 8 actions through `fleet extract --link` and `fleet tag write`
#    succeed in every round, the bundle is extracted once, the tag keeps inode and mtime;
#    a second output base reuses the extraction.
# 4. the tool's own state in $TMPDIR (private_state.sh): 8 variants sharing it race at least
#    once; with private_dirs or locks never (`run_tests.sh private-state` runs only this).
# Prints one line per check and, last, `e2e-variants: N passed, N failed`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=e2e/lib.sh
source "$here/../lib.sh"
e2e_suite e2e-variants
rounds="${E2E_VARIANTS_ROUNDS:-20}"
variants=(aws-dev aws-ecs-2 aws-k8s-1.30 aws-k8s-1.31 aws-k8s-1.31-nvidia metal-dev metal-k8s-1.31 vmware-k8s-1.31)

suite_setup() {
  if [[ ! -x "$helper" ]] || ! "$helper" extract --help >/dev/null 2>&1; then
    fail "helper" "$helper is missing (cargo build --release)"
    finish
  fi
  e2e_tmp e2e-variants
  ws="$tmp/ws"
  home="$tmp/home"
  mkdir -p "$home"
  output_bases=("$tmp/output-base" "$tmp/output-base-2")
  e2e_output_base[$ws]="${output_bases[0]}"
  e2e_copy_workspace "$ws" "$here" ./project/build
  bin="$(bz "$ws" info bazel-bin 2>"$logs/info.err")" || {
    fail "bazel info" "$(tail -3 "$logs/info.err")"
    finish
  }
  project_bin="$bin/project"
}

# spawns LOG MNEMONIC [OUTPUT_SUBSTRING]: how many spawns the execution log records.
spawns() {
  python3 - "$@" <<'EOF'
import json, sys
path, mnemonic = sys.argv[1], sys.argv[2]
needle = sys.argv[3] if len(sys.argv) > 3 else ""
text = open(path).read()
decoder, i, n = json.JSONDecoder(), 0, 0
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    spawn, i = decoder.raw_decode(text, i)
    if mnemonic in ("*", spawn.get("mnemonic")):
        if not needle or any(needle in out for out in spawn.get("listedOutputs", [])):
            n += 1
print(n)
EOF
}

# build NAME ARGS...: bazel build with an execution log at $logs/NAME.json; output at $logs/NAME.out.
build() {
  local name="$1"
  shift
  bz "$ws" build "--execution_log_json_file=$logs/$name.json" "$@" >"$logs/$name.out" 2>&1
}

processes_line() { grep -E '^INFO: [0-9]+ process' "$logs/$1.out" | tail -1; }

# 8 actions at once, as on an 8-core machine (Bazel would otherwise run one per core).
concurrency=(--jobs=8 --local_cpu_resources=8)

# bump_versions ROUND: a change every variant's action sees (all 8 rerun), nothing else does.
bump_versions() {
  sed -i -E "s/\"1\.31\.[0-9]+\"/\"1.31.$((100 + $1))\"/" "$ws/project/BUILD.bazel"
}

# same_image A B: identical but for the version line.
same_image() { [[ -f "$1" && -f "$2" ]] && cmp -s <(grep -v '^version=' "$1") <(grep -v '^version=' "$2"); }
# Setup of the checks comparing with tree mode: the 8 variants built cold (status in tree_cold_status).
tree_built() {
  tree_cold_status=0
  build tree-cold //project:variants //project:tools-listing "${concurrency[@]}" || tree_cold_status=$?
}

# tree mode
check_tree() {
  e2e_needs tree_built
  if [[ $tree_cold_status -eq 0 ]]; then
    built=0
    for v in "${variants[@]}"; do
      # arch comes from the variant_build's env attribute.
      grep -qx "variant=$v" "$project_bin/$v.img" 2>/dev/null && grep -qx "tasks=72" "$project_bin/$v.img" &&
        grep -qx "arch=x86_64" "$project_bin/$v.img" && built=$((built + 1))
    done
    extracts="$(spawns "$logs/tree-cold.json" FleetToolsExtract)"
    runs="$(spawns "$logs/tree-cold.json" VariantBuild .img)"
    check "tree: 8 variants build" "$built/8 images, $runs variant actions" [ "$built" -eq 8 -a "$runs" -eq 8 ]
    check "tree: bundle extracted by one action" "$extracts FleetToolsExtract spawn(s)" [ "$extracts" -eq 1 ]
    listed="$(grep -c '^[0-9a-f]\{64\}  \./' "$project_bin/tools-listing.txt")"
    check "tree: a tool reading \$FLEET_TOOLS_DIR sees the bundle" "$listed files listed" [ "$listed" -eq "$(tar -tf "$bin/bundle/tools.tar" | grep -vc '/$')" ]
    check "tree: nothing written to the source tree" "project/build $([ -e "$ws/project/build" ] && echo exists || echo absent)" [ ! -e "$ws/project/build" ]
  else
    fail "tree: 8 variants build" "$(grep -E 'ERROR|buildsys' "$logs/tree-cold.out" | head -5)"
  fi

  # A restart drops Bazel's in-memory state: only the on-disk action cache can skip the actions.
  bz "$ws" shutdown >/dev/null 2>&1
  if build tree-warm //project:variants "${concurrency[@]}"; then
    all="$(spawns "$logs/tree-warm.json" '*')"
    check "tree: second build fully cached" "after a server restart: $all spawns; $(processes_line tree-warm)" [ "$all" -eq 0 ]
  else
    fail "tree: second build fully cached" "build failed: $(grep ERROR "$logs/tree-warm.out" | head -3)"
  fi

  before_other="$(stat -c %Y.%i "$project_bin/aws-dev.img" 2>/dev/null)"
  sed -i 's|"metal-dev": "1.31.0"|"metal-dev": "1.31.1"|' "$ws/project/BUILD.bazel"
  if build tree-one-arg //project:variants "${concurrency[@]}"; then
    runs="$(spawns "$logs/tree-one-arg.json" VariantBuild)"
    mine="$(spawns "$logs/tree-one-arg.json" VariantBuild /metal-dev.img)"
    extracts="$(spawns "$logs/tree-one-arg.json" FleetToolsExtract)"
    after_other="$(stat -c %Y.%i "$project_bin/aws-dev.img" 2>/dev/null)"
    version="$(sed -n 's/^version=//p' "$project_bin/metal-dev.img")"
    check "tree: changing one variant's args reruns only it" \
      "$runs variant action(s), metal-dev's: $mine, extractions: $extracts, metal-dev version=$version, aws-dev.img untouched: $([ "$before_other" = "$after_other" ] && echo yes || echo no)" \
      [ "$runs" -eq 1 -a "$mine" -eq 1 -a "$extracts" -eq 0 -a "$before_other" = "$after_other" -a "$version" = 1.31.1 ]
  else
    fail "tree: changing one variant's args reruns only it" "$(grep ERROR "$logs/tree-one-arg.out" | head -3)"
  fi
}

# fleet_verify
check_verify() {
  e2e_needs tree_built
  # fleet_verify: reformatting the lock reruns the verification, whose tag keeps its bytes.
  lock="$ws/project/sdk.lock.json"
  tag_before="$(sha256sum <"$project_bin/sdk_verified.tag.json")"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); open(sys.argv[1],"w").write(json.dumps(d, indent=4, sort_keys=False) + "\n\n")' "$lock"
  if build verify-reformat //project:variants "${concurrency[@]}"; then
    verifies="$(spawns "$logs/verify-reformat.json" FleetVerify)"
    runs="$(spawns "$logs/verify-reformat.json" VariantBuild)"
    tag_after="$(sha256sum <"$project_bin/sdk_verified.tag.json")"
    check "verify: lock reformatted, variants not rerun" "$verifies verification(s), $runs variant action(s), tag bytes same: $([ "$tag_before" = "$tag_after" ] && echo yes || echo no)" \
      [ "$verifies" -eq 1 -a "$runs" -eq 0 -a "$tag_before" = "$tag_after" ]
  else
    fail "verify: lock reformatted, variants not rerun" "$(grep -E 'ERROR|fleet' "$logs/verify-reformat.out" | head -3)"
  fi

  # A verified input that no longer matches the lock fails the build and says how to accept it.
  echo "variant-kit 0.3.0" >>"$ws/project/sdk/kits.txt"
  if build verify-mismatch //project:variants "${concurrency[@]}"; then
    fail "verify: changed SDK without a lock update fails" "the build succeeded"
  else
    check "verify: changed SDK without a lock update fails" "$(grep -m1 -o 'input sdk/kits.txt: tag has sha256:[0-9a-f]\{8\}' "$logs/verify-mismatch.out")..." \
      grep -q 'the inputs do not match sdk.lock.json' "$logs/verify-mismatch.out"
  fi

  (cd "$ws/project" && "$helper" tag write --tag sdk.lock.json --input sdk/kits.txt --input sdk/sdk-manifest.txt >/dev/null)
  if build verify-update //project:variants "${concurrency[@]}"; then
    runs="$(spawns "$logs/verify-update.json" VariantBuild)"
    extracts="$(spawns "$logs/verify-update.json" FleetToolsExtract)"
    check "verify: lock updated, every variant reruns" "$runs variant action(s), $extracts extraction(s)" [ "$runs" -eq 8 -a "$extracts" -eq 0 ]
  else
    fail "verify: lock updated, every variant reruns" "$(grep -E 'ERROR' "$logs/verify-update.out" | head -3)"
  fi
}

# naive: the tool installs its own tools and tags, 8 actions at once, unsandboxed
check_naive() {
  rm -rf "$ws/project/build"
  failed_rounds=0 failed_builds=0 tag_rewrites=0 last_tag=""
  for round in $(seq 1 "$rounds"); do
    bump_versions "$round"
    if ! bz "$ws" build //project:variants.naive "${concurrency[@]}" --keep_going >"$logs/naive-$round.out" 2>&1; then
      failed_rounds=$((failed_rounds + 1))
      failed_builds=$((failed_builds + $(grep -c 'ERROR: .*naive failed' "$logs/naive-$round.out")))
    fi
    now="$(stat -c %i.%Y.%y "$ws/project/build/external-kits/.sdk-verified" 2>/dev/null)"
    [[ -n "$last_tag" && "$now" != "$last_tag" ]] && tag_rewrites=$((tag_rewrites + 1))
    last_tag="$now"
  done
  example="$(grep -h -m1 -E '^(buildsys|tar|rm|.*No such file)' "$logs"/naive-*.out | head -1)"
  check "naive install races (the test has teeth)" \
    "$failed_rounds/$rounds rounds failed, $failed_builds/$((rounds * 8)) variant builds; tag rewritten in $tag_rewrites later rounds; e.g. '$example'" \
    [ "$failed_rounds" -ge 1 ]
}

# shared mode: fleet extract --link + fleet tag write, 8 actions at once, unsandboxed
check_shared() {
  e2e_needs tree_built
  rm -rf "$ws/project/build"
  store="$home/.cache/rules_fleet/store"
  tools_link="$ws/project/build/tools"
  shared_tag="$ws/project/build/external-kits/.sdk-verified"
  ok_rounds=0 extracted=0 calls=0 wrong_images=0 tag_changes=0 link_changes=0 tag_first="" link_first="" problems=""
  for round in $(seq 1 "$rounds"); do
    name="shared-$round"
    # HOME only: the store must default to $HOME/.cache/rules_fleet/store.
    bump_versions "$round"
    if build "$name" //project:variants.shared "${concurrency[@]}" --keep_going "--action_env=HOME=$home"; then
      runs="$(spawns "$logs/$name.json" VariantBuild)"
      [[ "$runs" -eq 8 ]] && ok_rounds=$((ok_rounds + 1)) || problems+=" round $round ran $runs variant actions;"
    else
      problems+=" round $round failed: $(grep -m1 -E 'ERROR|buildsys|fleet' "$logs/$name.out");"
    fi
    for v in "${variants[@]}"; do
      record="$project_bin/$v.shared.fleet_tools.json"
      [[ -f "$record" ]] || continue
      calls=$((calls + 1))
      grep -q '"extracted":true' "$record" && extracted=$((extracted + 1))
      same_image "$project_bin/shared/$v.img" "$project_bin/$v.img" || wrong_images=$((wrong_images + 1))
    done
    tag_now="$(stat -c %i.%y "$shared_tag" 2>/dev/null)"
    link_now="$(stat -c %i.%y "$tools_link" 2>/dev/null)"
    if [[ $round -eq 1 ]]; then
      tag_first="$tag_now" link_first="$link_now"
    else
      [[ "$tag_now" != "$tag_first" ]] && tag_changes=$((tag_changes + 1))
      [[ "$link_now" != "$link_first" ]] && link_changes=$((link_changes + 1))
    fi
  done
  versions="$(find "$store" -mindepth 1 -maxdepth 1 -type d -name '[0-9a-f]*' 2>/dev/null | wc -l)"
  check "shared: 8/8 variants build in every round" "$ok_rounds/$rounds rounds;${problems:- no failures}" [ "$ok_rounds" -eq "$rounds" ]
  check "shared: bundle extracted once" "$extracted extraction(s) in $calls fleet extract calls; $versions version(s) in \$HOME/.cache/rules_fleet/store" \
    [ "$extracted" -eq 1 -a "$versions" -eq 1 ]
  check "shared: tag keeps inode and mtime" "project/build/external-kits/.sdk-verified: changed in $tag_changes of $((rounds - 1)) later rounds ($tag_first)" \
    [ -n "$tag_first" -a "$tag_changes" -eq 0 ]
  check "shared: tools link keeps inode and mtime" "$(readlink "$tools_link" | sed "s|$home|\$HOME|"): changed in $link_changes rounds" \
    [ -n "$link_first" -a "$link_changes" -eq 0 -a -L "$tools_link" ]
  check "shared: images match tree mode" "$wrong_images of $calls differ beyond the version line" [ "$calls" -gt 0 -a "$wrong_images" -eq 0 ]

  # A tool without a fixed tools path gets a private link into the store.
  if build shared-listing //project:tools-listing.shared "--action_env=HOME=$home"; then
    private_link="$project_bin/tools-listing.shared.fleet_tools"
    listing="differs from"
    cmp -s "$project_bin/tools-listing.shared.txt" "$project_bin/tools-listing.txt" && listing="matches"
    check "shared: FLEET_TOOLS_DIR without tools_link" "private link -> $(readlink "$private_link" | sed "s|$home|\$HOME|"), listing $listing tree mode" \
      [ "$(readlink "$private_link")" = "$(readlink "$tools_link")" -a "$listing" = matches ]
  else
    fail "shared: FLEET_TOOLS_DIR without tools_link" "$(grep -m3 -E 'ERROR|list_tools' "$logs/shared-listing.out")"
  fi

  # Another output base (another checkout, CI job, user) shares the extraction through FLEET_STORE.
  other="${output_bases[1]}"
  if bz "$ws" "--output_base=$other" build //project:variants.shared "${concurrency[@]}" "--action_env=FLEET_STORE=$store" \
    >"$logs/shared-other.out" 2>&1; then
    other_bin="$(bz "$ws" "--output_base=$other" info bazel-bin 2>/dev/null)/project"
    reused="$(cat "$other_bin"/*.shared.fleet_tools.json | grep -c '"extracted":false')"
    check "shared: another output base reuses the extraction" "$reused/8 reused, $(find "$store" -mindepth 1 -maxdepth 1 -type d -name '[0-9a-f]*' | wc -l) version(s) in the store" \
      [ "$reused" -eq 8 ]
  else
    fail "shared: another output base reuses the extraction" "$(grep -m3 ERROR "$logs/shared-other.out")"
  fi
  bz "$ws" "--output_base=$other" shutdown >/dev/null 2>&1
  bz "$ws" shutdown >/dev/null 2>&1
}

# the tool's own state (private_dirs, locks)
check_private_state() {
  # shellcheck source=e2e/variants/private_state.sh
  source "$here/private_state.sh"
}

e2e_check tree check_tree
e2e_check verify check_verify
e2e_check naive check_naive
e2e_check shared check_shared
e2e_check private-state check_private_state

# E2E_VARIANTS_ONLY=private-state: the older spelling of `run_tests.sh private-state`.
if [[ "${E2E_VARIANTS_ONLY:-}" == private-state && $# -eq 0 ]]; then
  set -- private-state
fi
e2e_main "$@"
