//! A failed step's retry (see [`crate::retry`]): the policy's decision,
//! the attempt's record, the note in the log and what is shown, and the
//! backoff, which a stop of the run ends at once.

use std::io::Write;

use super::{Job, JobResult};
use crate::error::ExitCode;
use crate::report::console::OutputMode;
use crate::report::Status;
use crate::retry::{Attempt, Decision, StepKind};
use crate::tf::terraform::Step;

impl Job<'_> {
    /// After attempt `attempt` of `step` failed (`ended`): asks the retry
    /// policy, records the attempt, and waits out the backoff; true when the
    /// step runs again. A stop during the wait ends it at once, and `ended`
    /// then says the instance was interrupted.
    pub(super) fn retry_after(
        &mut self,
        step: &Step,
        attempt: u32,
        shown: usize,
        ended: &mut JobResult,
    ) -> bool {
        let Some(output) = self.failed_output.take() else {
            return false;
        };
        let lock_timeout = Some(ExitCode::LockTimeout as i32);
        if ended.status != Status::Failed || ended.exit_code == lock_timeout {
            return false;
        }
        let kind = StepKind::of(step.name);
        let mut record = Attempt::new(step.name, attempt, "failed", ended.exit_code);
        let max = self.policy.max_attempts();
        let (pattern, wait, ceiling) =
            match self.policy.decide(kind, attempt, &output, self.changed) {
                Decision::Stop(None) => return false,
                Decision::Stop(Some(why)) => {
                    let note = format!(
                        "fleet: {}: terraform {} is not retried: {why}",
                        self.inst.label, step.name
                    );
                    self.note(&note);
                    record.reason = Some(why);
                    self.attempts.push(record);
                    return false;
                }
                Decision::Retry {
                    pattern,
                    wait,
                    ceiling,
                } => (pattern, wait, ceiling),
            };
        record.outcome = "retried".into();
        record.pattern = Some(pattern.clone());
        record.delay_s = Some(wait.as_secs_f64());
        record.max_delay_s = Some(ceiling.as_secs_f64());
        self.attempts.push(record);
        self.shown.truncate(shown);
        let note = format!(
            "fleet: {}: terraform {} failed (attempt {attempt} of {max}, exit {}); its error \
             matches retry pattern {pattern:?}: attempt {} in {:.2}s (backoff up to {:.2}s)",
            self.inst.label,
            step.name,
            ended.exit_code.unwrap_or(1),
            attempt + 1,
            wait.as_secs_f64(),
            ceiling.as_secs_f64()
        );
        self.note(&note);
        if self.env.children.sleep(wait) {
            return true;
        }
        if let Some(last) = self.attempts.last_mut() {
            last.outcome = "interrupted".into();
        }
        let reason = format!(
            "interrupted while waiting to run terraform {} again (attempt {} of {max})",
            step.name,
            attempt + 1
        );
        self.note(&format!("fleet: {}: {reason}", self.inst.label));
        *ended = JobResult::new(Status::Interrupted, Some(reason));
        false
    }

    /// A line of fleet's own in the log (flushed: a wait follows) and what is shown.
    pub(super) fn note(&mut self, text: &str) {
        self.log_line(text.as_bytes());
        if let Some(log) = self.log.as_mut() {
            let _ = log.flush();
        }
        self.shown.extend_from_slice(text.as_bytes());
        self.shown.push(b'\n');
        if self.env.console.mode == OutputMode::Stream {
            self.env.console.stream_line(self.display, text.as_bytes());
        }
    }
}
