//! Run groups in what `fleet run` shows and records: the `groups` section of
//! the JSON report, one summary line per group and the groups' part of the
//! live status line (`caches 2/3 running`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::manifest::{Group, GroupMode};
use crate::report::{self, Counts, InstanceReport, Report, Status};
use crate::schedule::Schedule;

/// How a hook run ended.
#[derive(Debug, Clone)]
pub struct HookResult {
    pub status: Status,
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    pub log: Option<PathBuf>,
    pub started: SystemTime,
    pub ended: SystemTime,
    /// What grouped output shows.
    pub shown: Vec<u8>,
}

/// One group in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupReport {
    pub label: String,
    pub name: String,
    /// `parallel` or `serial`.
    pub mode: GroupMode,
    /// At most this many of its instances at once (parallel); 0: no own limit.
    pub concurrency: u32,
    /// Direct members (instance and group labels), in order.
    pub members: Vec<String>,
    /// Labels of the instances of this run inside the group, nested ones included.
    pub instances: Vec<String>,
    /// Those instances by how they ended.
    pub counts: Counts,
    /// `succeeded` when every instance and the hook succeeded; else `failed`
    /// (or `cancelled` / `not_run` when the run stopped before it finished).
    pub status: Status,
    /// Runfiles path of the `on_change` executable, if any.
    pub on_change: Option<String>,
    /// The hook's run; null when it did not run.
    pub hook: Option<HookReport>,
    /// The hook is owed: an instance of the group changed something (in this
    /// run or an earlier one it resumed) and the hook has not succeeded
    /// since; `--resume` runs it, and what waits for the group waits for it.
    #[serde(default)]
    pub hook_pending: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookReport {
    pub status: Status,
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    pub log: Option<String>,
    pub started_at: String,
    pub ended_at: String,
    pub started_unix_ms: f64,
    pub ended_unix_ms: f64,
    pub duration_s: f64,
}

impl HookReport {
    pub fn new(r: &HookResult) -> HookReport {
        HookReport {
            status: r.status,
            reason: r.reason.clone(),
            exit_code: r.exit_code,
            log: r.log.as_ref().map(|p| p.display().to_string()),
            started_at: report::rfc3339(r.started),
            ended_at: report::rfc3339(r.ended),
            started_unix_ms: report::unix_ms(r.started),
            ended_unix_ms: report::unix_ms(r.ended),
            duration_s: r
                .ended
                .duration_since(r.started)
                .unwrap_or_default()
                .as_secs_f64(),
        }
    }
}

/// The `groups` section, from the instances' entries and the hooks' results.
pub fn build(
    groups: &[Group],
    schedule: &Schedule,
    labels: &[String],
    instances: &[InstanceReport],
    hooks: &BTreeMap<usize, HookResult>,
    pending_hooks: &[String],
) -> Vec<GroupReport> {
    let by_label: BTreeMap<&str, &InstanceReport> =
        instances.iter().map(|r| (r.label.as_str(), r)).collect();
    groups
        .iter()
        .enumerate()
        .map(|(g, group)| {
            let inside: Vec<&InstanceReport> = schedule.shape.group_instances[g]
                .iter()
                .filter_map(|&i| by_label.get(labels[i].as_str()).copied())
                .collect();
            let counts = Report::count(&inside.iter().map(|r| (*r).clone()).collect::<Vec<_>>());
            let hook = hooks.get(&g).map(HookReport::new);
            let hook_ok = hook.as_ref().is_none_or(|h| h.status == Status::Succeeded);
            let status = if counts.succeeded + counts.no_changes == inside.len() && hook_ok {
                Status::Succeeded
            } else if counts.failed + counts.stale_plan > 0 || !hook_ok {
                Status::Failed
            } else if counts.not_run > 0 {
                Status::NotRun
            } else if counts.cancelled > 0 || counts.interrupted > 0 {
                Status::Cancelled
            } else {
                Status::Failed
            };
            GroupReport {
                label: group.label.clone(),
                name: group.name.clone(),
                mode: group.mode,
                concurrency: group.concurrency,
                members: group.members.clone(),
                instances: inside.iter().map(|r| r.label.clone()).collect(),
                counts,
                status,
                on_change: group.on_change.clone(),
                hook,
                hook_pending: pending_hooks.contains(&group.label),
            }
        })
        .collect()
}

/// One line per group for the end-of-run summary.
pub fn summary_lines(groups: &[GroupReport]) -> String {
    let mut text = String::new();
    for g in groups {
        let shape = match (g.mode, g.concurrency) {
            (GroupMode::Serial, _) => "serial".to_string(),
            (GroupMode::Parallel, 0) => "parallel".to_string(),
            (GroupMode::Parallel, n) => format!("parallel, parallelism {n}"),
        };
        let c = &g.counts;
        let mut parts = vec![format!("{} succeeded", c.succeeded)];
        for (n, what) in [
            (c.failed, "failed"),
            (c.interrupted, "interrupted"),
            (c.skipped, "skipped"),
            (c.cancelled, "cancelled"),
            (c.not_run, "not run"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        text.push_str(&format!("group {} ({shape}): {}", g.name, parts.join(", ")));
        match (&g.hook, &g.on_change) {
            (Some(h), _) => {
                text.push_str(&format!(
                    "; on_change {} in {:.1}s",
                    h.status.as_str(),
                    h.duration_s
                ));
                if let Some(reason) = &h.reason {
                    text.push_str(&format!(": {reason}"));
                }
                if g.hook_pending {
                    text.push_str(" (owed: --resume runs it again)");
                }
            }
            (None, Some(_)) if g.hook_pending => {
                text.push_str("; on_change not run yet, owed after a change (--resume runs it)")
            }
            (None, Some(_)) => text.push_str("; on_change not run (nothing changed)"),
            (None, None) => {}
        }
        text.push('\n');
    }
    text
}

/// The groups' part of the live status line: `caches 2/3 running` (running
/// instances / the group's limit, or its size when it has none).
pub fn status_text(groups: &[Group], schedule: &Schedule) -> String {
    let mut parts = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let (running, total) = schedule.group_load(g);
        if running == 0 {
            continue;
        }
        let of = match (group.mode, group.concurrency) {
            (GroupMode::Parallel, n) if n > 0 => n as usize,
            _ => total,
        };
        parts.push(format!("{} {running}/{of} running", group.name));
    }
    parts.join(", ")
}
