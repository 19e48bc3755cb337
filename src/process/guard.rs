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
//! Terraform never executes unguarded. The guard starts first; terraform's
//! process, between fork and exec, resets the runner's signal handlers,
//! asks the kernel for SIGKILL when the runner dies (PR_SET_PDEATHSIG),
//! writes its pid to the guard ("hello" pipe) and blocks until the guard,
//! once it holds a pidfd of it and has checked that the runner still lives
//! (so the pid cannot have been reaped and reused), writes "go". Only then
//! does it clear the death signal and exec terraform. A runner killed
//! before "go" takes the unexecuted child with it (the kernel's death
//! signal, or the child's own check of its parent right after asking for
//! it); after "go" the guard watches. The runner cannot write "go" itself:
//! `Command::spawn` returns only once the child has exec'd.
//!
//! Why not PR_SET_PDEATHSIG alone: it fires when the *thread* that forked the
//! child exits, not the process, and `fleet run` starts terraform from
//! short-lived job threads (during the handshake that thread is blocked in
//! `spawn`, so it holds); it also signals terraform alone, not its group,
//! and cannot keep terraform's output pipe open.

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
/// exactly that point (tests/it/fleet_run_crash.rs). Since the handshake, that
/// is the guard, after it learnt the pid of the forked (not yet exec'd)
/// child and before it opens a pidfd and says "go"; it waits for the
/// runner's death, then goes on as it would.
pub const GAP_HOOK: &str = "FLEET_TEST_GUARD_GAP";

/// How the runner hands the hook's file to the one guard it concerns.
const GAP_FILE: &str = "FLEET_TEST_GUARD_GAP_FILE";

/// The hook's file when [`GAP_HOOK`] is set and names one of `cmd`'s arguments.
pub(super) fn gap_hook_file(cmd: &Command) -> Option<PathBuf> {
    let value = std::env::var_os(GAP_HOOK)?;
    let (argument, file) = value.to_str()?.split_once(':')?;
    cmd.get_args()
        .any(|a| a == argument)
        .then(|| PathBuf::from(file))
}

/// A guard's descriptors: the read end of the hello pipe, the write end of
/// the go pipe, then the output pipes it keeps reading.
const HELLO_FD: RawFd = 3;
const GO_FD: RawFd = 4;
const FIRST_DRAIN_FD: RawFd = 5;

struct DeathPipe {
    read: OwnedFd,
    /// Held, never written: the guards see EOF when this process is gone.
    _write: OwnedFd,
    exe: PathBuf,
}

static DEATH_PIPE: OnceLock<std::result::Result<DeathPipe, String>> = OnceLock::new();

/// A close-on-exec pipe: (read end, write end).
fn cloexec_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two new descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn death_pipe() -> Result<&'static DeathPipe> {
    let made = DEATH_PIPE.get_or_init(|| {
        let (read, write) =
            cloexec_pipe().map_err(|e| format!("creating the runner's death pipe: {e}"))?;
        let exe = std::env::current_exe().map_err(|e| format!("finding the fleet binary: {e}"))?;
        Ok(DeathPipe {
            read,
            _write: write,
            exe,
        })
    });
    made.as_ref().map_err(|e| anyhow!("{e}"))
}

/// A guard started before its terraform: holds the child's ends of the
/// handshake pipes until the child is spawned.
pub struct Pending {
    guard: Child,
    hello: OwnedFd,
    go: OwnedFd,
}

/// Starts a guard for the terraform process about to be spawned; `group`
/// when terraform will lead its own process group (the guard signals the
/// group). `drain` are this process's read ends of terraform's output pipes.
/// Pass the command to [`Pending::hold_until_guarded`] before spawning it.
pub fn spawn(group: bool, drain: &[RawFd], hook: Option<PathBuf>) -> Result<Pending> {
    let pipe = death_pipe()?;
    let (hello_read, hello) = cloexec_pipe().context("creating the guard's hello pipe")?;
    let (go, go_write) = cloexec_pipe().context("creating the guard's go pipe")?;
    let mut cmd = Command::new(&pipe.exe);
    cmd.arg(SUBCOMMAND)
        .arg(if group { "1" } else { "0" })
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
    match hook {
        Some(file) => cmd.env(GAP_FILE, file),
        None => cmd.env_remove(GAP_FILE),
    };
    let mut sources = vec![hello_read.as_raw_fd(), go_write.as_raw_fd()];
    sources.extend_from_slice(drain);
    // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || place_fds(&sources));
    }
    let guard = cmd.spawn().context("starting a terraform guard")?;
    // Our copies of the guard's ends close here: if the guard dies, the
    // child reads EOF instead of "go".
    Ok(Pending { guard, hello, go })
}

