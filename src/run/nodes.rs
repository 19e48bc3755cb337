//! Where each instance of a run stands, with running tallies: the status
//! line, the `[done/total]` counter and the end-of-run test read the tallies
//! (O(1)) instead of scanning every instance at every event.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use super::outcome::Outcome;
use crate::report::Status;

pub(super) enum Node {
    Pending,
    /// Started; `running` once it holds its lock.
    Active {
        started: SystemTime,
        running: bool,
    },
    Finished(Outcome),
}

/// How many instances are in each state.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Tally {
    pub pending: usize,
    /// Started, waiting for the run-directory lock.
    pub waiting: usize,
    pub succeeded: usize,
    /// Skipped, cancelled or not run.
    pub skipped: usize,
    /// Failed or interrupted.
    pub failed: usize,
}

impl Tally {
    pub fn finished(&self) -> usize {
        self.succeeded + self.skipped + self.failed
    }
}

/// The instances of a run by manifest index, and their tallies.
#[derive(Default)]
pub(super) struct Nodes {
    map: BTreeMap<usize, Node>,
    /// Holding their lock, running terraform.
    running: BTreeSet<usize>,
    tally: Tally,
}

impl Nodes {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn get(&self, i: usize) -> Option<&Node> {
        self.map.get(&i)
    }

    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Manifest indexes of the instances running terraform now, in order.
    pub fn running(&self) -> impl Iterator<Item = usize> + '_ {
        self.running.iter().copied()
    }

    pub fn set(&mut self, i: usize, node: Node) {
        self.count(i, &node, true);
        if let Some(old) = self.map.insert(i, node) {
            self.count(i, &old, false);
        }
    }

    /// The instance holds its lock now (if it is still active).
    pub fn mark_running(&mut self, i: usize) {
        if let Some(Node::Active { running, .. }) = self.map.get_mut(&i) {
            if !*running {
                *running = true;
                self.tally.waiting -= 1;
                self.running.insert(i);
            }
        }
    }

    /// Every instance not finished yet, to be given an outcome.
    pub fn unfinished(&self) -> Vec<usize> {
        self.map
            .iter()
            .filter(|(_, n)| !matches!(n, Node::Finished(_)))
            .map(|(&i, _)| i)
            .collect()
    }

    pub fn into_map(self) -> BTreeMap<usize, Node> {
        self.map
    }

    fn count(&mut self, i: usize, node: &Node, add: bool) {
        let t = &mut self.tally;
        let slot = match node {
            Node::Pending => &mut t.pending,
            Node::Active { running: true, .. } => {
                if add {
                    self.running.insert(i);
                } else {
                    self.running.remove(&i);
                }
                return;
            }
            Node::Active { .. } => &mut t.waiting,
            Node::Finished(o) => match o.status() {
                Status::Succeeded | Status::NoChanges => &mut t.succeeded,
                Status::Skipped | Status::Cancelled | Status::NotRun => &mut t.skipped,
                Status::Failed | Status::LockTimeout | Status::Interrupted | Status::StalePlan => {
                    &mut t.failed
                }
            },
        };
        if add {
            *slot += 1;
        } else {
            *slot -= 1;
        }
    }
}
