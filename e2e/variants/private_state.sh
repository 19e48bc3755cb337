# Sourced by run_tests.sh's private-state check (needs bz, ws, bump_versions, check, fail, concurrency, ...).
# 4. The tool's own state: a stand-in for cargo keeps its git database in $TMPDIR with a
#    plain mkdir. 8 unsandboxed (shared-mode) variants sharing one TMPDIR race in at least
#    one round (teeth); with private_dirs = ["TMPDIR", ...] or locks = ["cargo-git"] all 8
#    build in every round; private_dirs also in the sandboxed tree mode (fewer rounds: it
#    shows the mode works, the race needs unsandboxed actions).
# Bazel (4.2) gives local actions TMPDIR=/tmp whatever --action_env says: the unsandboxed
# variants share the machine's /tmp, as in the report. A dependency name of this run's own
# keeps other builds on the machine out of the race.
shared_tmp="$tmp/shared-tmp"
dep="serde-e2e-$$-$RANDOM"
mkdir -p "$shared_tmp"
bump=200
for kind in naive private locked private-tree; do
  failed_rounds=0 failed_builds=0 stale=0
  kind_rounds=$rounds
  [[ "$kind" == private-tree && $rounds -gt 3 ]] && kind_rounds=3
  for round in $(seq 1 "$kind_rounds"); do
    bump=$((bump + 1))
    bump_versions "$bump"
    name="cargo-$kind-$round"
    if ! bz "$ws" build "//project:variants.cargo-$kind" "${concurrency[@]}" --keep_going \
      "--action_env=HOME=$home" "--action_env=TMPDIR=$shared_tmp" "--action_env=FAKECARGO_DEP=$dep" >"$logs/$name.out" 2>&1; then
      failed_rounds=$((failed_rounds + 1))
      failed_builds=$((failed_builds + $(grep -c "cargo-$kind) failed" "$logs/$name.out")))
      continue
    fi
    for v in "${variants[@]}"; do
      grep -qx "version=1.31.$((100 + bump))" "$project_bin/cargo-$kind/$v.txt" 2>/dev/null || stale=$((stale + 1))
    done
  done
  example="$(grep -h -m1 '^fakecargo:' "$logs"/cargo-"$kind"-*.out 2>/dev/null | head -1 | sed "s|$tmp|\$tmp|; s|$dep|<dep>|")"
  summary="$failed_rounds/$kind_rounds rounds failed, $failed_builds/$((kind_rounds * 8)) variant builds${example:+; e.g. '$example'}"
  if [[ "$kind" == naive ]]; then
    check "cargo state: a shared TMPDIR races (the test has teeth)" "$summary" [ "$failed_rounds" -ge 1 ]
  else
    check "cargo state: $kind: 8/8 variants build in every round" "$summary; $stale outputs not rebuilt" \
      [ "$failed_rounds" -eq 0 -a "$stale" -eq 0 ]
  fi
done
leftovers="$(find "$project_bin/cargo-private" "$project_bin/cargo-private-tree" -name '*.fleet-private' | wc -l)"
check "cargo state: private dirs removed after each action" "$leftovers left next to the outputs" [ "$leftovers" -eq 0 ]
lock_file="$home/.cache/rules_fleet/store/.locks/cargo-git.lock"
check "cargo state: lock files live beside the store" "\$HOME/.cache/rules_fleet/store/.locks/cargo-git.lock $([ -f "$lock_file" ] && echo exists || echo missing); source tree: $(find "$ws" -name '*.lock' -path '*cargo*' | wc -l) lock files" \
  [ -f "$lock_file" ]
# Empty directories the shared-/tmp rounds left (rmdir removes only empty ones).
rmdir /tmp/.cargo/git/db /tmp/.cargo/git /tmp/.cargo 2>/dev/null || :
