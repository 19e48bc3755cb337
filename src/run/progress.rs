//! The report kept current while the fleet runs: rewritten atomically (a
//! rename, so a reader or a later `--resume` never sees half a report) each
//! time an instance starts terraform and each time one ends. After the
//! runner dies the last rewrite says which instances finished, which were
//! running (`interrupted`) and which never started (`not_run`), and which
//! groups' `on_change` hooks are owed (`pending_hooks`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Result;

use crate::report::{self, InstanceReport, Report, Status};
use crate::run::outcome::Outcome;
use crate::tf::locate::Located;

pub struct Progress {
    pub report: Report,
    /// Where the report is written: the default path, then `--report`.
    pub paths: Vec<PathBuf>,
    located: Located,
    names: Vec<String>,
    /// Manifest index → position in `report.instances`.
    position: BTreeMap<usize, usize>,
    /// Manifest index → labels of its enclosing groups with an `on_change`
    /// hook (empty for an action that changes nothing).
    hook_groups: Vec<Vec<String>>,
    /// The first write error, reported once at the end (a progress write
    /// failing must not stop terraform runs already under way).
    pub error: Option<anyhow::Error>,
}

impl Progress {
    /// Every selected instance `not_run`, except the reused ones; the hooks
    /// an earlier run owes (`report.pending_hooks`) still owed.
    pub fn new(
        mut report: Report,
        paths: Vec<PathBuf>,
        located: &Located,
        names: &[String],
        selected: &[usize],
        reused: &BTreeMap<usize, InstanceReport>,
        hook_groups: Vec<Vec<String>>,
    ) -> Progress {
        let mut position = BTreeMap::new();
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
            located: located.clone(),
            names: names.to_vec(),
            position,
            hook_groups,
            error: None,
        }
    }

    /// Instance `i` holds its lock and starts terraform.
    pub fn running(&mut self, i: usize) {
        if let Some(&k) = self.position.get(&i) {
            let now = SystemTime::now();
            let entry = &mut self.report.instances[k];
            entry.status = Status::Interrupted;
            entry.reason = Some("running: the runner ended before it finished".into());
            entry.started_at = Some(report::rfc3339(now));
            entry.started_unix_ms = Some(report::unix_ms(now));
            self.save();
        }
    }

    /// Instance `i` ended (or was skipped or cancelled).
    pub fn finished(&mut self, i: usize, outcome: &Outcome) {
        if let Some(&k) = self.position.get(&i) {
            self.report.instances[k] = instance_report(&self.located, i, &self.names[i], outcome);
            if outcome.changed() {
                let pending = &mut self.report.pending_hooks;
                pending.extend(self.hook_groups.get(i).into_iter().flatten().cloned());
                pending.sort();
                pending.dedup();
            }
            self.save();
        }
    }

    /// A group's hook ended: once it succeeded, nothing is owed.
    pub fn hook_finished(&mut self, group: &str, ok: bool) {
        if ok {
            self.report.pending_hooks.retain(|g| g != group);
        }
        self.save();
    }

    fn save(&mut self) {
        self.report.counts = Report::count(&self.report.instances);
        self.report.ended_at = report::rfc3339(SystemTime::now());
        for path in &self.paths {
            if let Err(e) = self.report.write(path, false) {
                self.error.get_or_insert(e);
            }
        }
    }

    /// Writes the final report durably.
    pub fn write_final(&self) -> Result<()> {
        for path in &self.paths {
            self.report.write(path, true)?;
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
            ..base
        },
    }
}
