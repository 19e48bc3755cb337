//! Child processes that must not outlive an interrupted run: the registry of
//! running children ([`children`]), the guard that kills a child whose runner
//! died ([`guard`]) and the signal handling that interrupts them ([`signals`]).
//!
//! Used by both `fleet run` and the single-instance commands; it depends on
//! neither.

mod children;
pub mod guard;
pub mod interruptible;
pub mod signals;

pub use children::{run_merged, run_piped, run_stderr_piped, run_stdout, Children};
pub use guard::GuardedCommand;

/// A child's exit status as a shell would report it.
pub fn exit_status_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}
