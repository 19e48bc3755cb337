#!/usr/bin/env bash
# Smoke test of a release, as a user gets it: tools/release builds the release
# (twice: both must be byte-identical), then a workspace outside the checkout
# (a temp copy of e2e/smoke/workspace) takes rules_fleet through http_archive
# of its file:// URL and sha256, and the helper through the release's own
# file:// URL and digest, with no cargo, no rustc and no checkout on PATH. It
# builds two instances and applies them with `bazel run`. Wrong digests must
# fail with Bazel's checksum error. First, the CI / BCR files are checked. Then: the
# Linux helper needs glibc 2.17 at most (and one needing more is refused); the BCR entry
# validates against the registry's schemas (and broken ones do not); docs/install.md shows
# tools/release's snippets per Bazel version; the BCR test module builds from the archive.
#
#   e2e/smoke/run_tests.sh
#   e2e/smoke/run_tests.sh NAME...   # only the named checks (--list prints them)
#
# Prints one line per check and, last, `smoke: N passed, N failed`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=e2e/lib.sh
source "$here/../lib.sh"
e2e_suite smoke
version="0.0.0-smoke"
terraform_bin="${TERRAFORM_BIN:-$(command -v terraform || true)}"

# The user's world: its own HOME (no ~/.cargo, its own Bazel output root) and
# a PATH of system directories plus terraform, without cargo or the checkout.
as_user() {
  env -u CARGO -u CARGO_HOME -u RUSTUP_HOME -u FLEET_HELPER -u RUSTC HOME="$tmp/home" PATH="$user_path" "$@"
}
# bz DIR COMMAND ARGS... (lib.sh) runs bazel as the user; the rules fetch the
# release's own helper.
e2e_bazel_runner=(as_user)
e2e_pass_helper=0

suite_setup() {
  if [[ -z "$terraform_bin" ]]; then
    fail "terraform" "terraform is not on PATH"
    finish
  fi
  e2e_tmp e2e-smoke
  dist="$tmp/dist"
  mkdir -p "$tmp/home" "$tmp/bin"
  ln -s "$terraform_bin" "$tmp/bin/terraform"
  user_path="$tmp/bin:/usr/bin:/bin"
}

check_ci_files() {
  if python3 "$here/check_ci_files.py" "$repo_root" >"$logs/ci-files.log" 2>&1; then
    pass "CI and BCR files parse; every command and directory they name exists; Bazel 7/8 jobs, publish-to-bcr"
  else
    fail "CI and BCR files" "$(cat "$logs/ci-files.log")"
  fi
  # The checker must catch a broken file: a copy with a missing script, an
  # unknown tools/release option and a BCR template that is not JSON.
  local broken="$tmp/broken-ci"
  mkdir -p "$broken/tools"
  cp -r "$repo_root/.github" "$repo_root/.bcr" "$broken/"
  cp -p "$repo_root/tools/release" "$repo_root/tools/BUILD.bazel" "$broken/tools/"
  printf '      - run: ./tools/no-such-script && tools/release 1.0.0 --no-such-option\n' >>"$broken/.github/workflows/ci.yml"
  echo '{"url": ' >"$broken/.bcr/source.template.json"
  mkdir -p "$broken/e2e/old"
  printf 'sh_binary(\n    name = "hook",\n    srcs = ["hook.sh"],\n)\n' >"$broken/e2e/old/BUILD.bazel"
  python3 "$here/check_ci_files.py" "$broken" >"$logs/broken-ci.log" 2>&1
  if grep -q "tools/no-such-script" "$logs/broken-ci.log" && grep -q "no option --no-such-option" "$logs/broken-ci.log" &&
    grep -q "source.template.json" "$logs/broken-ci.log" && grep -q "e2e/old/BUILD.bazel: uses the native sh_binary" "$logs/broken-ci.log"; then
    pass "the CI file check refuses a missing script, an unknown option, bad JSON and a native sh_binary"
  else
    fail "the CI file check refuses broken files" "$(cat "$logs/broken-ci.log")"
  fi
}

tools_dir="${RULES_FLEET_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/rules_fleet/tools}"
maintainer="smoke-maintainer"

# release DIR [ENV...]: tools/release into DIR, its URLs pointing at $dist, with a maintainer.
release() {
  local dir="$1"
  shift
  env "$@" "$repo_root/tools/release" "$version" --out "$dir" --base-url "file://$dist" --maintainer "$maintainer" \
    >"$logs/release-${dir##*/}.log" 2>&1
}

