//! Garbage collection: never a linked, in-use or being-extracted version.

use std::fs;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::fsutil;
use crate::lock::{Lock, Mode};

use super::digest_index::index_record_current;
use super::Store;

impl Store {
    /// Removes staging leftovers, incomplete versions and all but the `keep`
    /// most recently used complete versions, never a linked or in-use one.
    pub fn gc(&self, keep: usize, timeout: Duration) -> Result<GcReport> {
        let _gc = Lock::acquire(
            &self.root.join(".locks/gc.lock"),
            timeout,
            "collecting garbage",
        )?;
        let mut report = GcReport::default();
        for entry in fs::read_dir(self.root.join(".trash")).context("listing the trash")? {
            fsutil::remove_tree(&entry.context("listing the trash")?.path())?;
        }
        // Digest records of archives that changed or went away.
        let index = self.root.join(".index");
        for entry in fs::read_dir(&index).with_context(|| format!("listing {}", index.display()))? {
            let record = entry
                .with_context(|| format!("listing {}", index.display()))?
                .path();
            if !index_record_current(&record) {
                fsutil::remove_tree(&record)?;
            }
        }
        report.staging_swept = self.sweep_all_staging()?;
        let linked = self.linked_digests()?;
        let mut complete = Vec::new();
        for digest in self.version_digests()? {
            match self.complete(&digest) {
                Ok(Some(_)) => {
                    let used = fs::metadata(self.manifest_path(&digest))
                        .and_then(|m| m.modified())
                        .unwrap_or(SystemTime::UNIX_EPOCH);
                    complete.push((used, digest));
                }
                // Incomplete or unreadable: remove unless an extraction owns it.
                _ => {
                    if self.remove_version(&digest, &mut report)? {
                        report.incomplete_removed += 1;
                    }
                }
            }
        }
        complete.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        for (rank, (_, digest)) in complete.iter().enumerate() {
            if rank < keep || linked.contains(digest) {
                report.kept += 1;
            } else if self.remove_version(digest, &mut report)? {
                report.removed += 1;
            } else {
                report.kept += 1;
            }
        }
        Ok(report)
    }

    /// Digests with anything in the store: a tree, a manifest or a listing
    /// (a gc killed between removing a tree and its listing leaves one).
    pub(super) fn version_digests(&self) -> Result<Vec<String>> {
        let mut digests = Vec::new();
        for dir in [self.root.clone(), self.root.join(".listings")] {
            for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
                let name = entry
                    .with_context(|| format!("listing {}", dir.display()))?
                    .file_name();
                let name = name.to_string_lossy();
                let digest = name.strip_suffix(".json").unwrap_or(&name);
                if digest.len() == 64
                    && digest.bytes().all(|b| b.is_ascii_hexdigit())
                    && !digests.iter().any(|d| d == digest)
                {
                    digests.push(digest.to_string());
                }
            }
        }
        Ok(digests)
    }

    /// Removes one version if neither its extraction nor its use lock is held:
    /// manifest first (the version stops being complete), then the tree via
    /// the trash. Returns whether it was removed.
    fn remove_version(&self, digest: &str, report: &mut GcReport) -> Result<bool> {
        let Some(_extracting) =
            Lock::try_acquire(&self.lock_path(digest, "lock"), Mode::Exclusive, "gc")?
        else {
            report.in_use.push(digest.to_string());
            return Ok(false);
        };
        let Some(_using) =
            Lock::try_acquire(&self.lock_path(digest, "use"), Mode::Exclusive, "gc")?
        else {
            report.in_use.push(digest.to_string());
            return Ok(false);
        };
        let manifest = self.manifest_path(digest);
        if manifest.exists() {
            fs::remove_file(&manifest)
                .with_context(|| format!("removing {}", manifest.display()))?;
            fsutil::sync_dir(&self.root)?;
        }
        let version = self.version_path(digest);
        if version.exists() {
            self.discard(&version)?;
        }
        let listing = self.listing_path(digest);
        if listing.exists() {
            fs::remove_file(&listing).with_context(|| format!("removing {}", listing.display()))?;
        }
        Ok(true)
    }

    fn sweep_all_staging(&self) -> Result<usize> {
        let staging = self.root.join(".staging");
        let mut swept = 0;
        for entry in
            fs::read_dir(&staging).with_context(|| format!("listing {}", staging.display()))?
        {
            let path = entry
                .with_context(|| format!("listing {}", staging.display()))?
                .path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let digest = name.split('.').next().unwrap_or_default();
            if let Some(_lock) =
                Lock::try_acquire(&self.lock_path(digest, "lock"), Mode::Exclusive, "gc")?
            {
                fsutil::remove_tree(&path)?;
                swept += 1;
            }
        }
        Ok(swept)
    }
}

/// What `fleet gc` did.
#[derive(Debug, Default, Serialize)]
pub struct GcReport {
    pub removed: usize,
    pub kept: usize,
    pub incomplete_removed: usize,
    pub staging_swept: usize,
    /// Versions skipped because a fleet process is extracting or using them.
    pub in_use: Vec<String>,
}
