//! The bridge from a manifest (its `groups`, `exclusive` instances) and the
//! run's graph to the scheduling model ([`crate::schedule`]).

mod hook;
mod steps;

use anyhow::Result;

use crate::error::unsafe_input;
use crate::manifest::{GroupMode, Manifest};
use crate::run::graph::Graph;
use crate::schedule::{GroupSpec, Member, Mode, Schedule, Spec};
use crate::tf::Action;

/// The schedule of a run: `graph` (already restricted to the selected
/// instances, reversed for destroy), the limit and the manifest's groups.
/// A manifest whose groups do not fit together is refused (exit 4).
pub fn schedule(
    manifest: &Manifest,
    graph: &Graph,
    names: &[String],
    limit: usize,
    action: Action,
) -> Result<Schedule> {
    let n = manifest.instances.len();
    let mut scheduled = vec![false; n];
    for &i in &graph.nodes {
        scheduled[i] = true;
    }
    let by_label = manifest.index_by_label();
    let member = |label: &str, group: &str| -> Result<Member> {
        if let Some(&i) = by_label.get(label) {
            return Ok(Member::Instance(i));
        }
        if let Some(g) = manifest.groups.iter().position(|x| x.label == label) {
            return Ok(Member::Group(g));
        }
        Err(unsafe_input(format!(
            "manifest: group {group} lists {label}, which is neither an instance nor a group of the manifest"
        )))
    };
    let mut groups = Vec::with_capacity(manifest.groups.len());
    for group in &manifest.groups {
        let members = group
            .members
            .iter()
            .map(|m| member(m, &group.label))
            .collect::<Result<Vec<_>>>()?;
        groups.push(GroupSpec {
            name: group.name.clone(),
            mode: match group.mode {
                GroupMode::Parallel => Mode::Parallel,
                GroupMode::Serial => Mode::Serial,
            },
            concurrency: group.concurrency as usize,
            members,
            hook: group.on_change.is_some(),
        });
    }
    let spec = Spec {
        names: names.to_vec(),
        scheduled,
        before: graph.before.clone(),
        exclusive: manifest.instances.iter().map(|i| i.exclusive).collect(),
        groups,
        limit: limit.max(1),
        changes: matches!(action, Action::Apply | Action::Destroy),
        reverse: action == Action::Destroy,
    };
    Schedule::new(spec).map_err(|e| e.context(format!("manifest {}", manifest.target)))
}
