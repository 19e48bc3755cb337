//! `fleet run`: plan, apply or destroy many instances at once, in dependency
//! order, at most N at a time, with readable output, a summary table and a
//! JSON report.
//!
//! [`graph`] orders the instances, [`scheduler`] runs them through [`job`],
//! [`output`] prints, [`summary`] and [`report`] record, [`signals`] and
//! [`process`] make sure no terraform outlives an interrupted run.

pub mod graph;
pub mod job;
pub mod output;
pub mod process;
pub mod report;
pub mod scheduler;
pub mod signals;
pub mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::SystemTime;

use anyhow::Result;
use clap::Args;

use crate::error::{usage, ExitCode};
use crate::tf::locate::Located;
use crate::tf::{Action, Locations};
use output::{Console, OutputMode};
use process::Children;
use report::{InstanceReport, Report, Status};
use scheduler::{Event, Outcome, Scheduler};

/// The default concurrency limit, as terraform's own `-parallelism`.
pub const DEFAULT_PARALLELISM: usize = 10;

/// `fleet run`: run an action on many instances.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub locations: Locations,
    /// plan, apply or destroy (destroy walks the graph in reverse).
    #[arg(long, value_enum)]
    pub action: Action,
    /// At most this many instances at once; 0 = the manifest's value, else 10.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub parallelism: i64,
    /// Run only these instances (label or unique short name); repeatable.
    #[arg(long = "only")]
    pub only: Vec<String>,
    /// On the first failure start nothing new and interrupt running instances.
    #[arg(long, conflicts_with = "keep_going")]
    pub fail_fast: bool,
    /// On a failure skip its dependents and run everything else (default).
    #[arg(long)]
    pub keep_going: bool,
    /// grouped: each instance's output as a block when it finishes; stream: every line as it comes, prefixed.
    #[arg(long, value_enum, default_value = "grouped")]
    pub output: OutputMode,
    /// Run only the instances that did not succeed in the last report.
    #[arg(long)]
    pub resume: bool,
    /// Also write the JSON report here (and resume from it with --resume).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// apply: apply each instance's saved plan (from the plan action).
    #[arg(long)]
    pub from_plan: bool,
}

