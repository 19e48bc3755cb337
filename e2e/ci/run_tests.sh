#!/usr/bin/env bash
# End-to-end tests of what monorepo CI uses: instance identities,
# `fleet run --affected-since REV` / `--affected-base-manifest FILE`,
# `--summary FILE` and `--detailed-exitcode`, with real Bazel, real git and
# real terraform. A git repository is built in a temp dir from
# e2e/ci/workspace (three components, six instances, one fleet //all:all)
# and changed one commit at a time; after each, the plan of the affected
# instances must name exactly the expected set. Then the CI recipes of
# docs/ci/ run their commands against the same repository (recipes.sh), and
# a sealed plan set made there is applied from a second clone (plan_set.sh).
#
#   e2e/ci/run_tests.sh                       # FLEET_HELPER defaults to <repo>/target/release/fleet
#   E2E_KEEP=1 e2e/ci/run_tests.sh            # keeps the temp dir and says where
#   FLEET_E2E_UPDATE_GOLDEN=1 e2e/ci/run_tests.sh   # rewrites e2e/ci/golden/*.md
#
# Prints one line per check and, last, `ci: N passed, N failed`.
set -uo pipefail
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
source "$here/../lib.sh"
e2e_suite ci

if [[ ! -x "$helper" ]] || ! "$helper" run --help 2>/dev/null | grep -q -- --affected-since; then
  fail "helper" "$helper is missing or has no --affected-since (cargo build --release)"
  finish
fi
if ! command -v terraform >/dev/null 2>&1 || ! command -v git >/dev/null 2>&1; then
  fail "tools" "terraform and git must be on PATH"
  finish
fi

e2e_tmp e2e-ci
repo="$tmp/repo"
mkdir -p "$repo"

# The fixture repository: rules_fleet from this checkout, the helper from
# FLEET_HELPER (committed in .bazelrc, so a worktree at any commit has it).
cp -r "$here/workspace/." "$repo/"
sed -i "s|path = \"../..\"|path = \"$repo_root\"|" "$repo/WORKSPACE"
printf 'build --repo_env=FLEET_HELPER=%s\n' "$helper" >"$repo/.bazelrc"
git -C "$repo" init -q -b main
git -C "$repo" config user.email ci@example.invalid
git -C "$repo" config user.name "e2e ci"
commit() { # MESSAGE: commits everything
  git -C "$repo" add -A && git -C "$repo" commit -qm "$1"
}
commit "fixture"

rbz() { bz "$repo" "$@"; }
manifest() { echo "$repo/bazel-bin/all/all.manifest.json"; }

# ran REPORT: the short names of the instances the run planned, sorted, one line.
ran() {
  python3 -c 'import json,sys; print(" ".join(sorted(i["name"] for i in json.load(open(sys.argv[1]))["instances"])))' "$1"
}
# affected_field REPORT FIELD: labels in report.affected.FIELD, one line.
affected_field() {
  python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["affected"][sys.argv[2]]))' "$1" "$2"
}

# plan NAME ARGS...: `bazel run //all:all.plan -- --report NAME.json --summary NAME.md ARGS`; sets rc.
plan() {
  local name="$1"
  shift
  rbz run //all:all.plan -- --report "$tmp/$name.json" --summary "$tmp/$name.md" "$@" >"$logs/$name.log" 2>&1
  rc=$?
}

# scenario NAME "EXPECTED NAMES" EXPECTED_RC: plans what changed since the
# last scenario's manifest and checks the set and the exit code.
base="$tmp/base.json"
scenario() {
  local name="$1" expected="$2" want_rc="$3"
  shift 3
  plan "$name" --affected-base-manifest "$base" --detailed-exitcode "$@"
  local got
  got="$(ran "$tmp/$name.json" 2>&1)"
  if [[ "$got" == "$expected" && $rc -eq $want_rc ]]; then
    pass "$name: plans exactly [$expected], exit $rc"
  else
    fail "$name" "planned [$got], exit $rc; expected [$expected], exit $want_rc; $(tail -5 "$logs/$name.log")"
  fi
  cp "$(manifest)" "$base"
}

