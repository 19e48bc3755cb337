//! The `fleet` library: one module per concern.
//!
//! - [`lock`]: blocking kernel (flock) locks with deadlines and holder records.
//! - [`fsutil`]: atomic files, staging names, durability.
//! - [`hash`]: sha256, Terraform's `h1:` (Go dirhash Hash1) and `zh:` hashes.
//! - [`archive`]: validating tar / tar.gz / zip unpacking.
//! - [`store`]: the content-addressed store, stable links and garbage collection.
//! - [`tag`]: verification tags rewritten only when their content changes.
//! - [`private_dir`]: fresh per-run directories for a build tool's own state.
//! - [`manifest`]: the instance manifest written by the Starlark rules;
//!   [`label`]: the labels in it, read the same whichever Bazel wrote them.
//! - [`module_files`]: reading a Terraform module's `.tf` / `.tf.json` files.
//! - [`plugin_dir`]: Terraform provider packages from the store as a read-only plugin dir
//!   (and the one builder of that layout, [`plugin_dir::Slot`]).
//! - [`process`]: child processes that never outlive an interrupted run.
//! - [`redact`]: secret values hidden in everything fleet captures of terraform.
//! - [`tf`] and [`run`]: running one instance, and a whole fleet.
//! - [`backend`]: what fleet knows of a Terraform backend: first-use races,
//!   state-lock timeouts and their holders (a small PostgreSQL client for `pg`).
//! - [`retry`]: retries of terraform steps that failed transiently (patterns, backoff, records).
//! - [`schedule`]: the rules deciding what a fleet run starts next (groups, limits, exclusive).
//! - [`identity`]: instance identities (what decides a plan) and manifest stamping.
//! - [`check`]: the build-time check of an instance (mock-provider plan).
//! - [`tf_env`]: the one environment policy of every terraform fleet starts;
//!   [`go_runtime`]: the Go GC settings it gets.
//! - [`lock_file`]: the one reader (and `zh:` writer) of `.terraform.lock.hcl`;
//!   `<component>.lock` and `.lock_test`.
//! - [`provider_package`], [`render`], [`keyed_tag`], [`variant_action`]: the
//!   work of the rules' build actions (`tf_provider`, `tf_instance`,
//!   `fleet_verify`, `variant_build`).
//! - [`scratch_dir`]: private temporary directories removed on drop.
//! - [`cmd`]: the command-line layer: one file per subcommand (clap lives only here).

pub mod account;
pub mod affected;
pub mod archive;
pub mod backend;
pub mod check;
pub mod cmd;
pub mod error;
pub mod fsutil;
pub mod go_runtime;
pub mod hash;
pub mod identity;
pub mod keyed_tag;
pub mod label;
pub mod lock;
pub mod lock_file;
pub mod locked_command;
pub mod manifest;
pub mod module_files;
pub mod plan_set;
pub mod plugin_dir;
pub mod private_dir;
pub mod process;
pub mod provider_package;
pub mod redact;
pub mod render;
pub mod report;
pub mod retry;
pub mod run;
pub mod schedule;
pub mod scratch_dir;
pub mod store;
pub mod tag;
pub mod tf;
pub mod tf_env;
pub mod variant_action;
