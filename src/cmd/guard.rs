//! The hidden `fleet __guard` of a terraform process (src/run/guard.rs):
//! internal, not a user command, and started once per terraform step, so it
//! skips clap.

use crate::process::guard;

/// The guard's exit code when `args` asks for it.
pub fn run_if_requested(args: &[String]) -> Option<i32> {
    (args.get(1).map(String::as_str) == Some(guard::SUBCOMMAND))
        .then(|| guard::guard_main(&args[2..]))
}
