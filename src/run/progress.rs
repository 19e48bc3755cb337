//! The run's progress record. Every event (an instance starts terraform,
//! one ends, a group's hook ends) is appended to a journal beside each report
//! path ([`super::journal`]) before the runner acts on it: O(1) per event, and
//! after the runner dies its replay says which instances finished, which were
//! running (`interrupted`) and which never started (`not_run`), and which
//! groups' `on_change` hooks are owed (`pending_hooks`). The report file
//! itself is rewritten (atomically) at the start, at the end, and in between
//! only when the runner is idle or the journal has grown by as much as a
//! report weighs — so those rewrites cost O(1) per event, amortised.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;

use crate::report::{self, InstanceReport, Report, Status};
use crate::run::journal::{self, Entry, Journal};
use crate::run::outcome::Outcome;
use crate::tf::locate::Located;

pub struct Progress {
    pub report: Report,
    /// Where the report is written: the default path, then `--report`.
    pub paths: Vec<PathBuf>,
    journals: Vec<Journal>,
    located: Located,
    names: Vec<String>,
    /// Manifest index → position in `report.instances`.
    position: HashMap<usize, usize>,
    /// Manifest index → labels of its enclosing groups with an `on_change`
    /// hook (empty for an action that changes nothing).
    hook_groups: Vec<Vec<String>>,
    snapshot: Snapshot,
    /// The first write error, reported once at the end (a progress write
    /// failing must not stop terraform runs already under way).
    pub error: Option<anyhow::Error>,
}

/// When the report file was last rewritten during the run, and at what cost.
struct Snapshot {
    /// Journal bytes appended since (per path).
    journaled: usize,
    /// Size of the last rewrite.
    bytes: usize,
    took: Duration,
    at: Instant,
}

/// Idle rewrites take at most this share of the runner's time (1 / N).
const IDLE_SHARE: u32 = 5;
/// An idle rewrite waits for the journal to grow by 1 / this of the report…
const IDLE_GROWTH: usize = 8;
/// …or for this long.
const IDLE_STALE: Duration = Duration::from_secs(60);

