//! What each instance's run cost: the steps it took (terraform processes
//! and fleet's own preparation) and how long each took, for the JSON report
//! and the totals on the summary's last line.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::report::InstanceReport;

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

/// "N terraform processes (init a, plan b); init skipped for k of m" over
/// the instances that ran in this run (not those reused by `--resume`).
pub fn totals(instances: &[InstanceReport]) -> String {
    let ran: Vec<&InstanceReport> = instances
        .iter()
        .filter(|i| !i.reused && i.init_skipped.is_some())
        .collect();
    let mut by_step: BTreeMap<&str, u32> = BTreeMap::new();
    for step in ran.iter().flat_map(|i| &i.steps).filter(|s| s.terraform) {
        *by_step.entry(step.name.as_str()).or_default() += 1;
    }
    let total: u32 = by_step.values().sum();
    let parts: Vec<String> = by_step.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let skipped = ran.iter().filter(|i| i.init_skipped == Some(true)).count();
    let noun = if total == 1 { "process" } else { "processes" };
    let mut text = format!("{total} terraform {noun}");
    if !parts.is_empty() {
        text.push_str(&format!(" ({})", parts.join(", ")));
    }
    text.push_str(&format!("; init skipped for {skipped} of {}", ran.len()));
    text
}
