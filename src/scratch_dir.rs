//! A private scratch directory under `$TMPDIR`, removed when dropped.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::fsutil;

pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates `$TMPDIR/<prefix>.<unique>` (mode 0700).
    pub fn create(prefix: &str) -> Result<ScratchDir> {
        let tmp = std::env::var_os("TMPDIR")
            .filter(|t| !t.is_empty())
            .map_or_else(std::env::temp_dir, PathBuf::from);
        let tmp = if tmp.is_absolute() {
            tmp
        } else {
            std::env::current_dir()
                .context("reading the working directory")?
                .join(tmp)
        };
        let path = tmp.join(format!("{prefix}.{}", fsutil::unique_suffix()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("creating scratch directory {}", path.display()))?;
        Ok(ScratchDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A directory inside, created.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.path.join(name);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fsutil::remove_tree(&self.path);
    }
}
