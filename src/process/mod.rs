//! Child processes that must not outlive an interrupted run: the registry of
//! running children ([`children`]), the guard that kills a child whose runner
//! died ([`guard`]) and the signal handling that interrupts them ([`signals`]).
//!
//! Used by both `fleet run` and the single-instance commands; it depends on
//! neither.

pub mod children;
pub mod guard;
pub mod signals;

pub use children::{run_merged, run_piped, run_stdout, Children};