# Setup of every check using the release: tools/release into $dist (status in release_status).
# The helper (cargo, linked by zig) is cached by the digest of its sources and tools; the second
# release in check_release builds it again, uncached, to prove the build reproducible.
released() {
  release_status=0
  release "$dist" FLEET_RELEASE_CACHE="$tools_dir/release-cache" || release_status=$?
}

check_release() {
  e2e_needs released
  if [[ $release_status -ne 0 ]]; then
    fail "tools/release" "$(tail -5 "$logs/release-dist.log")"
    finish
  fi
  pass "tools/release $version builds $(cd "$dist" && echo *)"
  local host
  host="$(uname -s | tr 'A-Z' 'a-z')-$(uname -m)"
  check "fleet --version of the released helper is $version" "" \
    grep -qx "fleet $version" <(as_user "$dist/fleet-$version-$host" --version)
  tar -tzf "$dist/rules_fleet-$version.tar.gz" >"$logs/archive.txt"
  if grep -E "^rules_fleet-$version/(tests|e2e|bench|\.github|tools/(test|demo|release|bcr))(/|$)" "$logs/archive.txt" |
    grep -vE "^rules_fleet-$version/e2e/(bcr_test_module/.*)?$" >"$logs/archive-extra.txt"; then
    fail "the archive holds no tests, e2e, bench or development scripts" "$(head -3 "$logs/archive-extra.txt")"
  else
    pass "the archive holds no tests, e2e (but the BCR test module), bench or development scripts"
  fi
  check "the archive holds the BCR test module (.bcr/presubmit.yml builds it)" "" \
    grep -qx "rules_fleet-$version/e2e/bcr_test_module/MODULE.bazel" "$logs/archive.txt"
  if ! release "$tmp/dist-again"; then
    fail "tools/release, second time" "$(tail -5 "$logs/release-dist-again.log")"
    return
  fi
  (cd "$dist" && find . -type f | LC_ALL=C sort | xargs sha256sum) >"$logs/sums-1.txt"
  (cd "$tmp/dist-again" && find . -type f | LC_ALL=C sort | xargs sha256sum) >"$logs/sums-2.txt"
  if diff -u "$logs/sums-1.txt" "$logs/sums-2.txt" >"$logs/sums.diff"; then
    pass "two releases of one commit are byte-identical ($(wc -l <"$logs/sums-1.txt") files)"
  else
    fail "two releases of one commit are byte-identical" "$(cat "$logs/sums.diff")"
  fi
  # What release.yml's publish job does: the archive from helpers built elsewhere.
  # Without --maintainer (nor GITHUB_REPOSITORY_OWNER) it writes no BCR entry: none is invented.
  if env -u GITHUB_REPOSITORY_OWNER "$repo_root/tools/release" "$version" --out "$tmp/dist-prebuilt" --base-url "file://$dist" --prebuilt "$dist" \
    >"$logs/release-prebuilt.log" 2>&1 && cmp -s "$dist/SHA256SUMS" "$tmp/dist-prebuilt/SHA256SUMS"; then
    pass "tools/release --prebuilt DIR makes the same archive from those helpers"
  else
    fail "tools/release --prebuilt DIR makes the same archive" "$(tail -3 "$logs/release-prebuilt.log")"
  fi
  if [[ ! -e "$tmp/dist-prebuilt/bcr" ]] && grep -q "no BCR entry: no maintainer" "$logs/release-prebuilt.log"; then
    pass "without a maintainer no BCR entry is written (none is invented)"
  else
    fail "without a maintainer no BCR entry is written" "$(ls "$tmp/dist-prebuilt")"
  fi
}

# The highest GLIBC_ symbol version a binary needs, read here independently of tools/release.
glibc_of() {
  objdump -T "$1" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/^GLIBC_//' | sort -V | tail -1
}

