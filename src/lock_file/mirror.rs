//! A packed filesystem mirror (`<host>/<namespace>/<type>/terraform-provider-<type>_<version>_<os>_<arch>.zip`)
//! assembled from symlinks, for `terraform providers lock -fs-mirror`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::usage;
use crate::provider_package::package_file_name;

/// A provider package given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageArg {
    pub source: String,
    pub version: String,
    pub platform: String,
    pub zip: PathBuf,
}

impl PackageArg {
    /// Its path in a packed mirror.
    pub fn mirror_path(&self) -> PathBuf {
        Path::new(&self.source).join(package_file_name(
            &self.source,
            &self.version,
            &self.platform,
        ))
    }
}

/// Links the packages first, then every file of each directory (links
/// followed), into `mirror`; the first of two files for one path wins.
pub fn assemble(mirror: &Path, packages: &[PackageArg], dirs: &[PathBuf]) -> Result<()> {
    for package in packages {
        let zip = absolute(&package.zip)?;
        link_once(&zip, &mirror.join(package.mirror_path()))?;
    }
    for dir in dirs {
        if !dir.is_dir() {
            return Err(usage(format!(
                "mirror directory {} does not exist",
                dir.display()
            )));
        }
        link_files(dir, dir, mirror)?;
    }
    Ok(())
}

fn link_files(root: &Path, dir: &Path, mirror: &Path) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("listing mirror directory {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("listing mirror directory {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            link_files(root, &path, mirror)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            link_once(&absolute(&path)?, &mirror.join(rel))?;
        }
    }
    Ok(())
}

fn link_once(target: &Path, link: &Path) -> Result<()> {
    if fs::symlink_metadata(link).is_ok() {
        return Ok(());
    }
    if let Some(parent) = link.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("linking {} to {}", link.display(), target.display()))
}

/// `path` made absolute against the working directory.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("reading the working directory")?
        .join(path))
}
