#!/usr/bin/env bash
# Remote execution end to end: the example fleet (e2e/terraform), the providers
# (e2e/providers) and the variants (e2e/variants) workspaces built by real Bazel on a
# real REAPI engine (e2e/remote/engine: BuildGrid + PostgreSQL + two workers).
#
#   e2e/remote/run_tests.sh              # every check; FLEET_HELPER defaults to <repo>/target/release/fleet
#   E2E_KEEP=1 e2e/remote/run_tests.sh variants   # one check (--list names them), logs kept
#
# For each workspace, on private copies:
# 1. a local build (its own output base) records every output's digest;
# 2. `--remote_executor=grpc://... --noremote_local_fallback` builds the same targets:
#    every non-internal action runs remotely (the summary line and the execution log: 0
#    local, 0 sandboxed), and every output is byte-identical to the local build's;
# 3. after `bazel clean`, the rebuild is 100% remote cache hits and executes nothing;
# 4. a second output base at another workspace path gets 100% --disk_cache hits (from the
#    disk cache the local build filled) and, with --remote_cache alone, 100% remote cache hits.
# Prints one line per check and, last, `remote: N passed, N failed`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
source "$here/../lib.sh"
e2e_suite remote

if [[ ! -x "$helper" ]]; then
  fail "helper" "$helper is missing (cargo build --release)"
  finish
fi

e2e_tmp e2e-remote
# Its own engine state (not a developer's running engine), the shared virtualenv.
export FLEET_REMOTE_VENV="${FLEET_REMOTE_VENV:-${XDG_CACHE_HOME:-/tmp}/rules_fleet-remote/venv}"
export FLEET_REMOTE_STATE="$tmp/engine"
e2e_at_exit eval '"$here/engine" stop >>"$logs/engine.log" 2>&1'

unset TF_CLI_CONFIG_FILE TF_DATA_DIR TF_PLUGIN_CACHE_DIR TF_LOG FLEET_STORE
export CHECKPOINT_DISABLE=1

