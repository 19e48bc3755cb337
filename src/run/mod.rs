//! `fleet run`: plan, apply or destroy many instances at once, in dependency
//! order, at most N at a time, with readable output, a summary table and a
//! JSON report.
//!
//! [`graph`] orders the instances, [`scheduler`] runs them through [`job`],
//! [`output`] prints, [`summary`] and [`report`] record, [`signals`] and
//! [`process`] make sure no terraform outlives an interrupted run.

pub mod affected;
pub mod base_build;
pub mod changes;
pub mod ci;
pub mod graph;
mod group_steps;
pub mod groups;
pub mod groups_report;
pub mod hook;
pub mod job;
pub mod outcome;
pub mod output;
pub mod plan_show;
pub mod progress;
pub mod report;
pub mod resume;
pub mod scheduler;
pub mod steps;
pub mod summary;
pub mod summary_md;

use crate::process::{self, signals};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::SystemTime;

use anyhow::Result;

use crate::error::{usage, ExitCode};
use crate::tf::locate::Located;
use crate::tf::{Action, Locations};
use output::{Console, OutputMode};
use process::Children;
use progress::Progress;
use report::{InstanceReport, Report, Status};
use scheduler::{Event, Scheduler};

/// The default concurrency limit, as terraform's own `-parallelism`.
pub const DEFAULT_PARALLELISM: usize = 10;

/// `fleet run`: an action on many instances.
#[derive(Debug)]
pub struct RunOptions {
    pub locations: Locations,
    /// plan, apply or destroy (destroy walks the graph in reverse).
    pub action: Action,
    /// At most this many instances at once; 0 = the manifest's value, else 10.
    pub parallelism: i64,
    /// Run only these instances (label or unique short name).
    pub only: Vec<String>,
    /// On the first failure start nothing new and interrupt running instances.
    pub fail_fast: bool,
    /// How instance output reaches the terminal.
    pub output: OutputMode,
    /// Run only what the last report does not show as succeeded with the same digest.
    pub resume: bool,
    /// Also write the JSON report here (and resume from it).
    pub report: Option<PathBuf>,
    /// apply: apply each instance's saved plan (from the plan action).
    pub from_plan: bool,
    /// Affected-only selection, Markdown summary, drift exit codes.
    pub ci: ci::CiOptions,
    /// Run `terraform init` for every instance even when nothing it used
    /// changed since its last init (by default such instances skip it).
    pub reinit: bool,
}

