//! `fleet tf`: one instance, one terraform action, output straight to the
//! terminal (the `bazel run <instance>.plan|.apply|.destroy|.output` targets).
//!
//! The pieces are shared with `fleet run`: [`locate`] finds the manifest's
//! files, [`rundir`] prepares an instance's run directory, [`inputs`] wires
//! upstream outputs in, [`terraform`] builds terraform's command lines.

pub mod digest;
pub mod inputs;
pub mod locate;
pub mod private;
pub mod rundir;
pub mod single;
pub mod terraform;
pub mod variables;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::cli::DEFAULT_LOCK_TIMEOUT_SECS;
use crate::error::usage;

pub use single::tf_command;

/// What terraform is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Plan,
    Apply,
    Destroy,
    Output,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Plan => "plan",
            Action::Apply => "apply",
            Action::Destroy => "destroy",
            Action::Output => "output",
        }
    }
}

/// Where the manifest's files are and where run directories go; shared by
/// `fleet tf` and `fleet run`.
#[derive(Args, Debug, Clone)]
pub struct Locations {
    /// The instance manifest written by the Starlark rules.
    #[arg(long)]
    pub manifest: PathBuf,
    /// Directory that runfiles paths in the manifest are relative to
    /// (default: $RUNFILES_DIR, else the current directory).
    #[arg(long)]
    pub runfiles: Option<PathBuf>,
    /// The workspace root (default: $BUILD_WORKSPACE_DIRECTORY, set by `bazel run`).
    #[arg(long)]
    pub workspace_root: Option<PathBuf>,
    /// Root of the run directories (default: <workspace root>/<manifest fleet_root>).
    #[arg(long)]
    pub fleet_root: Option<PathBuf>,
    /// Seconds to wait for an instance's run-directory lock before giving up (exit 3).
    #[arg(long, env = "FLEET_LOCK_TIMEOUT", default_value_t = DEFAULT_LOCK_TIMEOUT_SECS)]
    pub lock_timeout: f64,
    /// The machine-wide store provider packages are unpacked into, once
    /// (default: $FLEET_STORE, else ~/.cache/rules_fleet/store).
    #[arg(long)]
    pub store: Option<PathBuf>,
}

impl Locations {
    pub fn lock_timeout(&self) -> Result<Duration> {
        Duration::try_from_secs_f64(self.lock_timeout).map_err(|_| {
            usage(format!(
                "--lock-timeout {} is not a valid number of seconds",
                self.lock_timeout
            ))
        })
    }
}

/// `fleet tf`: run one terraform action on one instance.
#[derive(Args, Debug)]
pub struct TfArgs {
    #[command(flatten)]
    pub locations: Locations,
    /// plan, apply, destroy or output.
    #[arg(long, value_enum)]
    pub action: Action,
    /// The instance (label or unique short name); optional when the manifest has one.
    #[arg(long)]
    pub instance: Option<String>,
    /// Extra arguments for terraform, after `--`.
    #[arg(last = true)]
    pub terraform_args: Vec<String>,
}