check_glibc() {
  e2e_needs released
  local helper_file need newer="$tmp/newer-glibc"
  helper_file="$(echo "$dist"/fleet-"$version"-linux-*)"
  if [[ ! -f "$helper_file" ]]; then
    fail "the Linux helper needs glibc 2.17 at most" "no Linux helper in $dist"
    return
  fi
  need="$(glibc_of "$helper_file")"
  if [[ -n "$need" && "$(printf '%s\n2.17\n' "$need" | sort -V | tail -1)" == 2.17 ]]; then
    pass "the released Linux helper needs glibc $need at most (objdump -T): it runs on glibc 2.17+"
  else
    fail "the released Linux helper needs glibc 2.17 at most" "it needs GLIBC_$need"
  fi
  check "tools/release checked it" "" grep -q "needs glibc $need, at most 2.17" "$logs/release-dist.log"
  # A helper linked against this machine's glibc (a plain cargo build would be) is refused.
  mkdir -p "$newer"
  cp "$(command -v env)" "$newer/fleet-$version-linux-x86_64"
  need="$(glibc_of "$newer/fleet-$version-linux-x86_64")"
  if "$repo_root/tools/release" "$version" --out "$tmp/dist-newer" --base-url "file://$dist" --prebuilt "$newer" \
    >"$logs/release-newer.log" 2>&1; then
    fail "a Linux helper needing glibc $need is refused" "tools/release succeeded"
  else
    check "a Linux helper needing glibc $need is refused, naming the version" "" \
      grep -q "fleet-$version-linux-x86_64 needs glibc $need" "$logs/release-newer.log"
  fi
}

# The BCR entry: valid against the registry's schemas; a broken one is refused.
check_bcr() {
  e2e_needs released
  local python=python3 entry="$dist/bcr/modules/rules_fleet"
  [[ -x "$tools_dir/venv/bin/python3" ]] && python="$tools_dir/venv/bin/python3"
  check "tools/release --maintainer wrote a BCR entry that validates" "" "$python" "$repo_root/tools/bcr" validate "$dist/bcr"
  check "its maintainer is the one given" "" grep -q "\"github\": \"$maintainer\"" "$entry/metadata.json"
  local broken="$tmp/bcr-broken"
  cp -r "$dist/bcr" "$broken"
  "$python" - "$broken/modules/rules_fleet/metadata.json" <<'PY'
import json, sys
path = sys.argv[1]
metadata = json.load(open(path))
metadata["maintainers"] = []
json.dump(metadata, open(path, "w"))
PY
  if "$python" "$repo_root/tools/bcr" validate "$broken" >"$logs/bcr-broken.log" 2>&1; then
    fail "an entry without maintainers is refused" "it validated"
  else
    check "an entry without maintainers is refused (the registry's schema)" "" grep -q "maintainers.*should be non-empty\|maintainers.*is too short" "$logs/bcr-broken.log"
  fi
  rm -rf "$broken" && cp -r "$dist/bcr" "$broken"
  sed -i 's|"url": "https://github.com/[^/]*/|"url": "https://github.com/{OWNER}/|' "$broken/modules/rules_fleet/$version/source.json"
  if "$python" "$repo_root/tools/bcr" validate "$broken" >"$logs/bcr-placeholder.log" 2>&1; then
    fail "an entry with a placeholder left is refused" "it validated"
  else
    check "an entry with a placeholder left is refused" "" grep -q "placeholders left: {OWNER}" "$logs/bcr-placeholder.log"
  fi
  # The templates as publish.yaml fills them (the repository's own, untouched here).
  local templates="$tmp/bcr-templates"
  cp -r "$repo_root/.bcr" "$templates"
  if "$python" "$repo_root/tools/bcr" validate-template "$templates" >"$logs/bcr-unfilled.log" 2>&1; then
    fail "the unfilled metadata template is refused" "it validated"
  else
    pass "the unfilled metadata template is refused ($(grep -m1 -o 'placeholders left: .*' "$logs/bcr-unfilled.log"))"
  fi
  if "$python" "$repo_root/tools/bcr" fill-templates --maintainer "$maintainer" --repository owner/rules_fleet --dir "$templates" \
    >"$logs/bcr-fill.log" 2>&1; then
    pass "the templates, filled as publish.yaml does, validate"
  else
    fail "the templates, filled as publish.yaml does, validate" "$(cat "$logs/bcr-fill.log")"
  fi
}

# docs/install.md shows, per Bazel version, exactly the snippets tools/release wrote.
check_install_docs() {
  e2e_needs released
  if python3 "$here/check_install_docs.py" "$repo_root/docs/install.md" "$dist" "$version" "file://$dist" >"$logs/install-docs.log" 2>&1; then
    pass "docs/install.md and the release notes hold tools/release's snippets, per Bazel version"
  else
    fail "docs/install.md and the release notes hold tools/release's snippets" "$(head -5 "$logs/install-docs.log")"
  fi
  # A docs block that drifted from tools/release (here: the Bazel 8 .bazelrc) is caught.
  sed 's/^common --noenable_bzlmod$/common --enable_bzlmod/' "$repo_root/docs/install.md" >"$tmp/install-drifted.md"
  if python3 "$here/check_install_docs.py" "$tmp/install-drifted.md" "$dist" "$version" "file://$dist" >"$logs/install-drifted.log" 2>&1; then
    fail "a docs snippet that differs from tools/release's is caught" "the check passed"
  else
    check "a docs snippet that differs from tools/release's is caught" "" \
      grep -q "Bazel 8: the bazelrc.bazel8-workspace.snippet block differs" "$logs/install-drifted.log"
  fi
}

