//! Stopping terraform when the runner dies.
//!
//! Terraform inherits the instance lock, so a runner killed with SIGKILL no
//! longer frees the lock while its terraform lives; but terraform must also
//! learn that its runner is gone, or it holds the lock until it is done with
//! nobody watching. Each terraform gets a guard: a tiny `fleet __guard`
//! process that waits for terraform to exit (pidfd) or for end-of-file on
//! the runner's death pipe, whose write end only the runner holds
//! (close-on-exec, so neither terraform nor a guard keeps it open). At that
//! EOF the guard sends SIGINT to terraform's process group (provisioner
//! shells included), so terraform stops gracefully and saves its state, and
//! keeps reading terraform's output pipes until terraform exits, so terraform
//! is not killed by SIGPIPE halfway through saving its state.
//!
//! Why not PR_SET_PDEATHSIG: it fires when the *thread* that forked the
//! child exits, not the process, and `fleet run` starts terraform from
//! short-lived job threads; it also signals terraform alone, not its group,
//! and cannot keep terraform's output pipe open. The one gap left is the
//! instant between starting terraform and starting its guard.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};

/// The hidden subcommand a guard runs as.
pub const SUBCOMMAND: &str = "__guard";

/// Test-only hook, inert unless set: `FLEET_TEST_GUARD_GAP=<argument>:<file>`.
/// For a terraform command with `<argument>` among its arguments, whoever
/// stands between starting terraform's process and its guard watching it
/// creates `<file>` and waits there, so a test can SIGKILL the runner at
/// exactly that point (tests/fleet_run_crash.rs). No user sets it.
pub const GAP_HOOK: &str = "FLEET_TEST_GUARD_GAP";

/// The hook's file when [`GAP_HOOK`] is set and names one of `cmd`'s arguments.
pub(super) fn gap_hook_file(cmd: &Command) -> Option<PathBuf> {
    let value = std::env::var_os(GAP_HOOK)?;
    let (argument, file) = value.to_str()?.split_once(':')?;
    cmd.get_args()
        .any(|a| a == argument)
        .then(|| PathBuf::from(file))
}

/// Output pipes a guard keeps reading start at this descriptor.
const FIRST_DRAIN_FD: RawFd = 3;

struct DeathPipe {
    read: OwnedFd,
    /// Held, never written: the guards see EOF when this process is gone.
    _write: OwnedFd,
    exe: PathBuf,
}

static DEATH_PIPE: OnceLock<std::result::Result<DeathPipe, String>> = OnceLock::new();

fn death_pipe() -> Result<&'static DeathPipe> {
    let made = DEATH_PIPE.get_or_init(|| {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two new descriptors into the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(format!(
                "creating the runner's death pipe: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: both descriptors were just created and are owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let exe = std::env::current_exe().map_err(|e| format!("finding the fleet binary: {e}"))?;
        Ok(DeathPipe {
            read,
            _write: write,
            exe,
        })
    });
    made.as_ref().map_err(|e| anyhow!("{e}"))
}

/// Starts the guard of terraform process `pid`; `target` is what it signals
/// (`-pid` for a process group). `drain` are this process's read ends of
/// terraform's output pipes.
pub fn spawn(pid: i32, target: i32, drain: &[RawFd]) -> Result<Child> {
    let pipe = death_pipe()?;
    let mut cmd = Command::new(&pipe.exe);
    cmd.arg(SUBCOMMAND)
        .arg(pid.to_string())
        .arg(target.to_string())
        .arg(drain.len().to_string())
        .stdin(Stdio::from(
            pipe.read
                .try_clone()
                .context("duplicating the death pipe")?,
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group: a terminal's Ctrl-C or a kill of the runner's group
        // must not take the guard down with the runner.
        .process_group(0);
    let sources: Vec<RawFd> = drain.to_vec();
    // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || place_fds(&sources));
    }
    cmd.spawn()
        .with_context(|| format!("starting the guard of terraform pid {pid}"))
}

/// Moves `sources` to descriptors 3, 4, ... (through high copies, so a
/// source already sitting on a target number is not overwritten first).
fn place_fds(sources: &[RawFd]) -> std::io::Result<()> {
    let mut high = Vec::with_capacity(sources.len());
    for &fd in sources {
        // SAFETY: duplicating a descriptor this process holds.
        let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 64) };
        if copy < 0 {
            return Err(std::io::Error::last_os_error());
        }
        high.push(copy);
    }
    for (k, &fd) in high.iter().enumerate() {
        // SAFETY: dup2 onto a small descriptor number; the copy is close-on-exec.
        if unsafe { libc::dup2(fd, FIRST_DRAIN_FD + k as RawFd) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Body of `fleet __guard <pid> <target> <drain count>`; returns the exit code.
pub fn guard_main(args: &[String]) -> i32 {
    let parse = |i: usize| args.get(i).and_then(|a| a.parse::<i32>().ok());
    let (Some(pid), Some(target), Some(drains)) = (parse(0), parse(1), parse(2)) else {
        eprintln!("fleet {SUBCOMMAND}: expects <pid> <target> <drain count>");
        return 2;
    };
    // SAFETY: pidfd_open on a pid; a failure means it is already gone.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    if pidfd < 0 {
        return 0;
    }
    if !runner_died(pidfd) {
        return 0;
    }
    // SAFETY: kill(2); the pidfd keeps `pid` from being reused while we hold it.
    unsafe { libc::kill(target, libc::SIGINT) };
    for k in 0..drains {
        let fd = FIRST_DRAIN_FD + k;
        std::thread::spawn(move || {
            // SAFETY: the runner placed a pipe read end on this descriptor for us.
            let mut pipe = unsafe { std::fs::File::from_raw_fd(fd) };
            let mut buf = [0u8; 8192];
            while matches!(pipe.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
    wait_readable(&[pidfd]);
    0
}

/// Waits for terraform's exit (false) or the runner's death (true).
fn runner_died(pidfd: RawFd) -> bool {
    let stdin = std::io::stdin();
    loop {
        match wait_readable(&[pidfd, stdin.as_raw_fd()]) {
            Some(0) => return false,
            Some(_) => {
                let mut byte = [0u8; 64];
                // SAFETY: reading into a local buffer from our stdin.
                let n = unsafe { libc::read(0, byte.as_mut_ptr().cast(), byte.len()) };
                if n == 0 {
                    return true;
                }
                if n < 0
                    && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                {
                    return true;
                }
            }
            None => return true,
        }
    }
}

/// Blocks until one of `fds` is readable (or hung up); its index.
fn wait_readable(fds: &[RawFd]) -> Option<usize> {
    let mut polls: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: a valid array of pollfds of the given length.
        let n = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, -1) };
        if n > 0 {
            return polls.iter().position(|p| p.revents != 0);
        }
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return None;
        }
    }
}
