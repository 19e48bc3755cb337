//! `fleet run --plan-set DIR`: a plan writes each planned instance's plan
//! and what it was made from into a sealed set ([`crate::plan_set`]); an
//! apply opens a set (its seal verified first, exit 4), runs only the set's
//! instances, and applies an instance's plan only while everything it was
//! made from still holds — else `stale_plan`, with the reason.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use super::RunOptions;
use crate::error::{mismatch, usage};
use crate::manifest::{Instance, Manifest};
use crate::plan_set::store::{self, Opened};
use crate::plan_set::{self, check, Entry, Index, PlannedCounts, StateRef};
use crate::process::Children;
use crate::report::{self, PlanRecord, PlanSetReport};
use crate::tf::locate::Located;
use crate::tf::plan_changes::PlanChanges;
use crate::tf::resources::Resources;
use crate::tf::rundir::RunDir;
use crate::tf::terraform::{Step, Terraform};
use crate::tf::Action;

/// The plan set of a run.
#[derive(Debug)]
pub enum PlanSetRun {
    /// plan: the set being written into `dir`.
    Write {
        dir: PathBuf,
        terraform_version: String,
        commit: Option<String>,
    },
    /// apply: the opened set, its seal verified.
    Apply {
        set: Box<Opened>,
        terraform_version: String,
        max_age: Option<Duration>,
        age: Duration,
    },
}

/// What an apply does with one instance of the set.
pub enum ApplyGate {
    /// Its plan has no changes: not applied (its outputs are read for its
    /// dependents when this fleet root has none yet).
    NoChanges(Entry),
    /// Refused before anything ran.
    Stale(Entry, Vec<String>),
    /// Its plan is in the run directory, ready once the rest checks out.
    Apply(Entry),
}

/// Refuses `--plan-set` / `--max-plan-age` where they do not fit.
pub fn validate(args: &RunOptions) -> Result<()> {
    let Some(_) = &args.plan_set else {
        if args.max_plan_age.is_some() {
            return Err(usage(
                "--max-plan-age goes with --action apply --plan-set DIR",
            ));
        }
        return Ok(());
    };
    match args.action {
        Action::Plan if args.max_plan_age.is_some() => Err(usage(
            "--max-plan-age goes with --action apply --plan-set DIR",
        )),
        Action::Plan => Ok(()),
        Action::Apply if args.from_plan => Err(usage(
            "--plan-set applies the set's plans; --from-plan applies the run directories' (choose one)",
        )),
        Action::Apply if args.resume => Err(usage("--plan-set does not go with --resume")),
        Action::Apply if args.ci.affected_since.is_some() || args.ci.affected_base_manifest.is_some() => {
            Err(usage(
                "--action apply --plan-set applies the set's instances: the pull request's \
                 --affected-since selection was made when the set was planned",
            ))
        }
        Action::Apply => Ok(()),
        _ => Err(usage("--plan-set goes with --action plan or apply")),
    }
}

