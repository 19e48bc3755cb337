//! `fleet run --summary FILE`: the run as Markdown for a pull-request
//! comment. A totals line; one table row per instance, instances whose plans
//! are identical grouped in one row; the failed ones with the first lines of
//! their error; unaffected and removed instances one line each; each plan's
//! resource changes (address and action only — never a value) in a collapsed
//! `<details>` block. Never longer than GitHub's comment limit: what does not
//! fit is cut at a block boundary, with a note.
//!
//! Everything that comes from data — instance names and labels, the target,
//! resource addresses, terraform's error text, the base of the comparison —
//! is shown as code ([`code`], [`fenced`], [`html_code`]): a reviewer reads
//! it, Markdown never renders it as a link, an image, emphasis or HTML.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::affected::Affected;
use crate::tf::plan_changes::PlanChanges;
use crate::tf::resources::Resources;

/// GitHub refuses comments longer than this many characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// Lines of a failed instance's error shown in the summary.
pub const ERROR_LINES: usize = 8;

const TRUNCATED_NOTE: &str = "\n> **Truncated** to fit GitHub's 65,536-character comment limit: \
the JSON report (`--report`) lists every instance and change.\n";

/// One instance as the summary shows it.
#[derive(Debug, Clone)]
pub struct MdInstance {
    pub name: String,
    /// `succeeded`, `failed`, `skipped`, ...
    pub status: String,
    pub failed: bool,
    pub resources: Option<Resources>,
    pub duration_s: Option<f64>,
    /// The saved plan's changes, when they were read.
    pub changes: Option<PlanChanges>,
    /// First lines of the error (failed instances).
    pub error: Vec<String>,
    /// Failed attempts that ran again (`succeeded after N retries`).
    pub retries: usize,
    /// `--plan-set`: the sha256 of the set's plan and the state serial it
    /// was made against.
    pub plan: Option<(String, u64)>,
}

/// A whole run as the summary shows it.
pub struct MdRun<'a> {
    /// `plan`, `apply` or `destroy`.
    pub action: &'a str,
    pub target: &'a str,
    pub instances: Vec<MdInstance>,
    pub affected: Option<&'a Affected>,
    /// Short names by label, for the unaffected / removed lines.
    pub names: &'a BTreeMap<String, String>,
    /// `--plan-set`: the set written or applied.
    pub plan_set: Option<&'a crate::report::PlanSetReport>,
}

/// Renders the summary, at most `limit` characters long.
pub fn render(run: &MdRun, limit: usize) -> String {
    let mut out = Bounded::new(limit.saturating_sub(TRUNCATED_NOTE.chars().count()));
    out.push(&head(run));
    if run.instances.is_empty() {
        out.push("No instance is affected: nothing to run.\n");
    } else {
        out.push(&table_head(run.action == "plan"));
        for row in group(&run.instances) {
            out.push(&table_row(&row, run.action == "plan"));
        }
    }
    let failed: Vec<&MdInstance> = run.instances.iter().filter(|i| i.failed).collect();
    if !failed.is_empty() {
        out.push("\n#### Failed\n");
        for inst in failed {
            out.push(&failure(inst));
        }
    }
    if let Some(affected) = run.affected {
        out.push(&label_line("Unaffected", &affected.unaffected, run.names));
        out.push(&label_line(
            "Removed (never destroyed by fleet)",
            &affected.removed,
            run.names,
        ));
    }
    let changed: Vec<Row> = group(&run.instances)
        .into_iter()
        .filter(|r| {
            r.changes
                .is_some_and(|c| !c.resources.is_empty() || !c.outputs.is_empty())
        })
        .collect();
    if !changed.is_empty() {
        out.push("\n#### Changes\n");
        for row in changed {
            out.push(&details(&row));
        }
    }
    out.push(&plans(run));
    out.finish()
}

/// Text that stops growing at its limit; once a block did not fit, nothing
/// more is added and the note says so.
struct Bounded {
    text: String,
    chars: usize,
    limit: usize,
    truncated: bool,
}

impl Bounded {
    fn new(limit: usize) -> Bounded {
        Bounded {
            text: String::new(),
            chars: 0,
            limit,
            truncated: false,
        }
    }

    fn push(&mut self, block: &str) {
        let len = block.chars().count();
        if self.truncated || self.chars + len > self.limit {
            self.truncated = true;
            return;
        }
        self.text.push_str(block);
        self.chars += len;
    }

