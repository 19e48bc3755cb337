//! The plan-set steps of one instance's job (`fleet run --plan-set`):
//! plan copies the new plan into the set; apply puts the set's plan into
//! the run directory and refuses it (`stale_plan`) when what it was made
//! from moved — checked before prepare (age, plan digest), after it
//! (identity, rendered tree, lock file, terraform, upstream values) and
//! after init (state lineage and serial).

use std::time::Instant;

use anyhow::Result;

use super::{Job, JobResult};
use crate::report::steps::StepTiming;
use crate::report::Status;
use crate::run::sealed::{self, ApplyGate};
use crate::tf::inputs;
use crate::tf::terraform::Terraform;
use crate::tf::Action;

impl Job<'_> {
    /// apply --plan-set: a plan without changes is not run; an old set or a
    /// plan file that is not the sealed one is refused; else the set's plan
    /// goes into the run directory.
    pub(super) fn plan_set_gate(&mut self) -> Option<JobResult> {
        let set = self.env.plan_set.as_deref()?;
        if self.env.action != Action::Apply {
            return None;
        }
        match set.gate(self.inst, self.run) {
            Err(e) => Some(self.fail(format!("{e:#}"), None)),
            Ok(ApplyGate::NoChanges(entry)) => {
                self.log_line(b"(not applied: the plan set's plan has no changes)");
                self.plan_entry = Some(entry);
                self.no_changes = true;
                None
            }
            Ok(ApplyGate::Stale(entry, reasons)) => {
                self.plan_entry = Some(entry);
                Some(self.stale(reasons))
            }
            Ok(ApplyGate::Apply(entry)) => {
                self.plan_entry = Some(entry);
                None
            }
        }
    }

    /// apply --plan-set: refuses a plan made from another build, lock file,
    /// terraform or upstream values than the instance has now.
    pub(super) fn plan_set_made_from(&mut self) -> Option<JobResult> {
        let set = self.env.plan_set.as_deref()?;
        let entry = self.plan_entry.as_ref()?;
        let located = &self.env.located;
        match sealed::made_from_reasons(set, located, self.inst, entry, &self.inputs) {
            Err(e) => Some(self.fail(format!("{e:#}"), None)),
            Ok(reasons) if reasons.is_empty() => None,
            Ok(reasons) => Some(self.stale(reasons)),
        }
    }

    /// apply --plan-set: refuses a plan whose state moved since (another
    /// apply in between, another state), read from the backend after init.
    pub(super) fn plan_set_state(&mut self, tf: &Terraform) -> Option<JobResult> {
        self.env.plan_set.as_deref()?;
        let planned = self.plan_entry.as_ref()?.state.clone();
        let started = Instant::now();
        let now = sealed::current_state(tf, &self.env.children);
        self.steps
            .push(StepTiming::new("state pull", started.elapsed(), true));
        match now {
            Err(e) => Some(self.fail(format!("{e:#}"), None)),
            Ok(now) => crate::plan_set::check::state(&planned, &now).map(|r| self.stale(vec![r])),
        }
    }

    /// plan --plan-set: copies the new plan into the set.
    pub(super) fn plan_set_record(&mut self) -> Result<()> {
        let Some(set) = self.env.plan_set.as_deref() else {
            return Ok(());
        };
        if self.env.action != Action::Plan {
            return Ok(());
        }
        let read = (self.plan_changes.as_ref(), self.resources);
        let entry = sealed::record_plan(
            set,
            &self.env.located,
            self.inst,
            self.run,
            &self.inputs,
            read,
        )?;
        self.plan_entry = Some(entry);
        Ok(())
    }

    /// Whether a dependent will read this instance's outputs and this fleet
    /// root has none saved (a fresh clone applying a plan set).
    pub(super) fn outputs_owed(&self) -> bool {
        inputs::has_dependents(&self.env.located.manifest, &self.inst.label)
            && !self.run.outputs_file().exists()
    }

    /// The end of an instance whose set's plan has no changes.
    pub(super) fn unchanged(&mut self) -> JobResult {
        sealed::forget_plan(self.run);
        let mut result = JobResult::new(Status::NoChanges, None);
        result.exit_code = Some(0);
        result
    }

    /// The refusal of a stale plan: nothing of it is applied.
    pub(super) fn stale(&mut self, reasons: Vec<String>) -> JobResult {
        sealed::forget_plan(self.run);
        let reason = format!("stale plan, not applied: {}", reasons.join("; "));
        let mut result = self.fail(reason, None);
        result.status = Status::StalePlan;
        result
    }
}
