//! Stopping terraform when the runner dies.
//!
//! Terraform inherits the instance lock, so a runner killed with SIGKILL no
//! longer frees the lock while its terraform lives; but terraform must also
//! learn that its runner is gone, or it holds the lock until it is done with
//! nobody watching. So terraform is never the runner's own child: the runner
//! starts a guard, a tiny `fleet __guard -- terraform ARGS...`, and the guard
//! starts terraform and waits for it (pidfd) or for end-of-file on the
//! runner's death pipe, whose write end only the runner holds
//! (close-on-exec, so neither terraform nor a guard keeps it open). At that
//! EOF the guard sends SIGINT to terraform (its process group, provisioner
//! shells included, when the guard leads one), so terraform stops gracefully
//! and saves its state, and keeps reading terraform's output pipes until
//! terraform exits, so terraform is not killed by SIGPIPE halfway through
//! saving its state. When terraform exits, the guard exits the same way
//! (its code, or its signal), so the runner reads terraform's status from it.
//!
//! Terraform never executes unguarded: the guard checks the death pipe
//! after it has everything it needs and before it starts terraform, and
//! watches it from then on; a runner killed earlier leaves a guard that
//! starts nothing. A guard killed on its own takes terraform with it
//! gracefully: terraform's death signal (PR_SET_PDEATHSIG, tied to the
//! guard's only thread) is SIGINT, and the runner, seeing its child killed,
//! stops what is left of the group.
//!
//! Why the runner does not start terraform itself: anything done between
//! fork and exec (placing inherited descriptors, a handshake with the guard)
//! forces a real `fork` of the runner, whose cost grows with its memory (page
//! tables copied, then written pages copied again): at thousands of
//! instances that was most of the runner's CPU. The runner runs no code in
//! the child, so `posix_spawn` uses `vfork`; what terraform inherits (the
//! lock, stdin, a umask) travels to the guard in one message on its stdin,
//! a Unix socket ([`fds`]), and the guard, a small process, forks cheaply.

mod body;
mod fds;

use std::ffi::OsString;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};

pub use body::guard_main;

/// The hidden subcommand a guard runs as.
pub const SUBCOMMAND: &str = "__guard";

/// Test-only hook, inert unless set: `FLEET_TEST_GUARD_GAP=<argument>:<file>`.
/// For a terraform command with `<argument>` among its arguments, the guard,
/// once it has everything it needs and before it checks the runner and
/// starts terraform, creates `<file>` and waits there, so a test can SIGKILL
/// the runner at exactly that point (tests/it/fleet_run_crash.rs); it waits
/// for the runner's death, then goes on as it would.
pub const GAP_HOOK: &str = "FLEET_TEST_GUARD_GAP";

/// How the runner hands the hook's file to the one guard it concerns.
const GAP_FILE: &str = "FLEET_TEST_GUARD_GAP_FILE";

/// A command that runs under a guard: a `Command` for the guard (so
/// arguments, environment, working directory, stdout and stderr set on it
/// are terraform's too), plus what terraform inherits besides. Build it with
/// [`GuardedCommand::new`], start it with [`crate::process::Children::spawn`].
pub struct GuardedCommand {
    cmd: Command,
    program: OsString,
    keep: Vec<RawFd>,
    umask: Option<libc::mode_t>,
    inherit_stdin: bool,
}

impl GuardedCommand {
    /// `program` under a guard; stdin is /dev/null unless
    /// [`GuardedCommand::inherit_stdin`].
    pub fn new(program: impl Into<OsString>) -> GuardedCommand {
        let program = program.into();
        let mut cmd = Command::new(fleet_exe());
        cmd.arg(SUBCOMMAND).arg("--").arg(&program);
        GuardedCommand {
            cmd,
            program,
            keep: Vec::new(),
            umask: None,
            inherit_stdin: false,
        }
    }

    /// The program the guard runs.
    pub fn program(&self) -> &OsString {
        &self.program
    }

    /// `fd` stays open in the program (a lock it must hold for as long as it
    /// lives, as util-linux `flock(1)` does). `fd` must stay open until the
    /// spawn returns.
    pub fn keep_fd(&mut self, fd: RawFd) -> &mut Self {
        self.keep.push(fd);
        self
    }

    /// The program's umask.
    pub fn umask(&mut self, mask: libc::mode_t) -> &mut Self {
        self.umask = Some(mask);
        self
    }

    /// The program reads this process's stdin (a user at a terminal).
    pub fn inherit_stdin(&mut self) -> &mut Self {
        self.inherit_stdin = true;
        self
    }
}

impl Deref for GuardedCommand {
    type Target = Command;
    fn deref(&self) -> &Command {
        &self.cmd
    }
}

impl DerefMut for GuardedCommand {
    fn deref_mut(&mut self) -> &mut Command {
        &mut self.cmd
    }
}

/// The hook's file when [`GAP_HOOK`] is set and names one of `cmd`'s arguments.
fn gap_hook_file(cmd: &Command) -> Option<PathBuf> {
    let value = std::env::var_os(GAP_HOOK)?;
    let (argument, file) = value.to_str()?.split_once(':')?;
    cmd.get_args()
        .any(|a| a == argument)
        .then(|| PathBuf::from(file))
}