    fn finish(mut self) -> String {
        if self.truncated {
            self.text.push_str(TRUNCATED_NOTE);
        }
        self.text
    }
}

fn head(run: &MdRun) -> String {
    let mut text = format!("### fleet {} {}\n\n", run.action, code(run.target));
    let count =
        |pred: &dyn Fn(&MdInstance) -> bool| run.instances.iter().filter(|i| pred(i)).count();
    let failed = count(&|i| i.failed);
    let mut parts = vec![format!("**{} {}**", run.instances.len(), past(run.action))];
    if run.action == "plan" {
        parts.push(format!(
            "{} with changes",
            count(&|i| !i.failed && has_changes(i) == Some(true))
        ));
        parts.push(format!(
            "{} without",
            count(&|i| !i.failed && has_changes(i) == Some(false))
        ));
    } else {
        parts.push(format!("{} succeeded", count(&|i| i.status == "succeeded")));
        let unchanged = count(&|i| i.status == "no_changes");
        if unchanged > 0 {
            parts.push(format!("{unchanged} without changes (not applied)"));
        }
    }
    let stale = count(&|i| i.status == "stale_plan");
    parts.push(format!("{} failed", failed - stale));
    if stale > 0 {
        parts.push(format!("{stale} refused as stale"));
    }
    let other = count(&|i| !i.failed && !matches!(i.status.as_str(), "succeeded" | "no_changes"));
    if other > 0 {
        parts.push(format!("{other} not run"));
    }
    let _ = writeln!(text, "{}", parts.join(" · "));
    if let Some(affected) = run.affected {
        let _ = writeln!(
            text,
            "\nAffected since {}: {} changed, {} added, {} dependent; {} unaffected, {} removed.",
            code(&affected.base),
            affected.changed.len(),
            affected.added.len(),
            affected.dependents.len(),
            affected.unaffected.len(),
            affected.removed.len()
        );
    }
    if let Some(set) = run.plan_set {
        text.push_str(&plan_set_line(set));
    }
    text.push('\n');
    text
}

/// The plan set's seal, commit and age: what a reviewer checks the merge
/// job applied.
fn plan_set_line(set: &crate::report::PlanSetReport) -> String {
    let seal: String = set.seal.chars().take(12).collect();
    let mut parts = vec![format!(
        "Plan set sealed {}",
        code(&format!("{}:{seal}", set.seal_algorithm))
    )];
    if let Some(commit) = &set.commit {
        parts.push(format!("commit {}", code(commit)));
    }
    parts.push(format!("made {}", code(&set.created_at)));
    if let Some(age) = set.age_s {
        parts.push(format!("{age}s old when applied"));
    }
    format!("\n{}.\n", parts.join(" · "))
}

/// Per instance, the set's plan (sha256) and the state serial it was made against.
fn plans(run: &MdRun) -> String {
    let lines: Vec<String> = run
        .instances
        .iter()
        .filter_map(|i| {
            let (sha, serial) = i.plan.as_ref()?;
            let short: String = sha.chars().take(12).collect();
            Some(format!(
                "- {}: plan {} against state serial {serial}\n",
                code(&i.name),
                code(&short)
            ))
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!("\n#### Plans\n\n{}", lines.concat())
}

fn past(action: &str) -> &str {
    match action {
        "plan" => "planned",
        "apply" => "applied",
        "destroy" => "destroyed",
        other => other,
    }
}

fn has_changes(inst: &MdInstance) -> Option<bool> {
    match (&inst.changes, &inst.resources) {
        (Some(c), _) => Some(c.has_changes()),
        (None, Some(r)) => Some(crate::tf::plan_changes::resources_changed(r)),
        (None, None) => None,
    }
}

/// Instances shown in one row: identical results and changes.
struct Row<'a> {
    names: Vec<&'a str>,
    first: &'a MdInstance,
    duration_s: Option<f64>,
    changes: Option<&'a PlanChanges>,
}

fn group(instances: &[MdInstance]) -> Vec<Row<'_>> {
    let mut rows: Vec<Row> = Vec::new();
    for inst in instances {
        let same = |r: &&mut Row| {
            !inst.failed
                && !r.first.failed
                && r.first.status == inst.status
                && r.first.retries == inst.retries
                && r.first.resources == inst.resources
                && r.first.changes.is_some()
                && r.first.changes == inst.changes
        };
        if let Some(row) = rows.iter_mut().find(|r| same(r)) {
            row.names.push(&inst.name);
            row.duration_s = max_duration(row.duration_s, inst.duration_s);
            continue;
        }
        rows.push(Row {
            names: vec![&inst.name],
            first: inst,
            duration_s: inst.duration_s,
            changes: inst.changes.as_ref(),
        });
    }
    rows
}

