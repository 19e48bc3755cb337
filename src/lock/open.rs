//! Opening lock files: never through a symlink, read-only when the file
//! belongs to another user (flock works on any open file), created with
//! group/other bits so other users of a shared directory can lock it too.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, Result};

use super::netfs;
use crate::error::unsafe_input;

/// Flags of every lock-file open: no link following, no blocking on a
/// FIFO planted at the path, no leak into children (they get the fd only
/// when asked, see `share_fd_with_child`).
const FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;

pub(super) fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating directory {} for lock", parent.display()))?;
        }
        netfs::warn_once(parent);
    }
    let file = loop {
        match open_existing(path) {
            Ok(file) => break file,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(refusal(e, path)),
        }
        // O_EXCL rather than O_CREAT alone: in a sticky directory the kernel
        // (fs.protected_regular) refuses O_CREAT on another user's file.
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o666)
            .custom_flags(FLAGS)
            .open(path)
        {
            Ok(file) => break file,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(refusal(e, path)),
        }
    };
    let kind = file
        .metadata()
        .with_context(|| format!("reading lock file {}", path.display()))?
        .file_type();
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "a FIFO"
        } else {
            "not a regular file"
        };
        return Err(unsafe_input(format!(
            "lock file {} is {what}; remove it",
            path.display()
        )));
    }
    Ok(file)
}

/// Read-write when allowed (NFS needs a writable descriptor for an
/// exclusive lock), else read-only: another user's 0644 lock file.
fn open_existing(path: &Path) -> std::io::Result<File> {
    let open = |write: bool| {
        OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(FLAGS)
            .open(path)
    };
    match open(true) {
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EACCES | libc::EROFS | libc::EPERM)
            ) =>
        {
            open(false)
        }
        other => other,
    }
}

fn refusal(err: std::io::Error, path: &Path) -> anyhow::Error {
    if err.raw_os_error() == Some(libc::ELOOP) {
        return unsafe_input(format!(
            "lock file {} is a symbolic link; fleet never follows links for its own files (remove it)",
            path.display()
        ));
    }
    anyhow::Error::new(err).context(format!("opening lock file {}", path.display()))
}
