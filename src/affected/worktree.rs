//! The temporary directory of an `--affected-since` base build:
//! `$TMPDIR/fleet-affected-<pid>-<start time>-<random>/` holding the git
//! worktree at REV (`tree/`), its Bazel output base (`output_base/`) and an
//! empty directory every git command on the worktree takes as its hooks
//! directory (`no-hooks/`: `git worktree add` would run the repository's
//! `post-checkout` hook, and a relative `core.hooksPath` one from REV's own
//! tree). Dropping it stops the output base's Bazel server, unregisters the
//! worktree and deletes the directory. A runner killed with SIGKILL cannot
//! do that: the next base build first sweeps the directories whose owner
//! (the pid and its start time, in the name) is gone, never a live one's.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::fsutil;
use crate::process::interruptible::Interrupt;

/// The name prefix of every base build's directory under `$TMPDIR`.
pub const PREFIX: &str = "fleet-affected-";

/// One base build's directory (see the module comment).
pub struct Scratch {
    bazel: String,
    repo: PathBuf,
    pub root: PathBuf,
    pub tree: PathBuf,
    pub output_base: PathBuf,
    no_hooks: PathBuf,
    /// Where Bazel runs in the worktree (the workspace's place in the repository).
    pub build_dir: Option<PathBuf>,
    registered: bool,
}

impl Scratch {
    /// Creates the directory, named after this process and its start time.
    pub fn create(repo: &Path, bazel: &str) -> Result<Scratch> {
        let pid = std::process::id();
        let started = start_time(pid).unwrap_or(0);
        let random = fsutil::unique_suffix();
        let random = random.rsplit('.').next().unwrap_or("0");
        let root = std::env::temp_dir().join(format!("{PREFIX}{pid}-{started}-{random}"));
        crate::fsutil::private::create_dir(&root)
            .with_context(|| format!("creating {}", root.display()))?;
        let no_hooks = root.join("no-hooks");
        crate::fsutil::private::create_dir(&no_hooks)?;
        Ok(Scratch {
            bazel: bazel.to_string(),
            repo: repo.to_path_buf(),
            tree: root.join("tree"),
            output_base: root.join("output_base"),
            no_hooks,
            root,
            build_dir: None,
            registered: false,
        })
    }

    /// `git worktree add --detach` of `commit`, no hook run.
    pub fn add_worktree(&mut self, commit: &str, interrupt: &Interrupt) -> Result<()> {
        let tree = self.tree.to_string_lossy().into_owned();
        // Registered before it returns: a failure half-way leaves an entry to remove.
        self.registered = true;
        let args = ["worktree", "add", "--detach", "--quiet", &tree, commit];
        let mut cmd = git_command(&self.repo, Some(&self.no_hooks), args);
        run_git(&mut cmd, &args, &self.repo, interrupt).map(|_| ())
    }

