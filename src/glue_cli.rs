//! The build-action subcommands (issue 11): interim wiring until `src/cmd/` lands.

#[path = "cmd/lock_file.rs"]
pub mod lock_file;
#[path = "cmd/provider_package.rs"]
pub mod provider_package;
#[path = "cmd/render.rs"]
pub mod render;
#[path = "cmd/tag_verify.rs"]
pub mod tag_verify;
#[path = "cmd/variant_build.rs"]
pub mod variant_build;
