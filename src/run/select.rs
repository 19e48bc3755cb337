//! The first steps of `fleet run`: checking the flags, choosing the
//! instances (`--only`, then affected-only) and the concurrency limit, and
//! where an earlier report to resume from lives.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Result;

use super::{ci, RunOptions, DEFAULT_PARALLELISM};
use crate::affected::Affected;
use crate::error::usage;
use crate::manifest::Manifest;
use crate::process::interruptible::Interrupt;
use crate::report;
use crate::tf::locate::Located;
use crate::tf::Action;

/// Refuses flag combinations that make no sense, before reading anything.
pub(super) fn validate(args: &RunOptions) -> Result<()> {
    if args.action == Action::Output {
        return Err(usage(
            "fleet run --action takes plan, apply or destroy (use fleet tf for output)",
        ));
    }
    if args.parallelism < 0 {
        return Err(usage(format!(
            "--parallelism {} is negative (0 means the default)",
            args.parallelism
        )));
    }
    if args.from_plan && args.action != Action::Apply {
        return Err(usage("--from-plan goes with --action apply"));
    }
    args.ci.check(args.action)?;
    super::sealed::validate(args)?;
    // Before anything runs: a device, fifo, socket or directory there is
    // refused, not replaced at the end.
    if let Some(path) = &args.report {
        crate::fsutil::check_replaceable(path, "--report")?;
    }
    if let Some(path) = &args.ci.summary {
        crate::fsutil::check_replaceable(path, "--summary")?;
    }
    Ok(())
}

/// Which instances run, why (affected-only), and how many at once.
pub(super) struct Selection {
    /// Manifest indexes of the selected instances.
    pub selected: BTreeSet<usize>,
    /// Set when only the instances a change affects run.
    pub affected: Option<Affected>,
    /// At most this many instances at once.
    pub limit: usize,
}

pub(super) fn select(
    args: &RunOptions,
    manifest: &Manifest,
    interrupt: &Interrupt,
) -> Result<Selection> {
    let mut selected = only(&args.only, manifest)?;
    let affected = args.ci.affected(manifest, interrupt)?;
    if let Some(affected) = &affected {
        ci::narrow(&mut selected, manifest, affected);
    }
    Ok(Selection {
        selected,
        affected,
        limit: limit(args.parallelism, manifest.parallelism),
    })
}

/// The instances named by `--only`, or all of them when it is not given.
fn only(keys: &[String], manifest: &Manifest) -> Result<BTreeSet<usize>> {
    let mut selected = BTreeSet::new();
    for key in keys {
        let inst = manifest
            .find(key)
            .ok_or_else(|| usage(format!("--only {key}: no such instance in the manifest")))?;
        selected.extend(
            manifest
                .instances
                .iter()
                .position(|i| i.label == inst.label),
        );
    }
    if keys.is_empty() {
        selected.extend(0..manifest.instances.len());
    }
    Ok(selected)
}

/// `--parallelism`, else the manifest's value, else the default.
fn limit(flag: i64, from_manifest: u32) -> usize {
    match (flag, from_manifest) {
        (0, 0) => DEFAULT_PARALLELISM,
        (0, m) => m as usize,
        (n, _) => usize::try_from(n).unwrap_or(usize::MAX),
    }
}

/// Where this run's report goes by default, and which report `--resume`
/// reads: `--report` when that file exists, else the default one.
pub(super) struct ResumePoint {
    pub default_report: PathBuf,
    pub resume_from: PathBuf,
}

pub(super) fn resume_point(args: &RunOptions, located: &Located) -> ResumePoint {
    let manifest = &located.manifest;
    let default_report = report::default_path(&located.fleet_root, &manifest.target, args.action);
    let resume_from = args
        .report
        .clone()
        .filter(|p| p.exists())
        .unwrap_or_else(|| default_report.clone());
    ResumePoint {
        default_report,
        resume_from,
    }
}
