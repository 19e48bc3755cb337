//! `fleet tf`: one instance, one terraform action, output straight to the
//! terminal (the `bazel run <instance>.plan|.apply|.destroy|.output` targets).
//!
//! The pieces are shared with `fleet run`: [`locate`] finds the manifest's
//! files, [`rundir`] prepares an instance's run directory, [`inputs`] wires
//! upstream outputs in, [`terraform`] builds terraform's command lines and
//! [`capture`] runs them, hiding secret values in what they print.

mod capture;
pub mod digest;
mod includes;
pub mod init_gate;
mod init_record;
pub mod inputs;
pub mod locate;
pub mod outputs;
pub mod plan_changes;
pub mod plan_show;
pub mod resources;
pub mod rundir;
pub mod single;
pub mod terraform;
mod variables;

use std::path::PathBuf;
use std::time::Duration;

pub use single::tf_command;

/// What terraform is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Plan,
    Apply,
    Destroy,
    Output,
}

impl Action {
    pub const NAMES: [&'static str; 4] = ["plan", "apply", "destroy", "output"];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Plan => "plan",
            Action::Apply => "apply",
            Action::Destroy => "destroy",
            Action::Output => "output",
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(name: &str) -> Result<Action, String> {
        match name {
            "plan" => Ok(Action::Plan),
            "apply" => Ok(Action::Apply),
            "destroy" => Ok(Action::Destroy),
            "output" => Ok(Action::Output),
            _ => Err(format!("{name:?} is not plan, apply, destroy or output")),
        }
    }
}

/// Where the manifest's files are and where run directories go; shared by
/// `fleet tf` and `fleet run`.
#[derive(Debug, Clone)]
pub struct Locations {
    /// The instance manifest written by the Starlark rules.
    pub manifest: PathBuf,
    /// Directory that runfiles paths in the manifest are relative to
    /// (default: $RUNFILES_DIR, else the current directory).
    pub runfiles: Option<PathBuf>,
    /// The workspace root (default: $BUILD_WORKSPACE_DIRECTORY).
    pub workspace_root: Option<PathBuf>,
    /// Root of the run directories (default: <workspace root>/<manifest fleet_root>).
    pub fleet_root: Option<PathBuf>,
    /// How long to wait for an instance's run-directory lock.
    pub lock_timeout: Duration,
    /// The machine-wide store provider packages are unpacked into, once
    /// (default: $FLEET_STORE, else $XDG_CACHE_HOME/rules_fleet/store, else
    /// ~/.cache/rules_fleet/store).
    pub store: Option<PathBuf>,
}

/// `fleet tf`: one terraform action on one instance.
#[derive(Debug)]
pub struct TfOptions {
    pub locations: Locations,
    pub action: Action,
    /// The instance (label or unique short name); optional when the manifest has one.
    pub instance: Option<String>,
    /// Run `terraform init` even when nothing it used changed since the last one.
    pub reinit: bool,
    /// Extra arguments for terraform.
    pub terraform_args: Vec<String>,
}
