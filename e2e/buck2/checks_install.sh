# shellcheck shell=bash
# Checks of e2e/buck2/run_tests.sh: taking rules_fleet into a Buck2 project as
# docs/install.md says (a copied directory, an external cell fetched with git), the
# helper built by cargo, and toolchains downloaded and verified. Sourced by run_tests.sh.

# docs_project DEST: the example of docs/install.md, as written, with what it leaves to
# the user: the prelude directory, the module, the terraform link.
docs_project() {
  local dest="$1"
  python3 "$here/docs_example.py" "$repo_root/docs/install.md" "$dest" >/dev/null || return 1
  mkdir -p "$dest/prelude"
  : >"$dest/prelude/prelude.bzl"
  cp "$repo_root/e2e/terraform/infra/elasticache/main.tf" "$dest/infra/cache/main.tf"
  ln -s "$terraform_bin" "$dest/toolchains/terraform"
  sed -i "s|version = \"1.11.4\"|version = \"$terraform_version\"|" "$dest/toolchains/BUCK"
}

# build_and_apply DIR NAME: builds //infra/... and applies the docs' fleet; passes NAME.
build_and_apply() {
  local dir="$1" name="$2" log="$logs/${2// /-}"
  if ! b2 "$dir" build //infra/... >"$log.build.log" 2>&1; then
    fail "$name" "build: $(grep -m3 -iE 'error|failed' "$log.build.log")"
    return 1
  fi
  if ! b2 "$dir" run //infra/cache:caches.apply >"$log.apply.log" 2>&1; then
    fail "$name" "apply: $(grep -m3 -iE 'error|failed' "$log.apply.log")"
    return 1
  fi
  local states
  states="$(find "$dir/.fleet/infra/cache" -name terraform.tfstate -not -path '*/.terraform-data/*' | wc -l)"
  check "$name" "2 instances built and applied, $states state files" [ "$states" -eq 2 ]
}

# The docs' example as written, rules_fleet copied to third_party/rules_fleet, and the
# helper from `fleet_toolchain(name = "fleet")`: in a checkout, cargo builds it.
check_docs_example() {
  local dir="$tmp/docs-copied"
  docs_project "$dir" || {
    fail "docs example" "no buck2-example blocks in docs/install.md"
    return
  }
  rm "$dir/.buckconfig.external"
  mkdir -p "$dir/third_party"
  cp -a "$rules_copy" "$dir/third_party/rules_fleet"
  # Kept between runs of this suite, so only the first one compiles everything.
  printf '\n[rules_fleet]\ncargo_target_dir = %s\n' "$repo_root/target/buck2-e2e-cargo" >>"$dir/.buckconfig"
  build_and_apply "$dir" "docs example (copied cell): the helper built by cargo, 2 instances built and applied" || return
  local built
  built="$(b2 "$dir" build toolchains//:fleet --show-full-output 2>/dev/null | awk '{ print $2 }')"
  check "the helper is the one cargo installed from the cell's sources" "$built" \
    [ "${built%/cargo-install/bin/fleet}" != "$built" -a -x "$built" ]
}

# The same example with the cell fetched by git from a commit of this checkout's snapshot.
check_external_cell() {
  local dir="$tmp/docs-external" origin="$tmp/rules_fleet.git" commit
  docs_project "$dir" || return
  mkdir -p "$origin"
  (cd "$origin" && git init -q && cp -a "$rules_copy/." . && git add -A &&
    git -c user.name=e2e -c user.email=e2e@localhost commit -qm snapshot) || {
    fail "external cell" "could not make a git repository of the snapshot"
    return
  }
  commit="$(git -C "$origin" rev-parse HEAD)"
  sed -e "s|https://github.com/OWNER/rules_fleet|file://$origin|" \
    -e "s|0000000000000000000000000000000000000000|$commit|" "$dir/.buckconfig.external" >>"$dir/.buckconfig"
  rm "$dir/.buckconfig.external"
  mkdir -p "$dir/third_party" # the docs ask for it: Buck2 lists the parent of a cell's path
  # The helper under test rather than a second cargo build (docs-example builds one).
  ln -s "$helper" "$dir/toolchains/fleet"
  sed -i 's|fleet_toolchain(name = "fleet")|fleet_toolchain(name = "fleet", fleet = "fleet")|' "$dir/toolchains/BUCK"
  build_and_apply "$dir" "docs example (external cell, git): 2 instances built and applied"
  check "the external cell is not in the project: Buck2 fetched it" "" [ ! -e "$dir/third_party/rules_fleet" -a -d "$dir/buck-out/v2/external_cells/git" ]
}