impl Pending {
    /// Makes the process `cmd` spawns wait, before exec, until this guard
    /// watches it (see the module comment). Register last: it must be the
    /// final step before exec.
    pub fn hold_until_guarded(&self, cmd: &mut Command) {
        let (hello, go) = (self.hello.as_raw_fd(), self.go.as_raw_fd());
        let runner = std::process::id() as libc::pid_t;
        // SAFETY: the closure makes only async-signal-safe calls (sigaction,
        // signal, prctl, getppid, getpid, write, read) on descriptors that stay open
        // until `spawn` returns, since `self` outlives it.
        unsafe {
            cmd.pre_exec(move || handshake(hello, go, runner));
        }
    }

    /// The guard, once `spawn` of the command has returned (closes the
    /// child's ends here).
    pub fn started(self) -> Child {
        self.guard
    }
}

/// In terraform's process between fork and exec: see the module comment.
/// An error makes `spawn` fail and the child exit without exec.
fn handshake(hello: RawFd, go: RawFd, runner: libc::pid_t) -> std::io::Result<()> {
    let failed = || Err(std::io::Error::last_os_error());
    // SAFETY: async-signal-safe calls on our own descriptors and locals.
    unsafe {
        // The runner's handlers would write to its signal pipe; a signal
        // from now on must stop this child before it becomes terraform.
        // (exec would reset them anyway; an ignored signal stays ignored.)
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) == 0
                && current.sa_sigaction != libc::SIG_IGN
            {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return failed();
        }
        if libc::getppid() != runner {
            // The runner died before the death signal was armed.
            return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
        }
        let pid = libc::getpid().to_ne_bytes();
        if libc::write(hello, pid.as_ptr().cast(), pid.len()) != pid.len() as isize {
            return failed();
        }
        let mut byte = 0u8;
        loop {
            match libc::read(go, (&mut byte as *mut u8).cast(), 1) {
                1 => break,
                n if n < 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) =>
                {
                    continue
                }
                // The guard is gone without a word: never run unguarded.
                _ => return Err(std::io::Error::from_raw_os_error(libc::ECANCELED)),
            }
        }
        if libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) != 0 {
            return failed();
        }
    }
    Ok(())
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
        if unsafe { libc::dup2(fd, HELLO_FD + k as RawFd) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Body of `fleet __guard <group 0|1> <drain count>`; returns the exit code.
pub fn guard_main(args: &[String]) -> i32 {
    let parse = |i: usize| args.get(i).and_then(|a| a.parse::<i32>().ok());
    let (Some(group), Some(drains)) = (parse(0), parse(1)) else {
        eprintln!("fleet {SUBCOMMAND}: expects <group 0|1> <drain count>");
        return 2;
    };
    let Some((pid, pidfd)) = take_charge() else {
        // No child, or the runner died first: the kernel's death signal
        // stops a child that was never told to go.
        return 0;
    };
    // SAFETY: closing our end of the go pipe once "go" is written (or not).
    unsafe { libc::close(GO_FD) };
    if !runner_died(pidfd) {
        return 0;
    }
    let target = if group == 1 { -pid } else { pid };
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

/// The handshake's guard side: reads the child's pid, opens a pidfd of it,
/// checks that the runner still lives (then the child is unreaped, so the
/// pidfd is of our child) and writes "go". `(pid, pidfd)`, or `None` when
/// there is no child to watch.
fn take_charge() -> Option<(i32, RawFd)> {
    let pid = read_hello()?;
    if let Some(file) = std::env::var_os(GAP_FILE) {
        // Test-only (see GAP_HOOK): hold the gap until the runner is killed.
        let _ = std::fs::write(file, "");
        wait_readable(&[0]);
    }
    // SAFETY: pidfd_open on a pid; a failure means it is already gone.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
    if pidfd < 0 || runner_gone_now() {
        return None;
    }
    let go = [b'g'];
    // SAFETY: writing one byte from a local to the go pipe the runner placed on GO_FD.
    if unsafe { libc::write(GO_FD, go.as_ptr().cast(), 1) } != 1 {
        return None;
    }
    Some((pid, pidfd))
}

/// The pid the child writes to the hello pipe; `None` at EOF (it was never
/// started, or died) or when the runner dies first.
fn read_hello() -> Option<i32> {
    let mut pid = [0u8; 4];
    let mut got = 0;
    while got < pid.len() {
        if wait_readable(&[HELLO_FD, 0]) != Some(0) {
            return None;
        }
        // SAFETY: reading into the rest of a local buffer from the hello pipe.
        let n = unsafe { libc::read(HELLO_FD, pid[got..].as_mut_ptr().cast(), pid.len() - got) };
        match n {
            n if n > 0 => got += n as usize,
            n if n < 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return None,
        }
    }
    Some(i32::from_ne_bytes(pid))
}

/// Whether the death pipe is at EOF right now (the runner never writes it).
fn runner_gone_now() -> bool {
    let mut poll = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no waiting.
    let n = unsafe { libc::poll(&mut poll, 1, 0) };
    n != 0
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
