//! What a run records of a retried (or retry-eligible) step: one entry per
//! attempt, in the instance's report (`attempts`) and, as a line, in its log.

use serde::{Deserialize, Serialize};

/// One run of a terraform step by an instance with a retry policy, when
/// that step failed at least once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// `init`, `workspace`, `plan`, `apply`, `destroy`.
    pub step: String,
    /// 1 for the first run of the step.
    pub attempt: u32,
    /// How it ended: `succeeded`, `retried` (failed, ran again), `failed`
    /// (failed, not run again) or `interrupted` (stopped, during the run or
    /// the wait after it).
    pub outcome: String,
    /// Terraform's exit code.
    pub exit_code: Option<i32>,
    /// The retry pattern its error matched.
    pub pattern: Option<String>,
    /// Seconds waited (drawn, full jitter) before the next attempt.
    pub delay_s: Option<f64>,
    /// The backoff's ceiling for that wait: `min(max_delay, delay * 2^(attempt-1))`.
    pub max_delay_s: Option<f64>,
    /// Why a failed attempt was not retried.
    pub reason: Option<String>,
}

impl Attempt {
    pub fn new(step: &str, attempt: u32, outcome: &str, exit_code: Option<i32>) -> Attempt {
        Attempt {
            step: step.to_string(),
            attempt,
            outcome: outcome.to_string(),
            exit_code,
            pattern: None,
            delay_s: None,
            max_delay_s: None,
            reason: None,
        }
    }
}

/// A result with its retries: `succeeded after 2 retries`, `failed after 1 retry`.
pub fn with_retries(status: &str, retries: usize) -> String {
    match retries {
        0 => status.to_string(),
        1 => format!("{status} after 1 retry"),
        n => format!("{status} after {n} retries"),
    }
}

/// How many attempts of `attempts` were retried: the summary's
/// `succeeded after N retries`.
pub fn retries(attempts: &[Attempt]) -> usize {
    attempts.iter().filter(|a| a.outcome == "retried").count()
}
