//! How each selected instance of a fleet run ended up.

use std::time::SystemTime;

use super::job::JobResult;
use super::report::{InstanceReport, Status};

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
    pub fn status(&self) -> Status {
        match self {
            Outcome::Ran { result, .. } => result.status,
            Outcome::NotRun { status, .. } => *status,
            Outcome::Reused(r) => r.status,
        }
    }
}
