# Sealed plan sets across two clones (docs/ci.md#apply-exactly-what-was-reviewed-sealed-plan-sets):
# a set planned at commit X in the fixture repository is applied from a
# second clone at another path (its own Bazel output base) where commit Y
# changed db-3: db-3 is refused as stale, db-1 is applied; re-planned at Y,
# the new set applies db-3. Both clones use the first one's fleet root, so
# they share the (local) state as they would a remote backend. Sourced by
# run_tests.sh after recipes.sh.
# shellcheck shell=bash

export FLEET_PLAN_SET_KEY=e2e-plan-set-key
clone="$tmp/elsewhere/clone"
state_of() { cat "$repo/.fleet/db/$1/terraform.tfstate" 2>/dev/null; }
# in_clone_db_vars VALUES: db_vars in the clone.
in_clone_db_vars() {
  sed -i -E "s/^        vars = .*/        vars = dict({\"name\": name}.items() + $1.get(name, {}).items()),/" "$clone/db/BUILD.bazel"
}
# status_of REPORT NAME: the instance's status in the report.
status_of() {
  python3 -c 'import json,sys; print(next(i["status"] for i in json.load(open(sys.argv[1]))["instances"] if i["name"] == sys.argv[2]))' "$1" "$2"
}

db_vars '{"db-1": {"value": "set-x1"}, "db-3": {"value": "set-x3"}}'
commit "X: db-1 and db-3"
rbz run //all:all.plan -- --plan-set "$tmp/set-x" --report "$tmp/set-x.json" >"$logs/set-x-plan.log" 2>&1
rc=$?
check "plan set at X: db-1 and db-3 planned with changes" "exit $rc; $(tail -3 "$logs/set-x-plan.log")" python3 -c '
import json,sys; s=json.load(open(sys.argv[1]))
changed=sorted(e["label"] for e in s["index"]["instances"] if e["changes"])
sys.exit(not (s["seal"]["algorithm"] == "hmac-sha256" and changed == ["//db:db-1", "//db:db-3"]))' "$tmp/set-x/plan-set.json"

git clone -q "$repo" "$clone"
git -C "$clone" config user.email ci@example.invalid
git -C "$clone" config user.name "e2e ci"
in_clone_db_vars '{"db-1": {"value": "set-x1"}, "db-3": {"value": "set-y3"}}'
git -C "$clone" commit -qam "Y: db-3 again"
bz "$clone" run //all:all.apply -- --plan-set "$tmp/set-x" --fleet-root "$repo/.fleet" \
  --report "$tmp/set-x-apply.json" --summary "$tmp/set-x-apply.md" >"$logs/set-x-apply.log" 2>&1
rc=$?
check "X's set applied from the other clone at Y: exit 1, db-1 applied, db-3 stale_plan" \
  "exit $rc; $(tail -5 "$logs/set-x-apply.log")" \
  test "$rc|$(status_of "$tmp/set-x-apply.json" db-1)|$(status_of "$tmp/set-x-apply.json" db-3)" = "1|succeeded|stale_plan"
check "db-1's state holds X's value, db-3's does not" "" \
  bash -c '[[ "$1" == *db-1:set-x1* && "$2" != *set-x3* && "$2" != *set-y3* ]]' _ "$(state_of db-1)" "$(state_of db-3)"
check "the apply's summary names the set and refuses db-3" "" \
  bash -c 'grep -q "Plan set sealed \`hmac-sha256:" "$1" && grep -q "stale_plan" "$1"' _ "$tmp/set-x-apply.md"

bz "$clone" run //all:all.plan -- --plan-set "$tmp/set-y" --fleet-root "$repo/.fleet" >"$logs/set-y-plan.log" 2>&1 \
  && bz "$clone" run //all:all.apply -- --plan-set "$tmp/set-y" --fleet-root "$repo/.fleet" \
    --report "$tmp/set-y-apply.json" >"$logs/set-y-apply.log" 2>&1
rc=$?
check "re-planned at Y, the new set applies db-3" "exit $rc; $(tail -5 "$logs/set-y-apply.log")" \
  test "$rc|$(status_of "$tmp/set-y-apply.json" db-3)" = "0|succeeded"
check "db-3's state holds Y's value" "" bash -c '[[ "$1" == *db-3:set-y3* ]]' _ "$(state_of db-3)"
bz "$clone" shutdown >/dev/null 2>&1
unset FLEET_PLAN_SET_KEY
