//! The rules that decide what a fleet run starts next, as a pure model (no
//! processes, no clock): the dependency graph, the fleet's limit, run groups
//! (nested `parallel` groups with their own limits, `serial` groups in their
//! listed order, `on_change` hooks) and exclusive instances.
//!
//! [`shape`] derives and checks the static structure (who waits for what,
//! priorities, cycles); [`state`] is the state machine the runner drives:
//! it says which instances to start, skip and which hooks to run, and is told
//! when they finish. The same model is what the property tests exercise over
//! random group trees, so the runner cannot drift from what they check.

mod shape;
mod state;
mod watch;

pub use shape::Shape;
pub use state::{Schedule, Step};

/// How a group runs its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Members run at once, at most `concurrency` instances (0: no own limit).
    Parallel,
    /// Members run one after the other, in the listed order.
    Serial,
}

/// A member of a group: an instance (by index) or a nested group (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    Instance(usize),
    Group(usize),
}

/// One run group.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub name: String,
    pub mode: Mode,
    /// For parallel groups: at most this many of its instances at once; 0 = no own limit.
    pub concurrency: usize,
    pub members: Vec<Member>,
    /// Whether the group has an `on_change` hook.
    pub hook: bool,
}

/// Everything the model needs to know about a run before it starts.
/// Instances are indices `0..names.len()`; only `scheduled` ones run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Display name per instance (used in skip reasons and errors).
    pub names: Vec<String>,
    /// Whether each instance takes part in this run (`--only`).
    pub scheduled: Vec<bool>,
    /// `before[i]`: instances that must succeed before `i` starts (already
    /// reversed for destroy).
    pub before: Vec<Vec<usize>>,
    /// Instances that run alone.
    pub exclusive: Vec<bool>,
    pub groups: Vec<GroupSpec>,
    /// The fleet's limit (`--parallelism`), at least 1.
    pub limit: usize,
    /// Whether the action can change resources (apply, destroy): hooks only run then.
    pub changes: bool,
    /// Destroy: serial groups run their members in reverse order.
    pub reverse: bool,
}

#[cfg(test)]
mod tests;