/// This binary, which guards run as (the kernel's link to it if its path
/// cannot be read).
fn fleet_exe() -> &'static PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into()))
}

struct DeathPipe {
    read: OwnedFd,
    /// Held, never written: the guards see EOF when this process is gone.
    _write: std::io::PipeWriter,
}

static DEATH_PIPE: OnceLock<std::result::Result<DeathPipe, String>> = OnceLock::new();

fn death_pipe() -> Result<&'static DeathPipe> {
    let made = DEATH_PIPE.get_or_init(|| {
        let (read, write) =
            std::io::pipe().map_err(|e| format!("creating the runner's death pipe: {e}"))?;
        Ok(DeathPipe {
            read: read.into(),
            _write: write,
        })
    });
    made.as_ref().map_err(|e| anyhow!("{e}"))
}

/// What the runner tells a guard, with the descriptors in this order:
/// death pipe, stdin (when inherited), `drains`, `keeps`.
struct Orders {
    group: bool,
    umask: Option<libc::mode_t>,
    inherit_stdin: bool,
    drains: usize,
    keeps: usize,
}

impl Orders {
    fn encode(&self) -> String {
        format!(
            "group={}\numask={}\nstdin={}\ndrains={}\nkeeps={}\n",
            u8::from(self.group),
            self.umask.map_or("-".to_string(), |m| m.to_string()),
            if self.inherit_stdin {
                "inherit"
            } else {
                "null"
            },
            self.drains,
            self.keeps
        )
    }

    fn decode(text: &str) -> Option<Orders> {
        let mut orders = Orders {
            group: false,
            umask: None,
            inherit_stdin: false,
            drains: 0,
            keeps: 0,
        };
        for line in text.lines() {
            let (key, value) = line.split_once('=')?;
            match key {
                "group" => orders.group = value == "1",
                "umask" if value != "-" => orders.umask = Some(value.parse().ok()?),
                "umask" => {}
                "stdin" => orders.inherit_stdin = value == "inherit",
                "drains" => orders.drains = value.parse().ok()?,
                "keeps" => orders.keeps = value.parse().ok()?,
                _ => return None,
            }
        }
        Some(orders)
    }

    fn fd_count(&self) -> usize {
        1 + usize::from(self.inherit_stdin) + self.drains + self.keeps
    }
}

/// Starts `guarded` under its guard and returns the guard, once terraform
/// has started (or an error naming why it could not). `group`: the guard
/// leads a new process group, terraform's too. `drain` are this process's
/// read ends of terraform's output pipes, which the guard keeps reading
/// if this process dies.
pub fn spawn(guarded: &mut GuardedCommand, group: bool, drain: &[RawFd]) -> Result<Child> {
    let pipe = death_pipe()?;
    let (ours, theirs) = fds::socket_pair().context("creating a guard's socket")?;
    let hook = gap_hook_file(&guarded.cmd);
    let cmd = &mut guarded.cmd;
    cmd.stdin(Stdio::from(theirs));
    if group {
        // Its own group: a terminal's Ctrl-C or a kill of the runner's group
        // must not take terraform and its guard down with the runner.
        cmd.process_group(0);
    }
    match hook {
        Some(file) => cmd.env(GAP_FILE, file),
        None => cmd.env_remove(GAP_FILE),
    };
    let orders = Orders {
        group,
        umask: guarded.umask,
        inherit_stdin: guarded.inherit_stdin,
        drains: drain.len(),
        keeps: guarded.keep.len(),
    };
    let mut sent = vec![pipe.read.as_raw_fd()];
    if guarded.inherit_stdin {
        sent.push(libc::STDIN_FILENO);
    }
    sent.extend_from_slice(drain);
    sent.extend_from_slice(&guarded.keep);
    let program = guarded.program.clone();
    let mut child = guarded.cmd.spawn().context("starting a terraform guard")?;
    // Our copy of the guard's end closes here (the Command holds it):
    // if the guard dies, we read EOF instead of waiting.
    guarded.cmd.stdin(Stdio::null());
    let answer = fds::send(&ours, orders.encode().as_bytes(), &sent)
        .context("handing terraform's descriptors to its guard")
        .and_then(|()| fds::receive(ours.as_raw_fd()).context("reading the guard's answer"));
    let failure = match answer {
        Ok((text, _)) if text == b"ok" => return Ok(child),
        Ok((text, _)) if text.is_empty() => anyhow!("its guard exited before starting it"),
        Ok((text, _)) => anyhow!("{}", String::from_utf8_lossy(&text)),
        Err(e) => e,
    };
    let _ = child.kill();
    let _ = child.wait();
    Err(failure).with_context(|| format!("starting {program:?} under its guard"))
}

/// Checks the orders' descriptor count (the guard's side).
fn check_fds(orders: &Orders, got: usize) -> Result<()> {
    if got != orders.fd_count() {
        bail!(
            "expected {} descriptors from the runner, got {got}",
            orders.fd_count()
        );
    }
    Ok(())
}
