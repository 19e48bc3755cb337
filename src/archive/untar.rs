//! tar and gzip-compressed tar.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::Result;

use super::feed::{spawn_reader, stream_error, Feed};
use super::paths::clean_path;
use super::tree::{OverBudget, Tree};
use super::{Limits, Unpacked};
use crate::error::unsafe_input;

pub(super) fn unpack_tar(file: &File, dest: &Path, gzip: bool, limits: Limits) -> Result<Unpacked> {
    let (mut feed, reader) = spawn_reader(file, gzip)?;
    let result = read_tar_entries(&mut feed, dest, limits);
    let finished = result.and_then(|tree| {
        feed.drain()
            .map_err(|e| stream_error(e, "reading past the end-of-archive marker"))?;
        Ok(tree)
    });
    drop(feed);
    let digest = reader
        .join()
        .map_err(|_| anyhow::anyhow!("archive reader thread panicked"))?;
    let tree = finished?;
    let sha256 = digest.map_err(|e| stream_error(e, "reading archive"))?;
    tree.finish(dest, sha256)
}

pub(super) fn read_tar_entries(feed: &mut Feed, dest: &Path, limits: Limits) -> Result<Tree> {
    let mut tree = Tree::new(limits);
    let mut tar = tar::Archive::new(&mut *feed);
    let entries = tar.entries().map_err(|e| stream_error(e, "reading tar"))?;
    for (index, entry) in entries.enumerate() {
        let entry = entry.map_err(|e| stream_error(e, &format!("tar entry {}", index + 1)))?;
        if matches!(entry.header().entry_type(), tar::EntryType::XGlobalHeader) {
            continue;
        }
        tree.count_entry()?;
        add_tar_entry(&mut tree, dest, entry)?;
    }
    if feed.tail.len() < 512 || feed.tail.iter().any(|&b| b != 0) {
        return Err(unsafe_input(
            "truncated tar: the end-of-archive marker is missing".to_string(),
        ));
    }
    Ok(tree)
}

pub(super) fn add_tar_entry(
    tree: &mut Tree,
    dest: &Path,
    mut entry: tar::Entry<impl Read>,
) -> Result<()> {
    let kind = entry.header().entry_type();
    let raw = entry.path_bytes().into_owned();
    let Some(path) = clean_path(&raw)? else {
        if kind.is_dir() {
            return Ok(());
        }
        return Err(unsafe_input("an entry names the archive root itself"));
    };
    let mode = entry
        .header()
        .mode()
        .map_err(|e| stream_error(e, &format!("mode of {path:?}")))?;
    let link_target = |entry: &tar::Entry<_>, what: &str| {
        entry
            .link_name_bytes()
            .map(|t| t.into_owned())
            .ok_or_else(|| unsafe_input(format!("{what} {path:?} has no target")))
    };
    match kind {
        tar::EntryType::Regular | tar::EntryType::Continuous => {
            // The declared size is what the tar parser will read: refuse it
            // before creating anything when it alone is over the cap.
            if entry.size() > tree.byte_budget() {
                return Err(tree.cap_error(OverBudget.into()));
            }
            tree.begin(dest, &path)?;
            tree.add_file(dest, path, mode, &mut entry)
        }
        tar::EntryType::Directory => {
            tree.begin(dest, &path)?;
            tree.add_dir(dest, path, mode)
        }
        tar::EntryType::Symlink => {
            tree.begin(dest, &path)?;
            let target = link_target(&entry, "symlink")?;
            tree.add_symlink(path, &target)
        }
        tar::EntryType::Link => {
            tree.begin(dest, &path)?;
            let target = link_target(&entry, "hard link")?;
            tree.add_hardlink(dest, path, &target)
        }
        tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
            Err(unsafe_input(format!(
                "entry {path:?} is a device or FIFO ({kind:?}), which a tools archive must not contain"
            )))
        }
        other => Err(unsafe_input(format!(
            "entry {path:?} has an unsupported type {other:?}"
        ))),
    }
}