impl PlanSetRun {
    /// Creates the set's directory (plan) or opens and verifies the set
    /// (apply: a broken seal is exit 4, a set of another fleet exit 5).
    pub fn begin(args: &RunOptions, located: &Located) -> Result<Option<PlanSetRun>> {
        let Some(dir) = &args.plan_set else {
            return Ok(None);
        };
        let terraform_version = plan_set::terraform_version(&located.terraform)?;
        if args.action == Action::Plan {
            store::create(dir)?;
            return Ok(Some(PlanSetRun::Write {
                dir: dir.clone(),
                terraform_version,
                commit: git_commit(&located.workspace_root),
            }));
        }
        let set = store::open(dir)?;
        if set.index.target != located.manifest.target {
            return Err(mismatch(format!(
                "plan set {} was planned for {}, not {}; nothing applied",
                dir.display(),
                set.index.target,
                located.manifest.target
            )));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let age = now.saturating_sub(Duration::from_secs(set.index.created_unix_s));
        Ok(Some(PlanSetRun::Apply {
            set: Box::new(set),
            terraform_version,
            max_age: args.max_plan_age,
            age,
        }))
    }

    pub fn terraform_version(&self) -> &str {
        match self {
            PlanSetRun::Write {
                terraform_version, ..
            }
            | PlanSetRun::Apply {
                terraform_version, ..
            } => terraform_version,
        }
    }

    /// apply: narrows `selected` to the set's instances (what `--only`
    /// chose among them); says which of the set's labels the manifest lacks.
    pub fn narrow(&self, selected: &mut BTreeSet<usize>, manifest: &Manifest) {
        let PlanSetRun::Apply { set, .. } = self else {
            return;
        };
        selected.retain(|&i| set.index.entry(&manifest.instances[i].label).is_some());
        for label in self.unknown(manifest) {
            eprintln!("fleet: warning: plan set instance {label} is not in this fleet's manifest: not applied");
        }
    }

    fn unknown(&self, manifest: &Manifest) -> Vec<String> {
        let PlanSetRun::Apply { set, .. } = self else {
            return vec![];
        };
        set.index
            .instances
            .iter()
            .filter(|e| manifest.instances.iter().all(|i| i.label != e.label))
            .map(|e| e.label.clone())
            .collect()
    }

    /// apply: the set as the report names it.
    pub fn apply_report(&self, manifest: &Manifest) -> Option<PlanSetReport> {
        let PlanSetRun::Apply { set, age, .. } = self else {
            return None;
        };
        Some(PlanSetReport {
            dir: set.dir.display().to_string(),
            seal_algorithm: set.seal.algorithm.clone(),
            seal: set.seal.value.clone(),
            commit: set.index.commit.clone(),
            created_at: set.index.created_at.clone(),
            age_s: Some(age.as_secs()),
            unknown_instances: self.unknown(manifest),
        })
    }

    /// apply: the first checks of one instance, before its directory is
    /// prepared: age, the plan file's digest; puts the plan into the run
    /// directory when they pass, and says whether it has changes.
    pub fn gate(&self, inst: &Instance, run: &RunDir) -> Result<ApplyGate> {
        let PlanSetRun::Apply {
            set, max_age, age, ..
        } = self
        else {
            anyhow::bail!("not applying a plan set");
        };
        let entry = set
            .index
            .entry(&inst.label)
            .with_context(|| format!("{} is not in the plan set", inst.label))?
            .clone();
        let bytes = set.plan_bytes(&entry.plan_file);
        let found = bytes.as_deref().map(plan_set::sha256_hex);
        let reasons: Vec<String> = [
            check::age(*age, *max_age),
            check::plan_file(&entry, found.as_deref()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let plan = run.plan_file();
        match bytes {
            Some(bytes) if reasons.is_empty() => {
                crate::fsutil::private::write_file(&plan, &bytes, false)
                    .with_context(|| format!("copying the set's plan to {}", plan.display()))?;
                Ok(if entry.changes {
                    ApplyGate::Apply(entry)
                } else {
                    ApplyGate::NoChanges(entry)
                })
            }
            _ => {
                forget_plan(run);
                Ok(ApplyGate::Stale(entry, reasons))
            }
        }
    }
}

/// Removes a refused plan from the run directory: a later `--from-plan`
/// must not apply it.
pub fn forget_plan(run: &RunDir) {
    let _ = std::fs::remove_file(run.plan_file());
}

/// apply: why what the plan was made from no longer holds (empty: it holds).
pub fn made_from_reasons(
    set: &PlanSetRun,
    located: &Located,
    inst: &Instance,
    entry: &Entry,
    inputs: &str,
) -> Result<Vec<String>> {
    let now = plan_set::made_from(located, inst, inputs, set.terraform_version())?;
    Ok(check::made_from(entry, &now))
}

/// `terraform state pull`: the backend's state now (after init).
pub fn current_state(tf: &Terraform, children: &Children) -> Result<StateRef> {
    let step = Step {
        name: "state pull",
        args: vec!["state".into(), "pull".into()],
    };
    let mut errors = Vec::new();
    let captured = tf.run_stdout(children, &step, |line| {
        errors.extend_from_slice(line);
        errors.push(b'\n');
    })?;
    let Some((status, stdout)) = captured else {
        anyhow::bail!("terraform state pull: the run was stopping");
    };
    if !status.success() {
        anyhow::bail!(
            "terraform state pull failed: {}",
            String::from_utf8_lossy(&errors).trim()
        );
    }
    plan_set::state::from_state_json(&stdout).context("terraform state pull")
}

/// plan: copies the instance's new plan into the set; returns its entry.
pub fn record_plan(
    set: &PlanSetRun,
    located: &Located,
    inst: &Instance,
    run: &RunDir,
    inputs: &str,
    read: (Option<&PlanChanges>, Option<Resources>),
) -> Result<Entry> {
    let PlanSetRun::Write {
        dir,
        terraform_version,
        ..
    } = set
    else {
        anyhow::bail!("not writing a plan set");
    };
    let added = store::add_plan(dir, &inst.label, &run.plan_file())?;
    let counts = match read {
        (Some(changes), _) => changes.counts(),
        (None, Some(resources)) => resources,
        (None, None) => Resources::default(),
    };
    let changes = match read {
        (Some(changes), _) => changes.has_changes(),
        // Unknown: applying a plan without changes changes nothing.
        (None, resources) => {
            resources.is_none_or(|r| crate::tf::plan_changes::resources_changed(&r))
        }
    };
    Ok(Entry {
        label: inst.label.clone(),
        made_from: plan_set::made_from(located, inst, inputs, terraform_version)?,
        state: added.state,
        changes,
        resources: PlannedCounts {
            add: counts.added,
            change: counts.changed,
            destroy: counts.destroyed,
        },
        plan_file: added.file,
        plan_sha256: added.sha256,
    })
}

/// The report's record of a set's plan.
pub fn plan_record(entry: &Entry) -> PlanRecord {
    PlanRecord {
        file: entry.plan_file.clone(),
        sha256: entry.plan_sha256.clone(),
        state: entry.state.clone(),
        changes: entry.changes,
        resources: entry.resources,
    }
}

/// plan: seals and writes the index of the instances that planned; returns
/// what the report says of the set.
/// `planned`: per selected instance, its label and the entry of its plan
/// (none: it did not plan).
pub fn finish_write(
    set: &PlanSetRun,
    manifest: &Manifest,
    planned: Vec<(String, Option<Entry>)>,
) -> Result<Option<PlanSetReport>> {
    let PlanSetRun::Write { dir, commit, .. } = set else {
        return Ok(None);
    };
    let mut instances = Vec::new();
    let mut not_planned = Vec::new();
    for (label, entry) in planned {
        match entry {
            Some(entry) => instances.push(entry),
            None => not_planned.push(label),
        }
    }
    let created = SystemTime::now();
    let index = Index {
        format: plan_set::FORMAT.into(),
        target: manifest.target.clone(),
        commit: commit.clone(),
        created_at: report::rfc3339(created),
        created_unix_s: created
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs(),
        fleet_version: crate::identity::HELPER_VERSION.into(),
        instances,
        not_planned,
    };
    let seal = store::write_index(dir, &index)?;
    Ok(Some(PlanSetReport {
        dir: dir.display().to_string(),
        seal_algorithm: seal.algorithm,
        seal: seal.value,
        commit: index.commit,
        created_at: index.created_at,
        age_s: None,
        unknown_instances: vec![],
    }))
}

/// The checked-out commit of the workspace, when it is a git checkout.
fn git_commit(workspace_root: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(workspace_root)
        .args(["rev-parse", "--verify", "HEAD"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}
