//! The hidden `fleet __guard` of a terraform process (src/process/guard/):
//! internal, not a user command, and started once per terraform step, so it
//! skips clap.

use crate::process::guard;

/// The guard's exit code when `args` asks for it.
pub fn run_if_requested(args: &[std::ffi::OsString]) -> Option<i32> {
    (args.get(1).is_some_and(|a| a == guard::SUBCOMMAND)).then(|| guard::guard_main(&args[2..]))
}
