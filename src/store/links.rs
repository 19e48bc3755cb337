//! Stable links to versions, recorded so gc keeps their targets.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Store;
use crate::fsutil;
use crate::hash;

impl Store {
    /// Points `link` at a version: a temp symlink renamed over it, so readers
    /// see the old target or the new one, never nothing. Records the link so
    /// gc keeps its target.
    pub fn link(&self, link: &Path, version: &Path) -> Result<()> {
        if let Some(parent) = link.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let already = fs::read_link(link).map(|t| t == version).unwrap_or(false);
        if !already {
            if let Ok(meta) = fs::symlink_metadata(link) {
                if !meta.file_type().is_symlink() {
                    return Err(anyhow::anyhow!(
                        "{} exists and is not a symlink; move it away once so fleet can manage it as a link to {}",
                        link.display(),
                        version.display()
                    ));
                }
            }
            fsutil::replace_symlink(link, version)?;
        }
        self.record_link(link)
    }

    fn record_link(&self, link: &Path) -> Result<()> {
        let absolute =
            std::path::absolute(link).with_context(|| format!("resolving {}", link.display()))?;
        let key = hex::encode(
            hash::sha256_reader(absolute.as_os_str().as_bytes()).context("hashing link path")?,
        );
        let record = self.root.join(".links").join(key);
        let bytes = absolute.as_os_str().as_bytes();
        if fs::read(&record).ok().as_deref() != Some(bytes) {
            fsutil::write_atomic(&record, bytes)?;
        }
        Ok(())
    }

    /// Digests that recorded links currently point at; stale records are dropped.
    pub(super) fn linked_digests(&self) -> Result<Vec<String>> {
        let dir = self.root.join(".links");
        let mut digests = Vec::new();
        for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let record = entry
                .with_context(|| format!("listing {}", dir.display()))?
                .path();
            let Ok(link) = fs::read(&record) else {
                continue;
            };
            let link = PathBuf::from(std::ffi::OsStr::from_bytes(&link));
            match fs::read_link(&link) {
                Ok(target) if target.parent() == Some(self.root.as_path()) => {
                    digests.push(
                        target
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    );
                }
                _ => {
                    let _ = fs::remove_file(&record);
                }
            }
        }
        Ok(digests)
    }
}
