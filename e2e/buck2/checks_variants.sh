# shellcheck shell=bash
# Checks of e2e/buck2/run_tests.sh: eight variant builds racing on one tools bundle in
# the machine-wide store ($FLEET_STORE), on the copied workspace $ws. Sourced by run_tests.sh.

# bump_versions ROUND: a change every variant's action sees (all 8 rerun), nothing else does.
bump_versions() {
  sed -i -E "s/\"1\.31\.[0-9]+\"/\"1.31.$((100 + $1))\"/" "$ws/project/BUCK"
}

# failed_targets LOG KIND: how many targets of KIND failed (buck2 names each failure twice).
failed_targets() {
  grep -o "Action failed: [^ ]*\.$2 " "$1" | sort -u | wc -l
}

shared_targets=()
for v in "${variants[@]}"; do shared_targets+=("//project:$v.shared"); done

# image_of VARIANT: the path of the variant's image.
image_of() { b2_out "$ws" "//project:$1.shared"; }

# naive: the tool's own install (remove, unpack, rewrite the tag), 8 actions at once.
check_variants_naive() {
  local failed_rounds=0 failed_builds=0 round example targets=()
  for v in "${variants[@]}"; do targets+=("//project:$v.naive"); done
  for round in $(seq 1 "$rounds"); do
    bump_versions "$round"
    if ! b2 "$ws" build "${targets[@]}" -j 8 --keep-going >"$logs/naive-$round.log" 2>&1; then
      failed_rounds=$((failed_rounds + 1))
      failed_builds=$((failed_builds + $(failed_targets "$logs/naive-$round.log" naive)))
    fi
  done
  rm -rf "$ws/project/build"
  example="$(grep -h -m1 -E 'buildsys:|tar:|rm:|No such file' "$logs"/naive-*.log | head -1 | cut -c1-120)"
  check "a naive install of 8 variants at once races (the test has teeth)" \
    "$failed_rounds/$rounds rounds failed, $failed_builds variant builds; e.g. '$example'" [ "$failed_rounds" -ge 1 ]
}

check_variants_shared() {
  local tag="$ws/project/build/external-kits/.sdk-verified" link="$ws/project/build/tools"
  local ok_rounds=0 extracted=0 records=0 tag_first="" link_first="" tag_changes=0 link_changes=0
  local most_first="" problems="" round runs most count v record now_tag now_link
  for round in $(seq 1 "$rounds"); do
    bump_versions "$round"
    if b2 "$ws" build "${shared_targets[@]}" -j 8 >"$logs/variants-$round.log" 2>&1; then
      b2_log "$ws" "$tmp/variants-$round.json"
      runs="$(python3 "$log_tool" ran "$tmp/variants-$round.json" variant_build | wc -l)"
      read -r most count < <(python3 "$log_tool" overlap "$tmp/variants-$round.json" variant_build)
      [[ -z "$most_first" ]] && most_first="$most"
      if [[ "$runs" -eq 8 ]]; then ok_rounds=$((ok_rounds + 1)); else problems+=" round $round ran $runs variant actions;"; fi
    else
      problems+=" round $round failed: $(grep -m1 -E 'buildsys|fleet: error|Error' "$logs/variants-$round.log");"
    fi
    for v in "${variants[@]}"; do
      record="$(b2_out "$ws" "//project:$v.shared[fleet_tools]")"
      [[ -f "$record" ]] || continue
      records=$((records + 1))
      grep -q '"extracted":true' "$record" && extracted=$((extracted + 1))
      grep -qx "variant=$v" "$(image_of "$v")" && grep -qx "version=1.31.$((100 + round))" "$(image_of "$v")" ||
        problems+=" $v's image of round $round is wrong;"
    done
    now_tag="$(stat -c %i.%y "$tag" 2>/dev/null)"
    now_link="$(stat -c %i.%y "$link" 2>/dev/null)"
    if [[ $round -eq 1 ]]; then
      tag_first="$now_tag" link_first="$now_link"
    else
      [[ "$now_tag" != "$tag_first" ]] && tag_changes=$((tag_changes + 1))
      [[ "$now_link" != "$link_first" ]] && link_changes=$((link_changes + 1))
    fi
  done
  local versions
  versions="$(find "$FLEET_STORE" -mindepth 1 -maxdepth 1 -type d -name '[0-9a-f]*' 2>/dev/null | wc -l)"
  check "8 shared variants build in every round, racing" "$ok_rounds/$rounds rounds, at most ${most_first:-?} variant actions at once;${problems:- no failures}" \
    [ "$ok_rounds" -eq "$rounds" -a "${most_first:-0}" -ge 2 ]
  check "the bundle is extracted once" "$extracted extraction(s) in $records records; $versions version(s) in \$FLEET_STORE" \
    [ "$extracted" -eq 1 -a "$versions" -eq 1 -a "$records" -eq $((8 * rounds)) ]
  check "the verification tag keeps its inode and mtime" "project/build/external-kits/.sdk-verified changed in $tag_changes of $((rounds - 1)) later rounds" \
    [ -n "$tag_first" -a "$tag_changes" -eq 0 ]
  check "the tools link keeps its inode and mtime" "project/build/tools -> $(readlink "$link" | sed "s|$tmp|\$tmp|"): changed in $link_changes rounds" \
    [ -n "$link_first" -a "$link_changes" -eq 0 -a -L "$link" ]
}

