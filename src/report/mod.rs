//! The JSON run report: what ran, when, how it ended, where its log is.
//! Rewritten atomically as each instance starts and ends (so after a crash
//! it shows what finished, what was running — `interrupted` — and what never
//! started — `not_run`), to `<fleet root>/.reports/` (the one `--resume`
//! reads by default) and to `--report FILE` when given.

pub mod console;
pub mod groups;
pub mod markdown;
pub mod steps;
pub mod table;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::affected::Affected;
use crate::error::unsafe_input;
use crate::fsutil;
use crate::fsutil::private;
use crate::manifest::REPORTS_DIR;
use crate::tf::plan_changes::PlanChanges;
use crate::tf::resources::Resources;
use crate::tf::Action;

pub const SCHEMA: u32 = 1;

/// How an instance's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Succeeded,
    /// Terraform (or preparing the run) failed.
    Failed,
    /// A lock timed out: the run directory's (`--lock-timeout`) or the
    /// backend's state lock (terraform's `-lock-timeout`); exit code 3, the
    /// reason names the holder. Counted as failed too.
    #[serde(rename = "lock_timeout")]
    LockTimeout,
    /// Stopped by --fail-fast or a signal while it ran.
    Interrupted,
    /// Not run because an upstream did not succeed.
    Skipped,
    /// Not started because the run was stopping.
    Cancelled,
    /// Not started (yet): what a progress report says of an instance whose
    /// turn had not come when the runner died.
    #[serde(rename = "not_run")]
    NotRun,
    /// `--plan-set` apply: refused, its plan no longer matches what it was
    /// made from (the reason says what moved); nothing of it applied.
    #[serde(rename = "stale_plan")]
    StalePlan,
    /// `--plan-set` apply: its plan has no changes; not run.
    #[serde(rename = "no_changes")]
    NoChanges,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::LockTimeout => "lock timeout",
            Status::Interrupted => "interrupted",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
            Status::NotRun => "not run",
            Status::StalePlan => "stale_plan",
            Status::NoChanges => "no_changes",
        }
    }

    /// Failed, by a lock timeout or otherwise: its dependents are skipped.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Status::Failed | Status::LockTimeout | Status::StalePlan
        )
    }
    /// Succeeded, or had nothing to do: what lets dependents run.
    pub fn is_ok(self) -> bool {
        matches!(self, Status::Succeeded | Status::NoChanges)
    }
}

/// The plan an instance put into a plan set, or the one an apply applied
/// from a plan set: the audit trail of what was reviewed and applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRecord {
    /// The plan file inside the set (relative to its directory).
    pub file: String,
    pub sha256: String,
    /// The state it was made against.
    pub state: crate::plan_set::StateRef,
    pub changes: bool,
    pub resources: crate::plan_set::PlannedCounts,
}

/// The plan set a run wrote (plan) or applied (apply).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanSetReport {
    pub dir: String,
    /// `sha256` or `hmac-sha256`.
    pub seal_algorithm: String,
    pub seal: String,
    pub commit: Option<String>,
    pub created_at: String,
    /// apply: the set's age when the run started, in seconds.
    pub age_s: Option<u64>,
    /// apply: labels in the set that this fleet's manifest does not have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_instances: Vec<String>,
}

