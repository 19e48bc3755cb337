#!/usr/bin/env bash
# End-to-end tests of provider handling with the real fleettest provider (e2e/provider),
# real Bazel and real terraform, on a private copy of this workspace.
#
#   e2e/providers/run_tests.sh                       # FLEET_HELPER defaults to <repo>/target/release/fleet
#   E2E_PROVIDERS_ROUNDS=3 E2E_PROVIDERS_KEEP=1 e2e/providers/run_tests.sh
#
# 1. `<component>.lock` writes the lock file from a packed mirror holding the 100 MiB
#    package (two platforms, h1: and zh:), a second run changes nothing, `.lock_test` passes.
# 2. `bazel build` fetches the package the lock file names (verified), unpacks it once and
#    validates 12 instances from a read-only plugin directory.
# 3. The seed's scenario, E2E_PROVIDERS_ROUNDS times (default 10): a cold store, 12 instances
#    of one component, parallel init + apply through `fleet run --parallelism 12`: 12/12
#    succeed, the provider is unpacked exactly once (inotify on the store), the lock file is
#    byte-identical before and after, a TF_PLUGIN_CACHE_DIR in the environment stays empty.
#    Then E2E_PROVIDERS_PROCESS_ROUNDS times (default 3) the same with 12 separate `fleet tf`
#    processes started at once.
# 4. tf_provider packs the binary into the same bytes as package.sh; a component using it
#    validates; a lock file that does not cover it fails validation naming its .lock target.
# 5. A tampered mirror fails the fetch against zh:-only and h1:-only lock files; .lock_test
#    fails on a platform or a provider without hashes; a zh:-only lock file fails validation
#    naming its .lock target; a run refuses a package whose h1: the lock file lacks (exit 5).
# 6. A package changed in the store after init: the warm plan (init skipped) still refuses
#    it (terraform's own check), fleet verify names it, fleet extract --verify repairs it.
# 7. The provider refuses a revoked token (from secret_env) quoting it: fleet tf and fleet
#    run show `(sensitive value)` in its place, in the console, the log and the summary.
# Prints one line per check and, last, `e2e-providers: N passed, N failed`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=e2e/lib.sh
source "$here/../lib.sh"
e2e_suite e2e-providers
rounds="${E2E_PROVIDERS_ROUNDS:-10}"
process_rounds="${E2E_PROVIDERS_PROCESS_ROUNDS:-3}"
source_addr="fleet.test/rules-fleet/fleettest"

# The caller's terraform settings must not matter; a plugin cache in the environment
# must stay untouched (terraform would copy packages into it even with -plugin-dir).
unset TF_CLI_CONFIG_FILE TF_DATA_DIR TF_LOG FLEETTEST_APPLY_DELAY_MS FLEET_STORE
export CHECKPOINT_DISABLE=1

sha() { sha256sum "$1" | cut -d' ' -f1; }
quiet() { # quiet LOG COMMAND...: runs the command with its output in LOG.
  local log="$1"
  shift
  "$@" >"$log" 2>&1
}

