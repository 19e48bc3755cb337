//! Terraform child processes: a registry that can interrupt all of them at
//! once, and a runner that merges a child's stdout and stderr into lines.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};

use super::guard::GuardedCommand;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// The running children of this process.
#[derive(Debug)]
pub struct Children {
    /// Each child leads its own process group (unattended runs): a terminal's
    /// Ctrl-C reaches only the runner, which forwards it to whole groups
    /// (terraform, its providers, provisioner shells).
    own_groups: bool,
    state: Mutex<State>,
    /// Wakes [`Children::sleep`] when the run starts stopping.
    stopped: Condvar,
}

#[derive(Debug, Default)]
struct State {
    stopping: bool,
    /// Running children (their guards, see [`super::guard`]).
    pids: BTreeSet<i32>,
    /// Children being started (outside the lock), not yet in `pids`.
    starting: usize,
}

impl Children {
    pub fn new(own_groups: bool) -> Children {
        Children {
            own_groups,
            state: Mutex::new(State::default()),
            stopped: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts `cmd` under its guard unless the run is stopping (then
    /// `None`); the child returned is the guard, which exits as terraform
    /// does. Checking and registering under one lock means no child can
    /// miss an interrupt. `drain` are read ends of pipes the child writes
    /// to: the guard keeps them open if we die.
    ///
    /// Starting a process (exec of a ~90 MB terraform) takes tens of
    /// milliseconds under load, so it runs outside the lock, in parallel
    /// for many instances; a child whose interrupt came while it started
    /// gets it when it is registered, and `running` counts it meanwhile.
    pub fn spawn(&self, cmd: &mut GuardedCommand, drain: &[RawFd]) -> Result<Option<Child>> {
        {
            let mut state = self.lock();
            if state.stopping {
                return Ok(None);
            }
            state.starting += 1;
        }
        let started = super::guard::spawn(cmd, self.own_groups, drain);
        let mut state = self.lock();
        state.starting -= 1;
        let child = started?;
        let pid = child.id() as i32;
        if state.stopping {
            // SAFETY: kill(2) on the child we just started and have not reaped.
            unsafe { libc::kill(self.target(pid), libc::SIGINT) };
        }
        state.pids.insert(pid);
        Ok(Some(child))
    }

    fn target(&self, pid: i32) -> i32 {
        if self.own_groups {
            -pid
        } else {
            pid
        }
    }

    /// Waits for a child and forgets it. The child is forgotten before it
    /// is reaped, so an interrupt can never hit a recycled pid.
    pub fn wait(&self, child: &mut Child) -> Result<ExitStatus> {
        let pid = child.id() as i32;
        loop {
            // SAFETY: waitid with WNOWAIT only observes our own child's exit.
            let rc = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
            {
                break;
            }
        }
        self.lock().pids.remove(&pid);
        let status = child.wait().context("waiting for terraform");
        if self.own_groups {
            // Killed outright (terraform, or its guard on its own): what it
            // started is left in its group, unwatched; stop it as a Ctrl-C would.
            let killed = matches!(&status, Ok(s) if s.signal() == Some(libc::SIGKILL));
            if killed {
                // SAFETY: kill(2) of the group our child led; what is left belongs to this run.
                unsafe { libc::kill(-pid, libc::SIGINT) };
            }
            if killed || self.is_stopping() {
                drain_group(pid);
            }
        }
        status
    }

    pub fn is_stopping(&self) -> bool {
        self.lock().stopping
    }

    /// Waits `wait` unless the run is, or starts, stopping: then it returns
    /// at once. True when the whole wait passed (a retry's backoff: a
    /// Ctrl-C during it ends it).
    pub fn sleep(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        let mut state = self.lock();
        loop {
            if state.stopping {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            state = match self.stopped.wait_timeout(state, deadline - now) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Children running or being started.
    pub fn running(&self) -> usize {
        let state = self.lock();
        state.pids.len() + state.starting
    }

    /// Starts nothing new from now on and sends SIGINT to every running
    /// child (its whole group when children lead groups). Terraform stops
    /// gracefully on SIGINT and releases its state lock. Returns how many
    /// children were signalled.
    pub fn interrupt_all(&self) -> usize {
        let mut state = self.lock();
        state.stopping = true;
        self.stopped.notify_all();
        for &pid in &state.pids {
            let target = if self.own_groups { -pid } else { pid };
            // SAFETY: kill(2) with a pid we started and have not reaped yet.
            unsafe { libc::kill(target, libc::SIGINT) };
        }
        // Those still starting get theirs when they are registered.
        state.pids.len() + state.starting
    }
}

/// After an interrupted terraform exits, waits for the rest of its process
/// group (provisioner shells and what they started, which got the same
/// SIGINT) to be gone, so nothing of the run outlives the runner. What is
/// still running after a grace period is killed.
fn drain_group(pgid: i32) {
    const GRACE: Duration = Duration::from_secs(5);
    let start = Instant::now();
    while group_running(pgid) {
        if start.elapsed() > GRACE {
            // SAFETY: the group was led by our child; what remains belongs to this run.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a process of group `pgid` is still running. Zombies do not
/// count: orphans are reaped by init, which may take its time.
fn group_running(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parens.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2].parse::<i32>() == Ok(pgid)
    })
}

/// Runs `cmd` with stdin from /dev/null and stdout + stderr merged, calling
/// `on_line` for every line (without its newline). `None` when the run was
/// already stopping and the command was not started.
pub fn run_merged(
    children: &Children,
    mut cmd: GuardedCommand,
    mut on_line: impl FnMut(&[u8]),
) -> Result<Option<ExitStatus>> {
    let (reader, writer) = std::io::pipe().context("creating an output pipe")?;
    cmd.stdout(writer.try_clone()?).stderr(writer);
    let child = children.spawn(&mut cmd, &[reader.as_raw_fd()]);
    drop(cmd); // closes our copies of the write end, so EOF comes when the child exits
    let Some(mut child) = child? else {
        return Ok(None);
    };
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                on_line(&line);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = children.wait(&mut child);
                return Err(e).context("reading terraform's output");
            }
        }
    }
    children.wait(&mut child).map(Some)
}

/// Runs `cmd` capturing stdout alone; stderr lines go to `on_stderr`.
pub fn run_stdout(
    children: &Children,
    mut cmd: GuardedCommand,
    mut on_stderr: impl FnMut(&[u8]),
) -> Result<Option<(ExitStatus, Vec<u8>)>> {
    // Our own pipes (not `Stdio::piped`): the guard, started before the
    // child, gets their read ends.
    let (mut out, out_writer) = std::io::pipe().context("creating an output pipe")?;
    let (mut err, err_writer) = std::io::pipe().context("creating an error pipe")?;
    cmd.stdout(out_writer).stderr(err_writer);
    let child = children.spawn(&mut cmd, &[out.as_raw_fd(), err.as_raw_fd()]);
    drop(cmd); // closes our copies of the write ends, so EOF comes when the child exits
    let Some(mut child) = child? else {
        return Ok(None);
    };
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut text);
        text
    });
    let mut stdout = Vec::new();
    if let Err(e) = std::io::Read::read_to_end(&mut out, &mut stdout) {
        let _ = children.wait(&mut child);
        return Err(e).context("reading terraform's output");
    }
    let status = children.wait(&mut child)?;
    let err_text = reader.join().unwrap_or_default();
    for line in err_text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        on_stderr(line);
    }
    Ok(Some((status, stdout)))
}

