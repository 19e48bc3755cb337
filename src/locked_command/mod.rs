//! Commands run under locks: `fleet lock -- CMD` (here) and `fleet
//! run-locked` ([`run_locked`]).
//!
//! `fleet lock -- CMD`: CMD inherits the locked descriptor, so the lock is
//! released only when CMD (and anything it passed the fd to) has exited.
//! SIGINT, SIGTERM and SIGHUP sent to fleet are forwarded to CMD while fleet
//! keeps waiting for it; if fleet is SIGKILLed, CMD gets SIGTERM and still
//! holds the lock until it exits.

mod run_locked;

pub use run_locked::{run_locked_command, RunLockedOptions};

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::lock::{share_fd_with_child, terminate_with_parent, Lock};
use crate::process::exit_status_code;

const FORWARDED: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Runs the command under the lock and returns its exit status (128 +
/// signal when a signal killed it).
pub fn lock_command(path: &Path, timeout: Duration, command: &[String]) -> Result<i32> {
    let (program, rest) = command
        .split_first()
        .ok_or_else(|| crate::error::usage("fleet lock needs a command after --"))?;
    let name = Path::new(program)
        .file_name()
        .map_or_else(|| program.clone(), |n| n.to_string_lossy().into_owned());
    let lock = Lock::acquire(path, timeout, &format!("running {name}"))?;
    let mut cmd = Command::new(program);
    cmd.args(rest);
    share_fd_with_child(&mut cmd, lock.as_raw_fd());
    spawn_and_wait(cmd, program).with_context(|| format!("under lock {}", path.display()))
}

/// Spawns `cmd` with the forwarded signals blocked here (restored in the
/// child, which gets SIGTERM if fleet dies), forwards them to the child and
/// waits for it: its exit status, 128 + signal when a signal killed it.
pub(super) fn spawn_and_wait(mut cmd: Command, program: &str) -> Result<i32> {
    terminate_with_parent(&mut cmd, libc::SIGTERM);
    let previous = block(&FORWARDED)?;
    // SAFETY: the closure only calls pthread_sigmask (async-signal-safe).
    unsafe {
        cmd.pre_exec(move || {
            libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => {
            restore(&previous);
            return Err(err).with_context(|| format!("running {program}"));
        }
    };
    forward_signals(child.id());
    let status = child
        .wait()
        .with_context(|| format!("waiting for {program}"))?;
    Ok(exit_status_code(status))
}

fn signal_set(signals: &[i32]) -> libc::sigset_t {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset takes valid signals.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for &s in signals {
            libc::sigaddset(set.as_mut_ptr(), s);
        }
        set.assume_init()
    }
}

/// Blocks `signals` in this thread (and threads it starts afterwards), so
/// they stay pending for `sigwait`; returns the previous mask.
fn block(signals: &[i32]) -> Result<libc::sigset_t> {
    let set = signal_set(signals);
    let mut previous = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: valid set pointers.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, previous.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc)).context("blocking signals");
    }
    // SAFETY: pthread_sigmask succeeded and filled it.
    Ok(unsafe { previous.assume_init() })
}

fn restore(previous: &libc::sigset_t) {
    // SAFETY: a valid, initialised set.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, previous, std::ptr::null_mut()) };
}

/// A thread that takes each forwarded signal and sends it on to the child.
/// It targets the child through a pidfd, so once the child is reaped a late
/// signal goes nowhere instead of to a process that reused its pid.
fn forward_signals(pid: u32) {
    // SAFETY: pidfd_open on our own, not yet reaped, child.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) } as i32;
    std::thread::spawn(move || {
        let set = signal_set(&FORWARDED);
        loop {
            let mut signal = 0;
            // SAFETY: a valid set and out pointer; the signals are blocked.
            if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                return;
            }
            // SAFETY: plain syscalls with integer arguments.
            unsafe {
                if pidfd >= 0 {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        pidfd,
                        signal,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    );
                } else {
                    libc::kill(pid as libc::pid_t, signal);
                }
            }
        }
    });
}
