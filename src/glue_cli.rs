//! The build-action subcommands (issue 11): interim wiring until `src/cmd/` lands.

#[path = "cmd/lock_file.rs"]
pub mod lock_file;
#[path = "cmd/provider_package.rs"]
pub mod provider_package;
#[path = "cmd/render.rs"]
pub mod render;