# serve DIR: an HTTP server on 127.0.0.1 for DIR; sets serve_url (killed on exit).
serve() {
  python3 -u -m http.server --bind 127.0.0.1 --directory "$1" 0 >"$tmp/http.log" 2>&1 &
  local pid=$! deadline=$((SECONDS + 30)) port=""
  e2e_at_exit kill "$pid"
  until [[ -n "$port" ]] || ((SECONDS > deadline)); do
    port="$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$tmp/http.log" | head -1)"
    [[ -n "$port" ]] || sleep 0.1
  done
  serve_url="http://127.0.0.1:$port"
}

# Toolchains from release URLs: the terraform zip and the helper, checked by sha256.
check_downloaded_toolchains() {
  local dist="$tmp/dist" dir="$tmp/download" zip tf_sha helper_sha
  mkdir -p "$dist"
  zip="terraform_${terraform_version}_linux_amd64.zip"
  zip -qj "$dist/$zip" "$terraform_bin"
  cp "$helper" "$dist/fleet"
  tf_sha="$(sha256sum "$dist/$zip" | cut -d' ' -f1)"
  helper_sha="$(sha256sum "$dist/fleet" | cut -d' ' -f1)"
  serve "$dist"
  docs_project "$dir" || return
  rm "$dir/.buckconfig.external" "$dir/toolchains/terraform"
  mkdir -p "$dir/third_party"
  cp -a "$rules_copy" "$dir/third_party/rules_fleet"
  write_toolchains() { # TERRAFORM_SHA256
    cat >"$dir/toolchains/BUCK" <<EOF
load("@rules_fleet//rules/buck2:defs.bzl", "fleet_toolchain", "terraform_toolchain")

terraform_toolchain(
    name = "terraform",
    sha256 = "$1",
    url = "$serve_url/$zip",
    version = "$terraform_version",
    visibility = ["PUBLIC"],
)

fleet_toolchain(
    name = "fleet",
    sha256 = "$helper_sha",
    url = "$serve_url/fleet",
)
EOF
  }
  write_toolchains "$tf_sha"
  build_and_apply "$dir" "downloaded terraform zip and helper (http, sha256): 2 instances built and applied" || return
  local manifest
  manifest="$(b2_out "$dir" '//infra/cache:caches[manifest]')"
  check "a downloaded terraform is named ../terraform/terraform in manifests, as Bazel's downloaded toolchain" "" \
    grep -q '"terraform":"../terraform/terraform"' "$manifest"
  # A release of rules_fleet: release_info.bzl names its prebuilt helper for the host, which
  # `fleet_toolchain(name = "fleet")` downloads instead of building with cargo.
  printf 'RELEASE_VERSION = "0.0.0-e2e"\nPREBUILT_HELPERS = {"linux-x86_64": {"urls": ["%s"], "sha256": "%s"}}\n' \
    "$serve_url/fleet" "$helper_sha" >"$dir/third_party/rules_fleet/rules/private/release_info.bzl"
  sed -i '/^fleet_toolchain(/,$d' "$dir/toolchains/BUCK"
  echo 'fleet_toolchain(name = "fleet")' >>"$dir/toolchains/BUCK"
  local from_release same=no
  from_release="$(b2 "$dir" build toolchains//:fleet --show-full-output 2>"$logs/release-helper.log" | awk '{ print $2 }')"
  cmp -s "$from_release" "$helper" && same=yes
  check "in a release, fleet_toolchain() downloads the release's prebuilt helper for the host" \
    "${from_release#"$dir/"}, the release's bytes: $same" [ "${from_release%/__fleet__/fleet}" != "$from_release" -a "$same" = yes ]
  write_toolchains "0000000000000000000000000000000000000000000000000000000000000000"
  if b2 "$dir" build //infra/... >"$logs/badsha.log" 2>&1; then
    fail "a wrong sha256 fails the terraform download" "the build succeeded"
  else
    check "a wrong sha256 fails the terraform download" "" \
      grep -q "Invalid sha256 digest. Expected 0000000000000000000000000000000000000000000000000000000000000000" "$logs/badsha.log"
  fi
}

e2e_check docs-example check_docs_example
e2e_check external-cell check_external_cell
e2e_check downloaded-toolchains check_downloaded_toolchains