pub fn run_command(args: &RunArgs) -> Result<i32> {
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
    let lock_timeout = args.locations.lock_timeout()?;
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
    let mut reused = BTreeMap::new();
    if args.resume {
        let previous = Report::load(&resume_from).map_err(|e| {
            if resume_from.exists() {
                e
            } else {
                usage(format!(
                    "--resume: no earlier report at {}",
                    resume_from.display()
                ))
            }
        })?;
        if previous.action != args.action {
            return Err(usage(format!(
                "--resume: the report at {} is of a {} run, not {}",
                resume_from.display(),
                previous.action.as_str(),
                args.action.as_str()
            )));
        }
        for old in previous
            .instances
            .into_iter()
            .filter(|r| r.status == Status::Succeeded)
        {
            if let Some(i) = manifest.instances.iter().position(|i| i.label == old.label) {
                if selected.contains(&i) {
                    reused.insert(
                        i,
                        InstanceReport {
                            reused: true,
                            ..old
                        },
                    );
                }
            }
        }
    }

    let names = display_names(manifest);
    let width = selected
        .iter()
        .map(|&i| names[i].chars().count())
        .max()
        .unwrap_or(0);
    let console = Arc::new(Console::new(args.output, width));
    let children = Arc::new(Children::new(true));
    let (sender, events) = mpsc::channel();
    let signal_sender = sender.clone();
    signals::install(move |received| {
        let _ = signal_sender.send(Event::Signal(received));
    })?;

    let started = SystemTime::now();
    let graph = graph::Graph::build(manifest, &selected, args.action == Action::Destroy);
    let env = Arc::new(job::JobEnv {
        located: located.clone(),
        action: args.action,
        from_plan: args.from_plan,
        lock_timeout,
        children,
        console: Arc::clone(&console),
    });
    let scheduler = Scheduler {
        graph,
        limit,
        fail_fast: args.fail_fast,
        names: names.clone(),
        env,
    };
    let finish = scheduler.run(reused, events, sender);
    let ended = SystemTime::now();

    let instances: Vec<InstanceReport> = finish
        .outcomes
        .into_iter()
        .map(|(i, o)| instance_report(&located, i, &names[i], o))
        .collect();
    let counts = Report::count(&instances);
    let exit_code = match finish.interrupted_by {
        Some(signal) => 128 + signal.signal,
        None if counts.succeeded == instances.len() => ExitCode::Ok as i32,
        None if instances
            .iter()
            .filter(|r| r.status == Status::Failed)
            .all(|r| r.exit_code == Some(ExitCode::LockTimeout as i32)) =>
        {
            ExitCode::LockTimeout as i32
        }
        None => ExitCode::Other as i32,
    };
    let report = Report {
        schema: report::SCHEMA,
        target: manifest.target.clone(),
        manifest: located.manifest_path.display().to_string(),
        action: args.action,
        from_plan: args.from_plan,
        parallelism: limit,
        fail_fast: args.fail_fast,
        resumed_from: args.resume.then(|| resume_from.display().to_string()),
        started_at: report::rfc3339(started),
        ended_at: report::rfc3339(ended),
        duration_s: ended
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64(),
        exit_code,
        interrupted_by: finish.interrupted_by.map(|s| s.name().to_string()),
        counts: counts.clone(),
        instances,
    };
    print_summary(&console, &report);
    report.write(&default_report)?;
    let mut written = vec![default_report.display().to_string()];
    if let Some(path) = &args.report {
        report.write(path)?;
        written.push(path.display().to_string());
    }
    console.block(&format!(
        "fleet: {} {}: {} succeeded, {} failed, {} interrupted, {} skipped, {} cancelled in {:.1}s; report: {}",
        manifest.target,
        args.action.as_str(),
        counts.succeeded,
        counts.failed,
        counts.interrupted,
        counts.skipped,
        counts.cancelled,
        report.duration_s,
        written.join(", ")
    ));
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

fn instance_report(located: &Located, i: usize, name: &str, outcome: Outcome) -> InstanceReport {
    let inst = &located.manifest.instances[i];
    let base = InstanceReport {
        label: inst.label.clone(),
        name: name.to_string(),
        run_dir: located.run_dir(inst).display().to_string(),
        status: outcome.status(),
        reason: None,
        reused: false,
        started_at: None,
        ended_at: None,
        started_unix_ms: None,
        ended_unix_ms: None,
        duration_s: None,
        lock_wait_s: None,
        exit_code: None,
        resources: None,
        log: None,
        plan_file: None,
        outputs_file: None,
    };
    let path = |p: Option<PathBuf>| p.map(|p| p.display().to_string());
    match outcome {
        Outcome::Reused(old) => InstanceReport {
            run_dir: base.run_dir,
            ..*old
        },
        Outcome::NotRun { reason, .. } => InstanceReport {
            reason: Some(reason),
            ..base
        },
        Outcome::Ran { started, result } => {
            let r = *result;
            InstanceReport {
                reason: r.reason,
                started_at: Some(report::rfc3339(started)),
                ended_at: Some(report::rfc3339(r.ended)),
                started_unix_ms: Some(report::unix_ms(started)),
                ended_unix_ms: Some(report::unix_ms(r.ended)),
                duration_s: Some(
                    r.ended
                        .duration_since(started)
                        .unwrap_or_default()
                        .as_secs_f64(),
                ),
                lock_wait_s: r.lock_wait.map(|d| d.as_secs_f64()),
                exit_code: r.exit_code,
                resources: r.resources,
                log: path(r.log),
                plan_file: path(r.plan_file),
                outputs_file: path(r.outputs_file),
                ..base
            }
        }
    }
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
