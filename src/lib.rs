//! The `fleet` library: one module per concern.
//!
//! - [`lock`]: blocking kernel (flock) locks with deadlines and holder records.
//! - [`fsutil`]: atomic files, staging names, durability.
//! - [`hash`]: sha256, Terraform's `h1:` (Go dirhash Hash1) and `zh:` hashes.
//! - [`archive`]: validating tar / tar.gz / zip unpacking.
//! - [`store`]: the content-addressed store, stable links and garbage collection.
//! - [`tag`]: verification tags rewritten only when their content changes.
//! - [`manifest`]: the instance manifest written by the Starlark rules.
//! - [`cli`]: argument parsing and dispatch.

pub mod archive;
pub mod cli;
pub mod error;
pub mod fsutil;
pub mod hash;
pub mod lock;
pub mod manifest;
pub mod store;
pub mod tag;
