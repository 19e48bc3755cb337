//! How each selected instance of a fleet run ended up.

use std::time::SystemTime;

use crate::report::{InstanceReport, Status};
use crate::run::job::JobResult;
use crate::tf::resources::Resources;

/// Whether a run changed something (an apply's or destroy's counts): what
/// makes a group's `on_change` hook due.
pub fn changed(resources: Option<Resources>) -> bool {
    resources.is_some_and(|r| r.added + r.changed + r.destroyed > 0)
}

/// How a selected instance ended up.
#[derive(Debug)]
pub enum Outcome {
    Ran {
        started: SystemTime,
        result: Box<JobResult>,
    },
    NotRun {
        status: Status,
        reason: String,
    },
    /// Succeeded in the report being resumed.
    Reused(Box<InstanceReport>),
}

impl Outcome {
    /// Whether this run (not an earlier one it reuses) changed something.
    pub fn changed(&self) -> bool {
        match self {
            Outcome::Ran { result, .. } => changed(result.resources),
            _ => false,
        }
    }

    pub fn status(&self) -> Status {
        match self {
            Outcome::Ran { result, .. } => result.status,
            Outcome::NotRun { status, .. } => *status,
            Outcome::Reused(r) => r.status,
        }
    }
}