fn max_duration(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn table_head(planned: bool) -> String {
    let counts = if planned {
        "To add | To change | To destroy"
    } else {
        "Added | Changed | Destroyed"
    };
    format!(
        "| Instance | Result | {counts} | Duration |\n| --- | --- | ---: | ---: | ---: | ---: |\n"
    )
}

fn table_row(row: &Row, planned: bool) -> String {
    let inst = row.first;
    let result = match has_changes(inst) {
        _ if inst.status == "stale_plan" => "⛔ stale_plan".to_string(),
        _ if inst.failed => crate::retry::record::with_retries("❌ failed", inst.retries),
        Some(true) if planned && inst.status == "succeeded" => {
            crate::retry::record::with_retries("changes", inst.retries)
        }
        Some(false) if planned && inst.status == "succeeded" => {
            crate::retry::record::with_retries("no changes", inst.retries)
        }
        _ => crate::retry::record::with_retries(&inst.status, inst.retries),
    };
    let count = |f: fn(&Resources) -> u64| {
        inst.resources
            .as_ref()
            .map_or("-".to_string(), |r| f(r).to_string())
    };
    format!(
        "| {} | {} | {} | {} | {} | {} |\n",
        table_cell(&names_list(&row.names)),
        result,
        count(|r| r.added),
        count(|r| r.changed),
        count(|r| r.destroyed),
        row.duration_s
            .map_or("-".to_string(), |d| format!("{d:.1}s"))
    )
}

/// Names as code spans, comma-separated.
fn names_list(names: &[&str]) -> String {
    names.iter().map(|n| code(n)).collect::<Vec<_>>().join(", ")
}

/// A table cell: GFM splits rows at every `|` not escaped as `\|`, code
/// spans included, and turns each `\|` back into `|` before reading the cell.
fn table_cell(markdown: &str) -> String {
    markdown.replace('|', "\\|")
}

fn failure(inst: &MdInstance) -> String {
    let mut text = format!("\n**{}**\n", code(&inst.name));
    if !inst.error.is_empty() {
        let lines: Vec<&str> = inst
            .error
            .iter()
            .take(ERROR_LINES)
            .map(String::as_str)
            .collect();
        text.push('\n');
        text.push_str(&fenced(&lines));
    }
    text
}

fn label_line(title: &str, labels: &[String], names: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = labels
        .iter()
        .map(|l| names.get(l).map_or(l.as_str(), String::as_str))
        .collect();
    format!("\n**{title} ({}):** {}\n", labels.len(), names_list(&shown))
}

fn details(row: &Row) -> String {
    let Some(changes) = row.changes else {
        return String::new();
    };
    let names: Vec<String> = row.names.iter().map(|n| html_code(n)).collect();
    let counts = changes.counts();
    let mut text = format!(
        "\n<details><summary>{}: {} to add, {} to change, {} to destroy</summary>\n\n",
        names.join(", "),
        counts.added,
        counts.changed,
        counts.destroyed
    );
    for r in &changes.resources {
        let _ = writeln!(text, "- {} {}", code(&r.address), r.action.as_str());
    }
    for output in &changes.outputs {
        let _ = writeln!(text, "- output {} changes", code(output));
    }
    text.push_str("\n</details>\n");
    text
}

/// The first lines of a failed run's error: from terraform's first `Error:`
/// in the log (box drawing and colour codes removed), else the reason.
pub fn error_lines(log: &str, reason: Option<&str>) -> Vec<String> {
    let clean: Vec<String> = log.lines().map(strip_decoration).collect();
    if let Some(start) = clean.iter().position(|l| l.starts_with("Error:")) {
        return clean[start..]
            .iter()
            .filter(|l| !l.is_empty())
            .take(ERROR_LINES)
            .cloned()
            .collect();
    }
    reason.map(|r| vec![r.to_string()]).unwrap_or_default()
}

fn strip_decoration(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... letter
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out.trim_start_matches(['│', '╷', '╵', ' '])
        .trim_end()
        .to_string()
}

mod escape;
pub use escape::{code, fenced, html_code};

#[cfg(test)]
mod tests;