# The workspace copy (its own output base: the fetched and unpacked 100 MiB
# packages go away with it); the provider built, packaged padded (>= 100 MiB)
# into the mirror.
suite_setup() {
  if [[ ! -x "$helper" ]] || ! "$helper" tf --help 2>/dev/null | grep -q -- --store; then
    fail "helper" "$helper is missing or its 'tf' has no --store (cargo build --release)"
    finish
  fi
  e2e_tmp e2e-providers
  ws="$tmp/ws"
  e2e_output_base[$ws]="$tmp/output-base"
  e2e_copy_workspace "$ws" "$here" ./mirror ./mirror-tampered
  sed -i "s|MIRROR_ROOT|$ws|" "$ws/MODULE.bazel"
  export TF_PLUGIN_CACHE_DIR="$tmp/plugin-cache"
  mkdir -p "$TF_PLUGIN_CACHE_DIR"
  echo "# building and packaging the fleettest provider (cargo build --release --locked)"
  if ! pkg="$("$repo_root/e2e/provider/package.sh" --out "$ws/mirror" --pad-mb 100 2>"$logs/package.log")"; then
    fail "package the provider" "see $logs/package.log"
    tail -20 "$logs/package.log"
    finish
  fi
  zip="$(sed -n 1p <<<"$pkg")"
  platform="$(basename "$zip" .zip | sed 's/^terraform-provider-fleettest_0\.1\.0_//')"
  binary="${CARGO_TARGET_DIR:-$repo_root/e2e/provider/target}/release/terraform-provider-fleettest"
  size="$(stat -c %s "$zip")"
  check "padded package is at least 100 MB" "$size bytes, $platform" test "$size" -ge 100000000
  other="darwin_arm64"
  [[ "$platform" == darwin_arm64 ]] && other="linux_amd64"
  sed -i "s|\"linux_amd64\"|\"@HOST@\"|; s|\"darwin_arm64\"|\"@OTHER@\"|; s|@HOST@|$platform|; s|@OTHER@|$other|" \
    "$ws/infra/cache/BUILD.bazel" "$ws/checks/BUILD.bazel"
  # Another platform's package: its contents only matter to its hashes.
  python3 "$repo_root/e2e/provider/mirror_zip.py" --binary /bin/true --binary-name terraform-provider-fleettest_v0.1.0 \
    --zip "$ws/mirror/$source_addr/terraform-provider-fleettest_0.1.0_$other.zip" >/dev/null
  # The same name served with other contents.
  mkdir -p "$ws/mirror-tampered/$source_addr"
  python3 "$repo_root/e2e/provider/mirror_zip.py" --binary /bin/false --binary-name terraform-provider-fleettest_v0.1.0 \
    --zip "$ws/mirror-tampered/$source_addr/$(basename "$zip")" >/dev/null
  plain="$("$repo_root/e2e/provider/package.sh" --binary "$binary" --out "$tmp/mirror-plain" 2>>"$logs/package.log" | sed -n 1p)"
  cp "$binary" "$ws/tfprovider/terraform-provider-fleettest"

  lock="$ws/infra/cache/.terraform.lock.hcl"
  bin_dir="$(bz "$ws" info bazel-bin 2>/dev/null)"
}

# Setup of most checks: <component>.lock wrote the lock file (its digest in lock_sha).
locked() {
  if bz "$ws" run //infra/cache:cache.lock >"$logs/lock1.log" 2>&1 && [[ -f "$lock" ]]; then
    lock_sha="$(sha "$lock")"
  else
    fail "cache.lock writes the lock file" "see below"
    tail -20 "$logs/lock1.log"
    finish
  fi
}
# Setup of the round checks: //infra/... built once.
built_infra() {
  e2e_needs locked
  if ! bz "$ws" build //infra/... --execution_log_json_file="$tmp/build.json" \
    "--action_env=TF_PLUGIN_CACHE_DIR=$TF_PLUGIN_CACHE_DIR" >"$logs/build.log" 2>&1; then
    fail "build //infra/..." "see below"
    tail -30 "$logs/build.log"
    finish
  fi
}
# Setup of the checks that start launchers directly: every target of infra/cache built.
built_launchers() {
  e2e_needs locked
  bz "$ws" build //infra/cache:all >"$logs/launchers.log" 2>&1
}

# <component>.lock writes the lock file; it is stable; .lock_test passes
check_lock() {
  e2e_needs locked
  h1s="$(grep -c '"h1:' "$lock")"
  zhs="$(grep -c '"zh:' "$lock")"
  check "cache.lock writes the lock file for 2 platforms" "$h1s h1:, $zhs zh:" test "$h1s" -eq 2 -a "$zhs" -eq 2
  check "the lock file records the package's zh: and h1:" "" \
    grep -q "\"zh:$(sha "$zip")\"" "$lock"
  grep -q "\"$("$helper" hash "$zip" --format h1)\"" "$lock" || fail "the lock file records the package's h1:"
  lock_mtime="$(stat -c "%y %i" "$lock")"
  bz "$ws" run //infra/cache:cache.lock >"$logs/lock2.log" 2>&1
  check "a second cache.lock changes nothing" "$(tail -1 "$logs/lock2.log")" \
    test "$(sha "$lock")" = "$lock_sha" -a "$(stat -c "%y %i" "$lock")" = "$lock_mtime"
  check "cache.lock_test passes" "" quiet "$logs/lock_test.log" bz "$ws" test //infra/cache:cache.lock_test
}

