//! The guard's own side: `fleet __guard -- PROGRAM ARGS...` (see the parent
//! module): receive the runner's orders, start the program, watch it and
//! the runner, exit as the program did.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};

use anyhow::{anyhow, Context, Result};

use super::fds::{self, hung_up_now, wait_readable};
use super::{check_fds, Orders, GAP_FILE, SUBCOMMAND};

/// The signals a guard takes itself (blocked, read from a signalfd), so
/// an interrupt meant for terraform does not end its guard first.
const TAKEN: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// What the guard received: the runner's death pipe, terraform's stdin,
/// the pipes to drain, what terraform keeps.
struct Received {
    orders: Orders,
    death: OwnedFd,
    stdin: Option<OwnedFd>,
    drains: Vec<OwnedFd>,
    keeps: Vec<OwnedFd>,
}

/// Body of `fleet __guard -- PROGRAM ARGS...`; returns the exit code (or
/// ends the process by terraform's signal).
pub fn guard_main(args: &[OsString]) -> i32 {
    let (Some(true), Some(program)) = (args.first().map(|a| a == "--"), args.get(1)) else {
        eprintln!("fleet {SUBCOMMAND}: expects -- PROGRAM ARGS...");
        return 2;
    };
    let runner = unsafe { libc::getppid() };
    let signals = match take_signals() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("fleet {SUBCOMMAND}: {e:#}");
            return 2;
        }
    };
    // SAFETY: the runner placed our end of its socket on stdin.
    let socket = unsafe { OwnedFd::from_raw_fd(libc::STDIN_FILENO) };
    let received = match receive(&socket) {
        Ok(r) => r,
        Err(e) => {
            answer(&socket, &format!("{e:#}"));
            return 2;
        }
    };
    if let Some(file) = std::env::var_os(GAP_FILE) {
        // Test-only (see GAP_HOOK): hold the gap until the runner is killed.
        let _ = std::fs::write(file, "");
        wait_readable(&[received.death.as_raw_fd()]);
    }
    if hung_up_now(received.death.as_raw_fd()) {
        // The runner is gone: start nothing.
        return 0;
    }
    let mut child = match start(program, &args[2..], &received) {
        Ok(child) => child,
        Err(e) => {
            answer(&socket, &format!("{e:#}"));
            return 127;
        }
    };
    answer(&socket, "ok");
    drop(socket);
    let pid = child.id() as libc::pid_t;
    // SAFETY: pidfd_open of our own unreaped child.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    if pidfd < 0 {
        // Cannot watch it: wait plainly (it is our child; our exit follows its).
        return finish(child.wait());
    }
    let group = received.orders.group;
    let death = received.death.as_raw_fd();
    loop {
        match wait_readable(&[pidfd, death, signals.as_raw_fd()]) {
            Some(0) | None => return finish(child.wait()),
            Some(1) => {
                if runner_gone(death) {
                    break;
                }
            }
            Some(_) => {
                // From the runner, in no group of our own: pass it on
                // (a terminal's Ctrl-C reached terraform already).
                if let Some(signal) = read_signal(&signals) {
                    if !group && signal.1 == runner as u32 {
                        // SAFETY: kill(2) of our unreaped child.
                        unsafe { libc::kill(pid, signal.0) };
                    }
                }
            }
        }
    }
    // The group is ours (we lead it, terraform is in it; we take SIGINT).
    let target = if group {
        -unsafe { libc::getpid() }
    } else {
        pid
    };
    // SAFETY: kill(2) of our own group, or of our unreaped child.
    unsafe { libc::kill(target, libc::SIGINT) };
    for pipe in received.drains {
        std::thread::spawn(move || {
            let mut pipe = std::fs::File::from(pipe);
            let mut buf = [0u8; 8192];
            while matches!(pipe.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
    finish(child.wait())
}

/// Blocks the signals the guard takes and opens a signalfd for them.
fn take_signals() -> Result<OwnedFd> {
    // SAFETY: sigset operations on a local; sigprocmask and signalfd on it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in TAKEN {
            libc::sigaddset(&mut set, signal);
        }
        if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error()).context("blocking signals");
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("opening a signalfd");
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// (signal, sender's pid) of a signal taken, if one is there.
fn read_signal(signals: &OwnedFd) -> Option<(libc::c_int, u32)> {
    // SAFETY: reading one signalfd_siginfo into a zeroed local.
    unsafe {
        let mut info: libc::signalfd_siginfo = std::mem::zeroed();
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        let n = libc::read(
            signals.as_raw_fd(),
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            size,
        );
        (n == size as isize).then_some((info.ssi_signo as libc::c_int, info.ssi_pid))
    }
}

fn receive(socket: &OwnedFd) -> Result<Received> {
    let (text, mut got) =
        fds::receive(socket.as_raw_fd()).context("reading the runner's orders")?;
    let orders = std::str::from_utf8(&text)
        .ok()
        .and_then(Orders::decode)
        .ok_or_else(|| anyhow!("unreadable orders from the runner"))?;
    check_fds(&orders, got.len())?;
    let keeps = got.split_off(got.len() - orders.keeps);
    let drains = got.split_off(got.len() - orders.drains);
    let stdin = orders.inherit_stdin.then(|| got.pop()).flatten();
    let death = got
        .pop()
        .ok_or_else(|| anyhow!("no death pipe from the runner"))?;
    Ok(Received {
        orders,
        death,
        stdin,
        drains,
        keeps,
    })
}

/// Starts terraform: the guard's environment, working directory, stdout and
/// stderr (the runner set them for it), the orders' stdin, umask and kept
/// descriptors, and a clear signal mask (std resets it in the child).
fn start(program: &OsString, args: &[OsString], received: &Received) -> Result<Child> {
    let mut cmd = Command::new(program);
    cmd.args(args).env_remove(GAP_FILE);
    match &received.stdin {
        Some(fd) => cmd.stdin(Stdio::from(fd.try_clone().context("duplicating stdin")?)),
        None => cmd.stdin(Stdio::null()),
    };
    if let Some(mask) = received.orders.umask {
        // SAFETY: umask(2) of this single-threaded guard, inherited by terraform.
        unsafe { libc::umask(mask) };
    }
    let keeps: Vec<RawFd> = received.keeps.iter().map(AsRawFd::as_raw_fd).collect();
    // SAFETY: getpid before fork; fcntl, prctl and getppid (async-signal-safe)
    // between fork and exec.
    let guard = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &keeps {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // A guard killed on its own (its thread is the process's only
            // one, so the kernel ties this to the guard) stops terraform
            // gracefully rather than leaving it unwatched.
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGINT as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != guard {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    Ok(cmd.spawn()?)
}

/// Tells the runner how starting went; on our stderr when there is no
/// runner to tell (the subcommand run by hand).
fn answer(socket: &OwnedFd, text: &str) {
    if fds::send(socket, text.as_bytes(), &[]).is_err() {
        eprintln!("fleet {SUBCOMMAND}: {text}");
    }
}

/// Whether the death pipe is at EOF (the runner never writes it).
fn runner_gone(death: RawFd) -> bool {
    let mut byte = [0u8; 64];
    // SAFETY: reading into a local buffer.
    let n = unsafe { libc::read(death, byte.as_mut_ptr().cast(), byte.len()) };
    n == 0 || (n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted)
}

/// Ends the guard as terraform ended: its exit code, or its signal.
fn finish(status: std::io::Result<ExitStatus>) -> i32 {
    let Ok(status) = status else { return 1 };
    if let Some(code) = status.code() {
        return code;
    }
    let Some(signal) = status.signal() else {
        return 1;
    };
    // SAFETY: no core file for a mirrored crash; default action for the
    // signal, unblocked, then raised on ourselves.
    unsafe {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), signal);
    }
    128 + signal
}
