//! `fleet run`: plan, apply or destroy many instances at once, in dependency
//! order, at most N at a time, with readable output, a summary table and a
//! JSON report.
//!
//! Orchestration only: [`graph`] orders the instances, [`scheduler`] runs
//! them through [`job`] (and run groups through [`groups`]), [`progress`]
//! keeps the report current. What is shown and recorded lives in
//! [`crate::report`], which instances a change affects in [`crate::affected`],
//! terraform's command lines and output parsers in [`crate::tf`].

pub mod ci;
mod events;
mod finish;
mod graph;
mod groups;
mod job;
mod journal;
mod nodes;
mod outcome;
mod progress;
mod resume;
mod scheduler;
mod sealed;
mod select;
mod start;

use crate::process::{self, signals};

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::SystemTime;

use anyhow::Result;

use crate::redact::Secrets;
use crate::report::console::OutputMode;
use crate::tf::digest::RunKind;
use crate::tf::locate::Located;
use crate::tf::{Action, Locations};
use process::Children;
use scheduler::Scheduler;

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
    /// Run only what the last report does not show as succeeded with the
    /// same digest, and the `on_change` hooks it owes.
    pub resume: bool,
    /// Also write the JSON report here (and resume from it).
    pub report: Option<PathBuf>,
    /// apply: apply each instance's saved plan (from the plan action).
    pub from_plan: bool,
    /// plan: write a sealed plan set here; apply: apply this plan set.
    pub plan_set: Option<PathBuf>,
    /// apply --plan-set: refuse the set's plans past this age.
    pub max_plan_age: Option<std::time::Duration>,
    /// Affected-only selection, Markdown summary, drift exit codes.
    pub ci: ci::CiOptions,
    /// Run `terraform init` for every instance even when nothing it used
    /// changed since its last init (by default such instances skip it).
    pub reinit: bool,
    /// Overrides every instance's `retry.max_attempts` (1: no retries).
    pub max_attempts: Option<u32>,
}

pub fn run_command(args: &RunOptions) -> Result<i32> {
    select::validate(args)?;
    let route = start::SignalRoute::install()?;
    let located = Located::new(&args.locations)?;
    let manifest = &located.manifest;
    graph::check_cycles(manifest)?;
    let plan_set = sealed::PlanSetRun::begin(args, &located)?.map(Arc::new);
    let mut selection = match select::select(args, manifest, &route.interrupt) {
        Ok(selection) => selection,
        Err(e) => {
            return match route.stopped("during the --affected-since base build") {
                Some(code) => Ok(code),
                None => Err(e),
            }
        }
    };
    if let Some(set) = &plan_set {
        set.narrow(&mut selection.selected, manifest);
    }
    let resume = select::resume_point(args, &located);
    let graph = graph::Graph::build(
        manifest,
        &selection.selected,
        args.action == Action::Destroy,
    );
    if let Some(code) = route.stopped("received") {
        return Ok(code);
    }
    let names = display_names(manifest);
    let mut schedule = groups::schedule(manifest, &graph, &names, selection.limit, args.action)?;
    let from_plan = args.from_plan || (args.plan_set.is_some() && args.action == Action::Apply);
    let kind = RunKind {
        action: args.action,
        from_plan,
    };
    let resumed = if args.resume {
        resume::resume(&resume.resume_from, kind, &located, &graph, &schedule)?
    } else {
        resume::owed_hooks(&resume.resume_from, kind, &located)
    };
    for &g in &resumed.owed_hooks {
        schedule.owe_hook(g);
    }
    let console = start::open_console(args, &selection, &names);
    let (sender, events) = mpsc::channel();
    route.to_scheduler(&sender);
    if let Some(code) = route.stopped("received") {
        return Ok(code);
    }

    let started = SystemTime::now();
    let mut progress = start::start_progress(&start::ReportStart {
        args,
        located: &located,
        selection: &selection,
        resume: &resume,
        names: &names,
        resumed: &resumed,
        schedule: &schedule,
        started,
        plan_set: plan_set.as_deref(),
    })?;
    let env = Arc::new(job::JobEnv {
        located: located.clone(),
        action: args.action,
        from_plan,
        plan_set: plan_set.clone(),
        reinit: args.reinit,
        read_plan_changes: args.ci.reads_plan_changes() || plan_set.is_some(),
        go_runtime: crate::go_runtime::settings(selection.limit.min(selection.selected.len())),
        lock_timeout: args.locations.lock_timeout,
        children: Arc::new(Children::new(true)),
        console: Arc::clone(&console),
        secrets: hook_secrets(manifest, &selection.selected),
        max_attempts: args.max_attempts,
    });
    let scheduler = Scheduler {
        graph,
        groups: manifest.groups.clone(),
        group_instances: schedule.shape.group_instances.clone(),
        fail_fast: args.fail_fast,
        names: names.clone(),
        env,
    };
    let finish = scheduler.run(schedule, resumed.reused, events, sender, &mut progress);
    let run = finish::RunContext {
        args,
        located: &located,
        selection: &selection,
        names: &names,
        console: &console,
        started,
        plan_set: plan_set.as_deref(),
    };
    finish::conclude(&run, finish, &mut progress)
}

/// Short names where they are unique in the manifest, labels otherwise.
fn display_names(manifest: &crate::manifest::Manifest) -> Vec<String> {
    let mut uses: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for inst in &manifest.instances {
        *uses.entry(inst.name.as_str()).or_default() += 1;
    }
    manifest
        .instances
        .iter()
        .map(|inst| {
            if uses[inst.name.as_str()] == 1 {
                inst.name.clone()
            } else {
                inst.label.clone()
            }
        })
        .collect()
}

/// The `secret_env` values of the selected instances: hooks run with the
/// same environment, so their output is scrubbed of them too.
fn hook_secrets(manifest: &crate::manifest::Manifest, selected: &BTreeSet<usize>) -> Secrets {
    let mut secrets = Secrets::new();
    for &index in selected {
        secrets.extend(&crate::tf::terraform::secret_env_values(
            &manifest.instances[index],
        ));
    }
    secrets
}