# build: verified fetch, one unpack, 12 hermetic validations
check_build() {
  e2e_needs built_infra
  valid=0
  for n in $(seq 1 12); do
    grep -q '"result": "pass"' "$bin_dir/infra/cache/cache-$n.check.json" 2>/dev/null && valid=$((valid + 1))
  done
  check "build //infra/... validates 12 instances from a read-only plugin dir" "$valid valid" test "$valid" -eq 12
  unpacks="$(grep -c '"mnemonic": "TerraformProviderUnpack"' "$tmp/build.json")"
  check "the build unpacks the package once for 12 validations" "$unpacks unpack action(s)" test "$unpacks" -eq 1
}

# The seed's scenario: helpers of the rounds.
watch_store() { # watch_store STORE: starts store_watch.py on a fresh store; sets watcher, watch_out.
  mkdir -p "$1/.staging"
  mkfifo "$1.ready"
  watch_out="$1.watch"
  python3 "$here/store_watch.py" "$1" "$1.ready" >"$watch_out" 2>&1 &
  watcher=$!
  read -r _ <"$1.ready"
}
stop_watch() { # stop_watch STORE: sets counts once the watcher has seen everything (no subshell: it waits).
  mkdir "$1/.staging/stop"
  wait "$watcher"
  counts="$(cat "$watch_out")"
}
# round_checks NAME STORE LOG SUCCEEDED: the checks every round makes.
round_checks() {
  local name="$1" store="$2" log="$3" ok="$4" counts own=0 copies=0 versions
  stop_watch "$store"
  for n in $(seq 1 12); do
    python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["name"] != sys.argv[2])' \
      "$run_dirs/cache-$n/record.json" "cache-$n" 2>/dev/null && own=$((own + 1))
    [[ "$(sha "$run_dirs/cache-$n/.terraform.lock.hcl" 2>/dev/null)" == "$lock_sha" ]] && copies=$((copies + 1))
  done
  versions="$(find "$store" -mindepth 1 -maxdepth 1 -type d -not -name '.*' | wc -l)"
  if [[ "$ok" -eq 12 && $own -eq 12 && "$counts" == "staged=1 published=1" && $versions -eq 1 &&
    $copies -eq 12 && "$(sha "$lock")" == "$lock_sha" ]]; then
    pass "$name: 12/12 applied, each its own record; unpacked once ($counts); lock file unchanged"
  else
    fail "$name" "succeeded $ok/12, own records $own, $counts, versions $versions, unchanged lock copies $copies/12"
    tail -15 "$log"
  fi
}

# the seed's scenario, through fleet run
check_fleet_run_rounds() {
  e2e_needs built_infra
  run_dirs="$ws/.fleet/infra/cache"
  for round in $(seq 1 "$rounds"); do
    store="$tmp/store-run-$round"
    rm -rf "$ws/.fleet"
    watch_store "$store"
    start=$SECONDS
    FLEET_STORE="$store" bz "$ws" run //infra/cache:caches.apply -- --parallelism 12 >"$logs/run-$round.log" 2>&1
    ok="$(grep -c '^cache-[0-9]* *succeeded' "$logs/run-$round.log")"
    round_checks "fleet run round $round ($((SECONDS - start))s)" "$store" "$logs/run-$round.log" "$ok"
  done
}