check_variants_verify() {
  local kits="$ws/project/sdk/kits.txt" saved
  saved="$(cat "$kits")"
  echo "variant-kit 0.3.0" >>"$kits"
  if b2 "$ws" build //project:aws-dev.shared >"$logs/verify-mismatch.log" 2>&1; then
    fail "a changed SDK without a lock update fails the build" "the build succeeded"
  else
    check "a changed SDK without a lock update fails the build" "" grep -q 'the inputs do not match sdk.lock.json' "$logs/verify-mismatch.log"
  fi
  printf '%s\n' "$saved" >"$kits"
}

e2e_check variants-naive check_variants_naive
e2e_check variants-shared check_variants_shared
e2e_check variants-verify check_variants_verify

# tree mode: the tool reads the bundle fleet_tools extracted once, through $FLEET_TOOLS_DIR.
check_variants_tree() {
  if ! b2 "$ws" build //project:tools-listing >"$logs/tree.log" 2>&1; then
    fail "tree mode: a tool reading \$FLEET_TOOLS_DIR sees the bundle" "$(grep -m3 -iE 'error|list_tools' "$logs/tree.log")"
    return
  fi
  local listing listed expected
  listing="$(b2_out "$ws" //project:tools-listing)"
  listed="$(grep -c '^[0-9a-f]\{64\}  \./' "$listing")"
  expected="$(tar -tf "$ws/project/tools.tar" | grep -vc '/$')"
  local variant
  variant="$(head -1 "$listing")"
  check "tree mode: a tool reading \$FLEET_TOOLS_DIR sees the bundle extracted by fleet_tools" "$listed of $expected files listed, $variant" \
    [ "$listed" -eq "$expected" -a "$variant" = variant=listing ]
}

# The tool's own state: private_dirs and locks (fakecargo.sh keeps a database in $TMPDIR).
check_variants_private_state() {
  local kind round failed_rounds failed_builds stale v targets summary bump=300
  for kind in naive locked private; do
    failed_rounds=0 failed_builds=0 stale=0 targets=()
    for v in "${variants[@]}"; do targets+=("//project:$v.cargo-$kind"); done
    for round in $(seq 1 "$rounds"); do
      bump=$((bump + 1))
      bump_versions "$bump"
      if ! b2 "$ws" build "${targets[@]}" -j 8 --keep-going >"$logs/cargo-$kind-$round.log" 2>&1; then
        failed_rounds=$((failed_rounds + 1))
        failed_builds=$((failed_builds + $(failed_targets "$logs/cargo-$kind-$round.log" "cargo-$kind")))
        continue
      fi
      for v in "${variants[@]}"; do
        grep -qx "version=1.31.$((100 + bump))" "$(b2_out "$ws" "//project:$v.cargo-$kind")" || stale=$((stale + 1))
      done
    done
    summary="$failed_rounds/$rounds rounds failed, $failed_builds variant builds"
    if [[ "$kind" == naive ]]; then
      check "tool state: 8 variants sharing one TMPDIR race (the test has teeth)" \
        "$summary; e.g. '$(grep -h -m1 '^fakecargo:' "$logs"/cargo-naive-*.log | head -1)'" [ "$failed_rounds" -ge 1 ]
    else
      check "tool state: $kind: 8/8 variants build in every round" "$summary; $stale outputs not rebuilt" \
        [ "$failed_rounds" -eq 0 -a "$stale" -eq 0 ]
    fi
  done
  local leftovers
  leftovers="$(find "$ws/buck-out" -name '*.fleet-private' 2>/dev/null | wc -l)"
  check "tool state: private dirs removed after each action" "$leftovers left next to the outputs" [ "$leftovers" -eq 0 ]
  check "tool state: the lock file lives beside the store" "" [ -f "$FLEET_STORE/.locks/cargo-git.lock" ]
  rm -rf "$ws/project/build/cargo-tmp"
}

e2e_check variants-tree check_variants_tree
e2e_check variants-private-state check_variants_private_state
