//! The process-wide table of held locks, keyed by the lock file's (device,
//! inode). flock excludes open files, not threads, and where it is emulated
//! with POSIX locks (NFS) it does not even do that: every thread of one
//! process would "get" an exclusive lock, and closing any descriptor of the
//! file would drop them all. So a process holds at most one descriptor per
//! lock file, shared by all its holders, and opens or closes lock files only
//! with the table's mutex held.

use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use anyhow::{Context, Result};

use super::open::open_lock_file;
use super::Mode;

type Key = (u64, u64);

struct Entry {
    file: File,
    mode: Mode,
    holders: usize,
}

static TABLE: Mutex<Option<HashMap<Key, Entry>>> = Mutex::new(None);

fn table() -> MutexGuard<'static, Option<HashMap<Key, Entry>>> {
    // A panic while holding it cannot leave an entry half-updated.
    TABLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One holder's claim on a lock file; dropping it gives the claim up, and
/// the last claim closes the descriptor (which releases the flock).
#[derive(Debug)]
pub(super) struct Claim {
    key: Key,
    fd: RawFd,
}

impl Claim {
    pub(super) fn fd(&self) -> RawFd {
        self.fd
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut guard = table();
        let map = guard.get_or_insert_with(HashMap::new);
        if let Some(entry) = map.get_mut(&self.key) {
            entry.holders -= 1;
            if entry.holders == 0 {
                // Closed here, under the mutex: see the module comment.
                map.remove(&self.key);
            }
        }
    }
}

/// Takes the lock if neither another thread of this process nor another
/// process conflicts right now; `Ok(None)` when one does.
pub(super) fn try_claim(path: &Path, mode: Mode) -> Result<Option<Claim>> {
    let mut guard = table();
    let map = guard.get_or_insert_with(HashMap::new);
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        let key = (meta.dev(), meta.ino());
        if let Some(entry) = map.get_mut(&key) {
            return Ok(join(entry, key, mode));
        }
    }
    let file = open_lock_file(path)?;
    let meta = file
        .metadata()
        .with_context(|| format!("reading lock file {}", path.display()))?;
    let key = (meta.dev(), meta.ino());
    if let Some(entry) = map.get_mut(&key) {
        // The path was replaced between the stat and the open.
        return Ok(join(entry, key, mode));
    }
    if !try_flock(&file, mode, path)? {
        return Ok(None);
    }
    let fd = file.as_raw_fd();
    map.insert(
        key,
        Entry {
            file,
            mode,
            holders: 1,
        },
    );
    Ok(Some(Claim { key, fd }))
}

/// Another thread holds the file: shared joins shared, anything else waits.
fn join(entry: &mut Entry, key: Key, mode: Mode) -> Option<Claim> {
    if entry.mode == Mode::Shared && mode == Mode::Shared {
        entry.holders += 1;
        Some(Claim {
            key,
            fd: entry.file.as_raw_fd(),
        })
    } else {
        None
    }
}

fn try_flock(file: &File, mode: Mode, path: &Path) -> Result<bool> {
    let attempt = match mode {
        Mode::Exclusive => file.try_lock(),
        Mode::Shared => file.try_lock_shared(),
    };
    match attempt {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("locking {}", path.display()))
        }
    }
}
