//! The init record: what a run directory's last successful `terraform init`
//! was made from. A warm run whose inputs are unchanged goes straight to
//! plan/apply: one terraform process instead of two (init verifies every
//! provider package's checksums, hashing a large binary per instance).
//!
//! The record is removed before init starts and written (atomically) only
//! after init (and workspace selection) succeeded, so a failed or killed
//! init leaves no record and the next run inits again. No fsync: terraform
//! does not sync the data directory either, and after a power loss a record
//! that outlived a half-written data directory only makes terraform ask for
//! `--reinit` (it checks providers and the backend on every command). It holds only digests
//! and names, never values: secrets stay out.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsutil::private;

/// The record's file name in the run directory.
pub const INIT_RECORD: &str = ".fleet-init.json";

/// Bumped when the record's meaning changes: an older record never matches.
const FORMAT: u32 = 1;

/// What decides an init's result, known before it runs.
#[derive(Debug, Clone)]
pub struct InitInputs<'a> {
    /// Digest of the rendered tree (module files, variables, backend config).
    pub rendered: &'a str,
    /// The terraform binary the run uses.
    pub terraform: &'a Path,
    /// `init`'s arguments (plugin dir, lock file mode).
    pub init_args: &'a [String],
    /// The workspace selected after init (`None`: default).
    pub workspace: Option<&'a str>,
    /// The instance's manifest `env` (not secrets): it may steer init.
    pub env: &'a BTreeMap<String, String>,
}

/// One run directory's init fingerprint: the inputs, and what init left in
/// the data directory (checked again, so a deleted or replaced data
/// directory, provider or backend record re-inits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitRecord {
    format: u32,
    rendered: String,
    terraform: String,
    init_args: Vec<String>,
    workspace: Option<String>,
    env: String,
    /// sha256 of the run directory's `.terraform.lock.hcl`, if any.
    lock_file: Option<String>,
    /// The read-only plugin directory's links: slot -> store version
    /// (content-addressed by the package's sha256).
    provider_packages: BTreeMap<String, String>,
    /// sha256 of the data directory's backend record (`terraform.tfstate`).
    backend: Option<String>,
    /// Every entry below the data directory's `providers/` and `modules/`:
    /// kind, size, mtime or link target.
    installed: BTreeMap<String, String>,
    /// The data directory's selected workspace (`environment` file).
    selected_workspace: Option<String>,
}

impl InitRecord {
    /// Fingerprints `run_dir` (with its `data_dir`) as it is now.
    pub fn observe(run_dir: &Path, data_dir: &Path, inputs: &InitInputs) -> Result<InitRecord> {
        let mut installed = BTreeMap::new();
        for sub in ["providers", "modules"] {
            list_entries(&data_dir.join(sub), sub, &mut installed)?;
        }
        Ok(InitRecord {
            format: FORMAT,
            rendered: inputs.rendered.to_string(),
            terraform: binary_identity(inputs.terraform),
            init_args: inputs.init_args.to_vec(),
            workspace: inputs.workspace.map(str::to_string),
            env: env_digest(inputs.env),
            lock_file: file_digest(&run_dir.join(LOCK_FILE_NAME))?,
            provider_packages: links_below(&run_dir.join(PLUGINS_DIR))?,
            backend: file_digest(&data_dir.join("terraform.tfstate"))?,
            installed,
            selected_workspace: read_optional(&data_dir.join("environment"))?
                .map(|b| String::from_utf8_lossy(&b).trim().to_string()),
        })
    }
}

/// The dependency lock file terraform reads in the run directory.
const LOCK_FILE_NAME: &str = ".terraform.lock.hcl";
/// The run directory's read-only plugin directory (see `crate::providers`).
const PLUGINS_DIR: &str = ".plugins";

pub fn record_path(run_dir: &Path) -> PathBuf {
    run_dir.join(INIT_RECORD)
}

/// Whether the last successful init still holds: its record matches what
/// `observe` sees now. A missing, unreadable or foreign record is `false`.
pub fn is_current(run_dir: &Path, data_dir: &Path, inputs: &InitInputs) -> Result<bool> {
    let Some(bytes) = read_optional(&record_path(run_dir))? else {
        return Ok(false);
    };
    let Ok(recorded) = serde_json::from_slice::<InitRecord>(&bytes) else {
        return Ok(false);
    };
    Ok(recorded == InitRecord::observe(run_dir, data_dir, inputs)?)
}

/// Removes the record before init starts: an init that fails or is killed
/// from here on leaves no record behind.
pub fn forget(run_dir: &Path) -> Result<()> {
    let path = record_path(run_dir);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing init record {}", path.display())),
    }
}

/// Records a successful init (atomic, 0600).
pub fn save(run_dir: &Path, record: &InitRecord) -> Result<()> {
    let path = record_path(run_dir);
    let mut text = serde_json::to_vec_pretty(record).context("encoding the init record")?;
    text.push(b'\n');
    private::write_file(&path, &text, false)
        .with_context(|| format!("writing init record {}", path.display()))
}

/// Terraform identified by its real path, size, inode, mtime and ctime:
/// replacing or rewriting the binary changes one of them, and hashing its
/// ~90 MB per instance would cost more than the init it saves.
fn binary_identity(path: &Path) -> String {
    let real = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    match fs::metadata(&real) {
        Ok(m) => format!(
            "{}:{}:{}:{}.{}:{}.{}",
            real.display(),
            m.len(),
            m.ino(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec()
        ),
        Err(_) => format!("{}:missing", real.display()),
    }
}

fn env_digest(env: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (k, v) in env {
        for part in [k, v] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
    }
    hex::encode(h.finalize())
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn file_digest(path: &Path) -> Result<Option<String>> {
    Ok(read_optional(path)?.map(|bytes| hex::encode(Sha256::digest(bytes))))
}

/// Symlinks below `dir` (the plugin directory holds only links): relative
/// path -> target.
fn links_below(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut entries = BTreeMap::new();
    list_entries(dir, "", &mut entries)?;
    Ok(entries)
}

/// Lists `dir` recursively without following links: relative name (under
/// `prefix`) -> kind and what identifies it. A missing `dir` lists nothing.
fn list_entries(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) -> Result<()> {
    let reader = match fs::read_dir(dir) {
        Ok(reader) => reader,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in reader {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = entry.path();
        let meta =
            fs::symlink_metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        if meta.file_type().is_symlink() {
            let target =
                fs::read_link(&path).with_context(|| format!("reading link {}", path.display()))?;
            // A link whose target is gone (a collected store version) differs.
            let alive = if path.exists() { "" } else { " (dangling)" };
            out.insert(rel, format!("link {}{alive}", target.display()));
        } else if meta.is_dir() {
            out.insert(rel.clone(), "dir".into());
            list_entries(&path, &rel, out)?;
        } else {
            out.insert(
                rel,
                format!("file {} {}.{}", meta.len(), meta.mtime(), meta.mtime_nsec()),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
