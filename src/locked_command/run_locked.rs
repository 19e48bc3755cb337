//! `fleet run-locked`: run a build tool with private directories (TMPDIR,
//! HOME, CARGO_HOME...) and several named machine-wide locks. The tool
//! inherits every locked descriptor, as with `fleet lock`, so the locks stay
//! held until it exits even if fleet (or Bazel above it) is killed first.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use super::spawn_and_wait;
use crate::error::usage;
use crate::lock::set::LockSet;
use crate::private_dir::PrivateDirs;

/// What `fleet run-locked` runs, under which locks, with which private directories.
#[derive(Debug)]
pub struct RunLockedOptions {
    /// Directory of the named lock files (`<NAME>.lock`).
    pub locks_dir: Option<PathBuf>,
    /// Named exclusive locks held, by the command's process, for its whole run.
    pub locks: Vec<String>,
    /// Directory (emptied first, removed after) holding the private directories.
    pub private_root: Option<PathBuf>,
    /// Environment variables each set to a fresh, empty directory of this run only.
    pub private_dirs: Vec<String>,
    pub timeout: Duration,
    /// The command and its arguments.
    pub command: Vec<String>,
}

/// Takes the locks, makes the private directories, runs the command and
/// returns its exit status (128 + signal when a signal killed it).
pub fn run_locked_command(args: &RunLockedOptions) -> Result<i32> {
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| usage("fleet run-locked needs a command after --"))?;
    let locks = take_locks(args, program)?;
    let private = match (&args.private_root, args.private_dirs.is_empty()) {
        (_, true) => None,
        (Some(root), false) => Some(PrivateDirs::create(root, &args.private_dirs)?),
        (None, false) => return Err(usage("--private-dir needs --private-root")),
    };
    let mut cmd = Command::new(program);
    cmd.args(rest);
    for (var, dir) in private.iter().flat_map(|p| p.vars()) {
        cmd.env(var, dir);
    }
    for lock in locks.locks() {
        lock.share_with_child(&mut cmd);
    }
    let status = spawn_and_wait(cmd, program);
    // Clean up whatever happened to the tool; its status wins over a cleanup error.
    let cleaned = private.map_or(Ok(()), PrivateDirs::remove);
    let code = status?;
    if let Err(err) = cleaned {
        eprintln!("fleet: warning: {err:#}");
    }
    Ok(code)
}

fn take_locks(args: &RunLockedOptions, program: &str) -> Result<LockSet> {
    if args.locks.is_empty() {
        return Ok(LockSet::default());
    }
    let dir = args
        .locks_dir
        .as_ref()
        .ok_or_else(|| usage("--lock needs --locks-dir"))?;
    let name = std::path::Path::new(program)
        .file_name()
        .map_or_else(|| program.to_string(), |n| n.to_string_lossy().into_owned());
    LockSet::acquire(dir, &args.locks, args.timeout, &format!("running {name}"))
}
