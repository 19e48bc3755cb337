//! Child processes of the steps before scheduling (the `--affected-since`
//! base build: git, bazel) that a signal stops at once. The runner's signal
//! handlers are installed before those steps; until the scheduler takes
//! over, a signal is recorded here and the running child's process group is
//! interrupted (SIGINT; SIGKILL on a second signal), so the step fails, its
//! temporary worktree and directories are removed on the way out, and the
//! runner exits 128 + signal. Each child leads its own process group: a
//! wrapper script's pipeline (bazel under `tools/bazelw`, bazelisk) is
//! reached whole, and a terminal's Ctrl-C reaches it only through the runner.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, Context, Result};

/// The signal received, and the child to interrupt.
#[derive(Default)]
pub struct Interrupt {
    signal: AtomicI32,
    count: AtomicU32,
    /// The running child: its pid (= its process group) and a pidfd of it;
    /// the lock also orders a spawn against a signal.
    child: Mutex<Option<(u32, OwnedFd)>>,
}

impl Interrupt {
    /// A signal arrived (from the signal thread): the child's group gets
    /// SIGINT, and SIGKILL from the second signal on.
    pub fn received(&self, signal: i32) {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        self.signal.store(signal, Ordering::SeqCst);
        let count = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let to_group = if count == 1 {
            libc::SIGINT
        } else {
            libc::SIGKILL
        };
        if let Some((pgid, pidfd)) = child.as_ref() {
            // The group's id is the leader's pid: only while the leader is
            // not reaped (signal 0 through its pidfd succeeds) can it not
            // name another group.
            // SAFETY: plain syscalls with a pidfd this process owns.
            let leader = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd.as_raw_fd(),
                    0,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
            if leader == 0 {
                // SAFETY: killpg(2) of the group this process created.
                unsafe { libc::killpg(*pgid as libc::pid_t, to_group) };
            }
        }
        drop(child);
    }

    /// The first signal received, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Fails once a signal was received.
    pub fn check(&self) -> Result<()> {
        match self.signal() {
            Some(s) => Err(anyhow!("stopped by {}", crate::process::signals::name(s))),
            None => Ok(()),
        }
    }

    /// Runs `cmd` to its end (no child is started after a signal).
    pub fn status(&self, cmd: &mut Command, what: &str) -> Result<ExitStatus> {
        let mut child = self.spawn(cmd, what)?;
        let status = child.wait();
        self.forget();
        let status = status.with_context(|| format!("{what}: waiting"))?;
        self.check()?;
        Ok(status)
    }

    /// Runs `cmd` with its stdout and stderr captured.
    pub fn output(&self, cmd: &mut Command, what: &str) -> Result<Output> {
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = self.spawn(cmd, what)?;
        let output = child.wait_with_output();
        self.forget();
        let output = output.with_context(|| format!("{what}: waiting"))?;
        self.check()?;
        Ok(output)
    }

    fn spawn(&self, cmd: &mut Command, what: &str) -> Result<Child> {
        let mut slot = self.child.lock().unwrap_or_else(|e| e.into_inner());
        self.check()?;
        let child = cmd
            .process_group(0)
            .spawn()
            .with_context(|| format!("{what}: starting"))?;
        // SAFETY: pidfd_open on our own child, not yet reaped.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
        // SAFETY: a descriptor pidfd_open just returned, owned by nobody else.
        *slot = (fd >= 0).then(|| (child.id(), unsafe { OwnedFd::from_raw_fd(fd as i32) }));
        Ok(child)
    }

    fn forget(&self) {
        *self.child.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