endpoint=""
remote_flags=()
suite_setup() { # starts the engine every check builds on
  echo "# starting the engine (BuildGrid, PostgreSQL, 2 workers)"
  if ! endpoint="$("$here/engine" start 2>"$logs/engine.log" | tail -1)" || [[ "$endpoint" != grpc://127.0.0.1:* ]]; then
    fail "engine start" "see below"
    tail -20 "$logs/engine.log"
    finish
  fi
  pass "engine start prints its endpoint ($endpoint)"
  remote_flags=("--remote_executor=$endpoint" --noremote_local_fallback --remote_timeout=600)
}

# copy_workspace NAME DEST: the e2e workspace NAME at DEST, consuming rules_fleet from this checkout.
copy_workspace() {
  e2e_copy_workspace "$2" "$repo_root/e2e/$1" ./mirror ./mirror-tampered ./project/build
}

# The providers workspace needs the test provider packed into its mirror and lock files
# written (by its run targets: local by nature), in an output base of their own so the
# reference build below runs every action.
prepare_providers() {
  local ws="$1" base="$2" pkg zip platform other binary
  pkg="$("$repo_root/e2e/provider/package.sh" --out "$ws/mirror" 2>"$logs/package.log")" || return 1
  zip="$(sed -n 1p <<<"$pkg")"
  platform="$(basename "$zip" .zip | sed 's/^terraform-provider-fleettest_0\.1\.0_//')"
  other="darwin_arm64"
  [[ "$platform" == darwin_arm64 ]] && other="linux_amd64"
  sed -i "s|\"linux_amd64\"|\"@HOST@\"|; s|\"darwin_arm64\"|\"@OTHER@\"|; s|@HOST@|$platform|; s|@OTHER@|$other|" \
    "$ws/infra/cache/BUILD.bazel" "$ws/checks/BUILD.bazel"
  python3 "$repo_root/e2e/provider/mirror_zip.py" --binary /bin/true --binary-name terraform-provider-fleettest_v0.1.0 \
    --zip "$ws/mirror/fleet.test/rules-fleet/fleettest/terraform-provider-fleettest_0.1.0_$other.zip" >/dev/null || return 1
  binary="${CARGO_TARGET_DIR:-$repo_root/e2e/provider/target}/release/terraform-provider-fleettest"
  cp "$binary" "$ws/tfprovider/terraform-provider-fleettest" || return 1
  bz "$ws" --output_base="$base" run //infra/cache:cache.lock >"$logs/providers-lock.log" 2>&1 || return 1
  bz "$ws" --output_base="$base" run //tfprovider:direct.lock -- --fresh >>"$logs/providers-lock.log" 2>&1
}

# Targets each workspace builds remotely: everything hermetic. Left out, and why:
# - e2e/terraform //negative/..., //fleets/cycle, //fleets/shared_state: fail on purpose;
# - e2e/providers //checks/...: fetch from a tampered mirror on purpose;
# - e2e/variants `.shared`, `.cargo-naive|private|locked`: tools_mode = "shared" uses a
#   machine-wide store outside the execroot, so those actions are tagged no-remote-exec
#   (and no-sandbox); `.naive`: the unsandboxed race of the original report, kept local.
targets_terraform=(//infra/... //features/... //fleets/chain/...)
targets_providers=(//infra/... //tfprovider/...)
targets_variants=(//project:variants //project:variants.private //project:variants.cargo-private-tree
  //project:tools-listing //project:sdk_verified)

# leases_run: how many actions the engine's workers have executed so far.
leases_run() { cat "$FLEET_REMOTE_STATE"/run/logs/worker-*.log 2>/dev/null | grep -c 'lease .*: exit'; }
stat_of() { python3 "$here/spawn_stats.py" "$@"; }
count() { # count STATS KIND: the number STATS ("kind=N ...") gives KIND, 0 when absent.
  local n
  n="$(tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p")"
  echo "${n:-0}"
}
# only_kinds STATS KIND...: STATS names no other kind than the KINDs.
only_kinds() {
  local stats="$1" entry
  shift
  for entry in $stats; do
    case " $* " in *" ${entry%%=*} "*) ;; *) return 1 ;; esac
  done
}

suite_workspace() { # suite_workspace NAME
  local suite="$1" ws="$tmp/$1/ws" ws2="$tmp/$1/elsewhere/ws" local_base="$tmp/$1/local-base"
  local remote_base="$tmp/$1/remote-base" disk_base="$tmp/$1/disk-base" targets summary runners
  local remote_spawns leases_before
  local -n targets_ref="targets_$suite"
  targets=("${targets_ref[@]}")
  echo "# $suite: ${targets[*]}"
  copy_workspace "$suite" "$ws"
  if [[ "$suite" == providers ]] && ! prepare_providers "$ws" "$tmp/$suite/prepare-base"; then
    fail "$suite: prepare the mirror and lock files" "see $logs/package.log, $logs/providers-lock.log"
    return
  fi
  mkdir -p "$(dirname "$ws2")" && cp -a "$ws" "$ws2"

  # 1. local reference build; it fills the disk cache step 4 reads (Bazel 4.2 refuses
  # --disk_cache together with --remote_executor).
  if ! bz "$ws" --output_base="$local_base" build "--disk_cache=$tmp/disk-cache" "--execution_log_json_file=$logs/$suite-local.json" "${targets[@]}" \
    >"$logs/$suite-local.log" 2>&1; then
    fail "$suite: local build" "see below"
    tail -20 "$logs/$suite-local.log"
    return
  fi
  stat_of outputs "$logs/$suite-local.json" >"$logs/$suite-local.outputs"

  # 2. remote build: every non-internal action remote, outputs byte-identical.
  if ! bz "$ws" --output_base="$remote_base" build "${remote_flags[@]}" "--execution_log_json_file=$logs/$suite-remote.json" \
    "${targets[@]}" >"$logs/$suite-remote.log" 2>&1; then
    fail "$suite: remote build" "see below"
    tail -20 "$logs/$suite-remote.log"
    return
  fi
  summary="$(stat_of summary "$logs/$suite-remote.log")"
  runners="$(stat_of runners "$logs/$suite-remote.json")"
  check "$suite: every non-internal action ran remotely" "summary: $summary; log: $runners" \
    eval 'only_kinds "$summary" internal remote && only_kinds "$runners" remote &&
      [[ $(count "$summary" remote) -gt 0 && $(count "$summary" remote) -eq $(count "$runners" remote) ]]'
  stat_of outputs "$logs/$suite-remote.json" >"$logs/$suite-remote.outputs"
  check "$suite: remote outputs are byte-identical to the local build's" \
    "$(wc -l <"$logs/$suite-remote.outputs") outputs; diff: $logs/$suite-outputs.diff" \
    eval 'diff "$logs/$suite-local.outputs" "$logs/$suite-remote.outputs" >"$logs/$suite-outputs.diff" &&
      [[ -s "$logs/$suite-remote.outputs" ]]'

  # 3. bazel clean, rebuild: all remote cache hits.
  remote_spawns="$(count "$runners" remote)"
  bz "$ws" --output_base="$remote_base" clean >/dev/null 2>&1
  leases_before="$(leases_run)"
  if bz "$ws" --output_base="$remote_base" build "${remote_flags[@]}" "--execution_log_json_file=$logs/$suite-cached.json" \
    "${targets[@]}" >"$logs/$suite-cached.log" 2>&1; then
    summary="$(stat_of summary "$logs/$suite-cached.log")"
    runners="$(stat_of runners "$logs/$suite-cached.json")"
    check "$suite: after bazel clean, 100% remote cache hits, nothing executed" "summary: $summary; log: $runners" \
      eval 'only_kinds "$summary" internal remote-cache-hit && only_kinds "$runners" remote-cache-hit &&
        [[ $(count "$summary" remote-cache-hit) -eq $remote_spawns && $(count "$runners" remote-cache-hit) -eq $remote_spawns ]] &&
        [[ $(leases_run) -eq $leases_before ]]'
  else
    fail "$suite: rebuild after bazel clean" "see below"
    tail -20 "$logs/$suite-cached.log"
  fi

  # 4. another workspace path and output base, the disk cache only.
  if bz "$ws2" --output_base="$disk_base" build "--disk_cache=$tmp/disk-cache" "--execution_log_json_file=$logs/$suite-disk.json" \
    "${targets[@]}" >"$logs/$suite-disk.log" 2>&1; then
    summary="$(stat_of summary "$logs/$suite-disk.log")"
    # Bazel 4.2 counts disk cache hits as "remote cache hit"; no remote is configured here.
    check "$suite: another path and output base gets 100% disk cache hits" "summary: $summary" \
      eval 'only_kinds "$summary" internal remote-cache-hit disk-cache-hit &&
        [[ $(($(count "$summary" remote-cache-hit) + $(count "$summary" disk-cache-hit))) -eq $remote_spawns ]]'
  else
    fail "$suite: build at another path" "see below"
    tail -20 "$logs/$suite-disk.log"
  fi
  bz "$ws2" --output_base="$disk_base" clean >/dev/null 2>&1
  if bz "$ws2" --output_base="$disk_base" build "--remote_cache=$endpoint" "${targets[@]}" >"$logs/$suite-elsewhere.log" 2>&1; then
    summary="$(stat_of summary "$logs/$suite-elsewhere.log")"
    check "$suite: another path and output base gets 100% remote cache hits" "summary: $summary" \
      eval 'only_kinds "$summary" internal remote-cache-hit && [[ $(count "$summary" remote-cache-hit) -eq $remote_spawns ]]'
  else
    fail "$suite: remote-cache build at another path" "see below"
    tail -20 "$logs/$suite-elsewhere.log"
  fi
}

# Exec platforms: with two registered platforms (the host, and a made-up `plan9` whose
# terraform and helper are stand-ins), toolchain resolution picks the binaries by the
# action's execution platform; `bazel run` targets get the ones of the platform they run on.

# stand_in NAME REAL: the plan9 "binary" NAME. A build action on the plan9 platform (here, on
# this machine) gets the work done by the real binary; a `bazel run` target must never get it
# (it runs on the machine running Bazel), so there it fails. Only `bazel run` sets
# BUILD_WORKSPACE_DIRECTORY: build actions get a clean environment.
stand_in() {
  printf '#!/bin/sh\n'
  printf 'if [ -n "${BUILD_WORKSPACE_DIRECTORY:-}" ]; then\n'
  printf '  echo "stand-in %s for plan9 in a bazel run target" >&2\n  exit 97\nfi\n' "$1"
  printf "exec '%s' \"\$@\"\n" "$2"
}
check_platforms() {
  local ws="$tmp/platforms/ws" dist="$tmp/platforms/dist" base="$tmp/platforms/base" terraform
  echo "# platforms: one terraform and one helper per execution platform"
  mkdir -p "$ws" "$dist/stand-in"
  cp -a "$here/platforms/." "$ws/"
  terraform="$(command -v terraform)"
  (cd "$dist" && cp "$terraform" terraform && zip -q -j terraform_1.11.4_linux_amd64.zip terraform && rm terraform)
  stand_in terraform "$terraform" >"$dist/stand-in/terraform"
  stand_in fleet "$helper" >"$dist/stand-in/fleet"
  chmod +x "$dist/stand-in/terraform" "$dist/stand-in/fleet"
  (cd "$dist/stand-in" && zip -q -j ../terraform_plan9.zip terraform)
  sed -i -e "s|path = \"../..\"|path = \"$repo_root\"|" \
    -e "s|@LINUX_ZIP@|$dist/terraform_1.11.4_linux_amd64.zip|" \
    -e "s|@LINUX_ZIP_SHA256@|$(sha256sum "$dist/terraform_1.11.4_linux_amd64.zip" | cut -d' ' -f1)|" \
    -e "s|@STAND_IN_ZIP@|$dist/terraform_plan9.zip|" \
    -e "s|@STAND_IN_ZIP_SHA256@|$(sha256sum "$dist/terraform_plan9.zip" | cut -d' ' -f1)|" \
    -e "s|@STAND_IN_FLEET@|$dist/stand-in/fleet|" \
    -e "s|@STAND_IN_FLEET_SHA256@|$(sha256sum "$dist/stand-in/fleet" | cut -d' ' -f1)|" \
    "$ws/WORKSPACE"
  local host_q="$logs/platforms-host.aquery" plan9_q="$logs/platforms-plan9.aquery"
  bz "$ws" --output_base="$base" aquery //app:one >"$host_q" 2>"$logs/platforms-host.log"
  check "host exec platform: the Linux terraform and the host's helper" "" \
    eval 'grep -q "external/terraform_linux_amd64/terraform" "$host_q" && grep -q "external/fleet_helper/fleet" "$host_q" &&
      ! grep -q "plan9" "$host_q"'
  bz "$ws" --output_base="$base" aquery --extra_execution_platforms=//stand_in:plan9_platform //app:one \
    >"$plan9_q" 2>"$logs/platforms-plan9.log"
  check "plan9 exec platform: the stand-in terraform and helper" "" \
    eval 'grep -q "external/terraform_plan9_amd64/terraform" "$plan9_q" && grep -q "external/fleet_helper_plan9_amd64/fleet" "$plan9_q" &&
      ! grep -q "external/terraform_linux_amd64" "$plan9_q"'

  # Run targets run on the machine running Bazel, the target platform: with plan9 the first
  # execution platform, the build actions behind them get the stand-ins (above) and the run
  # targets still get the host's terraform and helper. The stand-ins fail in a run target.
  local plan9=(--extra_execution_platforms=//stand_in:plan9_platform) run_log
  local bin="$base/execroot/e2e_remote_platforms/bazel-out/k8-fastbuild/bin"
  run_log="$logs/platforms-run-plan.log"
  check "plan9 exec platform: bazel run of an instance's plan runs the host's terraform and helper" "see $run_log" \
    eval 'bz "$ws" --output_base="$base" run "${plan9[@]}" //app:one.plan >"$run_log" 2>&1 &&
      grep -q "cluster_id *= *\"one\"" "$run_log" && ! grep -q "stand-in" "$run_log"'
  check "plan9 exec platform: the run target's launcher and manifest name the host's helper and Linux terraform" "" \
    eval 'grep -q "fleet_helper/fleet" "$bin/app/one.plan" && grep -q "terraform_linux_amd64/terraform" "$bin/app/one.manifest.json" &&
      ! grep -q plan9 "$bin/app/one.plan" "$bin/app/one.manifest.json"'
  run_log="$logs/platforms-run-fleet.log"
  check "plan9 exec platform: bazel run of a fleet's plan (fleet run) runs the host's binaries" "see $run_log" \
    eval 'bz "$ws" --output_base="$base" run "${plan9[@]}" //app:all.plan >"$run_log" 2>&1 && ! grep -q "stand-in" "$run_log" &&
      grep -q "terraform_linux_amd64/terraform" "$bin/app/all.manifest.json" && ! grep -q plan9 "$bin/app/all.plan" "$bin/app/all.manifest.json"'
  run_log="$logs/platforms-run-helper.log"
  check "plan9 exec platform: bazel run @rules_fleet//tools:fleet runs the host's helper" "see $run_log" \
    eval 'bz "$ws" --output_base="$base" run "${plan9[@]}" @rules_fleet//tools:fleet -- --version >"$run_log" 2>&1 &&
      ! grep -q "stand-in" "$run_log"'
  run_log="$logs/platforms-run-lock.log"
  check "plan9 exec platform: a component's .lock target takes the host's terraform and helper" "see $run_log" \
    eval 'bz "$ws" --output_base="$base" build "${plan9[@]}" //app:locked.lock >"$run_log" 2>&1 &&
      grep -q "fleet_helper/fleet" "$bin/app/locked.lock" && grep -q "terraform_linux_amd64/terraform" "$bin/app/locked.lock" &&
      ! grep -q plan9 "$bin/app/locked.lock"'

  check "the Linux terraform runs the instance's check on the remote workers" "" \
    eval 'bz "$ws" --output_base="$base" build "${remote_flags[@]}" //app:one >"$logs/platforms-remote.log" 2>&1 &&
      only_kinds "$(stat_of summary "$logs/platforms-remote.log")" internal remote'

  # No network on the workers where `unshare -n` works (the worker says at start); the
  # same action run locally, unsandboxed, reaches the port: the probe has teeth.
  local port="${endpoint##*:}" expected=connected probe
  grep -q 'unshare -n: yes' "$FLEET_REMOTE_STATE/run/logs/worker-1.log" && expected=isolated
  probe="bazel-out/k8-fastbuild/bin/probe/network.txt"
  bz "$ws" --output_base="$base" build "${remote_flags[@]}" "--action_env=PROBE_PORT=$port" //probe:network \
    >"$logs/probe-remote.log" 2>&1
  check "a remote action has no network (unshare -n)" "expected $expected" \
    eval '[[ "$(cat "$base/execroot/e2e_remote_platforms/$probe" 2>/dev/null)" == "$expected" ]]'
  bz "$ws" --output_base="$tmp/platforms/local-base" build --spawn_strategy=local "--action_env=PROBE_PORT=$port" //probe:network \
    >"$logs/probe-local.log" 2>&1
  check "the same action run locally reaches the port" "" \
    eval '[[ "$(cat "$tmp/platforms/local-base/execroot/e2e_remote_platforms/$probe" 2>/dev/null)" == connected ]]'
}

# The one kind of action kept local on purpose: variant_build(tools_mode = "shared") uses the
# machine-wide store outside the execroot, so it is tagged no-remote-exec; with the remote
# executor it still runs, locally, and the summary says so (what the checks above rule out).
check_shared_mode() {
  local ws="$tmp/shared-mode/ws" base="$tmp/shared-mode/base" summary
  copy_workspace variants "$ws"
  if bz "$ws" --output_base="$base" build "${remote_flags[@]}" "--action_env=FLEET_STORE=$tmp/store" //project:tools-listing.shared \
    >"$logs/shared-mode.log" 2>&1; then
    summary="$(stat_of summary "$logs/shared-mode.log")"
    # Its hermetic inputs (the tools archive's digest, ...) still build remotely.
    check "variants: a shared-mode (no-remote-exec) action runs locally under --remote_executor" "summary: $summary" \
      eval '[[ $(count "$summary" local) -eq 1 ]]'
  else
    fail "variants: shared-mode build with the remote executor" "see below"
    tail -20 "$logs/shared-mode.log"
  fi
}

check_terraform() { suite_workspace terraform; }
check_providers() { suite_workspace providers; }
check_variants() { suite_workspace variants; }

# still_running: the processes engine.pids recorded (pid and start time) that still run.
still_running() {
  local name pid start fields
  while read -r name pid start; do
    fields="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
    read -r -a fields <<<"${fields##*) }"
    [[ "${fields[0]}" != Z && "${fields[19]}" == "$start" ]] && echo "$name"
  done <"$logs/engine.pids"
}

# Last: the engine ends exactly what it started, and stopping twice is a no-op.
check_engine_stop() {
  local pg_dir
  check "engine status: everything it started still runs" "" eval '"$here/engine" status >"$logs/status.log" 2>&1'
  cp "$FLEET_REMOTE_STATE/run/pids" "$logs/engine.pids"
  pg_dir="$(cat "$FLEET_REMOTE_STATE/run/postgres.dir")"
  "$here/engine" stop >>"$logs/engine.log" 2>&1
  check "engine stop ends what it started" "$(wc -l <"$logs/engine.pids") processes; running after: $(still_running | xargs)" \
    eval '[[ -z "$(still_running)" && ! -e "$pg_dir" ]] && ! "$here/engine" status >/dev/null 2>&1'
  check "engine stop again is a no-op" "" eval '"$here/engine" stop >>"$logs/engine.log" 2>&1'
}

e2e_check platforms check_platforms
e2e_check terraform check_terraform
e2e_check providers check_providers
e2e_check variants check_variants
e2e_check shared-mode check_shared_mode
e2e_check engine-stop check_engine_stop
e2e_main "$@"
