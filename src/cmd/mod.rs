//! The command-line layer: one file per subcommand, each holding its clap
//! arguments and a `run` that turns them into the library's plain option
//! types. The library never sees clap; errors are printed once, here, and
//! mapped to exit codes.

mod args;
mod check;
mod extract;
mod gc;
mod guard;
mod hash;
mod identity;
mod lock;
mod lock_file;
mod provider_package;
mod render;
mod run;
mod run_locked;
mod tag;
mod tag_verify;
mod tf;
mod variant_build;
mod verify;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::error::{exit_code_of, ExitCode};

pub use args::DEFAULT_LOCK_TIMEOUT_SECS;

#[derive(Parser, Debug)]
#[command(
    name = "fleet",
    version,
    about = "rules_fleet helper: safe shared state for parallel builds and applies"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Extract a tar / tar.gz (or provider zip) into a content-addressed store, once.
    Extract(extract::ExtractArgs),
    /// Write or check a verification tag.
    #[command(subcommand)]
    Tag(tag::TagCommand),
    /// Print a content hash: h1 for a directory, sha256 or zh for a file.
    Hash(hash::HashArgs),
    /// Run a command while holding an exclusive lock on a file.
    Lock(lock::LockArgs),
    /// Run a build tool with private directories and several named locks (taken in sorted order).
    RunLocked(run_locked::RunLockedArgs),
    /// Remove staging leftovers and old versions from a store.
    Gc(gc::GcArgs),
    /// Re-hash every version of a store against its record (exit 5 on any mismatch).
    Verify(verify::VerifyArgs),
    /// Run one terraform action on one instance (the `bazel run <instance>.<action>` targets).
    Tf(tf::TfArgs),
    /// Plan, apply or destroy many instances: dependency order, concurrency limit, report.
    Run(run::RunArgs),
    /// Check one instance at build time: plan its values against mock providers (or validate).
    Check(check::CheckArgs),
    /// Write an instance tree (the `tf_instance` render action).
    Render(render::RenderArgs),
    /// Package a provider binary as a reproducible zip (the `tf_provider` action).
    ProviderPackage(provider_package::ProviderPackageArgs),
    /// Regenerate, check or list a Terraform lock file (`.terraform.lock.hcl`).
    #[command(subcommand)]
    LockFile(lock_file::LockFileCommand),
    /// Run one variant's build tool with its tools and tags (the `variant_build` action).
    VariantBuild(variant_build::VariantBuildArgs),
    /// Compute an instance identity, or write identities into a manifest (build actions).
    Identity(identity::IdentityArgs),
}

/// Parses arguments, runs the command and returns the process exit code.
pub fn main() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = guard::run_if_requested(&args) {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::Usage as i32
            } else {
                0
            };
        }
    };
    match run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("fleet: error: {err:#}");
            exit_code_of(&err) as i32
        }
    }
}

/// Runs one command; `Ok` carries the exit code (commands like `lock`
/// pass their child's status through).
pub fn run(command: Command) -> Result<i32> {
    match command {
        Command::Extract(args) => extract::run(args).map(|_| 0),
        Command::Tag(command) => tag::run(command).map(|_| 0),
        Command::Hash(args) => hash::run(args).map(|_| 0),
        Command::Lock(args) => lock::run(args),
        Command::RunLocked(args) => run_locked::run(args),
        Command::Gc(args) => gc::run(args).map(|_| 0),
        Command::Verify(args) => verify::run(args).map(|_| 0),
        Command::Tf(args) => tf::run(args),
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::run(args),
        Command::Render(args) => render::run(args),
        Command::ProviderPackage(args) => provider_package::run(args),
        Command::LockFile(command) => lock_file::run(command),
        Command::VariantBuild(args) => variant_build::run(args),
        Command::Identity(args) => identity::run(&args),
    }
}