/// Runs `cmd` with stdin as set on it and stdout and stderr piped: every piece
/// read from either goes, as it arrives, to `on_out` or `on_err` (stderr is
/// read on a thread of its own). `None` when the run was already stopping.
pub fn run_piped(
    children: &Children,
    mut cmd: GuardedCommand,
    mut on_out: impl FnMut(&[u8]) + Send,
    mut on_err: impl FnMut(&[u8]) + Send,
) -> Result<Option<ExitStatus>> {
    let (mut out, out_writer) = std::io::pipe().context("creating an output pipe")?;
    let (mut err, err_writer) = std::io::pipe().context("creating an error pipe")?;
    cmd.stdout(out_writer).stderr(err_writer);
    let child = children.spawn(&mut cmd, &[out.as_raw_fd(), err.as_raw_fd()]);
    drop(cmd); // closes our copies of the write ends, so EOF comes when the child exits
    let Some(mut child) = child? else {
        return Ok(None);
    };
    std::thread::scope(|scope| {
        let errors = scope.spawn(|| pump(&mut err, &mut on_err));
        pump(&mut out, &mut on_out);
        let _ = errors.join();
    });
    children.wait(&mut child).map(Some)
}

/// Runs `cmd` with stdin and stdout as they are set (a terminal's) and
/// stderr piped: every piece of it goes, as it arrives, to `on_err`. `None`
/// when the run was already stopping.
pub fn run_stderr_piped(
    children: &Children,
    mut cmd: GuardedCommand,
    mut on_err: impl FnMut(&[u8]),
) -> Result<Option<ExitStatus>> {
    let (mut err, err_writer) = std::io::pipe().context("creating an error pipe")?;
    cmd.stderr(err_writer);
    let child = children.spawn(&mut cmd, &[err.as_raw_fd()]);
    drop(cmd); // closes our copy of the write end, so EOF comes when the child exits
    let Some(mut child) = child? else {
        return Ok(None);
    };
    pump(&mut err, &mut on_err);
    children.wait(&mut child).map(Some)
}

/// Reads `from` until EOF (or an error), handing each piece to `to`.
fn pump(from: &mut impl std::io::Read, to: &mut impl FnMut(&[u8])) {
    let mut buffer = [0u8; 8192];
    loop {
        match from.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => to(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}
