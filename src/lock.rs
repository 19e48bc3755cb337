//! Kernel locks (flock) with deadlines.
//!
//! We use std's `File::lock`/`try_lock` (flock(2) on Linux, stable since Rust
//! 1.89) rather than fs4/fslock: no extra dependency, and flock locks belong to
//! the open file, so the kernel releases them when the holder dies — there is
//! never a stale lock to guess about, and lock files are never deleted.
//!
//! std has no timed flock, so waiting polls `try_lock` with a short backoff
//! (capped at 25 ms) until the deadline. The holder writes its pid and command
//! to `<lock>.holder` (diagnostic only) so a waiter can say who it waits for.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::error::Failure;
use crate::fsutil;

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
    file: File,
    path: PathBuf,
    waited: Duration,
}

/// The locked descriptor, for handing it to a child that must hold the lock
/// for as long as it lives (see `process`).
impl std::os::fd::AsRawFd for Lock {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
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
        let file = open_lock_file(path)?;
        let start = Instant::now();
        let mut backoff = Duration::from_millis(1);
        let mut announced = false;
        loop {
            if try_lock(&file, mode, path)? {
                let lock = Lock {
                    file,
                    path: path.to_path_buf(),
                    waited: start.elapsed(),
                };
                if mode == Mode::Exclusive {
                    record_holder(path, purpose);
                }
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
    pub fn try_acquire(path: &Path, mode: Mode, purpose: &str) -> Result<Option<Lock>> {
        let file = open_lock_file(path)?;
        if !try_lock(&file, mode, path)? {
            return Ok(None);
        }
        if mode == Mode::Exclusive {
            record_holder(path, purpose);
        }
        Ok(Some(Lock {
            file,
            path: path.to_path_buf(),
            waited: Duration::ZERO,
        }))
    }

    /// How long acquiring it waited.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating directory {} for lock", parent.display()))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))
}

fn try_lock(file: &File, mode: Mode, path: &Path) -> Result<bool> {
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

fn holder_path(lock: &Path) -> PathBuf {
    let mut name = lock.as_os_str().to_owned();
    name.push(".holder");
    PathBuf::from(name)
}

/// Records who holds the lock. Diagnostic only: written in place (a waiter
/// may read it half-written, which costs nothing) so that no temp file can
/// be left behind by a holder killed mid-write; failures are ignored.
fn record_holder(lock: &Path, purpose: &str) {
    // Program and subcommand only: arguments may carry secrets (`-var pw=...`).
    let command: Vec<String> = std::env::args().take(2).collect();
    let record = format!(
        "pid={}\ncommand={}\npurpose={}\n",
        std::process::id(),
        command.join(" "),
        purpose.replace('\n', " ")
    );
    let _ = std::fs::write(holder_path(lock), record.as_bytes());
}

/// "pid 123 (fleet extract ...)" from the holder record, for messages.
pub fn describe_holder(lock: &Path) -> String {
    let Ok(record) = std::fs::read_to_string(holder_path(lock)) else {
        return "another process (no holder record)".to_string();
    };
    let field = |key: &str| {
        record
            .lines()
            .find_map(|l| l.strip_prefix(key).map(str::to_string))
            .unwrap_or_default()
    };
    let pid = field("pid=");
    let mut text = format!("pid {pid} ({})", field("command="));
    let purpose = field("purpose=");
    if !purpose.is_empty() {
        text.push_str(&format!(" {purpose}"));
    }
    let alive = pid.parse::<u32>().map(fsutil::process_alive);
    if alive == Ok(false) {
        text.push_str(" [that process has exited; the lock is held by whoever inherited it]");
    }
    text
}

/// `fleet lock`: runs a command while holding an exclusive lock and returns
/// its exit status (128 + signal when it was killed by one).
pub fn lock_command(args: &crate::cli::LockArgs) -> Result<i32> {
    let timeout = args.timeout.duration()?;
    let purpose = format!("running {}", args.command.join(" "));
    let _lock = Lock::acquire(&args.path, timeout, &purpose)?;
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| crate::error::usage("fleet lock needs a command after --"))?;
    let status = Command::new(program)
        .args(rest)
        .status()
        .with_context(|| format!("running {program} under lock {}", args.path.display()))?;
    Ok(exit_status_code(status))
}

/// A child's exit status as a shell would report it.
pub fn exit_status_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_exclusive_times_out_with_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let _held = Lock::acquire(&path, Duration::from_secs(1), "test").unwrap();
        // A second open file description conflicts even within one process.
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
