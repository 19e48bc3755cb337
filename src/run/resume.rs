//! `--resume`: which successes of an earlier report can stand, and which
//! `on_change` hooks it still owes. A success is reused only if the
//! instance's digest ([`crate::tf::digest::instance_digest`]: rendered tree,
//! inputs, env, workspace, `secret_env` names, providers, terraform, the
//! action, the applied plan) is what it was, it does not wait for an owed
//! hook, and everything it depends on is reused too (an upstream that runs
//! again may change its outputs). A hook the report lists as pending runs
//! again in this run — in a run without `--resume` too ([`owed_hooks`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::error::usage;
use crate::report::{InstanceReport, Report, Status};
use crate::run::graph::Graph;
use crate::schedule::Schedule;
use crate::tf::digest::RunKind;
use crate::tf::locate::Located;
use crate::tf::single::current_digest;

/// What a run takes over from the report it resumes.
#[derive(Default)]
pub struct Resumed {
    /// The reusable entries, by manifest index.
    pub reused: BTreeMap<usize, InstanceReport>,
    /// Groups (manifest indexes) whose `on_change` hook the report owes.
    pub owed_hooks: Vec<usize>,
    /// Their labels, and those of owed groups this run has no instance of
    /// (still owed afterwards).
    pub pending_hooks: Vec<String>,
}

/// Reads the report at `from` and decides what of it this run reuses.
pub fn resume(
    from: &Path,
    kind: RunKind,
    located: &Located,
    graph: &Graph,
    schedule: &Schedule,
) -> Result<Resumed> {
    let previous = load(from, kind, located)?;
    let manifest = &located.manifest;
    let (pending_hooks, owed_hooks) = owed(&previous, located);
    let index = manifest.index_by_label();
    let mut reused = BTreeMap::new();
    for old in previous
        .instances
        .into_iter()
        .filter(|r| r.status == Status::Succeeded)
    {
        let Some(&i) = index.get(old.label.as_str()) else {
            continue;
        };
        if !graph.nodes.contains(&i) || schedule.waits_for_hook(i, &owed_hooks) {
            continue;
        }
        let now = current_digest(located, &manifest.instances[i], kind).ok();
        if old.digest.is_some() && old.digest == now {
            reused.insert(i, old);
        }
    }
    drop_stale(&mut reused, graph);
    Ok(Resumed {
        reused,
        owed_hooks,
        pending_hooks,
    })
}

/// What a run without `--resume` takes over from the fleet's last report
/// (`from`, when it is of this fleet and action): only the hooks it owes,
/// so a hook that never succeeded is not forgotten by a run that changes
/// nothing. Nothing when there is no such report.
pub fn owed_hooks(from: &Path, kind: RunKind, located: &Located) -> Resumed {
    let Ok(previous) = load(from, kind, located) else {
        return Resumed::default();
    };
    let (pending_hooks, owed_hooks) = owed(&previous, located);
    Resumed {
        reused: BTreeMap::new(),
        owed_hooks,
        pending_hooks,
    }
}

/// The report's owed hooks that are still hooks of this manifest: their
/// labels and group indexes.
fn owed(previous: &Report, located: &Located) -> (Vec<String>, Vec<usize>) {
    let groups = &located.manifest.groups;
    let pending: Vec<String> = previous
        .pending_hooks
        .iter()
        .filter(|label| {
            groups
                .iter()
                .any(|g| &&g.label == label && g.on_change.is_some())
        })
        .cloned()
        .collect();
    let indexes = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| pending.contains(&g.label))
        .map(|(g, _)| g)
        .collect();
    (pending, indexes)
}

/// The report, if it is of this fleet and action (else exit 2).
fn load(from: &Path, kind: RunKind, located: &Located) -> Result<Report> {
    let previous = super::journal::load_latest(from).map_err(|e| {
        if from.exists() || super::journal::path_of(from).exists() {
            e
        } else {
            usage(format!("--resume: no earlier report at {}", from.display()))
        }
    })?;
    let target = &located.manifest.target;
    if &previous.target != target {
        return Err(usage(format!(
            "--resume: the report at {} is of {}, not {target}: resume from this fleet's \
             own report (its --report FILE), or run without --resume",
            from.display(),
            previous.target
        )));
    }
    if previous.action != kind.action {
        return Err(usage(format!(
            "--resume: the report at {} is of a {} run, not {}",
            from.display(),
            previous.action.as_str(),
            kind.action.as_str()
        )));
    }
    Ok(previous)
}

/// Drops successes whose upstream runs again, until nothing changes.
fn drop_stale(reused: &mut BTreeMap<usize, InstanceReport>, graph: &Graph) {
    loop {
        let stale: Vec<usize> = reused
            .keys()
            .copied()
            .filter(|&i| graph.before[i].iter().any(|p| !reused.contains_key(p)))
            .collect();
        if stale.is_empty() {
            return;
        }
        for i in stale {
            reused.remove(&i);
        }
    }
}
