//! The `fleet` library: one module per concern.
//!
//! - [`lock`]: blocking kernel (flock) locks with deadlines and holder records.
//! - [`fsutil`]: atomic files, staging names, durability.
//! - [`hash`]: sha256, Terraform's `h1:` (Go dirhash Hash1) and `zh:` hashes.
//! - [`archive`]: validating tar / tar.gz / zip unpacking.
//! - [`store`]: the content-addressed store, stable links and garbage collection.
//! - [`tag`]: verification tags rewritten only when their content changes.
//! - [`private_dir`]: fresh per-run directories for a build tool's own state.
//! - [`manifest`]: the instance manifest written by the Starlark rules.
//! - [`module_files`]: reading a Terraform module's `.tf` / `.tf.json` files.
//! - [`plugin_dir`]: Terraform provider packages from the store as a read-only plugin dir.
//! - [`process`]: child processes that never outlive an interrupted run.
//! - [`tf`] and [`run`]: running one instance, and a whole fleet.
//! - [`check`]: the build-time check of an instance (mock-provider plan).
//! - [`cmd`]: the command-line layer: one file per subcommand (clap lives only here).

pub mod archive;
pub mod check;
pub mod cmd;
pub mod error;
pub mod fsutil;
pub mod hash;
pub mod lock;
pub mod manifest;
pub mod module_files;
pub mod plugin_dir;
pub mod private_dir;
pub mod process;
pub mod run;
pub mod store;
pub mod tag;
pub mod tf;
