//! Command-line parsing and dispatch. Each subcommand is a thin call into its
//! module; errors are printed once, here, and mapped to exit codes.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::error::{exit_code_of, ExitCode};
use crate::{hash, lock, store, tag};

/// Default lock deadline, overridable with `--timeout` or `FLEET_LOCK_TIMEOUT`.
pub const DEFAULT_LOCK_TIMEOUT_SECS: f64 = 300.0;

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
    Extract(ExtractArgs),
    /// Write or check a verification tag.
    #[command(subcommand)]
    Tag(TagCommand),
    /// Print a content hash: h1 for a directory, sha256 or zh for a file.
    Hash(HashArgs),
    /// Run a command while holding an exclusive lock on a file.
    Lock(LockArgs),
    /// Run a build tool with private directories and several named locks (taken in sorted order).
    RunLocked(RunLockedArgs),
    /// Remove staging leftovers and old versions from a store.
    Gc(GcArgs),
    /// Re-hash every version of a store against its record (exit 5 on any mismatch).
    Verify(VerifyArgs),
    /// Run one terraform action on one instance (the `bazel run <instance>.<action>` targets).
    Tf(crate::tf::TfArgs),
    /// Plan, apply or destroy many instances: dependency order, concurrency limit, report.
    Run(crate::run::RunArgs),
    /// Check one instance at build time: plan its values against mock providers (or validate).
    Check(crate::check::CheckArgs),
    /// Write an instance tree (the `tf_instance` render action).
    Render(crate::glue_cli::render::RenderArgs),
    /// Package a provider binary as a reproducible zip (the `tf_provider` action).
    ProviderPackage(crate::glue_cli::provider_package::ProviderPackageArgs),
    /// Regenerate, check or list a Terraform lock file (`.terraform.lock.hcl`).
    #[command(subcommand)]
    LockFile(crate::glue_cli::lock_file::LockFileCommand),
    /// Run one variant's build tool with its tools and tags (the `variant_build` action).
    VariantBuild(crate::glue_cli::variant_build::VariantBuildArgs),
}

/// How long to wait for a lock.
#[derive(Args, Debug, Clone)]
pub struct TimeoutArg {
    /// Seconds to wait for a lock before exiting 3.
    #[arg(long, env = "FLEET_LOCK_TIMEOUT", default_value_t = DEFAULT_LOCK_TIMEOUT_SECS)]
    pub timeout: f64,
}

impl TimeoutArg {
    pub fn duration(&self) -> Result<Duration> {
        Duration::try_from_secs_f64(self.timeout).map_err(|_| {
            crate::error::usage(format!(
                "--timeout {} is not a valid number of seconds",
                self.timeout
            ))
        })
    }
}

#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// The archive: tar, gzip-compressed tar (detected by magic bytes) or zip.
    #[arg(long)]
    pub archive: PathBuf,
    /// Content-addressed store directory (shared, locked).
    #[arg(long, conflicts_with = "out", required_unless_present = "out")]
    pub store: Option<PathBuf>,
    /// Hermetic mode: extract into this empty or missing directory; no store, no lock.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The archive's known sha256: skips hashing on the fast path; checked
    /// before anything is unpacked (exit 5, nothing written).
    #[arg(long)]
    pub sha256: Option<String>,
    /// After success, make this path a symlink to the version (atomically replaced).
    #[arg(long, requires = "store")]
    pub link: Option<PathBuf>,
    /// Re-hash the published tree against its record; a tree that differs
    /// is replaced atomically by a fresh extraction ("repaired": true).
    #[arg(long, requires = "store")]
    pub verify: bool,
    /// Cap on the bytes the archive may unpack to, counted as written (exit 4 past it).
    #[arg(long, env = "FLEET_MAX_UNPACKED_BYTES", default_value_t = crate::archive::DEFAULT_MAX_UNPACKED_BYTES)]
    pub max_unpacked_bytes: u64,
    /// Cap on the number of entries in the archive (exit 4 past it).
    #[arg(long, env = "FLEET_MAX_ENTRIES", default_value_t = crate::archive::DEFAULT_MAX_ENTRIES)]
    pub max_entries: u64,
    #[command(flatten)]
    pub timeout: TimeoutArg,
    /// Print one JSON object: path, sha256, h1, extracted, repaired, waited_ms.
    #[arg(long)]
    pub json: bool,
    /// Print nothing on success (build actions: the tree is the output).
    #[arg(long, conflicts_with = "json")]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The store directory.
    #[arg(long)]
    pub store: PathBuf,
    #[command(flatten)]
    pub timeout: TimeoutArg,
}

