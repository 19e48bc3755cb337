//! The last steps of `fleet run`: the exit code, the final report, the
//! summary table and the closing line.

use std::time::SystemTime;

use anyhow::Result;

use super::outcome::Outcome;
use super::{ci, RunOptions};
use crate::error::ExitCode;
use crate::report::console::Console;
use crate::report::groups::{self, GroupReport};
use crate::report::table;
use crate::report::{self, Counts, InstanceReport, Report, Status};
use crate::run::progress::{self, Progress};
use crate::run::scheduler::Finish;
use crate::run::select::Selection;
use crate::tf::locate::Located;
use crate::tf::Action;

/// What the closing steps need from the start of the run.
pub(super) struct RunContext<'a> {
    pub args: &'a RunOptions,
    pub located: &'a Located,
    pub selection: &'a Selection,
    pub names: &'a [String],
    pub console: &'a Console,
    pub started: SystemTime,
    pub plan_set: Option<&'a super::sealed::PlanSetRun>,
}

/// Records and prints how the run ended; returns its exit code.
pub(super) fn conclude(run: &RunContext, finish: Finish, progress: &mut Progress) -> Result<i32> {
    let ended = SystemTime::now();
    let instances: Vec<InstanceReport> = finish
        .outcomes
        .iter()
        .map(|(&i, o)| progress::instance_report(run.located, i, &run.names[i], o))
        .collect();
    let counts = Report::count(&instances);
    let manifest = &run.located.manifest;
    let labels: Vec<String> = manifest.instances.iter().map(|i| i.label.clone()).collect();
    let group_reports = groups::build(
        &manifest.groups,
        &finish.schedule,
        &labels,
        &instances,
        &finish.hooks,
        &progress.report.pending_hooks,
    );
    let hooks_ok = finish.hooks.values().all(|h| h.status == Status::Succeeded);
    let set_written = write_plan_set(run, &finish);
    let report = &mut progress.report;
    report.exit_code = exit_code(&finish, &counts, &instances, hooks_ok);
    match set_written {
        Ok(Some(set)) => report.plan_set = Some(set),
        Ok(None) => {}
        Err(e) => {
            run.console
                .block(&format!("fleet: writing the plan set: {e:#}"));
            report.exit_code = ExitCode::Other as i32;
        }
    }
    report.ended_at = report::rfc3339(ended);
    report.duration_s = ended
        .duration_since(run.started)
        .unwrap_or_default()
        .as_secs_f64();
    report.interrupted_by = finish.interrupted_by.map(|s| s.name().to_string());
    report.counts = counts;
    report.instances = instances;
    report.groups = group_reports
        .iter()
        .filter_map(|g| serde_json::to_value(g).ok())
        .collect();
    if run.args.ci.detailed_exitcode {
        report.exit_code = ci::detailed_exit_code(report, report.exit_code);
    }
    tell(run, &group_reports, progress)?;
    Ok(progress.report.exit_code)
}

/// plan --plan-set: seals the set of the instances that planned.
fn write_plan_set(run: &RunContext, finish: &Finish) -> Result<Option<report::PlanSetReport>> {
    let Some(set) = run.plan_set else {
        return Ok(None);
    };
    let manifest = &run.located.manifest;
    let planned = finish
        .outcomes
        .iter()
        .map(|(&i, outcome)| {
            let entry = match outcome {
                Outcome::Ran { result, .. } if result.status.is_ok() => result.plan_entry.clone(),
                _ => None,
            };
            (manifest.instances[i].label.clone(), entry)
        })
        .collect();
    let written = super::sealed::finish_write(set, manifest, planned)?;
    if let Some(w) = &written {
        run.console.block(&format!(
            "fleet: plan set {}: sealed ({} {})",
            w.dir, w.seal_algorithm, w.seal
        ));
    }
    Ok(written)
}

/// 128 + signal when interrupted; 0 when all succeeded; the lock-timeout
/// code when every failure was a lock timeout; else "other".
fn exit_code(
    finish: &Finish,
    counts: &Counts,
    instances: &[InstanceReport],
    hooks_ok: bool,
) -> i32 {
    match finish.interrupted_by {
        Some(signal) => 128 + signal.signal,
        None if counts.succeeded + counts.no_changes == instances.len() && hooks_ok => {
            ExitCode::Ok as i32
        }
        None if hooks_ok
            && counts.stale_plan == 0
            && instances
                .iter()
                .filter(|r| r.status.is_failure())
                .all(|r| r.status == Status::LockTimeout) =>
        {
            ExitCode::LockTimeout as i32
        }
        None => ExitCode::Other as i32,
    }
}

/// Prints the summary, writes the final report (and the CI summary), then
/// the closing line.
fn tell(run: &RunContext, group_reports: &[GroupReport], progress: &mut Progress) -> Result<()> {
    let console = run.console;
    print_summary(console, &progress.report);
    if !group_reports.is_empty() {
        console.block(groups::summary_lines(group_reports).trim_end());
    }
    if let Some(e) = progress.error.take() {
        console.block(&format!(
            "fleet: warning: a progress report write failed: {e:#}"
        ));
    }
    progress.conclude()?;
    let manifest = &run.located.manifest;
    if let Some(path) = &run.args.ci.summary {
        ci::write_summary(path, &progress.report, manifest)?;
    }
    console.block(&closing_line(run, progress));
    let selection = run.selection;
    if let Some(affected) = selection
        .affected
        .as_ref()
        .filter(|_| selection.selected.is_empty())
    {
        console.block(&ci::nothing_affected(manifest, affected));
    }
    Ok(())
}

fn closing_line(run: &RunContext, progress: &Progress) -> String {
    let written: Vec<String> = progress
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let report = &progress.report;
    let counts = &report.counts;
    let lock_timeouts = match counts.lock_timeout {
        0 => String::new(),
        n => format!(" ({n} by a lock timeout)"),
    };
    format!(
        "fleet: {} {}: {} succeeded, {} failed{lock_timeouts}, {} interrupted, {} skipped, {} cancelled{} in {:.1}s; {}; report: {}",
        run.located.manifest.target,
        run.args.action.as_str(),
        counts.succeeded,
        counts.failed,
        counts.interrupted,
        counts.skipped,
        counts.cancelled,
        plan_set_counts(counts, report.plan_set.is_some() && report.action == Action::Apply),
        report.duration_s,
        report::process_totals(&report.instances),
        written.join(", ")
    )
}

fn print_summary(console: &Console, report: &Report) {
    let rows: Vec<table::Row> = report
        .instances
        .iter()
        .map(|r| table::Row {
            name: r.name.clone(),
            result: if r.reused {
                "succeeded (earlier run)".into()
            } else {
                crate::retry::record::with_retries(r.status.as_str(), r.retries)
            },
            duration: if r.reused { None } else { r.duration_s },
            resources: if r.reused { None } else { r.resources },
            note: r.reason.clone().unwrap_or_default(),
        })
        .collect();
    console.block(&format!(
        "\n{}",
        table::table(&rows, report.action == Action::Plan)
    ));
}

/// `, N stale_plan, M no_changes` when a plan set was applied.
fn plan_set_counts(counts: &Counts, plan_set: bool) -> String {
    if !plan_set {
        return String::new();
    }
    format!(
        ", {} stale_plan, {} no_changes",
        counts.stale_plan, counts.no_changes
    )
}