# The BCR test module, from the archive, as the registry builds it (WORKSPACE mode here):
# the helper runs, and toolchains registered behind missing URLs are never fetched.
check_bcr_test_module() {
  e2e_needs released
  local unpacked="$tmp/archive-unpacked" ws base
  mkdir -p "$unpacked"
  tar -C "$unpacked" -xzf "$dist/rules_fleet-$version.tar.gz"
  ws="$unpacked/rules_fleet-$version/e2e/bcr_test_module"
  if ! bz "$ws" build //... >"$logs/bcr-test-module.log" 2>&1; then
    fail "the BCR test module builds from the archive" "$(grep -m5 -E 'ERROR|rror' "$logs/bcr-test-module.log")"
    return
  fi
  pass "the BCR test module builds from the archive (//...: fleet_verify runs the release's helper)"
  base="$(bz "$ws" info output_base 2>/dev/null)"
  if ls "$base/external" | grep -E '^(fleet_helper_gpu_pool|terraform_gpu_pool)$' >"$logs/bcr-test-module-fetched.txt"; then
    fail "its gpu_pool helper and terraform (missing URLs) were never fetched" "$(cat "$logs/bcr-test-module-fetched.txt")"
  else
    pass "its gpu_pool helper and terraform (missing URLs) were never fetched"
  fi
  bz "$ws" shutdown >/dev/null 2>&1
}

# new_workspace NAME: a copy of the smoke workspace with the release's
# WORKSPACE snippet in place of the marker line.
new_workspace() {
  local ws="$tmp/$1"
  cp -r "$here/workspace" "$ws"
  awk -v snippet="$dist/WORKSPACE.snippet" '
    /^# RULES_FLEET_RELEASE_SNIPPET$/ { while ((getline line < snippet) > 0) print line; next }
    { print }' "$here/workspace/WORKSPACE" >"$ws/WORKSPACE"
  echo "$ws"
}

check_user_world() {
  if as_user bash -c 'command -v cargo || command -v rustc' >/dev/null; then
    fail "the user's PATH has no cargo or rustc" "$(as_user bash -c 'command -v cargo rustc')"
  elif [[ ":$user_path:" == *":$repo_root"* ]]; then
    fail "the user's PATH has no checkout directory" "$user_path"
  else
    pass "the user's PATH ($user_path) has no cargo, no rustc, no checkout"
  fi
}

check_apply() { # WS INSTANCE: .apply records the instance in its own state
  local ws="$1" name="$2" state="$1/.fleet/infra/$2/terraform.tfstate"
  if ! bz "$ws" run "//infra:$name.apply" -- -auto-approve -no-color >"$logs/apply-$name.log" 2>&1; then
    fail "bazel run //infra:$name.apply" "$(grep -m3 -E 'ERROR|Error' "$logs/apply-$name.log")"
  elif grep -q "\"smoke-$name\"" "$state" 2>/dev/null; then
    pass "bazel run //infra:$name.apply applies; its state holds smoke-$name"
  else
    fail "bazel run //infra:$name.apply" "no smoke-$name in $state"
  fi
}

