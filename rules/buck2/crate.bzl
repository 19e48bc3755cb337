"""fleet_crate: the `fleet` crate's sources, for `fleet_toolchain(from_source = True)`."""

def _fleet_crate_impl(ctx):
    return [DefaultInfo(default_outputs = [ctx.attrs.manifest, ctx.attrs.lock] + ctx.attrs.srcs)]

fleet_crate = rule(
    impl = _fleet_crate_impl,
    doc = "The files `cargo install` of the `fleet` helper reads; Cargo.toml comes first in its outputs.",
    attrs = {
        "lock": attrs.source(doc = "The crate's Cargo.lock (builds are `--locked`)."),
        "manifest": attrs.source(doc = "The crate's Cargo.toml."),
        "srcs": attrs.list(attrs.source(), default = [], doc = "Every other file cargo reads (src/**)."),
    },
)