impl Progress {
    /// Every selected instance `not_run`, except the reused ones; the hooks
    /// an earlier run owes (`report.pending_hooks`) still owed.
    pub fn new(
        mut report: Report,
        paths: Vec<PathBuf>,
        located: &Located,
        names: &[String],
        selected: &[usize],
        reused: &std::collections::BTreeMap<usize, InstanceReport>,
        hook_groups: Vec<Vec<String>>,
    ) -> Progress {
        let mut position = HashMap::with_capacity(selected.len());
        report.instances = selected
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                position.insert(i, k);
                match reused.get(&i) {
                    Some(old) => instance_report(
                        located,
                        i,
                        &names[i],
                        &Outcome::Reused(Box::new(old.clone())),
                    ),
                    None => not_run(located, i, &names[i]),
                }
            })
            .collect();
        report.counts = Report::count(&report.instances);
        Progress {
            report,
            paths,
            journals: Vec::new(),
            located: located.clone(),
            names: names.to_vec(),
            position,
            hook_groups,
            snapshot: Snapshot {
                journaled: 0,
                bytes: 0,
                took: Duration::ZERO,
                at: Instant::now(),
            },
            error: None,
        }
    }

    /// Writes the report as the run begins (durably) and starts a journal
    /// beside each report path.
    pub fn begin(&mut self) -> Result<()> {
        self.write_final()?;
        for path in &self.paths {
            self.journals.push(Journal::create(path, &self.report)?);
        }
        Ok(())
    }

    /// Instance `i` holds its lock and starts terraform.
    pub fn running(&mut self, i: usize) {
        if let Some(&k) = self.position.get(&i) {
            let now = SystemTime::now();
            self.record(Entry::Running {
                k,
                started_at: report::rfc3339(now),
                started_unix_ms: report::unix_ms(now),
            });
        }
    }

    /// Instance `i` ended (or was skipped or cancelled).
    pub fn finished(&mut self, i: usize, outcome: &Outcome) {
        if let Some(&k) = self.position.get(&i) {
            let owes = if outcome.changed() {
                self.hook_groups.get(i).cloned().unwrap_or_default()
            } else {
                Vec::new()
            };
            let entry = instance_report(&self.located, i, &self.names[i], outcome);
            self.record(Entry::Finished {
                k,
                entry: Box::new(entry),
                owes,
            });
        }
    }

    /// A group's hook ended: once it succeeded, nothing is owed.
    pub fn hook_finished(&mut self, group: &str, ok: bool) {
        self.record(Entry::Hook {
            group: group.to_string(),
            ok,
        });
    }

    /// Nothing happened for a while: bring the report file up to date once
    /// the journal has grown by an eighth of the report (so a fleet of N
    /// gets a bounded number of O(N) rewrites however long it idles), or
    /// after a minute; never more often than a small share of the time.
    pub fn idle(&mut self) {
        let s = &self.snapshot;
        let grown = s.journaled * IDLE_GROWTH >= s.bytes || s.at.elapsed() >= IDLE_STALE;
        if s.journaled > 0 && grown && s.at.elapsed() >= s.took * IDLE_SHARE {
            self.save();
        }
    }

    /// Journals the event (before anything acts on it), then applies it.
    fn record(&mut self, entry: Entry) {
        match journal::line(&entry) {
            Ok(line) => {
                for j in &mut self.journals {
                    if let Err(e) = j.append(&line) {
                        self.error.get_or_insert(e);
                    }
                }
                self.snapshot.journaled += line.len();
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        if let Err(e) = journal::apply(&mut self.report, &entry) {
            self.error.get_or_insert(e);
        }
        if self.snapshot.journaled >= self.snapshot.bytes {
            self.save();
        }
    }

    /// Rewrites the report files (atomically, not durably).
    fn save(&mut self) {
        let t0 = Instant::now();
        self.report.counts = Report::count(&self.report.instances);
        self.report.ended_at = report::rfc3339(SystemTime::now());
        let mut bytes = 0;
        for path in &self.paths {
            match self.report.write(path, false) {
                Ok(n) => bytes = n,
                Err(e) => {
                    self.error.get_or_insert(e);
                }
            }
        }
        self.snapshot = Snapshot {
            journaled: 0,
            bytes,
            took: t0.elapsed(),
            at: Instant::now(),
        };
    }

    /// Writes the final report durably.
    pub fn write_final(&self) -> Result<()> {
        for path in &self.paths {
            self.report.write(path, true)?;
        }
        Ok(())
    }

    /// Writes the final report durably, then removes the journals it
    /// supersedes.
    pub fn conclude(&mut self) -> Result<()> {
        self.write_final()?;
        for j in self.journals.drain(..) {
            j.remove()?;
        }
        Ok(())
    }
}

fn not_run(located: &Located, i: usize, name: &str) -> InstanceReport {
    let inst = &located.manifest.instances[i];
    InstanceReport {
        label: inst.label.clone(),
        name: name.to_string(),
        run_dir: located.run_dir(inst).display().to_string(),
        status: Status::NotRun,
        reason: Some("not started".into()),
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
        digest: None,
        changes: None,
        resource_changes: None,
        terraform_processes: None,
        init_skipped: None,
        steps: Vec::new(),
        attempts: Vec::new(),
        retries: 0,
        plan: None,
    }
}

/// The report entry of an instance's outcome.
pub fn instance_report(
    located: &Located,
    i: usize,
    name: &str,
    outcome: &Outcome,
) -> InstanceReport {
    let base = not_run(located, i, name);
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    match outcome {
        Outcome::Reused(old) => InstanceReport {
            run_dir: base.run_dir,
            reused: true,
            ..(**old).clone()
        },
        Outcome::NotRun { status, reason } => InstanceReport {
            status: *status,
            reason: Some(reason.clone()),
            ..base
        },
        Outcome::Ran { started, result } => InstanceReport {
            status: result.status,
            reason: result.reason.clone(),
            started_at: Some(report::rfc3339(*started)),
            ended_at: Some(report::rfc3339(result.ended)),
            started_unix_ms: Some(report::unix_ms(*started)),
            ended_unix_ms: Some(report::unix_ms(result.ended)),
            duration_s: Some(
                result
                    .ended
                    .duration_since(*started)
                    .unwrap_or_default()
                    .as_secs_f64(),
            ),
            lock_wait_s: result.lock_wait.map(|d| d.as_secs_f64()),
            exit_code: result.exit_code,
            resources: result.resources,
            log: path(&result.log),
            plan_file: path(&result.plan_file),
            outputs_file: path(&result.outputs_file),
            digest: result.digest.clone(),
            changes: result.plan_changes.as_ref().map(|c| c.has_changes()),
            resource_changes: result.plan_changes.clone(),
            terraform_processes: Some(crate::report::steps::terraform_processes(&result.steps)),
            init_skipped: result.init_skipped,
            steps: result.steps.clone(),
            attempts: result.attempts.clone(),
            retries: crate::retry::record::retries(&result.attempts),
            plan: result.plan_entry.as_ref().map(super::sealed::plan_record),
            ..base
        },
    }
}
