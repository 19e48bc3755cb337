#!/usr/bin/env bash
# The project's build tool, modelled on twoliter: it insists on finding its tools in
# <project>/build/tools and a verification tag in <project>/build/external-kits/.sdk-verified.
#
#   buildsys.sh build --project DIR --variant NAME --version V [--arch A] --out FILE
#                     [--install naive --bundle TOOLS.tar]
# --arch defaults to $BUILDSYS_ARCH.
#
# With `--install naive` it does what such tools do on every run: re-verify the SDK and
# rewrite the tag in place, remove the tools directory and unpack the bundle again. Run
# for several variants at once in one project, those runs tear each other apart; that is
# the failure rules_fleet exists to end. Without it, something else must have put the
# tools and the tag in place, and the tool insists on running under variant_build
# ($FLEET_VARIANT and $FLEET_TOOLS_DIR naming its variant and its tools).
set -euo pipefail

die() {
  echo "buildsys: $*" >&2
  exit 1
}

[[ "${1:-}" == build ]] || die "usage: buildsys.sh build --project DIR --variant NAME --version V [--arch A] --out FILE [--install naive --bundle TAR]"
shift
project="" variant="" version="" arch="${BUILDSYS_ARCH:-}" out="" install="" bundle=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --project) project="$2" ;;
    --variant) variant="$2" ;;
    --version) version="$2" ;;
    --arch) arch="$2" ;;
    --out) out="$2" ;;
    --install) install="$2" ;;
    --bundle) bundle="$2" ;;
    *) die "unknown option $1" ;;
  esac
  shift 2
done
[[ -n "$arch" ]] || die "no --arch and no BUILDSYS_ARCH"
[[ -f "$project/Buildsys.toml" ]] || die "$project is not a buildsys project (no Buildsys.toml)"
tools="$project/build/tools"
tag="$project/build/external-kits/.sdk-verified"

# sdk_digests: `sdk/<file> <sha256>` for every SDK file, sorted.
sdk_digests() {
  (cd "$project" && sha256sum -- sdk/*) | awk '{ print $2, $1 }' | sort
}

if [[ "$install" == naive ]]; then
  [[ -f "$bundle" ]] || die "--install naive needs --bundle TOOLS.tar"
  # Rewrites the tag in place on every run, whether or not anything changed.
  mkdir -p "$(dirname "$tag")"
  rm -f "$tag"
  echo '{' >>"$tag"
  echo '  "inputs": {' >>"$tag"
  while read -r name digest; do
    echo "    \"$name\": \"sha256:$digest\"," >>"$tag"
  done < <(sdk_digests)
  echo '  }' >>"$tag"
  echo '}' >>"$tag"
  # Removes and re-unpacks the tools, whoever else is using them.
  rm -rf "$tools"
  mkdir -p "$tools"
  tar -xf "$bundle" -C "$tools"
elif [[ -n "$install" ]]; then
  die "unknown --install $install (naive, or omit it)"
else
  [[ "${FLEET_VARIANT:-}" == "$variant" ]] || die "FLEET_VARIANT='${FLEET_VARIANT:-}' but --variant $variant"
  [[ -n "${FLEET_TOOLS_DIR:-}" && "$FLEET_TOOLS_DIR" -ef "$tools" ]] || die "FLEET_TOOLS_DIR='${FLEET_TOOLS_DIR:-}' is not $tools"
fi

[[ -x "$tools/bin/buildsys-make" ]] || die "tools are not installed in $tools"
[[ -f "$tag" ]] || die "SDK not verified: $tag is missing"
while read -r name digest; do
  grep -q "\"$name\": \"sha256:$digest\"" "$tag" || die "SDK not verified: $tag does not record $name as sha256:$digest"
done < <(sdk_digests)

"$tools/bin/buildsys-make" --project "$project" --variant "$variant" --version "$version" --arch "$arch" --out "$out"