/// One instance in the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceReport {
    pub label: String,
    pub name: String,
    pub run_dir: String,
    pub status: Status,
    /// Why it failed, was skipped or cancelled.
    pub reason: Option<String>,
    /// Succeeded in an earlier run and was not re-run (`--resume`).
    #[serde(default)]
    pub reused: bool,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// Milliseconds since the Unix epoch (microsecond precision).
    pub started_unix_ms: Option<f64>,
    pub ended_unix_ms: Option<f64>,
    pub duration_s: Option<f64>,
    /// Seconds spent waiting for the run-directory lock.
    pub lock_wait_s: Option<f64>,
    /// Exit code of the terraform step that ended the run (3: lock timeout).
    pub exit_code: Option<i32>,
    pub resources: Option<Resources>,
    pub log: Option<String>,
    pub plan_file: Option<String>,
    pub outputs_file: Option<String>,
    /// sha256 of everything that made this run what it was
    /// ([`crate::tf::digest::instance_digest`]): rendered tree (backend
    /// configuration included), `inputs_from` values, `env`, workspace,
    /// `secret_env` names, providers, terraform, the action and the saved
    /// plan it applied. `--resume` reuses a success only while it is unchanged.
    #[serde(default)]
    pub digest: Option<String>,
    /// plan: whether applying the saved plan would change anything.
    #[serde(default)]
    pub changes: Option<bool>,
    /// plan: what the saved plan changes (addresses, actions, output names; never values).
    #[serde(default)]
    pub resource_changes: Option<PlanChanges>,
    /// Terraform processes this instance ran in this run.
    #[serde(default)]
    pub terraform_processes: Option<u32>,
    /// Whether `terraform init` was skipped (nothing it used had changed).
    #[serde(default)]
    pub init_skipped: Option<bool>,
    /// The steps it took and their times: `prepare` (fleet), then terraform's.
    #[serde(default)]
    pub steps: Vec<crate::report::steps::StepTiming>,
    /// With `--plan-set`: the plan put into the set (plan) or applied from it (apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanRecord>,
    /// Each attempt of a step that failed at least once, for instances with
    /// a retry policy (attempt, outcome, matched pattern, delay).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<crate::retry::Attempt>,
    /// How many failed attempts ran again (`succeeded after N retries`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    pub succeeded: usize,
    pub failed: usize,
    pub interrupted: usize,
    pub skipped: usize,
    pub cancelled: usize,
    #[serde(default)]
    pub not_run: usize,
    /// Of the failed, those whose lock timed out (status `lock_timeout`).
    #[serde(default)]
    pub lock_timeout: usize,
    #[serde(default)]
    pub stale_plan: usize,
    #[serde(default)]
    pub no_changes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub target: String,
    pub manifest: String,
    pub action: Action,
    pub from_plan: bool,
    pub parallelism: usize,
    pub fail_fast: bool,
    /// The report this run resumed, if any.
    pub resumed_from: Option<String>,
    pub started_at: String,
    pub ended_at: String,
    pub duration_s: f64,
    pub exit_code: i32,
    /// The signal that stopped the run, if one did.
    pub interrupted_by: Option<String>,
    pub counts: Counts,
    pub instances: Vec<InstanceReport>,
    /// Run groups: members, limits, how they ended, the hook's run (the
    /// entries are `groups::GroupReport`s; kept as JSON here so the
    /// report does not depend on the groups' module).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<serde_json::Value>,
    /// With `--affected-since` / `--affected-base-manifest`: what the change affects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affected: Option<Affected>,
    /// Labels of the groups whose `on_change` hook is owed: an instance of
    /// the group changed something (in this run or one it resumed) and the
    /// hook has not succeeded since. Kept current with every progress write,
    /// so `--resume` runs those hooks again even after a crash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_hooks: Vec<String>,
    /// With `--plan-set`: the set written (plan) or applied (apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_set: Option<PlanSetReport>,
}

impl Report {
    pub fn count(instances: &[InstanceReport]) -> Counts {
        let mut c = Counts::default();
        for i in instances {
            match i.status {
                Status::Succeeded => c.succeeded += 1,
                Status::Failed => c.failed += 1,
                Status::LockTimeout => {
                    c.failed += 1;
                    c.lock_timeout += 1;
                }
                Status::Interrupted => c.interrupted += 1,
                Status::Skipped => c.skipped += 1,
                Status::Cancelled => c.cancelled += 1,
                Status::NotRun => c.not_run += 1,
                Status::StalePlan => c.stale_plan += 1,
                Status::NoChanges => c.no_changes += 1,
            }
        }
        c
    }

    /// Replaces the report atomically (0600). `durable` adds fsyncs: the
    /// progress rewrites only need to survive the runner's death, which an
    /// atomic rename gives; the final report also survives a crash.
    /// Returns the bytes written.
    pub fn write(&self, path: &Path, durable: bool) -> Result<usize> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                private::create_dir(parent)?;
            }
        }
        fsutil::check_replaceable(path, "report")?;
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        if durable {
            fsutil::sweep_dead_temps(path);
        }
        private::write_file(path, text.as_bytes(), durable)
            .with_context(|| format!("writing report {}", path.display()))?;
        Ok(text.len())
    }

    pub fn load(path: &Path) -> Result<Report> {
        let bytes = fsutil::read_regular(path, "report")?;
        let report: Report = serde_json::from_slice(&bytes)
            .map_err(|e| unsafe_input(format!("report {} does not parse: {e}", path.display())))?;
        if report.schema != SCHEMA {
            return Err(unsafe_input(format!(
                "report {} has schema {}, not {SCHEMA}",
                path.display(),
                report.schema
            )));
        }
        Ok(report)
    }
}