# golden NAME: the summary, durations masked, equals e2e/ci/golden/NAME.md.
golden() {
  local got="$tmp/$1.golden.md" want="$here/golden/$1.md"
  sed -E -e 's/[0-9]+\.[0-9]s/N.Ns/g' -e "s|$tmp|<tmp>|g" "$tmp/$1.md" >"$got"
  if [[ -n "${FLEET_E2E_UPDATE_GOLDEN:-}" ]]; then
    mkdir -p "$here/golden" && cp "$got" "$want"
  fi
  check "$1: summary equals golden/$1.md" "$(diff "$want" "$got" 2>&1 | head -20)" cmp -s "$want" "$got"
}

# The base: everything applied, so later plans show real changes.
if ! rbz run //all:all.apply >"$logs/apply.log" 2>&1; then
  fail "apply the fixture" "$(tail -20 "$logs/apply.log")"
  finish
fi
cp "$(manifest)" "$base"
plan drift-none --detailed-exitcode
check "a plan of everything with no changes exits 0" "exit $rc" test "$rc" -eq 0
check "the report says changes: false for every instance" "" python3 -c '
import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not (len(r["instances"]) == 6 and all(i["changes"] is False for i in r["instances"])))' "$tmp/drift-none.json"

# db_vars DICT: db/BUILD.bazel's instances get {"name": name} plus DICT[name]
# (a Starlark dict of dicts): only the instances named in it change.
db_vars() {
  sed -i -E "s/^        vars = .*/        vars = dict({\"name\": name}.items() + $1.get(name, {}).items()),/" "$repo/db/BUILD.bazel"
}

db_vars '{"db-1": {"value": "v2"}}'
commit "db-1: vars"
scenario one-instance-vars "db-1" 2
golden one-instance-vars
check "the report records changes: true and the resource change" "" python3 -c '
import json,sys; i=json.load(open(sys.argv[1]))["instances"][0]
sys.exit(not (i["changes"] is True and i["resource_changes"]["resources"] == [{"address": "terraform_data.this", "action": "update"}]))' "$tmp/one-instance-vars.json"

sed -i 's/input = "${var.name}:${var.value}:${var.upstream}"/input = "${var.name}:${var.value}:${var.upstream}:db"/' "$repo/db/main.tf"
commit "db: module file"
scenario module-file "db-1 db-2" 2

printf 'value = "b2"\n' >"$repo/app/b.tfvars"
commit "app-b: var_files"
scenario var-files "app-b" 2

printf '# A lock file without providers (the module uses only terraform_data).\n# Bumped.\n' >"$repo/app/.terraform.lock.hcl"
commit "app: lock file"
scenario lock-file "app-a app-b app-c" 2

sed -i 's/version = "1.11.4"/version = "1.11.5"/' "$repo/toolchain/BUILD.bazel"
commit "terraform toolchain version"
scenario toolchain-version "app-a app-b app-c db-1 db-2 network" 2

sed -i 's/vars = {"name": "network"}/vars = {"name": "network", "value": "v2"}/' "$repo/net/BUILD.bazel"
commit "network: vars"
scenario dependents "app-a app-c network" 2
check "app-a changed through inputs_from, app-c is a dependent through deps" "" \
  test "$(affected_field "$tmp/dependents.json" changed)|$(affected_field "$tmp/dependents.json" dependents)" = "//app:app-a //net:network|//app:app-c"

sed -i 's/^        "db-2",$//' "$repo/db/BUILD.bazel"
sed -i '/"\/\/db:db-2",/d' "$repo/all/BUILD.bazel"
commit "db-2: deleted"
scenario instance-deleted "" 0
check "a deleted instance is listed as removed" "" test "$(affected_field "$tmp/instance-deleted.json" removed)" = "//db:db-2"
check "a deleted instance is never destroyed (its state is still there)" "" \
  grep -q '"terraform_data"' "$repo/.fleet/db/db-2/terraform.tfstate"
