//! The CI options of `fleet run`: which instances a change affects
//! (`--affected-since`, `--affected-base-manifest`), the Markdown summary
//! (`--summary`) and drift exit codes (`--detailed-exitcode`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::affected::base_build::{identities_at, manifest_identities, BazelCommand};
use crate::affected::{Affected, HeadInstance};
use crate::error::{usage, ExitCode};
use crate::manifest::Manifest;
use crate::process::interruptible::Interrupt;
use crate::report::markdown::{self, MdInstance, MdRun};
use crate::report::{Report, Status};
use crate::tf::Action;

/// CI options of `fleet run` (all off by default).
#[derive(Debug, Default, Clone)]
pub struct CiOptions {
    /// Run only what a change since this git revision affects.
    pub affected_since: Option<String>,
    /// Compare with this fleet manifest kept from the base build instead.
    pub affected_base_manifest: Option<PathBuf>,
    /// The bazel that builds the fleet at `affected_since`.
    pub bazel: String,
    /// More options for that `bazel build`.
    pub affected_bazel_args: Vec<String>,
    /// Write the Markdown summary here.
    pub summary: Option<PathBuf>,
    /// plan: 0 no changes, 2 changes, 1 any failure.
    pub detailed_exitcode: bool,
}

impl CiOptions {
    /// Whether planned instances' saved plans are read (`terraform show
    /// -json`, one more terraform process each): only the summary and the
    /// detailed exit code need their resource changes, so a plain warm plan
    /// stays one process per instance.
    pub fn reads_plan_changes(&self) -> bool {
        self.summary.is_some() || self.detailed_exitcode
    }

    pub fn check(&self, action: Action) -> Result<()> {
        if self.affected_since.is_some() && self.affected_base_manifest.is_some() {
            return Err(usage(
                "--affected-since and --affected-base-manifest exclude each other",
            ));
        }
        if self.detailed_exitcode && action != Action::Plan {
            return Err(usage("--detailed-exitcode goes with --action plan"));
        }
        Ok(())
    }

    /// The comparison, when one of the `--affected-*` options was given.
    pub fn affected(&self, manifest: &Manifest, interrupt: &Interrupt) -> Result<Option<Affected>> {
        let (name, base) = match (&self.affected_since, &self.affected_base_manifest) {
            (Some(rev), _) => {
                let bazel = BazelCommand {
                    program: self.bazel.clone(),
                    build_args: self.affected_bazel_args.clone(),
                };
                let identities = identities_at(rev, &manifest.target, &bazel, interrupt)?;
                (rev.clone(), identities)
            }
            (None, Some(path)) => {
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                (format!("manifest {name}"), manifest_identities(path)?)
            }
            (None, None) => return Ok(None),
        };
        let head: Vec<HeadInstance> = manifest
            .instances
            .iter()
            .map(|i| HeadInstance {
                label: &i.label,
                identity: i.identity.as_deref(),
                deps: &i.deps,
            })
            .collect();
        Ok(Some(Affected::compute(&name, &base, &head)))
    }
}

/// Narrows the selection (manifest indexes) to the affected instances.
pub fn narrow(selected: &mut BTreeSet<usize>, manifest: &Manifest, affected: &Affected) {
    let wanted = affected.selected();
    selected.retain(|&i| wanted.contains(manifest.instances[i].label.as_str()));
}

/// The line printed when nothing is affected.
pub fn nothing_affected(manifest: &Manifest, affected: &Affected) -> String {
    let mut line = format!(
        "fleet: no instance of {} is affected since {}: nothing to run ({} unaffected",
        manifest.target,
        affected.base,
        affected.unaffected.len()
    );
    if !affected.removed.is_empty() {
        line.push_str(&format!(
            "; removed, not destroyed: {}",
            affected.removed.join(", ")
        ));
    }
    line.push(')');
    line
}

/// `--detailed-exitcode`: 0 no changes, 2 changes, 1 any failure.
pub fn detailed_exit_code(report: &Report, plain: i32) -> i32 {
    if report.interrupted_by.is_some() {
        return plain;
    }
    if report
        .instances
        .iter()
        .any(|i| i.status != Status::Succeeded)
    {
        return ExitCode::Other as i32;
    }
    if report.instances.iter().any(|i| i.changes == Some(true)) {
        2
    } else {
        ExitCode::Ok as i32
    }
}

/// Writes the Markdown summary of a finished (or empty) run.
pub fn write_summary(path: &Path, report: &Report, manifest: &Manifest) -> Result<()> {
    let names: BTreeMap<String, String> = manifest
        .instances
        .iter()
        .map(|i| (i.label.clone(), i.name.clone()))
        .collect();
    let instances = report
        .instances
        .iter()
        .map(|r| {
            let failed = r.status.is_failure();
            let error = if failed {
                let log = r
                    .log
                    .as_ref()
                    .and_then(|l| std::fs::read_to_string(l).ok())
                    .unwrap_or_default();
                markdown::error_lines(&log, r.reason.as_deref())
            } else {
                vec![]
            };
            MdInstance {
                name: r.name.clone(),
                status: r.status.as_str().to_string(),
                failed,
                resources: r.resources,
                duration_s: r.duration_s,
                changes: r.resource_changes.clone(),
                error,
                retries: r.retries,
                plan: r.plan.as_ref().map(|p| (p.sha256.clone(), p.state.serial)),
            }
        })
        .collect();
    let run = MdRun {
        action: report.action.as_str(),
        target: &report.target,
        instances,
        affected: report.affected.as_ref(),
        names: &names,
        plan_set: report.plan_set.as_ref(),
    };
    let text = markdown::render(&run, markdown::COMMENT_LIMIT);
    crate::fsutil::check_replaceable(path, "summary")?;
    crate::fsutil::private::write_file(path, text.as_bytes(), true)
        .with_context(|| format!("writing summary {}", path.display()))
}
