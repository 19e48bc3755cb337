//! The plan set's directory: `plan-set.json` and `plans/<id>.tfplan`,
//! private to the user (0700 / 0600): terraform's plan files hold the
//! values in clear, sensitive ones included.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::seal::{self, key_from_env};
use super::state::{self, StateRef};
use super::{sha256_hex, Index, SealedIndex, FORMAT, INDEX_FILE};
use crate::error::{unsafe_input, usage};
use crate::fsutil;
use crate::fsutil::private;

const PLANS: &str = "plans";

/// Prepares `dir` for a new set: created 0700 when missing; an existing one
/// must be empty, so a set never mixes plans of two runs (or commits).
pub fn create(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(usage(format!(
                    "--plan-set {}: the directory is not empty (a plan set is written into a new \
                     or empty directory, never over another one)",
                    dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("--plan-set {}", dir.display())),
    }
    private::create_dir(dir)?;
    private::create_dir(&dir.join(PLANS))
}

/// A plan copied into the set.
pub struct Added {
    /// Relative to the set's directory.
    pub file: String,
    pub sha256: String,
    /// The state it was made against.
    pub state: StateRef,
}

/// Copies `label`'s saved plan into the set (0600), hashing the bytes copied.
pub fn add_plan(dir: &Path, label: &str, plan: &Path) -> Result<Added> {
    let bytes = std::fs::read(plan).with_context(|| format!("reading plan {}", plan.display()))?;
    let state = state::planned_against(&bytes).with_context(|| format!("{}", plan.display()))?;
    let file = format!("{PLANS}/{}.tfplan", &sha256_hex(label.as_bytes())[..32]);
    private::write_file(&dir.join(&file), &bytes, true)
        .with_context(|| format!("adding {label}'s plan to the plan set"))?;
    Ok(Added {
        file,
        sha256: sha256_hex(&bytes),
        state,
    })
}

/// Seals and writes the index (atomically, durably, 0600); returns the seal.
pub fn write_index(dir: &Path, index: &Index) -> Result<seal::Seal> {
    let seal = seal::seal(&index.canonical()?, key_from_env().as_deref());
    let sealed = SealedIndex {
        index: index.clone(),
        seal: seal.clone(),
    };
    let mut text = serde_json::to_string_pretty(&sealed)?;
    text.push('\n');
    let path = dir.join(INDEX_FILE);
    private::write_file(&path, text.as_bytes(), true)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(seal)
}

/// An opened set whose seal verified.
#[derive(Debug)]
pub struct Opened {
    pub dir: PathBuf,
    pub index: Index,
    pub seal: seal::Seal,
}

/// Opens the set in `dir` and verifies its seal: anything that does not
/// parse, an unknown format or a seal that does not hold is refused (exit 4).
pub fn open(dir: &Path) -> Result<Opened> {
    let path = dir.join(INDEX_FILE);
    let what = format!("plan set {}", path.display());
    let bytes = fsutil::read_regular(&path, "plan set index")?;
    let sealed: SealedIndex = serde_json::from_slice(&bytes)
        .map_err(|e| unsafe_input(format!("{what} does not parse: {e}; nothing applied")))?;
    seal::verify(
        &sealed.seal,
        &sealed.index.canonical()?,
        key_from_env().as_deref(),
        &what,
    )?;
    if sealed.index.format != FORMAT {
        return Err(unsafe_input(format!(
            "{what} has format {:?}, this fleet reads {FORMAT:?}",
            sealed.index.format
        )));
    }
    Ok(Opened {
        dir: dir.to_path_buf(),
        index: sealed.index,
        seal: sealed.seal,
    })
}

impl Opened {
    /// The bytes of a plan file of the set, or `None` when its name is not
    /// one fleet writes (`plans/<hex>.tfplan`) or it cannot be read.
    pub fn plan_bytes(&self, file: &str) -> Option<Vec<u8>> {
        let name = file.strip_prefix("plans/")?.strip_suffix(".tfplan")?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        fsutil::read_regular(&self.dir.join(file), "plan file").ok()
    }
}