check "nothing affected: one clear line" "" grep -q "no instance of //all:all is affected" "$logs/instance-deleted.log"
golden instance-deleted

sed -i 's/^        "db-1",$/        "db-1",\n        "db-3",/' "$repo/db/BUILD.bazel"
sed -i 's|"//db:db-1",|"//db:db-1",\n        "//db:db-3",|' "$repo/all/BUILD.bazel"
commit "db-3: added"
scenario instance-added "db-3" 2

echo "More words." >>"$repo/README.md"
commit "README"
scenario readme "" 0
# The same through a worktree at HEAD~1: another path, the same identities.
# HEAD~1 is named by a hostile REV (a commit-message regex full of Markdown and
# HTML), the repository has a post-checkout hook, and the base build's
# directory goes to a TMPDIR of its own.
affected_tmp="$tmp/affected-tmp"
mkdir -p "$affected_tmp"
printf '#!/bin/sh\necho "$0 $*" >>%s\n' "$tmp/hook-ran" >"$repo/.git/hooks/post-checkout"
chmod +x "$repo/.git/hooks/post-checkout"
hostile_rev='HEAD^{/db-3: added|[Approve](https://evil.example) <img src=x> __LGTM__}'
TMPDIR="$affected_tmp" plan readme-since --affected-since "$hostile_rev" --bazel "$bazelw" --detailed-exitcode
check "--affected-since HEAD~1 after a README change: nothing affected, exit 0" "exit $rc; $(tail -3 "$logs/readme-since.log")" \
  test "$rc|$(ran "$tmp/readme-since.json")" = "0|"
check "the worktree and its output base are gone" "$(git -C "$repo" worktree list; ls -A "$affected_tmp")" \
  test "$(git -C "$repo" worktree list | wc -l)|$(ls -A "$affected_tmp")" = "1|"
check "the summary shows the hostile REV as code, never as a link, image, emphasis or HTML" \
  "$(python3 "$repo_root/tools/summary_markdown/markdown_check.py" "$tmp/readme-since.md" "$hostile_rev" 2>&1 | head -5)" \
  python3 "$repo_root/tools/summary_markdown/markdown_check.py" "$tmp/readme-since.md" "$hostile_rev"
check "no git hook ran for the base worktree" "$(cat "$tmp/hook-ran" 2>/dev/null)" test ! -e "$tmp/hook-ran"
check "the base build's Bazel server was shut down" "$(pgrep -af -- "--output_base=$affected_tmp/" | cut -c1-200)" \
  bash -c '! pgrep -f -- "--output_base=$1/" >/dev/null' _ "$affected_tmp"

