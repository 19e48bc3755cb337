//! What each instance's run cost: the steps it took (terraform processes
//! and fleet's own preparation) and how long each took, for the JSON report
//! (their totals on the summary's last line: `report::process_totals`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One step of an instance's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    /// `prepare` (fleet: run directory, providers, inputs), or the terraform
    /// subcommand: `init`, `workspace`, `plan`, `apply`, `output`, ...
    pub name: String,
    pub seconds: f64,
    /// Whether the step was a terraform process.
    pub terraform: bool,
}

impl StepTiming {
    pub fn new(name: &str, took: Duration, terraform: bool) -> StepTiming {
        StepTiming {
            name: name.to_string(),
            seconds: took.as_secs_f64(),
            terraform,
        }
    }
}

/// How many of `steps` were terraform processes.
pub fn terraform_processes(steps: &[StepTiming]) -> u32 {
    steps.iter().filter(|s| s.terraform).count() as u32
}