#[derive(Subcommand, Debug)]
pub enum TagCommand {
    /// Write the tag; leave it untouched when its bytes would not change.
    Write(TagArgs),
    /// Exit 0 when the tag matches the inputs as they are now, 5 otherwise.
    Check(TagArgs),
    /// Check keyed inputs against an expected tag (exit 5), then write their tag (`fleet_verify`).
    Verify(crate::glue_cli::tag_verify::TagVerifyArgs),
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// The tag file.
    #[arg(long)]
    pub tag: PathBuf,
    /// A file (sha256) or directory (h1) whose digest the tag records.
    #[arg(long = "input")]
    pub inputs: Vec<PathBuf>,
    /// A KEY=VALUE pair the tag records.
    #[arg(long = "set", value_parser = parse_key_value)]
    pub values: Vec<(String, String)>,
    #[command(flatten)]
    pub timeout: TimeoutArg,
}

#[derive(Args, Debug)]
pub struct HashArgs {
    /// File or directory.
    pub path: PathBuf,
    /// h1 (default for directories and zips), sha256 (default for other files) or zh.
    #[arg(long, value_enum)]
    pub format: Option<hash::Format>,
    /// Write the hash and a newline to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct LockArgs {
    /// The lock file (created if missing, never deleted).
    #[arg(long)]
    pub path: PathBuf,
    #[command(flatten)]
    pub timeout: TimeoutArg,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunLockedArgs {
    /// Directory of the named lock files (`<NAME>.lock`), e.g. `<store>/.locks`.
    #[arg(long)]
    pub locks_dir: Option<PathBuf>,
    /// A named exclusive lock held, by the command's process, for its whole run.
    #[arg(long = "lock", value_name = "NAME")]
    pub locks: Vec<String>,
    /// Directory (emptied first, removed after) holding the private directories.
    #[arg(long)]
    pub private_root: Option<PathBuf>,
    /// An environment variable set to a fresh, empty directory of this run only.
    #[arg(long = "private-dir", value_name = "VAR")]
    pub private_dirs: Vec<String>,
    #[command(flatten)]
    pub timeout: TimeoutArg,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct GcArgs {
    /// The store directory.
    #[arg(long)]
    pub store: PathBuf,
    /// How many of the most recently used versions to keep (linked and in-use ones are always kept).
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
}

fn parse_key_value(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// Parses arguments, runs the command and returns the process exit code.
pub fn main() -> i32 {
    // The guard of a terraform process (src/run/guard.rs): internal, not a
    // user command, and started once per terraform step, so it skips clap.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(crate::run::guard::SUBCOMMAND) {
        return crate::run::guard::guard_main(&args[2..]);
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
        Command::Extract(args) => store::extract_command(&args).map(|_| 0),
        Command::Tag(TagCommand::Write(args)) => tag::write_command(&args).map(|_| 0),
        Command::Tag(TagCommand::Check(args)) => tag::check_command(&args).map(|_| 0),
        Command::Hash(args) => hash::hash_command(&args).map(|_| 0),
        Command::Lock(args) => lock::lock_command(&args),
        Command::RunLocked(args) => lock::run_locked_command(&args),
        Command::Gc(args) => store::gc_command(&args).map(|_| 0),
        Command::Verify(args) => store::verify_command(&args).map(|_| 0),
        Command::Tf(args) => crate::tf::tf_command(&args),
        Command::Run(args) => crate::run::run_command(&args),
        Command::Check(args) => crate::check::check_command(&args),
        Command::Render(args) => crate::glue_cli::render::run(&args),
        Command::ProviderPackage(args) => crate::glue_cli::provider_package::run(&args),
        Command::LockFile(command) => crate::glue_cli::lock_file::run(&command),
        Command::VariantBuild(args) => crate::glue_cli::variant_build::run(&args),
        Command::Tag(TagCommand::Verify(args)) => crate::glue_cli::tag_verify::run(&args),
    }
}
