"""Providers of the variant-build rules: tools bundles and verification tags."""

FleetToolsInfo = provider(
    doc = "A tools bundle declared by `fleet_tools`, in the forms `variant_build` reads it.",
    fields = {
        "archive": "The bundle File (`.tar` or `.tar.gz`); `shared` mode extracts it into the machine-wide store.",
        "digest": "File holding the archive's sha256 (64 hex digits), computed once per build so `shared` mode does not hash it per variant.",
        "tree": "The bundle extracted by one hermetic action (a directory File); `tree` mode reads it.",
    },
)

FleetVerifyInfo = provider(
    doc = "Inputs checked by `fleet_verify` against a lock file, and the tag recording their digests.",
    fields = {
        "tag": "The tag File (`fleet tag write` format): same bytes for as long as the verified digests stay the same.",
        "lock": "The lock File the inputs were checked against.",
        "inputs": "List of `struct(key, file)`: each verified File and its name in the lock and the tag.",
    },
)
