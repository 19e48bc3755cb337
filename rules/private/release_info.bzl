"""The release this copy of rules_fleet belongs to, and its prebuilt helpers.

A plain checkout is no release: both values stay empty and the helper comes from
`--repo_env=FLEET_HELPER` or a cargo build, as before. `tools/release` rewrites
this file in the archive it stages (never in the checkout) with the release's
version and the URL and sha256 of each prebuilt `fleet` binary.
"""

# The released version (e.g. "1.2.0"); "" in a plain checkout.
RELEASE_VERSION = ""

# The release suffix "<os>-<arch>" of a host (e.g. "linux-x86_64", a file name suffix, no
# platform key: docs/glossary.md) → {"urls": [...], "sha256": "..."}
# of the prebuilt `fleet` for it.
PREBUILT_HELPERS = {}