check_consumer() {
  e2e_needs released
  local ws
  ws="$(new_workspace ws)"
  check_user_world
  if bz "$ws" build //infra:all >"$logs/build.log" 2>&1; then
    pass "bazel build //infra:all (two instances) from the release archive"
  else
    fail "bazel build //infra:all from the release archive" "$(grep -m5 -E 'ERROR|rror' "$logs/build.log")"
    return
  fi
  check "@rules_fleet//tools:fleet is the release's prebuilt helper ($version)" "" \
    grep -qx "fleet $version" <(bz "$ws" run @rules_fleet//tools:fleet -- --version 2>"$logs/version.log")
  # Every target the archive's BUILD files declare exists in it (exported files too).
  if bz "$ws" build '@rules_fleet//:*' '@rules_fleet//tools:*' '@rules_fleet//rules:*' >"$logs/all-targets.log" 2>&1; then
    pass "every target of @rules_fleet//, //tools and //rules builds from the archive"
  else
    fail "every target of @rules_fleet//, //tools and //rules builds from the archive" "$(grep -m3 ERROR "$logs/all-targets.log")"
  fi
  check_apply "$ws" alpha
  check_apply "$ws" beta
  # Building from source is used only when asked, and then needs cargo, which the user lacks.
  if bz "$ws" build --repo_env=FLEET_HELPER_FROM_SOURCE=1 //infra:all >"$logs/from-source.log" 2>&1; then
    fail "FLEET_HELPER_FROM_SOURCE=1 builds the helper with cargo" "the build succeeded without cargo"
  else
    check "FLEET_HELPER_FROM_SOURCE=1 asks for a cargo build (none on PATH: refused)" "" \
      grep -q "no cargo on PATH" "$logs/from-source.log"
  fi
  bz "$ws" shutdown >/dev/null 2>&1
}

# expect_checksum_error NAME WS: building fails with Bazel's checksum error.
expect_checksum_error() {
  local name="$1" ws="$2" log="$logs/$1.log"
  if bz "$ws" build "--repository_cache=$tmp/repository-cache-$1" //infra:all >"$log" 2>&1; then
    fail "$name" "the build succeeded"
  elif grep -q "Checksum was" "$log"; then
    pass "$name: $(grep -m1 -o 'Checksum was [0-9a-f]* but wanted [0-9a-f]*' "$log" | cut -c1-60)..."
  else
    fail "$name" "no checksum error: $(grep -m3 -E 'ERROR' "$log")"
  fi
  bz "$ws" shutdown >/dev/null 2>&1
}

check_wrong_digests() {
  e2e_needs released
  local ws right wrong
  ws="$(new_workspace ws-wrong-archive-digest)"
  right="$(sha256sum "$dist/rules_fleet-$version.tar.gz" | cut -d' ' -f1)"
  wrong="$(printf '%s' "$right" | sha256sum | cut -d' ' -f1)"
  sed -i "s/$right/$wrong/" "$ws/WORKSPACE"
  expect_checksum_error "a wrong archive sha256 fails" "$ws"
  # The helper's digest is baked into the archive: a tampered binary at its URL must not run.
  ws="$(new_workspace ws-tampered-helper)"
  printf 'tampered' >>"$(echo "$dist"/fleet-"$version"-*)"
  expect_checksum_error "a tampered helper binary fails" "$ws"
}

# A release without a helper for this host (as if built for other platforms
# only): the build fails naming the host and the ways out, and builds nothing.
check_no_prebuilt_for_host() {
  e2e_needs released
  local ws unpacked="$tmp/other-platforms" archive="$tmp/other-platforms.tar.gz" sha
  mkdir -p "$unpacked"
  tar -C "$unpacked" -xzf "$dist/rules_fleet-$version.tar.gz"
  sed -i -E 's/"(linux|macos)-[a-z0-9_]+":/"plan9-mips":/' "$unpacked/rules_fleet-$version/rules/private/release_info.bzl"
  tar -C "$unpacked" -czf "$archive" "rules_fleet-$version"
  sha="$(sha256sum "$archive" | cut -d' ' -f1)"
  ws="$(new_workspace ws-no-prebuilt-for-host)"
  sed -i -E "s|^    sha256 = \"[0-9a-f]{64}\"|    sha256 = \"$sha\"|; s|file://$dist/rules_fleet-$version.tar.gz|file://$archive|" "$ws/WORKSPACE"
  if bz "$ws" build //infra:all >"$logs/no-prebuilt.log" 2>&1; then
    fail "a release without a helper for this host is refused" "the build succeeded"
  else
    check "a release without a helper for this host is refused, naming FLEET_HELPER_FROM_SOURCE and FLEET_HELPER" "" \
      grep -q "has no prebuilt helper for .*(it has: plan9-mips).*FLEET_HELPER_FROM_SOURCE=1.*FLEET_HELPER=" "$logs/no-prebuilt.log"
  fi
  bz "$ws" shutdown >/dev/null 2>&1
}

e2e_check ci-files check_ci_files
e2e_check release check_release
e2e_check glibc check_glibc
e2e_check bcr check_bcr
e2e_check install-docs check_install_docs
e2e_check bcr-test-module check_bcr_test_module
e2e_check consumer check_consumer
e2e_check no-prebuilt-for-host check_no_prebuilt_for_host
e2e_check wrong-digests check_wrong_digests
e2e_main "$@"