# the seed's scenario, through 12 fleet tf processes
check_fleet_tf_rounds() {
  e2e_needs built_infra built_launchers
  run_dirs="$ws/.fleet/infra/cache"
  for round in $(seq 1 "$process_rounds"); do
    store="$tmp/store-tf-$round"
    rm -rf "$ws/.fleet"
    watch_store "$store"
    start=$SECONDS
    pids=()
    for n in $(seq 1 12); do
      (cd "$ws" && BUILD_WORKSPACE_DIRECTORY="$ws" FLEET_STORE="$store" \
        "$bin_dir/infra/cache/cache-$n.apply" -auto-approve -no-color >"$logs/tf-$round-$n.log" 2>&1) &
      pids+=($!)
    done
    ok=0
    for pid in "${pids[@]}"; do wait "$pid" && ok=$((ok + 1)); done
    round_checks "12 fleet tf processes, round $round ($((SECONDS - start))s)" "$store" "$logs/tf-$round-1.log" "$ok"
  done
  cached="$(find "$TF_PLUGIN_CACHE_DIR" -mindepth 1 | wc -l)"
  check "TF_PLUGIN_CACHE_DIR in the environment stays empty" "$cached entries" test "$cached" -eq 0
  check "the lock file is byte-identical after every round" "sha256 ${lock_sha:0:12}" test "$(sha "$lock")" = "$lock_sha"
}

# A provider package changed in the store after the runs that used it (published versions
# are read-only, but their owner can chmod): fleet's warm path does not re-hash the store
# (init is skipped by its record), and the plan still refuses the package, because terraform
# checks it against the lock file on every command. `fleet verify` names the changed file and
# `fleet extract --verify` repairs the version; the plan then runs again.
check_tampered_store() {
  e2e_needs built_infra
  local store="$tmp/store-tampered" log="$logs/tampered" padding status
  rm -rf "$ws/.fleet"
  FLEET_STORE="$store" bz "$ws" run //infra/cache:caches.apply -- --parallelism 12 >"$log-apply.log" 2>&1
  FLEET_STORE="$store" bz "$ws" run //infra/cache:caches.plan >"$log-warm.log" 2>&1
  if ! grep -q "init skipped for 12 of 12" "$log-warm.log"; then
    fail "setup: 12 instances applied, then a warm plan" "see $log-apply.log and $log-warm.log"
    return
  fi
  padding="$(find "$store" -path '*/fleettest-padding.bin' -not -path '*/.*' | head -1)"
  cp -p "$padding" "$tmp/padding.orig"
  chmod u+w "$padding" "$(dirname "$padding")"
  # One byte in the middle, same size, same mtime.
  printf 'X' | dd of="$padding" bs=1 seek=$((50 << 20)) conv=notrunc status=none
  touch -r "$tmp/padding.orig" "$padding"
  chmod a-w "$padding" "$(dirname "$padding")"
  FLEET_STORE="$store" bz "$ws" run //infra/cache:caches.plan >"$log-plan.log" 2>&1
  status=$?
  check "a package changed in the store after init: the warm plan refuses it (terraform checks the lock file on every command)" \
    "exit $status, see $log-plan.log" \
    eval '[[ $status -ne 0 ]] && grep -q "init skipped for 12 of 12" "$log-plan.log" &&
      [[ $(grep -c "does not match any of the checksums recorded in the dependency lock file" "$log-plan.log") -ge 12 ]] &&
      grep -q "12 failed" "$log-plan.log"'
  "$helper" verify --store "$store" >"$log-verify.log" 2>&1
  status=$?
  check "fleet verify names the changed file (exit 5)" "exit $status, see $log-verify.log" \
    eval '[[ $status -eq 5 ]] && grep -q "^MISMATCH" "$log-verify.log" && grep -q "fleettest-padding.bin" "$log-verify.log"'
  "$helper" extract --verify --archive "$zip" --store "$store" --json >"$log-repair.log" 2>&1
  FLEET_STORE="$store" bz "$ws" run //infra/cache:caches.plan >"$log-repaired.log" 2>&1
  status=$?
  check "fleet extract --verify repairs the version; the plan runs again" "exit $status, see $log-repair.log, $log-repaired.log" \
    eval '[[ $status -eq 0 ]] && grep -q "\"repaired\": *true" "$log-repair.log" && grep -q "12 succeeded" "$log-repaired.log"'
}

