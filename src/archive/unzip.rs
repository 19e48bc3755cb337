//! zip archives.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::{Context, Result};

use super::paths::clean_path;
use super::tree::Tree;
use super::{hash_descriptor, Limits, Unpacked};
use crate::error::{mismatch, unsafe_input};

/// Zips are read at random offsets, so their bytes are hashed before
/// unpacking and again after, through the same descriptor: a zip that
/// changed in between is refused.
pub(super) fn unpack_zip(
    path: &Path,
    file: &File,
    dest: &Path,
    limits: Limits,
) -> Result<Unpacked> {
    let sha256 = hash_descriptor(path, file)?;
    let reader = file
        .try_clone()
        .context("duplicating the archive descriptor")?;
    let mut zip = zip::ZipArchive::new(BufReader::new(reader))
        .map_err(|e| unsafe_input(format!("not a readable zip: {e}")))?;
    let mut tree = Tree::new(limits);
    for i in 0..zip.len() {
        tree.count_entry()?;
        let mut entry = zip
            .by_index(i)
            .map_err(|e| unsafe_input(format!("zip entry {i}: {e}")))?;
        let Some(name) = clean_path(entry.name_raw())? else {
            continue;
        };
        let mode = entry
            .unix_mode()
            .unwrap_or(if entry.is_dir() { 0o755 } else { 0o644 });
        if mode & 0o170000 == 0o120000 {
            return Err(unsafe_input(format!(
                "zip entry {name:?} is a symlink, which provider packages must not contain"
            )));
        }
        tree.begin(dest, &name)?;
        if entry.is_dir() {
            tree.add_dir(dest, name, mode)?;
        } else {
            tree.add_file(dest, name, mode, &mut entry)?;
        }
    }
    if hash_descriptor(path, file)? != sha256 {
        return Err(mismatch(format!(
            "archive {} changed while being unpacked",
            path.display()
        )));
    }
    tree.finish(dest, sha256)
}
