//! The tree being unpacked: every entry checked against what exists.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::feed::stream_error;
use super::model::{Model, Node};
use super::paths::{clean_path, sanitize_mode};
use super::{Limits, Unpacked, CHUNK};
use crate::error::unsafe_input;
use crate::hash::Sha256Digest;

/// Tracks what has been created so every entry can be checked against it.
pub(super) struct Tree {
    /// Explicit entries seen (duplicates are refused).
    seen: HashSet<String>,
    /// Everything the tree holds, implied directories included; symlinks
    /// are only recorded here until [`Tree::finish`] creates them.
    model: Model,
    /// Explicit directory modes, applied last (deepest first).
    dir_modes: Vec<(String, u32)>,
    limits: Limits,
    entries: u64,
    bytes: u64,
    files: usize,
}

impl Tree {
    pub(super) fn new(limits: Limits) -> Tree {
        Tree {
            seen: HashSet::new(),
            model: Model::default(),
            dir_modes: Vec::new(),
            limits,
            entries: 0,
            bytes: 0,
            files: 0,
        }
    }

    /// Counts one archive entry against the entry cap.
    pub(super) fn count_entry(&mut self) -> Result<()> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(unsafe_input(format!(
                "more than {} entries, the cap (--max-entries / FLEET_MAX_ENTRIES)",
                self.limits.max_entries
            )));
        }
        Ok(())
    }

    /// Bytes the remaining entries may still write.
    pub(super) fn byte_budget(&self) -> u64 {
        self.limits.max_unpacked_bytes.saturating_sub(self.bytes)
    }

    pub(super) fn claim(&mut self, path: &str) -> Result<()> {
        if !self.seen.insert(path.to_string()) {
            return Err(unsafe_input(format!("entry {path:?} appears twice")));
        }
        Ok(())
    }

    /// Creates the parent directories of `path`, refusing to go through a
    /// symlink or a file.
    pub(super) fn make_parents(&mut self, dest: &Path, path: &str) -> Result<()> {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            match self.model.nodes.get(&prefix) {
                Some(Node::Dir) => {}
                Some(Node::Symlink { .. }) => {
                    return Err(unsafe_input(format!(
                        "entry {path:?} goes through the symlink {prefix:?}"
                    )))
                }
                Some(_) => {
                    return Err(unsafe_input(format!(
                        "entry {path:?} goes through the file {prefix:?}"
                    )))
                }
                None => {
                    let dir = dest.join(&prefix);
                    fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
                    self.model.nodes.insert(prefix.clone(), Node::Dir);
                }
            }
        }
        Ok(())
    }

    /// Claims `path` for a new entry: not seen before, parents created.
    pub(super) fn begin(&mut self, dest: &Path, path: &str) -> Result<()> {
        self.claim(path)?;
        self.make_parents(dest, path)
    }

    /// Writes a regular file's content, within the byte cap.
    pub(super) fn add_file(
        &mut self,
        dest: &Path,
        path: String,
        mode: u32,
        content: &mut impl Read,
    ) -> Result<()> {
        let mode = sanitize_mode(mode, false);
        let (digest, written) = write_file(dest, &path, mode, content, self.byte_budget())
            .map_err(|e| self.cap_error(e))?;
        self.bytes += written;
        self.files += 1;
        let node = Node::File {
            sha256: hex::encode(digest),
            exec: mode & 0o100 != 0,
        };
        self.model.nodes.insert(path, node);
        Ok(())
    }

    /// Turns the writer's "over budget" marker into the cap error.
    pub(super) fn cap_error(&self, err: anyhow::Error) -> anyhow::Error {
        if err.downcast_ref::<OverBudget>().is_some() {
            return unsafe_input(format!(
                "unpacks to more than {} bytes, the cap (--max-unpacked-bytes / FLEET_MAX_UNPACKED_BYTES)",
                self.limits.max_unpacked_bytes
            ));
        }
        err
    }

    pub(super) fn add_dir(&mut self, dest: &Path, path: String, mode: u32) -> Result<()> {
        match self.model.nodes.get(&path) {
            Some(Node::Dir) => {}
            Some(_) => {
                return Err(unsafe_input(format!(
                    "directory {path:?} replaces another entry"
                )))
            }
            None => {
                let dir = dest.join(&path);
                fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
                self.model.nodes.insert(path.clone(), Node::Dir);
            }
        }
        self.dir_modes.push((path, sanitize_mode(mode, true)));
        Ok(())
    }

    /// Records a symlink (created by [`Tree::finish`]) after checking it
    /// against the tree so far; the complete tree is checked again at the end.
    pub(super) fn add_symlink(&mut self, path: String, target: &[u8]) -> Result<()> {
        let target = std::str::from_utf8(target)
            .map_err(|_| unsafe_input(format!("symlink {path:?} has a non-UTF-8 target")))?;
        if self.model.nodes.contains_key(&path) {
            return Err(unsafe_input(format!(
                "symlink {path:?} replaces another entry"
            )));
        }
        self.model.check_link(&path, target)?;
        let node = Node::Symlink {
            target: target.to_string(),
        };
        self.model.nodes.insert(path, node);
        Ok(())
    }

    /// A hard link, only to a regular file extracted earlier (never to a
    /// link, never through one: no symlink exists on disk yet).
    pub(super) fn add_hardlink(&mut self, dest: &Path, path: String, target: &[u8]) -> Result<()> {
        let shown = String::from_utf8_lossy(target).into_owned();
        let target = clean_path(target)
            .map_err(|e| unsafe_input(format!("hard link {path:?} -> {shown:?}: {e}")))?
            .ok_or_else(|| unsafe_input(format!("hard link {path:?} points at the root")))?;
        let node = match self.model.nodes.get(&target) {
            Some(node @ Node::File { .. }) => node.clone(),
            _ => {
                return Err(unsafe_input(format!(
                    "hard link {path:?} -> {target:?} does not name an earlier file of the archive"
                )))
            }
        };
        fs::hard_link(dest.join(&target), dest.join(&path))
            .with_context(|| format!("linking {path:?} to {target:?}"))?;
        self.files += 1;
        self.model.nodes.insert(path, node);
        Ok(())
    }

    /// Checks every link against the complete tree, creates the links,
    /// applies directory modes (deepest first) and computes the h1.
    pub(super) fn finish(mut self, dest: &Path, sha256: Sha256Digest) -> Result<Unpacked> {
        self.model.check_all_links()?;
        for (path, node) in &self.model.nodes {
            if let Node::Symlink { target } = node {
                let link = dest.join(path);
                std::os::unix::fs::symlink(target, &link)
                    .with_context(|| format!("creating symlink {}", link.display()))?;
            }
        }
        self.dir_modes
            .sort_by_key(|(path, _)| std::cmp::Reverse(path.matches('/').count()));
        for (path, mode) in &self.dir_modes {
            let dir = dest.join(path);
            fs::set_permissions(&dir, fs::Permissions::from_mode(*mode))
                .with_context(|| format!("setting mode of {}", dir.display()))?;
        }
        Ok(Unpacked {
            sha256,
            h1: self.model.h1()?,
            files: self.files,
            bytes: self.bytes,
            model: self.model,
        })
    }
}