# tf_provider and a component using it
check_tf_provider() {
  e2e_needs locked
  if bz "$ws" build //tfprovider:fleettest >"$logs/tf_provider.log" 2>&1; then
    built="$bin_dir/tfprovider/fleettest/$source_addr/terraform-provider-fleettest_0.1.0_$platform.zip"
    check "tf_provider packs the binary into the mirror layout, same bytes as package.sh" "$(basename "$built")" \
      cmp -s "$built" "$plain"
  else
    fail "tf_provider builds" "$(tail -5 "$logs/tf_provider.log")"
  fi
  direct_lock="$ws/tfprovider/.terraform.lock.hcl"
  cp "$lock" "$direct_lock" # a lock file for another package (the padded one)
  if bz "$ws" build //tfprovider:direct-1 >"$logs/direct-bad.log" 2>&1; then
    fail "validation refuses a lock file that does not cover the package"
  else
    check "validation refuses a lock file that does not cover the package, naming the .lock target" "" \
      grep -q "regenerate it: bazel run //tfprovider:direct.lock" "$logs/direct-bad.log"
  fi
  bz "$ws" run //tfprovider:direct.lock -- --fresh >"$logs/direct-lock.log" 2>&1
  check "direct.lock --fresh relocks for the workspace-built package" "" \
    grep -q "\"$("$helper" hash "$plain" --format h1)\"" "$direct_lock"
  check "the component validates with the tf_provider package" "" quiet "$logs/direct.log" bz "$ws" build //tfprovider:direct-1
}

# mirror and lock-file checks
check_lock_file_checks() {
  e2e_needs locked
  grep -v '"h1:' "$lock" >"$ws/checks/zh.lock.hcl"
  grep -v '"zh:' "$lock" >"$ws/checks/h1.lock.hcl"
  check "a zh:-only lock file fetches the package (Bazel's sha256)" "" quiet "$logs/good_zh.log" bz "$ws" build @good_zh//:all
  check "an h1:-only lock file fetches the package (fleet hash)" "" quiet "$logs/good_h1.log" bz "$ws" build @good_h1//:all
  for kind in zh h1; do
    if bz "$ws" build "@tampered_$kind//:all" >"$logs/tampered_$kind.log" 2>&1; then
      fail "a tampered package fails against a $kind:-only lock file"
    else
      check "a tampered package fails against a $kind:-only lock file, clearly" "" \
        grep -q "does not match the lock file //checks:$kind.lock.hcl: it hashes to $kind:" "$logs/tampered_$kind.log"
    fi
  done
  if bz "$ws" test //checks:zh_only.lock_test >"$logs/zh_only_test.log" 2>&1; then
    fail ".lock_test fails when a platform lacks hashes"
  else
    testlog="$(bz "$ws" info bazel-testlogs 2>/dev/null)/checks/zh_only.lock_test/test.log"
    check ".lock_test fails when a platform lacks hashes, naming the .lock target" "" \
      grep -q "a platform lacks hashes" "$testlog"
    grep -q "bazel run //checks:zh_only.lock" "$testlog" || fail ".lock_test names the .lock target"
  fi
  if bz "$ws" test //checks:unlocked.lock_test >"$logs/unlocked_test.log" 2>&1; then
    fail ".lock_test fails when a provider is not locked"
  else
    testlog="$(bz "$ws" info bazel-testlogs 2>/dev/null)/checks/unlocked.lock_test/test.log"
    check ".lock_test fails when a provider is not locked" "" \
      grep -q "$source_addr is required by the module but not in the lock file" "$testlog"
  fi
  if bz "$ws" build //checks:zh-only-1 >"$logs/zh_only.log" 2>&1; then
    fail "a zh:-only lock file fails validation (terraform checks unpacked packages by h1:)"
  else
    check "a zh:-only lock file fails validation, naming the .lock target" "" \
      grep -q "regenerate it: bazel run //checks:zh_only.lock" "$logs/zh_only.log"
  fi
}