    /// Stops the Bazel server, unregisters the worktree, deletes everything.
    fn remove(&mut self) {
        if let Some(dir) = self.build_dir.as_ref().filter(|d| d.is_dir()) {
            let _ = Command::new(&self.bazel)
                .current_dir(dir)
                .arg(format!("--output_base={}", self.output_base.display()))
                .arg("shutdown")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        stop_bazel_server(&self.output_base);
        if self.registered {
            let tree = self.tree.to_string_lossy().into_owned();
            let args = ["worktree", "remove", "--force", &tree];
            let _ = git_command(&self.repo, Some(&self.no_hooks), args).output();
        }
        // Bazel leaves read-only directories in its output base.
        let _ = fsutil::remove_tree(&self.root);
        let _ = git_command(&self.repo, None, ["worktree", "prune"]).output();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Removes the base-build directories under `tmp` that belong to this user
/// and to a process that no longer runs (its pid gone, or reused: another
/// start time), with their Bazel servers and worktree registrations.
/// Best effort: what cannot be removed is left for the next sweep. Returns
/// how many it removed.
pub fn sweep_stale(tmp: &Path, repo: &Path) -> usize {
    let Ok(entries) = fs::read_dir(tmp) else {
        return 0;
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(owner_of) else {
            continue;
        };
        let path = entry.path();
        // Never through a link, never another user's directory.
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != me || owner.alive() {
            continue;
        }
        eprintln!(
            "fleet: removing {} left by a killed base build (process {} is gone)",
            path.display(),
            owner.pid
        );
        sweep_one(&path);
        removed += 1;
    }
    let _ = git_command(repo, None, ["worktree", "prune"]).output();
    removed
}

fn sweep_one(dir: &Path) {
    stop_bazel_server(&dir.join("output_base"));
    // The repository the worktree belongs to (maybe another checkout): its
    // `.git` file names `<git dir>/worktrees/<name>`.
    let common = fs::read_to_string(dir.join("tree/.git"))
        .ok()
        .and_then(|t| {
            t.trim()
                .strip_prefix("gitdir:")
                .map(|g| PathBuf::from(g.trim()))
        })
        .and_then(|g| g.parent().and_then(Path::parent).map(Path::to_path_buf));
    let _ = fsutil::remove_tree(dir);
    if let Some(git_dir) = common {
        let _ = Command::new("git")
            .arg(format!("--git-dir={}", git_dir.display()))
            .args(["worktree", "prune"])
            .stdin(Stdio::null())
            .output();
    }
}

/// The owner recorded in a base-build directory's name.
struct Owner {
    pid: u32,
    /// Its start time (clock ticks since boot); `None` in names of older
    /// fleets (`fleet-affected-<pid>.<...>`), whose pid alone is checked.
    started: Option<u64>,
}

impl Owner {
    fn alive(&self) -> bool {
        match (start_time(self.pid), self.started) {
            (None, _) => false,
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => true,
        }
    }
}

fn owner_of(name: &str) -> Option<Owner> {
    let rest = name.strip_prefix(PREFIX)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut parts = rest.splitn(3, '-');
    let (pid, started) = (parts.next()?, parts.next());
    if digits(pid) && started.is_some_and(digits) {
        return Some(Owner {
            pid: pid.parse().ok()?,
            started: started?.parse().ok(),
        });
    }
    let old = rest.split('.').next()?;
    if !digits(old) {
        return None;
    }
    Some(Owner {
        pid: old.parse().ok()?,
        started: None,
    })
}

/// A process's start time in clock ticks since boot (`/proc/<pid>/stat`
/// field 22); `None` when there is no such process.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold anything.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Stops the Bazel server of `output_base`, if one runs: the pid it wrote,
/// checked to be a process of this user whose command line names this
/// output base (so a reused pid is never hit); SIGTERM, then SIGKILL after
/// 10 s.
fn stop_bazel_server(output_base: &Path) {
    let pid_file = output_base.join("server/server.pid.txt");
    let Some(pid) = fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return;
    };
    let ours = |pid: u32| {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let wanted = format!("--output_base={}", output_base.display());
        cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == wanted.as_bytes())
    };
    if !ours(pid) {
        return;
    }
    for (signal, patience) in [(libc::SIGTERM, 10), (libc::SIGKILL, 5)] {
        // SAFETY: kill(2) with integer arguments.
        unsafe { libc::kill(pid as libc::pid_t, signal) };
        let deadline = Instant::now() + Duration::from_secs(patience);
        while ours(pid) && !zombie(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !ours(pid) || zombie(pid) {
            return;
        }
    }
}

fn zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next().map(str::to_string))
        })
        .is_some_and(|state| state == "Z" || state == "X")
}

/// `git -C dir ARGS`, with `core.hooksPath` pointed at `no_hooks` when
/// given: no hook of the repository, nor of the checked-out tree, runs.
pub fn git_command<I, S>(dir: &Path, no_hooks: Option<&Path>, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir);
    if let Some(empty) = no_hooks {
        cmd.arg("-c")
            .arg(format!("core.hooksPath={}", empty.display()));
    }
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// Runs a git command, interruptible; its stdout on success.
pub fn run_git<S: AsRef<OsStr>>(
    cmd: &mut Command,
    args: &[S],
    dir: &Path,
    interrupt: &Interrupt,
) -> Result<String> {
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let what = format!("git {} in {}", shown.join(" "), dir.display());
    let out = interrupt.output(cmd, &what)?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_from_names() {
        let o = owner_of("fleet-affected-123-4567-00ff").unwrap();
        assert_eq!((o.pid, o.started), (123, Some(4567)));
        let old = owner_of("fleet-affected-99.1700000000.0.00ff").unwrap();
        assert_eq!((old.pid, old.started), (99, None));
        assert!(owner_of("fleet-affected-x-1-2").is_none());
        assert!(owner_of("other-123-4-5").is_none());
    }

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = std::process::id();
        let started = start_time(me).unwrap();
        let alive = Owner {
            pid: me,
            started: Some(started),
        };
        assert!(alive.alive());
        let reused = Owner {
            pid: me,
            started: Some(started + 1),
        };
        assert!(!reused.alive());
        // pid_max is at most 2^22.
        let gone = Owner {
            pid: 999_999_999,
            started: None,
        };
        assert!(!gone.alive());
    }
}
