//! The steps of `fleet run` between choosing the instances and scheduling
//! them: the console, the signal listener and the report written before
//! anything starts.

use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Result;

use super::{signals, RunOptions};
use crate::error::ExitCode;
use crate::process::interruptible::Interrupt;
use crate::report::console::Console;
use crate::report::{self, Report};
use crate::run::progress::Progress;
use crate::run::resume::Resumed;
use crate::run::scheduler::Event;
use crate::run::select::{ResumePoint, Selection};
use crate::schedule::Schedule;
use crate::tf::locate::Located;
use crate::tf::Action;

/// The console, its name column as wide as the longest selected name; says
/// first why only some instances run.
pub(super) fn open_console(
    args: &RunOptions,
    selection: &Selection,
    names: &[String],
) -> Arc<Console> {
    let width = selection
        .selected
        .iter()
        .map(|&i| names[i].chars().count())
        .max()
        .unwrap_or(0);
    let console = Arc::new(Console::new(args.output, width));
    if let Some(affected) = &selection.affected {
        console.block(&format!("fleet: {}", affected.describe()));
    }
    console
}

/// Where SIGINT / SIGTERM / SIGHUP go: installed before anything slow, they
/// first stop the steps before scheduling (the `--affected-since` base build:
/// its git or bazel child is interrupted and its directory removed on the
/// way out), then, once the scheduler runs, reach it as events.
pub(super) struct SignalRoute {
    pub interrupt: Arc<Interrupt>,
    scheduler: Mutex<Option<Sender<Event>>>,
}

impl SignalRoute {
    /// Installs the handlers.
    pub fn install() -> Result<Arc<SignalRoute>> {
        let route = Arc::new(SignalRoute {
            interrupt: Arc::new(Interrupt::default()),
            scheduler: Mutex::new(None),
        });
        let to = Arc::clone(&route);
        signals::install(move |received| {
            let scheduler = to.scheduler.lock().unwrap_or_else(|e| e.into_inner());
            match scheduler.as_ref() {
                Some(sender) => {
                    let _ = sender.send(Event::Signal(received));
                }
                None => to.interrupt.received(received.signal),
            }
        })?;
        Ok(route)
    }

    /// The exit code of a run stopped by a signal before scheduling, saying so.
    pub fn stopped(&self, during: &str) -> Option<i32> {
        let signal = self.interrupt.signal()?;
        eprintln!(
            "fleet: {} {during}: stopped before running anything",
            signals::name(signal)
        );
        Some(128 + signal)
    }

    /// From now on signals go to the scheduler.
    pub fn to_scheduler(&self, sender: &Sender<Event>) {
        *self.scheduler.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender.clone());
    }
}

/// What every write of the report needs, gathered once.
pub(super) struct ReportStart<'a> {
    pub args: &'a RunOptions,
    pub located: &'a Located,
    pub selection: &'a Selection,
    pub resume: &'a ResumePoint,
    pub names: &'a [String],
    pub resumed: &'a Resumed,
    pub schedule: &'a Schedule,
    pub started: SystemTime,
    pub plan_set: Option<&'a super::sealed::PlanSetRun>,
}

/// The progress report, written at once: from here on it always says what
/// is done, running, not run.
pub(super) fn start_progress(start: &ReportStart) -> Result<Progress> {
    let mut paths: Vec<PathBuf> = vec![start.resume.default_report.clone()];
    paths.extend(start.args.report.clone());
    let selected: Vec<usize> = start.selection.selected.iter().copied().collect();
    let mut progress = Progress::new(
        base_report(start),
        paths,
        start.located,
        start.names,
        &selected,
        &start.resumed.reused,
        hook_groups(start),
    );
    progress.begin()?;
    Ok(progress)
}

/// The report of a run that has not ended yet (exit code "other" until it does).
fn base_report(start: &ReportStart) -> Report {
    let args = start.args;
    Report {
        schema: report::SCHEMA,
        target: start.located.manifest.target.clone(),
        manifest: start.located.manifest_path.display().to_string(),
        action: args.action,
        from_plan: args.from_plan || (args.plan_set.is_some() && args.action == Action::Apply),
        parallelism: start.selection.limit,
        fail_fast: args.fail_fast,
        resumed_from: args
            .resume
            .then(|| start.resume.resume_from.display().to_string()),
        started_at: report::rfc3339(start.started),
        ended_at: report::rfc3339(start.started),
        duration_s: 0.0,
        exit_code: ExitCode::Other as i32,
        interrupted_by: None,
        counts: Default::default(),
        instances: vec![],
        groups: vec![],
        affected: start.selection.affected.clone(),
        pending_hooks: start.resumed.pending_hooks.clone(),
        plan_set: start
            .plan_set
            .and_then(|set| set.apply_report(&start.located.manifest)),
    }
}

/// Per manifest index, the labels of its enclosing groups with an
/// `on_change` hook, for an action that changes resources (apply, destroy);
/// none for a plan.
fn hook_groups(start: &ReportStart) -> Vec<Vec<String>> {
    let groups = &start.located.manifest.groups;
    let changes = matches!(start.args.action, Action::Apply | Action::Destroy);
    start
        .schedule
        .shape
        .ancestors
        .iter()
        .map(|chain| {
            chain
                .iter()
                .filter(|&&g| changes && groups[g].on_change.is_some())
                .map(|&g| groups[g].label.clone())
                .collect()
        })
        .collect()
}