# no_base_processes_within SECONDS: no process names an output base under
# $affected_tmp any more (an orphaned bazel client ends once its server is gone).
no_base_processes_within() {
  local deadline=$((SECONDS + $1))
  while pgrep -f -- "--output_base=$affected_tmp/" >/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# SIGKILL of the runner during the real base build: the worktree, the output
# base and its Bazel server stay behind; the next base build sweeps them.
(cd "$repo" && TMPDIR="$affected_tmp" "$bazelw" run "--repo_env=FLEET_HELPER=$helper" //all:all.plan -- \
  --affected-since HEAD~1 --bazel "$bazelw" --report "$tmp/killed.json") >"$logs/killed.log" 2>&1 &
killed_job=$!
deadline=$((SECONDS + 600))
pid_file=""
while [[ -z "$pid_file" ]] && ((SECONDS < deadline)) && kill -0 "$killed_job" 2>/dev/null; do
  pid_file="$(compgen -G "$affected_tmp/fleet-affected-*/output_base/server/server.pid.txt" | head -1)"
  [[ -n "$pid_file" ]] || sleep 0.2
done
if [[ -z "$pid_file" ]]; then
  fail "SIGKILL during the base build" "its Bazel server never started: $(tail -5 "$logs/killed.log")"
else
  stale="${pid_file%/output_base/server/server.pid.txt}"
  runner="$(basename "$stale" | cut -d- -f3)"
  server="$(cat "$pid_file")"
  kill -9 "$runner"
  wait "$killed_job"
  check "a SIGKILLed base build leaves its directory, worktree and server (what the sweep is for)" "" \
    test -d "$stale" -a "$(git -C "$repo" worktree list | wc -l)" -eq 2 -a -e "/proc/$server"
  TMPDIR="$affected_tmp" plan swept --affected-since HEAD~1 --bazel "$bazelw" --detailed-exitcode
  check "the next base build sweeps it: directory, worktree registration and Bazel server gone" \
    "exit $rc; $(ls -A "$affected_tmp"); $(git -C "$repo" worktree list); $(tail -3 "$logs/swept.log")" \
    test "$rc|$(ls -A "$affected_tmp")|$(git -C "$repo" worktree list | wc -l)" = "0||1"
  check "the sweep said what it removed" "" grep -qF "removing $stale left by a killed base build" "$logs/swept.log"
  check "no process of either base build is left" "$(pgrep -af -- "--output_base=$affected_tmp/" | cut -c1-200)" \
    no_base_processes_within 60
fi

# One instance's values and another component's module in one commit.
cp "$base" "$tmp/before-since.json"
db_vars '{"db-1": {"value": "v3"}}'
echo '# app module edit' >>"$repo/app/main.tf"
commit "db-1 vars and the app module"
plan since --affected-since HEAD~1 --bazel "$bazelw" --detailed-exitcode
check "--affected-since HEAD~1: db-1 and every app instance, exit 2" "exit $rc, planned [$(ran "$tmp/since.json")]; $(tail -3 "$logs/since.log")" \
  test "$rc|$(ran "$tmp/since.json")" = "2|app-a app-b app-c db-1"
check "the summary names each planned instance with its counts" "" python3 - "$tmp/since.md" <<'EOF'
import sys
text = open(sys.argv[1]).read()
rows = [l for l in text.splitlines() if l.startswith("| `")]
names = " ".join(rows)
ok = all(f"`{n}`" in names for n in ["db-1", "app-a", "app-b", "app-c"])
ok = ok and any("`db-1`" in r and "| changes | 0 | 1 | 0 |" in r for r in rows)
sys.exit(not ok)
EOF
# --only intersects: of what changed since the README commit, only db-1 is asked for.
base="$tmp/before-since.json"
scenario only-intersects "db-1" 2 --only db-1 --only network
base="$tmp/base.json"
cp "$(manifest)" "$base"

# A sensitive variable read from the environment at run time (secret_env):
# the change is listed, the value never.
sed -i 's/^        component = ":db",$/        component = ":db",\n        secret_env = {"token": "CI_TOKEN"} if name == "db-1" else {},/' "$repo/db/BUILD.bazel"
commit "db-1: sensitive token from the environment"
export CI_TOKEN=s3cr3t-token-value
scenario sensitive "db-1" 2
check "a sensitive change is listed by address" "" grep -qF "\`terraform_data.secret\` update" "$tmp/sensitive.md"
check "the sensitive value is in neither the summary nor the report" "" \
  test "$(cat "$tmp/sensitive.md" "$tmp/sensitive.json" | grep -c s3cr3t)" -eq 0

db_vars '{"db-1": {"value": "v3", "fail_plan": True}}'
commit "db-1: fails its plan"
scenario plan-fails "db-1" 1
check "a failed plan's summary shows its error" "" grep -q "fail_plan is set for db-1" "$tmp/plan-fails.md"

source "$here/recipes.sh"
source "$here/plan_set.sh"
finish
