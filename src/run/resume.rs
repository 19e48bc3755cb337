//! `--resume`: which successes of an earlier report can stand. A success is
//! reused only if the instance's digest (rendered tree, input values,
//! `secret_env` names, terraform) is what it was, and everything it depends
//! on is reused too (an upstream that runs again may change its outputs).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use super::graph::Graph;
use super::report::{InstanceReport, Report, Status};
use crate::error::usage;
use crate::tf::locate::Located;
use crate::tf::single::current_digest;
use crate::tf::Action;

/// The reusable entries of the report at `from`, by manifest index.
pub fn reusable(
    from: &Path,
    action: Action,
    located: &Located,
    graph: &Graph,
) -> Result<BTreeMap<usize, InstanceReport>> {
    let previous = Report::load(from).map_err(|e| {
        if from.exists() {
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
    if previous.action != action {
        return Err(usage(format!(
            "--resume: the report at {} is of a {} run, not {}",
            from.display(),
            previous.action.as_str(),
            action.as_str()
        )));
    }
    let manifest = &located.manifest;
    let mut reused = BTreeMap::new();
    for old in previous
        .instances
        .into_iter()
        .filter(|r| r.status == Status::Succeeded)
    {
        let Some(i) = manifest.instances.iter().position(|x| x.label == old.label) else {
            continue;
        };
        if !graph.nodes.contains(&i) {
            continue;
        }
        let now = current_digest(located, &manifest.instances[i]).ok();
        if old.digest.is_some() && old.digest == now {
            reused.insert(i, old);
        }
    }
    // Drop successes whose upstream runs again, until nothing changes.
    loop {
        let stale: Vec<usize> = reused
            .keys()
            .copied()
            .filter(|&i| graph.before[i].iter().any(|p| !reused.contains_key(p)))
            .collect();
        if stale.is_empty() {
            return Ok(reused);
        }
        for i in stale {
            reused.remove(&i);
        }
    }
}
