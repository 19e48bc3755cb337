#!/usr/bin/env bash
# End-to-end test of the fleettest provider against the real terraform:
# builds and packages it, then init / apply / plan / destroy a root module
# that uses it, from a filesystem mirror, a -plugin-dir and lock files.
# Prints the h1: and zh: hashes terraform records for the package.
#
# Usage: test.sh [--keep] [NAME...]   (--keep leaves the scratch directory;
#        NAME... runs only the named checks, --list prints them)
# Env:   TERRAFORM (default: terraform on PATH)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=e2e/lib.sh
source "$here/../lib.sh"
e2e_suite e2e-provider
TERRAFORM="${TERRAFORM:-$(command -v terraform || true)}"
source_addr="fleet.test/rules-fleet/fleettest"
if [[ "${1:-}" == --keep ]]; then
  export E2E_KEEP=1
  shift
fi

# Terraform sees nothing of the caller's set-up: own CLI config, no cache.
unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR TF_LOG FLEETTEST_APPLY_DELAY_MS
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

now_ms() { date +%s%3N; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
# lock_hashes DIR PREFIX: the hashes with PREFIX in DIR's lock file.
lock_hashes() { grep -o "\"$2:[^\"]*\"" "$1/.terraform.lock.hcl" 2>/dev/null | tr -d '"'; }

suite_setup() {
  if [[ -z "$TERRAFORM" ]]; then
    fail "terraform" "terraform is not on PATH (or set TERRAFORM)"
    finish
  fi
  e2e_tmp fleettest-e2e
  scratch="$tmp"
  echo "# building and packaging (cargo build --release --locked)"
  local t0
  t0=$(now_ms)
  if ! pkg_out="$("$here/package.sh" --out "$scratch/mirror" 2>"$scratch/build.log")"; then
    fail "package.sh builds and packs the provider" "$(tail -n 25 "$scratch/build.log")"
    finish
  fi
  echo "# build + package took $(( ($(now_ms) - t0) / 1000 ))s"
  zip_path="$(sed -n 1p <<<"$pkg_out")"
  zh="$(sed -n 2p <<<"$pkg_out")"
  binary="${CARGO_TARGET_DIR:-$here/target}/release/terraform-provider-fleettest"
  platform="$(basename "$zip_path" .zip | sed 's/^terraform-provider-fleettest_0\.1\.0_//')"
}

# Setup of the checks using the 100 MiB package: packaged padded.
padded_packaged() {
  padded_out="$("$here/package.sh" --binary "$binary" --out "$scratch/mirror-padded" --pad-mb 100 2>&1)"
  padded_zip="$(sed -n 1p <<<"$padded_out")"
  padded_zh="$(sed -n 2p <<<"$padded_out")"
  padded_size=$(stat -c %s "$padded_zip" 2>/dev/null || echo 0)
}

# packaging
check_packaging() {
  check "package is at the packed mirror path" "" \
    test -f "$scratch/mirror/fleet.test/rules-fleet/fleettest/terraform-provider-fleettest_0.1.0_${platform}.zip" -a \
    "$zip_path" = "$scratch/mirror/fleet.test/rules-fleet/fleettest/terraform-provider-fleettest_0.1.0_${platform}.zip"
  check "printed zh: is the zip's sha256" "" test "$zh" = "zh:$(sha256_of "$zip_path")"
  check "zip holds exactly terraform-provider-fleettest_v0.1.0" "" \
    test "$(python3 -c 'import sys,zipfile; print(*zipfile.ZipFile(sys.argv[1]).namelist())' "$zip_path")" \
    = "terraform-provider-fleettest_v0.1.0"
  again="$("$here/package.sh" --binary "$binary" --out "$scratch/mirror-again" 2>&1 | sed -n 2p)"
  check "packaging is reproducible (same zh: twice)" "" test "$again" = "$zh"

  e2e_needs padded_packaged
  check "--pad-mb 100 gives a package >= 100 MiB ($padded_size bytes)" "" test "$padded_size" -ge $((100 * 1024 * 1024))
  check "padding is incompressible" "" python3 - "$padded_zip" <<'EOF'
import sys, zipfile, zlib
with zipfile.ZipFile(sys.argv[1]) as zf:
    sample = zf.open("fleettest-padding.bin").read(8 << 20)
sys.exit(0 if len(zlib.compress(sample, 9)) >= len(sample) else 1)
EOF
  padded_again="$("$here/package.sh" --binary "$binary" --out "$scratch/mirror-padded-again" --pad-mb 100 2>&1 | sed -n 2p)"
  check "padded packaging is reproducible" "" test "$padded_again" = "$padded_zh"
  rm -rf "$scratch/mirror-again" "$scratch/mirror-padded-again"
}

# cli_config FILE MIRROR: a CLI config that installs fleet.test/* from MIRROR only.
cli_config() {
  cat >"$1" <<EOF
disable_checkpoint = true
provider_installation {
  filesystem_mirror {
    path    = "$2"
    include = ["fleet.test/*/*"]
  }
}
EOF
}
# new_module DIR: a root module with one record, one echo and outputs.
new_module() {
  mkdir -p "$1"
  cat >"$1/main.tf" <<'EOF'
terraform {
  required_providers {
    fleettest = {
      source  = "fleet.test/rules-fleet/fleettest"
      version = "0.1.0"
    }
  }
}

variable "name" { type = string }
variable "value" { type = string }
variable "data" { type = map(string) }
variable "apply_delay_ms" {
  type    = number
  default = null
}

provider "fleettest" {
  token          = "e2e-not-a-secret"
  apply_delay_ms = var.apply_delay_ms
}

resource "fleettest_record" "r" {
  name        = var.name
  value       = var.value
  data        = var.data
  output_file = "${path.module}/record.json"
}

data "fleettest_echo" "e" {
  input = var.value
}

output "echo_digest" { value = data.fleettest_echo.e.digest }
EOF
}
# set_inputs NAME VALUE DATA_JSON [DELAY_MS]
set_inputs() {
  local delay="${4:-null}"
  printf '{"name": "%s", "value": "%s", "data": %s, "apply_delay_ms": %s}\n' "$1" "$2" "$3" "$delay" \
    >"$dir/terraform.tfvars.json"
}
# tf ARGS...: terraform in $dir, output in $dir/last.log, exit code returned.
tf() { (cd "$dir" && "$TERRAFORM" "$@" -no-color >"$dir/last.log" 2>&1); }
tf_ok() { local name="$1"; shift; if tf "$@"; then pass "$name"; else fail "$name" "$(tail -n 25 "$dir/last.log")"; fi; }
# log_has TEXT [LOG]: TEXT occurs in LOG (default the last terraform log),
# ignoring how terraform wrapped its lines.
log_has() { tr -s ' \n' '  ' <"${2:-$dir/last.log}" | grep -qF -- "$1"; }
# failed_with RC TEXT: the last command failed and said TEXT.
failed_with() { [ "$1" != 0 ] && log_has "$2"; }
# exited_with RC WANT TEXT: the last command exited WANT and said TEXT.
exited_with() { [ "$1" = "$2" ] && log_has "$3"; }
plan_exit() { tf plan -detailed-exitcode -input=false; echo $?; }
# state_attr ATTR: the record's attribute in terraform's state, as compact JSON.
state_attr() {
  (cd "$dir" && "$TERRAFORM" show -json) | python3 -c '
import json, sys
state = json.load(sys.stdin)
for r in state.get("values", {}).get("root_module", {}).get("resources", []):
    if r["address"] == "fleettest_record.r":
        print(json.dumps(r["values"][sys.argv[1]], sort_keys=True, separators=(",", ":")))' "$1"
}
# expected_digest NAME VALUE DATA_JSON: sha256 of the canonical inputs JSON.
expected_digest() {
  python3 -c '
import hashlib, json, sys
inputs = {"name": sys.argv[1], "value": sys.argv[2], "data": json.loads(sys.argv[3])}
print(hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest())' "$@"
}
file_attr() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$dir/record.json" "$1" 2>/dev/null; }

# Setup of the lifecycle and lock-file checks: a root module initialised from
# the mirror (status in mirror_init_status, the h1: terraform recorded in h1).
mirror_initialized() {
  dir="$scratch/lifecycle"
  new_module "$dir"
  cli_config "$scratch/mirror.tfrc" "$scratch/mirror"
  mirror_init_status=0
  export TF_CLI_CONFIG_FILE="$scratch/mirror.tfrc"
  tf init -input=false || mirror_init_status=$?
  cp "$dir/last.log" "$scratch/mirror-init.log"
  h1="$(lock_hashes "$dir" h1)"
}

# lifecycle
check_lifecycle() {
  echo "# lifecycle from a filesystem mirror"
  e2e_needs mirror_initialized
  dir="$scratch/lifecycle"
  export TF_CLI_CONFIG_FILE="$scratch/mirror.tfrc"
  if [[ $mirror_init_status -eq 0 ]]; then
    pass "terraform init installs $source_addr from the mirror"
  else
    fail "terraform init installs $source_addr from the mirror" "$(tail -n 25 "$scratch/mirror-init.log")"
  fi
  check "lock file records one h1: hash" "" test "$(wc -w <<<"$h1")" = 1
  echo "# package h1: $h1"

  set_inputs alpha one '{"k": "v", "z": "last"}'
  tf_ok "first apply creates the record" apply -auto-approve -input=false
  id1="$(state_attr id | tr -d '"')"
  check "state: name" "" test "$(state_attr name)" = '"alpha"'
  check "state: value" "" test "$(state_attr value)" = '"one"'
  check "state: data" "" test "$(state_attr data)" = '{"k":"v","z":"last"}'
  check "state: id looks like rec-<16 hex> ($id1)" "" grep -Eq '^rec-[0-9a-f]{16}$' <<<"$id1"
  check "state: digest is sha256 of the inputs" "" \
    test "$(state_attr digest)" = "\"$(expected_digest alpha one '{"k": "v", "z": "last"}')\""
  check "data source echoes with digest" "" \
    test "$(cd "$dir" && "$TERRAFORM" output -raw echo_digest)" = "$(printf one | sha256sum | cut -d' ' -f1)"
  check "provider wrote output_file with the same id" "" test -n "$id1" -a "$(file_attr id)" = "$id1"

  tf_ok "second apply succeeds" apply -auto-approve -input=false
  check "second apply is a no-op" "" log_has "No changes."
  check "plan -detailed-exitcode is 0 when nothing changed" "" test "$(plan_exit)" = 0

  set_inputs alpha two '{"k": "v", "z": "last"}'
  check "plan -detailed-exitcode is 2 after a value change" "" test "$(plan_exit)" = 2
  check "value change is an in-place update" "" log_has "0 to add, 1 to change, 0 to destroy"
  tf_ok "apply of the value change" apply -auto-approve -input=false
  check "update keeps the id" "" test -n "$id1" -a "$(state_attr id | tr -d '"')" = "$id1"
  check "update stores the new value" "" test "$(state_attr value)" = '"two"'
  check "update recomputes the digest" "" \
    test "$(state_attr digest)" = "\"$(expected_digest alpha two '{"k": "v", "z": "last"}')\""
  check "update rewrote output_file" "" test "$(file_attr value)" = two
  check "plan is clean after the update" "" test "$(plan_exit)" = 0

  set_inputs alpha two '{"k": "changed"}'
  check "plan -detailed-exitcode is 2 after a data change" "" test "$(plan_exit)" = 2
  tf_ok "apply of the data change" apply -auto-approve -input=false
  check "state: new data" "" test "$(state_attr data)" = '{"k":"changed"}'

  set_inputs beta two '{"k": "changed"}'
  rc="$(plan_exit)"
  check "name change plans a replacement (plan exit 2)" "" exited_with "$rc" 2 "must be replaced"
  tf_ok "apply of the replacement" apply -auto-approve -input=false
  id2="$(state_attr id | tr -d '"')"
  check "replacement gets a new id" "" test -n "$id2" -a "$id2" != "$id1"

  rm -f "$dir/record.json"
  check "a deleted output_file reads as a deleted record (plan exit 2)" "" test "$(plan_exit)" = 2
  tf_ok "apply re-creates it" apply -auto-approve -input=false
  check "output_file is back" "" test -f "$dir/record.json"

  # The delay is a lower bound on the apply's duration: the provider sleeps
  # before acting, so the apply cannot finish sooner.
  set_inputs beta three '{"k": "changed"}'
  t0=$(now_ms)
  FLEETTEST_APPLY_DELAY_MS=1500 tf apply -auto-approve -input=false
  rc=$?; elapsed=$(( $(now_ms) - t0 ))
  check "FLEETTEST_APPLY_DELAY_MS=1500 delays the apply (${elapsed} ms)" "" test "$rc" = 0 -a "$elapsed" -ge 1500
  set_inputs beta four '{"k": "changed"}' 1500
  t0=$(now_ms)
  tf apply -auto-approve -input=false
  rc=$?; elapsed=$(( $(now_ms) - t0 ))
  check "provider apply_delay_ms = 1500 delays the apply (${elapsed} ms)" "" test "$rc" = 0 -a "$elapsed" -ge 1500
  set_inputs beta four '{"k": "changed"}'
  FLEETTEST_APPLY_DELAY_MS=soon tf plan -input=false
  rc=$?
  check "a malformed FLEETTEST_APPLY_DELAY_MS is a clear error" "" \
    failed_with "$rc" "FLEETTEST_APPLY_DELAY_MS is not a number"
  # Like some providers, it quotes a credential it refuses (fleet's tests hide it).
  sed -i 's/"e2e-not-a-secret"/"revoked-e2e-token"/' "$dir/main.tf"
  tf plan -input=false
  rc=$?
  sed -i 's/"revoked-e2e-token"/"e2e-not-a-secret"/' "$dir/main.tf"
  check "a revoked token is refused, quoted in the error" "" \
    failed_with "$rc" 'token "revoked-e2e-token" is revoked'

  had_file=no
  [ -f "$dir/record.json" ] && had_file=yes
  tf_ok "destroy" destroy -auto-approve -input=false
  tf state list
  rc=$?
  check "state is empty after destroy" "" test "$rc" = 0 -a ! -s "$dir/last.log"
  check "destroy removed output_file" "" test "$had_file" = yes -a ! -e "$dir/record.json"
}

# write_lock DIR HASH...: a lock file for the provider holding these hashes.
write_lock() {
  local hashes="" hash
  for hash in "${@:2}"; do hashes="$hashes    \"$hash\",\n"; done
  printf 'provider "%s" {\n  version     = "0.1.0"\n  constraints = "0.1.0"\n  hashes = [\n%b  ]\n}\n' \
    "$source_addr" "$hashes" >"$1/.terraform.lock.hcl"
}

# lock-file hashes
check_lock_hashes() {
  echo "# lock-file hashes"
  e2e_needs mirror_initialized
  export TF_CLI_CONFIG_FILE="$scratch/mirror.tfrc"

  dir="$scratch/zh-only"
  new_module "$dir"
  write_lock "$dir" "$zh"
  tf_ok "init -lockfile=readonly accepts a lock holding only the package's zh:" init -input=false -lockfile=readonly
  rm -rf "$dir/.terraform"
  tf_ok "init (writable) with a zh:-only lock" init -input=false
  check "terraform keeps zh: and adds the same h1:" "" \
    test -n "$h1" -a "$(lock_hashes "$dir" zh)" = "$zh" -a "$(lock_hashes "$dir" h1)" = "$h1"

  dir="$scratch/wrong-zh"
  new_module "$dir"
  write_lock "$dir" "zh:$(printf 'not the package' | sha256sum | cut -d' ' -f1)"
  tf init -input=false -lockfile=readonly
  rc=$?
  check "init rejects a package whose zh: is not in the lock file" "" \
    failed_with "$rc" "doesn't match any of the checksums previously recorded"

  # The unpacked layout a provider store would hold: h1: covers the files.
  unpacked="$scratch/unpacked/fleet.test/rules-fleet/fleettest/0.1.0/$platform"
  mkdir -p "$unpacked" && python3 -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip_path" "$unpacked"
  chmod 0755 "$unpacked/terraform-provider-fleettest_v0.1.0"
  dir="$scratch/plugin-dir"
  new_module "$dir"
  write_lock "$dir" "$h1"
  export TF_CLI_CONFIG_FILE="$scratch/empty.tfrc"
  echo 'disable_checkpoint = true' >"$TF_CLI_CONFIG_FILE"
  tf_ok "init -plugin-dir=<unpacked> -lockfile=readonly matches the h1: hash" \
    init -input=false -lockfile=readonly -plugin-dir="$scratch/unpacked"
  tf_ok "validate runs the provider installed from -plugin-dir" validate
}

# padded package
check_padded_package() {
  echo "# padded package"
  e2e_needs padded_packaged
  dir="$scratch/padded"
  new_module "$dir"
  cli_config "$scratch/padded.tfrc" "$scratch/mirror-padded"
  export TF_CLI_CONFIG_FILE="$scratch/padded.tfrc"
  tf_ok "init installs the padded package" init -input=false
  padded_h1="$(lock_hashes "$dir" h1)"
  installed="$dir/.terraform/providers/fleet.test/rules-fleet/fleettest/0.1.0/$platform"
  check "installed padded package holds the 100 MiB padding file" "" \
    test "$(stat -c %s "$installed/fleettest-padding.bin" 2>/dev/null)" = $((100 * 1024 * 1024))
  set_inputs padded one '{}'
  tf_ok "apply with the padded package" apply -auto-approve -input=false
  tf_ok "destroy with the padded package" destroy -auto-approve -input=false

  echo "# provider $source_addr 0.1.0 ($platform)"
  echo "package:        $zip_path"
  echo "package zh:     $zh"
  echo "padded package: $padded_zip ($padded_size bytes, --pad-mb 100)"
  echo "padded h1:      $padded_h1"
  echo "padded zh:      $padded_zh"
}

e2e_check packaging check_packaging
e2e_check lifecycle check_lifecycle
e2e_check lock-hashes check_lock_hashes
e2e_check padded-package check_padded_package
e2e_main "$@"