# runs check the package against the lock file's h1:
check_run_h1() {
  e2e_needs locked built_launchers
  # Runs check the store's unpacked package against the lock file's h1: hashes: those in
  # the manifest `bazel run` hands to fleet or, when it lists none (packages built in the
  # workspace), those of the rendered lock file. None found, or none matching, is exit 5.
  runfiles="$bin_dir/infra/cache/cache-1.apply.runfiles/e2e_providers"
  rewrite_manifest() { # case, output
    python3 - "$bin_dir/infra/cache/cache-1.manifest.json" "$2" "$1" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
for package in manifest["instances"][0]["providers"]:
    case = sys.argv[3]
    if case == "from-lock":
        assert package["lock"], "the manifest names the rendered lock file"
        package["h1"] = []
    elif case == "no":
        package["h1"], package["lock"] = [], None
    else:
        package["h1"] = ["h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]
json.dump(manifest, open(sys.argv[2], "w"))
PY
  }
  rewrite_manifest from-lock "$tmp/h1-from-lock.json"
  check "a run reads the h1: hashes from the rendered lock file when the manifest lists none" "" \
    "$helper" tf --manifest "$tmp/h1-from-lock.json" --action plan --runfiles "$runfiles" --workspace-root "$ws" \
    --store "$tmp/store-h1-from-lock" -- -no-color
  for case in no wrong; do
    rewrite_manifest "$case" "$tmp/h1-$case.json"
    "$helper" tf --manifest "$tmp/h1-$case.json" --action plan --runfiles "$runfiles" --workspace-root "$ws" \
      --store "$tmp/store-h1-$case" -- -no-color >"$logs/h1-$case.log" 2>&1
    status=$?
    if [[ $case == no ]]; then
      want="no h1: hash for $source_addr.*\.lock"
    else
      want="unpacks to h1:.*not among the lock file's hashes"
    fi
    check "a run with $case lock-file h1: for the package refuses it (exit 5)" "exit $status" \
      grep -q "$want" "$logs/h1-$case.log"
    [[ $status -eq 5 ]] || fail "a run with $case lock-file h1: exits 5" "exit $status"
  done
}

# A provider error that echoes a secret it was given: cache-secret's token comes from
# the environment (secret_env); the provider refuses a revoked one, quoting it. Neither
# fleet tf nor fleet run (console, log, summary) shows it: `(sensitive value)` does.
check_provider_echo() {
  e2e_needs built_launchers
  local token="revoked-$RANDOM$RANDOM" store="$tmp/store-echo" tf_log="$logs/echo-tf.log"
  local run_log="$logs/echo-run.log" summary="$tmp/echo-summary.md" status leaks
  FLEET_E2E_TOKEN="$token" FLEET_STORE="$store" bz "$ws" run //infra/cache:cache-secret.plan -- -no-color >"$tf_log" 2>&1
  status=$?
  check "fleet tf: the provider's error quoting the token shows (sensitive value), never the token" \
    "exit $status, see $tf_log" \
    eval '[[ $status -ne 0 ]] && grep -q "fleettest: the token was refused" "$tf_log" &&
      grep -qF "token (sensitive value) is revoked" "$tf_log" && ! grep -qF "$token" "$tf_log"'
  FLEET_E2E_TOKEN="$token" FLEET_STORE="$store" bz "$ws" run //infra/cache:secret_fleet.plan -- \
    --summary "$summary" >"$run_log" 2>&1
  status=$?
  leaks="$(grep -rlF "$token" "$run_log" "$summary" "$ws/.fleet" 2>/dev/null | head -3)"
  check "fleet run: console, log and summary show (sensitive value) for the token the provider quotes" \
    "exit $status, leaked into: $leaks; see $run_log" \
    eval '[[ $status -ne 0 && -z "$leaks" ]] && grep -qF "token (sensitive value) is revoked" "$run_log" &&
      grep -qF "(sensitive value)" "$summary" &&
      grep -qF "token (sensitive value) is revoked" "$ws/.fleet/infra/cache/cache-secret/logs/plan.log"'
}

e2e_check lock check_lock
e2e_check build check_build
e2e_check fleet-run-rounds check_fleet_run_rounds
e2e_check fleet-tf-rounds check_fleet_tf_rounds
e2e_check tf-provider check_tf_provider
e2e_check lock-file-checks check_lock_file_checks
e2e_check run-h1 check_run_h1
e2e_check tampered-store check_tampered_store
# Last: it builds //infra/cache:all, which would leave the build check nothing to unpack.
e2e_check provider-echo check_provider_echo
e2e_main "$@"