/// Where a fleet's last report for an action is kept:
/// `<fleet root>/.reports/<target_file_name>.<action>.json`.
pub fn default_path(fleet_root: &Path, target: &str, action: Action) -> PathBuf {
    fleet_root.join(REPORTS_DIR).join(format!(
        "{}.{}.json",
        target_file_name(target),
        action.as_str()
    ))
}

/// A fleet target's label as a file name, one name per label: letters,
/// digits, `-` and `_` stay, every other byte is `%` and two hex digits
/// (`//infra/a:all` → `infra%2Fa%3Aall`, `//infra:a_all` → `infra%3Aa_all`).
/// A main-repository label (`//…`, `@//…`, `@@//…`) drops its `//`; any
/// other starts with `@`, which the escaped form never does. No name starts
/// with `.` (a staging file's prefix in that directory).
pub fn target_file_name(target: &str) -> String {
    let canonical = target
        .strip_prefix("@@//")
        .or_else(|| target.strip_prefix("@//"))
        .map_or_else(|| target.to_string(), |rest| format!("//{rest}"));
    let (prefix, body) = match canonical.strip_prefix("//") {
        Some(rest) => ("", rest),
        None => ("@", canonical.as_str()),
    };
    let mut name = String::from(prefix);
    for byte in body.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
}

pub fn unix_ms(t: SystemTime) -> f64 {
    let us = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
    us as f64 / 1000.0
}

/// RFC 3339 UTC with microseconds: `2025-01-31T12:00:00.123456Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// "N terraform processes (init a, plan b); init skipped for k of m" over
/// the instances that ran in this run (not those reused by `--resume`).
pub fn process_totals(instances: &[InstanceReport]) -> String {
    let ran: Vec<&InstanceReport> = instances
        .iter()
        .filter(|i| !i.reused && i.init_skipped.is_some())
        .collect();
    let mut by_step: std::collections::BTreeMap<&str, u32> = std::collections::BTreeMap::new();
    for step in ran.iter().flat_map(|i| &i.steps).filter(|s| s.terraform) {
        *by_step.entry(step.name.as_str()).or_default() += 1;
    }
    let total: u32 = by_step.values().sum();
    let parts: Vec<String> = by_step.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let skipped = ran.iter().filter(|i| i.init_skipped == Some(true)).count();
    let noun = if total == 1 { "process" } else { "processes" };
    let mut text = format!("{total} terraform {noun}");
    if !parts.is_empty() {
        text.push_str(&format!(" ({})", parts.join(", ")));
    }
    text.push_str(&format!("; init skipped for {skipped} of {}", ran.len()));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn report_names_are_one_per_label() {
        let labels = [
            "//infra/a:all",
            "//infra:a_all",
            "//infra:a/all",
            "//infra/a/all",
            "//infra:a%2Fall",
            "//infra:a.all",
            "//:all",
            "@r//infra:all",
            "//@r//infra:all",
            "r//infra:all",
            "@@r//infra:all",
        ];
        let names: std::collections::BTreeSet<String> =
            labels.iter().map(|l| target_file_name(l)).collect();
        assert_eq!(names.len(), labels.len(), "{names:?}");
        assert_eq!(target_file_name("//infra/a:all"), "infra%2Fa%3Aall");
        assert_eq!(target_file_name("//infra:a_all"), "infra%3Aa_all");
        assert_eq!(target_file_name("@@//infra:all"), "infra%3Aall");
        assert_eq!(target_file_name("@//infra:all"), "infra%3Aall");
        assert!(names
            .iter()
            .all(|n| !n.starts_with('.') && !n.contains('/')));
    }

    #[test]
    fn rfc3339_formats_utc() {
        let t = UNIX_EPOCH + Duration::from_micros(951_782_400_000_001); // 2000-02-29
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.000001Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            "2023-11-14T22:13:20.000000Z"
        );
    }
}
