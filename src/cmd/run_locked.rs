//! `fleet run-locked -- CMD`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::LockTimeoutArg;
use crate::locked_command::{run_locked_command, RunLockedOptions};

#[derive(Args, Debug)]
pub struct RunLockedArgs {
    /// Directory of the named lock files (`<NAME>.lock`), e.g. `<store>/.locks`.
    #[arg(long)]
    pub locks_dir: Option<PathBuf>,
    /// A named exclusive lock held, by the command's process, for its whole run.
    #[arg(long = "lock", value_name = "NAME")]
    pub locks: Vec<String>,
    /// Directory (emptied first, removed after) holding the private directories.
    #[arg(long)]
    pub private_root: Option<PathBuf>,
    /// An environment variable set to a fresh, empty directory of this run only.
    #[arg(long = "private-dir", value_name = "VAR")]
    pub private_dirs: Vec<String>,
    #[command(flatten)]
    pub lock_timeout: LockTimeoutArg,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

pub fn run(args: RunLockedArgs) -> Result<i32> {
    run_locked_command(&RunLockedOptions {
        timeout: args.lock_timeout.duration()?,
        locks_dir: args.locks_dir,
        locks: args.locks,
        private_root: args.private_root,
        private_dirs: args.private_dirs,
        command: args.command,
    })
}