pub fn run_command(args: &RunOptions) -> Result<i32> {
    if args.action == Action::Output {
        return Err(usage(
            "fleet run --action takes plan, apply or destroy (use fleet tf for output)",
        ));
    }
    if args.parallelism < 0 {
        return Err(usage(format!(
            "--parallelism {} is negative (0 means the default)",
            args.parallelism
        )));
    }
    if args.from_plan && args.action != Action::Apply {
        return Err(usage("--from-plan goes with --action apply"));
    }
    args.ci.check(args.action)?;
    let lock_timeout = args.locations.lock_timeout;
    let located = Located::new(&args.locations)?;
    let manifest = &located.manifest;
    graph::check_cycles(manifest)?;

    let mut selected = BTreeSet::new();
    for key in &args.only {
        let inst = manifest
            .find(key)
            .ok_or_else(|| usage(format!("--only {key}: no such instance in the manifest")))?;
        selected.extend(
            manifest
                .instances
                .iter()
                .position(|i| i.label == inst.label),
        );
    }
    if args.only.is_empty() {
        selected.extend(0..manifest.instances.len());
    }
    let affected = args.ci.affected(manifest)?;
    if let Some(affected) = &affected {
        ci::narrow(&mut selected, manifest, affected);
    }
    let limit = match (args.parallelism, manifest.parallelism) {
        (0, 0) => DEFAULT_PARALLELISM,
        (0, m) => m as usize,
        (n, _) => usize::try_from(n).unwrap_or(usize::MAX),
    };

    let default_report = report::default_path(&located.fleet_root, &manifest.target, args.action);
    let resume_from = args
        .report
        .clone()
        .filter(|p| p.exists())
        .unwrap_or_else(|| default_report.clone());
    let graph = graph::Graph::build(manifest, &selected, args.action == Action::Destroy);
    let reused = if args.resume {
        resume::reusable(&resume_from, args.action, &located, &graph)?
    } else {
        BTreeMap::new()
    };

    let names = display_names(manifest);
    let schedule = groups::schedule(manifest, &graph, &names, limit, args.action)?;
    let width = selected
        .iter()
        .map(|&i| names[i].chars().count())
        .max()
        .unwrap_or(0);
    let console = Arc::new(Console::new(args.output, width));
    if let Some(affected) = &affected {
        console.block(&format!("fleet: {}", affected.describe()));
    }
    let children = Arc::new(Children::new(true));
    let (sender, events) = mpsc::channel();
    let signal_sender = sender.clone();
    signals::install(move |received| {
        let _ = signal_sender.send(Event::Signal(received));
    })?;

    let started = SystemTime::now();
    let mut paths = vec![default_report];
    paths.extend(args.report.clone());
    let base = Report {
        schema: report::SCHEMA,
        target: manifest.target.clone(),
        manifest: located.manifest_path.display().to_string(),
        action: args.action,
        from_plan: args.from_plan,
        parallelism: limit,
        fail_fast: args.fail_fast,
        resumed_from: args.resume.then(|| resume_from.display().to_string()),
        started_at: report::rfc3339(started),
        ended_at: report::rfc3339(started),
        duration_s: 0.0,
        exit_code: ExitCode::Other as i32,
        interrupted_by: None,
        counts: Default::default(),
        instances: vec![],
        groups: vec![],
        affected: affected.clone(),
    };
    let selected_list: Vec<usize> = selected.iter().copied().collect();
    let mut progress = Progress::new(base, paths, &located, &names, &selected_list, &reused);
    // From here on the report always says what is done, running, not run.
    progress.write_final()?;
    let env = Arc::new(job::JobEnv {
        located: located.clone(),
        action: args.action,
        from_plan: args.from_plan,
        reinit: args.reinit,
        read_plan_changes: args.ci.reads_plan_changes(),
        lock_timeout,
        children,
        console: Arc::clone(&console),
    });
    let scheduler = Scheduler {
        graph,
        groups: manifest.groups.clone(),
        group_instances: schedule.shape.group_instances.clone(),
        fail_fast: args.fail_fast,
        names: names.clone(),
        env,
    };
    let finish = scheduler.run(schedule, reused, events, sender, &mut progress);
    let ended = SystemTime::now();

    let instances: Vec<InstanceReport> = finish
        .outcomes
        .iter()
        .map(|(&i, o)| progress::instance_report(&located, i, &names[i], o))
        .collect();
    let counts = Report::count(&instances);
    let labels: Vec<String> = manifest.instances.iter().map(|i| i.label.clone()).collect();
    let group_reports = groups_report::build(
        &manifest.groups,
        &finish.schedule,
        &labels,
        &instances,
        &finish.hooks,
    );
    let hooks_ok = finish.hooks.values().all(|h| h.status == Status::Succeeded);
    let exit_code = match finish.interrupted_by {
        Some(signal) => 128 + signal.signal,
        None if counts.succeeded == instances.len() && hooks_ok => ExitCode::Ok as i32,
        None if hooks_ok
            && instances
                .iter()
                .filter(|r| r.status == Status::Failed)
                .all(|r| r.exit_code == Some(ExitCode::LockTimeout as i32)) =>
        {
            ExitCode::LockTimeout as i32
        }
        None => ExitCode::Other as i32,
    };
    let report = &mut progress.report;
    report.ended_at = report::rfc3339(ended);
    report.duration_s = ended
        .duration_since(started)
        .unwrap_or_default()
        .as_secs_f64();
    report.exit_code = exit_code;
    report.interrupted_by = finish.interrupted_by.map(|s| s.name().to_string());
    report.counts = counts.clone();
    report.instances = instances;
    report.groups = group_reports
        .iter()
        .filter_map(|g| serde_json::to_value(g).ok())
        .collect();
    if args.ci.detailed_exitcode {
        report.exit_code = ci::detailed_exit_code(report, exit_code);
    }
    let exit_code = report.exit_code;
    print_summary(&console, &progress.report);
    if !group_reports.is_empty() {
        console.block(groups_report::summary_lines(&group_reports).trim_end());
    }
    if let Some(e) = progress.error.take() {
        console.block(&format!(
            "fleet: warning: a progress report write failed: {e:#}"
        ));
    }
    progress.write_final()?;
    if let Some(path) = &args.ci.summary {
        ci::write_summary(path, &progress.report, manifest)?;
    }
    let written: Vec<String> = progress
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let report = &progress.report;
    console.block(&format!(
        "fleet: {} {}: {} succeeded, {} failed, {} interrupted, {} skipped, {} cancelled in {:.1}s; {}; report: {}",
        manifest.target,
        args.action.as_str(),
        counts.succeeded,
        counts.failed,
        counts.interrupted,
        counts.skipped,
        counts.cancelled,
        report.duration_s,
        report::process_totals(&report.instances),
        written.join(", ")
    ));
    if let Some(affected) = affected.as_ref().filter(|_| selected.is_empty()) {
        console.block(&ci::nothing_affected(manifest, affected));
    }
    Ok(exit_code)
}

/// Short names where they are unique in the manifest, labels otherwise.
fn display_names(manifest: &crate::manifest::Manifest) -> Vec<String> {
    manifest
        .instances
        .iter()
        .map(|inst| {
            let same = manifest
                .instances
                .iter()
                .filter(|o| o.name == inst.name)
                .count();
            if same == 1 {
                inst.name.clone()
            } else {
                inst.label.clone()
            }
        })
        .collect()
}

fn print_summary(console: &Console, report: &Report) {
    let rows: Vec<summary::Row> = report
        .instances
        .iter()
        .map(|r| summary::Row {
            name: r.name.clone(),
            result: if r.reused {
                "succeeded (earlier run)".into()
            } else {
                r.status.as_str().into()
            },
            duration: if r.reused { None } else { r.duration_s },
            resources: if r.reused { None } else { r.resources },
            note: r.reason.clone().unwrap_or_default(),
        })
        .collect();
    console.block(&format!(
        "\n{}",
        summary::table(&rows, report.action == Action::Plan)
    ));
}
