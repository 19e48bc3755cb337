//! Sealed plan sets: the plans of a `fleet run --action plan --plan-set DIR`
//! with an index of what each was made from (build identity, rendered tree,
//! lock file, terraform version, state lineage and serial, upstream values),
//! sealed (sha256, or HMAC-SHA256 with `FLEET_PLAN_SET_KEY`), so that
//! `--action apply --plan-set DIR` on another copy of the workspace applies
//! exactly what was reviewed, or refuses what no longer holds.
//!
//! [`seal`] seals and verifies, [`state`] reads lineage and serial,
//! [`check`] compares a plan's record with the instance now, [`store`]
//! writes and opens the directory.

pub mod check;
mod seal;
pub mod state;
pub mod store;

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::manifest::Instance;
use crate::tf::locate::Located;
pub use seal::{Seal, KEY_ENV};
pub use state::StateRef;

/// The index's file name inside the set's directory.
pub const INDEX_FILE: &str = "plan-set.json";
/// The format named in every index.
pub const FORMAT: &str = "fleet-plan-set/1";

/// What a plan was made from besides the state, compared again before it is
/// applied. Every field is the same on any machine and path for the same
/// commit and tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MadeFrom {
    /// The instance's build-time identity from the manifest.
    pub identity: Option<String>,
    /// sha256 of the rendered tree's paths and bytes.
    pub rendered: String,
    /// sha256 of the rendered `.terraform.lock.hcl` (none: no lock file).
    pub lock_file: Option<String>,
    /// `terraform version` of the terraform that planned.
    pub terraform_version: String,
    /// Per `inputs_from` variable, sha256 of the upstream output value used.
    pub inputs: BTreeMap<String, String>,
}

/// Resource counts of a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedCounts {
    pub add: u64,
    pub change: u64,
    pub destroy: u64,
}

/// One planned instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub label: String,
    pub made_from: MadeFrom,
    /// The state the plan was made against.
    pub state: StateRef,
    /// Whether applying the plan changes anything (resources or outputs).
    pub changes: bool,
    pub resources: PlannedCounts,
    /// The plan file, relative to the set's directory.
    pub plan_file: String,
    pub plan_sha256: String,
}

/// The sealed part of `plan-set.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub format: String,
    /// The fleet target the set was planned for.
    pub target: String,
    /// The git commit of the workspace, when it is a git checkout.
    pub commit: Option<String>,
    pub created_at: String,
    pub created_unix_s: u64,
    pub fleet_version: String,
    /// The planned instances, in manifest order.
    pub instances: Vec<Entry>,
    /// Selected instances whose plan did not succeed (not in the set).
    pub not_planned: Vec<String>,
}

impl Index {
    /// The bytes the seal covers.
    pub fn canonical(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).context("encoding the plan set index")
    }

    pub fn entry(&self, label: &str) -> Option<&Entry> {
        self.instances.iter().find(|e| e.label == label)
    }
}

/// `plan-set.json`: the index and its seal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedIndex {
    pub index: Index,
    pub seal: Seal,
}

/// What `inst`'s plan is made from now: `inputs` is the inputs file's text
/// (empty without `inputs_from`).
pub fn made_from(
    located: &Located,
    inst: &Instance,
    inputs: &str,
    terraform_version: &str,
) -> Result<MadeFrom> {
    let rendered_dir = located.rendered(inst)?;
    let rendered = crate::tf::rundir::rendered_content_digest(&rendered_dir)?;
    let lock_path = rendered_dir.join(".terraform.lock.hcl");
    let lock_file = match std::fs::read(&lock_path) {
        Ok(bytes) => Some(sha256_hex(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", lock_path.display())),
    };
    Ok(MadeFrom {
        identity: inst.identity.clone(),
        rendered,
        lock_file,
        terraform_version: terraform_version.to_string(),
        inputs: input_digests(inputs)?,
    })
}

/// Per variable, sha256 of its value's JSON (never the value: it may be secret).
fn input_digests(inputs: &str) -> Result<BTreeMap<String, String>> {
    if inputs.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let values: Map<String, Value> =
        serde_json::from_str(inputs).context("reading the inputs file's values")?;
    values
        .iter()
        .map(|(var, value)| Ok((var.clone(), sha256_hex(&serde_json::to_vec(value)?))))
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `terraform version` of `terraform` (from `-json`).
pub fn terraform_version(terraform: &std::path::Path) -> Result<String> {
    let out = std::process::Command::new(terraform)
        .args(["version", "-json"])
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {} version", terraform.display()))?;
    #[derive(Deserialize)]
    struct Version {
        terraform_version: String,
    }
    let v: Version = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{} version -json printed no version ({})",
            terraform.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    Ok(v.terraform_version)
}
