//! The scheduler's reaction to what job threads, hook threads and the
//! signal thread report: record the outcome, tell the schedule model, and
//! stop the run on `--fail-fast` or a signal.

use std::time::SystemTime;

use crate::report::groups::HookResult;
use crate::report::Status;
use crate::run::job::JobResult;
use crate::run::outcome::Outcome;
use crate::run::progress::Progress;
use crate::run::scheduler::{Event, Node, RunState, Scheduler};
use crate::run::signals::Received;

impl Scheduler {
    pub(super) fn on_event(&self, event: Event, run: &mut RunState, progress: &mut Progress) {
        match event {
            Event::Running(i) => {
                run.nodes.mark_running(i);
                progress.running(i);
            }
            Event::Done(i, result) => self.on_done(i, result, run, progress),
            Event::HookDone(g, result) => self.on_hook_done(g, result, run, progress),
            Event::Signal(signal) => self.on_signal(signal, run),
        }
    }

    fn on_done(
        &self,
        i: usize,
        result: Box<JobResult>,
        run: &mut RunState,
        progress: &mut Progress,
    ) {
        let started = match run.nodes.get(i) {
            Some(Node::Active { started, .. }) => *started,
            _ => SystemTime::now(),
        };
        let failed = result.status.is_failure();
        let changed = crate::run::outcome::changed(result.resources);
        run.schedule.finished(i, result.status.is_ok(), changed);
        self.announce_done(i, &result, started, &run.nodes, run.total);
        let outcome = Outcome::Ran { started, result };
        progress.finished(i, &outcome);
        run.nodes.set(i, Node::Finished(outcome));
        if failed && self.fail_fast && run.stopping.is_none() {
            self.stop_run(run, format!("--fail-fast after {} failed", self.names[i]));
        }
    }

    fn on_hook_done(
        &self,
        g: usize,
        result: Box<HookResult>,
        run: &mut RunState,
        progress: &mut Progress,
    ) {
        self.announce_hook(g, &result);
        let failed = result.status != Status::Succeeded;
        run.schedule.hook_finished(g, !failed);
        progress.hook_finished(&self.groups[g].label, !failed);
        run.hooks.insert(g, *result);
        if failed && self.fail_fast && run.stopping.is_none() {
            let why = format!(
                "--fail-fast after the on_change hook of {} failed",
                self.groups[g].name
            );
            self.stop_run(run, why);
        }
    }

    /// The first signal stops the run; another one while it is stopping
    /// interrupts the running terraforms again.
    fn on_signal(&self, signal: Received, run: &mut RunState) {
        if run.stopping.is_none() || run.interrupted_by.is_none() {
            run.interrupted_by = Some(signal);
            self.stop_run(run, format!("{} received", signal.name()));
        } else {
            let n = self.env.children.interrupt_all();
            self.env.console.block(&format!(
                "fleet: {} again: interrupted {n} terraform process group(s) again; \
                 terraform now exits at once and may leave a remote state lock behind",
                signal.name()
            ));
        }
    }

    fn stop_run(&self, run: &mut RunState, why: String) {
        self.stop(&why);
        run.stopping = Some(why);
    }
}
