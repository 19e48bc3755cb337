//! Kernel locks (flock) with deadlines.
//!
//! We use std's `File::lock`/`try_lock` (flock(2) on Linux, stable since Rust
//! 1.89) rather than fs4/fslock: no extra dependency, and flock locks belong to
//! the open file, so the kernel releases them when the holder dies — there is
//! never a stale lock to guess about, and lock files are never deleted.
//! Threads of one process exclude each other through an in-process table
//! (`table`), as flock alone does not guarantee that on every filesystem.
//!
//! std has no timed flock, so waiting polls with a short backoff (capped at
//! 25 ms) until the deadline. The holder writes its pid and program to
//! `<lock>.holder` (diagnostic only) so a waiter can say who it waits for.

mod child;
mod holder;
pub mod netfs;
mod open;
pub mod set;
mod table;

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::error::Failure;

pub use child::{share_fd_with_child, terminate_with_parent};
pub use holder::{describe as describe_holder, program_name};

const MAX_BACKOFF: Duration = Duration::from_millis(25);

/// Exclusive or shared access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Exclusive,
    Shared,
}

/// A held flock; released when dropped or when the process dies.
#[derive(Debug)]
pub struct Lock {
    claim: table::Claim,
    path: PathBuf,
    waited: Duration,
}

/// The locked descriptor, for handing it to a child that must hold the lock
/// for as long as it lives (see [`Lock::share_with_child`]). Threads of one
/// process holding the same lock file share one descriptor.
impl std::os::fd::AsRawFd for Lock {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.claim.fd()
    }
}

impl Lock {
    /// Takes an exclusive lock on `path`, waiting up to `timeout`.
    /// `purpose` is recorded for waiters ("extracting tools.tar.gz").
    pub fn acquire(path: &Path, timeout: Duration, purpose: &str) -> Result<Lock> {
        Self::acquire_mode(path, Mode::Exclusive, timeout, purpose)
    }

    /// Takes a lock in `mode`, waiting up to `timeout`; prints one line to
    /// stderr when it has to wait, and fails with exit code 3 at the deadline.
    pub fn acquire_mode(path: &Path, mode: Mode, timeout: Duration, purpose: &str) -> Result<Lock> {
        let lock = Self::wait(path, mode, timeout, purpose, || Ok(false))?;
        lock.ok_or_else(|| anyhow::anyhow!("lock {} was not taken", path.display()))
    }

    /// Takes an exclusive lock on `path` unless `done` turns true first.
    /// Waiters for a result someone else is producing under the lock (an
    /// extraction, a digest) return `Ok(None)` as soon as it exists, instead
    /// of each taking the lock in turn just to find the work done.
    pub fn acquire_unless(
        path: &Path,
        timeout: Duration,
        purpose: &str,
        done: impl FnMut() -> Result<bool>,
    ) -> Result<Option<Lock>> {
        Self::wait(path, Mode::Exclusive, timeout, purpose, done)
    }

    fn wait(
        path: &Path,
        mode: Mode,
        timeout: Duration,
        purpose: &str,
        mut done: impl FnMut() -> Result<bool>,
    ) -> Result<Option<Lock>> {
        let start = Instant::now();
        let mut backoff = Duration::from_millis(1);
        let mut announced = false;
        loop {
            if let Some(mut lock) = Self::try_acquire(path, mode, purpose)? {
                lock.waited = start.elapsed();
                return Ok(Some(lock));
            }
            if done()? {
                return Ok(None);
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(Failure::LockTimeout(format!(
                    "timed out after {:.1}s waiting for lock {} (held by {})",
                    timeout.as_secs_f64(),
                    path.display(),
                    describe_holder(path)
                ))
                .into());
            }
            if !announced {
                announced = true;
                eprintln!(
                    "fleet: waiting for lock {} held by {} (timeout {:.0}s)",
                    path.display(),
                    describe_holder(path),
                    timeout.as_secs_f64()
                );
            }
            thread::sleep(backoff.min(timeout.saturating_sub(waited)));
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Takes the lock only if it is free right now.
    /// Fails with exit code 4 when the lock path is a symlink or not a file.
    pub fn try_acquire(path: &Path, mode: Mode, purpose: &str) -> Result<Option<Lock>> {
        let Some(claim) = table::try_claim(path, mode)? else {
            return Ok(None);
        };
        if mode == Mode::Exclusive {
            holder::record(path, purpose);
        }
        Ok(Some(Lock {
            claim,
            path: path.to_path_buf(),
            waited: Duration::ZERO,
        }))
    }

    /// Makes the child that `cmd` spawns inherit the locked descriptor, so
    /// the lock stays held until the child (and anything that inherits it
    /// in turn) has exited, even if this process dies first.
    pub fn share_with_child(&self, cmd: &mut std::process::Command) {
        share_fd_with_child(cmd, self.claim.fd());
    }

    /// How long acquiring it waited.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_exclusive_times_out_with_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let _held = Lock::acquire(&path, Duration::from_secs(1), "test").unwrap();
        // A second acquisition in the same process waits like another process would.
        let err = Lock::acquire(&path, Duration::from_millis(50), "test").unwrap_err();
        assert_eq!(
            crate::error::exit_code_of(&err),
            crate::error::ExitCode::LockTimeout
        );
        let msg = format!("{err:#}");
        assert!(
            msg.contains("x.lock") && msg.contains(&std::process::id().to_string()),
            "{msg}"
        );
    }

    #[test]
    fn shared_locks_coexist_and_block_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.lock");
        let a = Lock::try_acquire(&path, Mode::Shared, "a").unwrap();
        let b = Lock::try_acquire(&path, Mode::Shared, "b").unwrap();
        assert!(a.is_some() && b.is_some());
        assert!(Lock::try_acquire(&path, Mode::Exclusive, "c")
            .unwrap()
            .is_none());
        drop((a, b));
        assert!(Lock::try_acquire(&path, Mode::Exclusive, "c")
            .unwrap()
            .is_some());
    }
}
