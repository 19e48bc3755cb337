//! `fleet lock -- CMD`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::LockTimeoutArg;

#[derive(Args, Debug)]
pub struct LockArgs {
    /// The lock file (created if missing, never deleted).
    #[arg(long)]
    pub path: PathBuf,
    #[command(flatten)]
    pub lock_timeout: LockTimeoutArg,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

pub fn run(args: LockArgs) -> Result<i32> {
    crate::locked_command::lock_command(&args.path, args.lock_timeout.duration()?, &args.command)
}