/// Marks a write stopped by the byte cap (mapped to the cap's message).
#[derive(Debug, thiserror::Error)]
#[error("over the unpacked-bytes cap")]
pub(super) struct OverBudget;

/// Writes one file (created new: never through an existing name), at most
/// `budget` bytes (counted as written: declared sizes may lie), and returns
/// the sha256 of its content and its length.
pub(super) fn write_file(
    dest: &Path,
    path: &str,
    mode: u32,
    content: &mut impl Read,
    budget: u64,
) -> Result<(Sha256Digest, u64)> {
    let full = dest.join(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&full)
        .with_context(|| format!("creating {}", full.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut written = 0u64;
    loop {
        let n = content
            .read(&mut buf)
            .map_err(|e| stream_error(e, &format!("reading entry {path:?}")))?;
        if n == 0 {
            break;
        }
        if written + n as u64 > budget {
            return Err(OverBudget.into());
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .with_context(|| format!("writing {}", full.display()))?;
        written += n as u64;
    }
    // The process umask may have narrowed the mode given to open.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting mode of {}", full.display()))?;
    start_writeback(&file);
    Ok((hasher.finalize().into(), written))
}

/// Starts writing the file's data to disk without waiting, so the single
/// syncfs before publication finds little left to flush. Best effort.
pub(super) fn start_writeback(file: &File) {
    use std::os::unix::io::AsRawFd;
    // SAFETY: a valid descriptor; sync_file_range touches no memory of ours.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}
