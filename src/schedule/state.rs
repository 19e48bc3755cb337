//! The scheduling state machine. The runner calls [`Schedule::decide`] after
//! every change and performs the [`Step`]s it returns; it reports back with
//! [`Schedule::finished`] and [`Schedule::hook_finished`].
//!
//! The pick: a free slot goes to the ready instance with the longest chain of
//! waiters (then the earliest index) whose limits allow it — the fleet's
//! limit and every enclosing parallel group's `concurrency`; a blocked
//! instance never holds back one behind it. An exclusive instance that is
//! ready takes the next turn: nothing new starts until it has run alone.

use std::collections::BTreeSet;

use anyhow::Result;

use super::shape::{Shape, Wait};
use super::watch::Watch;
use super::{Member, Mode, Spec};

/// What the runner should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Start(usize),
    /// Not run, because something it waits for did not succeed.
    Skip(usize, String),
    /// Run group `g`'s `on_change` hook.
    RunHook(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Pending,
    Active,
    Done { ok: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookState {
    /// Some member has not finished yet.
    Waiting,
    Running,
    Done {
        ok: bool,
    },
    /// No hook, or nothing of the group changed (or the action changes nothing).
    NotNeeded,
}

pub struct Schedule {
    pub spec: Spec,
    pub shape: Shape,
    run: Vec<Run>,
    changed: Vec<bool>,
    /// Groups whose hook an earlier run owes (`--resume`): it runs as if a
    /// member changed.
    owed: Vec<bool>,
    hooks: Vec<HookState>,
    /// Scheduled instances, highest priority first.
    priority: Vec<usize>,
    active: usize,
    active_in: Vec<usize>,
    exclusive_active: bool,
    hooks_running: usize,
    watch: Watch,
    /// Per group: members not done yet, and whether every done one succeeded.
    undone: Vec<usize>,
    members_ok: Vec<bool>,
    /// Pending instances (by rank) whose readiness may have changed.
    dirty: BTreeSet<usize>,
    /// Groups (by `inner_first` rank) whose hook may be ready to settle.
    dirty_groups: BTreeSet<usize>,
    /// Ready instances (by rank) not started yet; exclusive ones apart.
    ready: BTreeSet<usize>,
    ready_exclusive: BTreeSet<usize>,
    /// Scheduled instances done, and hooks not done (nor not needed).
    done: usize,
    hooks_open: usize,
}

enum Readiness {
    Blocked,
    Ready,
    Doomed(String),
}

impl Schedule {
    /// Checks the spec (exit 4 for a shape that cannot run).
    pub fn new(spec: Spec) -> Result<Schedule> {
        let shape = Shape::new(&spec)?;
        let n = spec.names.len();
        let mut priority: Vec<usize> = (0..n).filter(|&i| spec.scheduled[i]).collect();
        priority.sort_by_key(|&i| (std::cmp::Reverse(shape.height[i]), i));
        let groups = spec.groups.len();
        let watch = Watch::new(&spec, &shape, &priority);
        // Unscheduled instances count as done members; everything else waits.
        let undone = shape
            .order
            .iter()
            .map(|members| {
                members
                    .iter()
                    .filter(|m| !matches!(m, Member::Instance(i) if !spec.scheduled[*i]))
                    .count()
            })
            .collect();
        Ok(Schedule {
            run: vec![Run::Pending; n],
            changed: vec![false; n],
            owed: vec![false; groups],
            hooks: vec![HookState::Waiting; groups],
            active: 0,
            active_in: vec![0; groups],
            exclusive_active: false,
            hooks_running: 0,
            undone,
            members_ok: vec![true; groups],
            dirty: (0..priority.len()).collect(),
            dirty_groups: (0..groups).collect(),
            ready: BTreeSet::new(),
            ready_exclusive: BTreeSet::new(),
            done: 0,
            hooks_open: groups,
            priority,
            watch,
            spec,
            shape,
        })
    }

    /// Marks an instance as succeeded before the run (resumed from a report).
    pub fn reuse(&mut self, i: usize) {
        self.mark_done(i, true);
    }

    /// Group `g`'s hook did not succeed after a change in an earlier run
    /// (`--resume`): it runs in this one, once its members are done, and
    /// what waits for it waits. A group without scheduled instances keeps
    /// owing it (its hook does not run for a run that has none of them).
    pub fn owe_hook(&mut self, g: usize) {
        if self.spec.groups[g].hook && !self.shape.group_instances[g].is_empty() {
            self.owed[g] = true;
        }
    }

    /// Whether instance `i` waits for the hook of a group in `owed`:
    /// directly (a dependency inside it) or through a serial group's
    /// earlier member holding it.
    pub fn waits_for_hook(&self, i: usize, owed: &[usize]) -> bool {
        let holds_owed = |h: usize| {
            owed.iter().any(|&g| {
                let mut at = Some(g);
                while let Some(x) = at {
                    if x == h {
                        return true;
                    }
                    at = self.shape.group_parent[x];
                }
                false
            })
        };
        self.shape.waits[i].iter().any(|w| match *w {
            Wait::Hook(g) => owed.contains(&g),
            Wait::Earlier {
                member: Member::Group(h),
                ..
            } => holds_owed(h),
            _ => false,
        })
    }

    /// Whether every scheduled instance and every hook is done.
    pub fn all_done(&self) -> bool {
        self.done == self.priority.len() && self.hooks_open == 0
    }

    pub fn hook_state(&self, g: usize) -> HookState {
        self.hooks[g]
    }

    /// Instances of group `g` running now, and in all.
    pub fn group_load(&self, g: usize) -> (usize, usize) {
        (self.active_in[g], self.shape.group_instances[g].len())
    }

    /// Whether a group finished with every instance and its hook successful.
    pub fn group_ok(&self, g: usize) -> bool {
        self.member_done(Member::Group(g)) == Some(true)
    }

    /// What to do now; call again after every finish. Looks only at what
    /// changed since the last call.
    pub fn decide(&mut self) -> Vec<Step> {
        let mut steps = Vec::new();
        loop {
            let mut progressed = false;
            for rank in std::mem::take(&mut self.dirty) {
                let i = self.priority[rank];
                if self.run[i] != Run::Pending {
                    continue;
                }
                match self.readiness(i) {
                    Readiness::Doomed(reason) => {
                        self.mark_done(i, false);
                        steps.push(Step::Skip(i, reason));
                        progressed = true;
                    }
                    Readiness::Ready if self.spec.exclusive[i] => {
                        self.ready_exclusive.insert(rank);
                    }
                    Readiness::Ready => {
                        self.ready.insert(rank);
                    }
                    Readiness::Blocked => {}
                }
            }
            progressed |= self.settle_hooks(&mut steps);
            if !progressed && self.dirty.is_empty() {
                break;
            }
        }
        self.start_ready(&mut steps);
        steps
    }

    pub fn finished(&mut self, i: usize, ok: bool, changed: bool) {
        if self.run[i] == Run::Active {
            self.active -= 1;
            for &g in &self.shape.ancestors[i] {
                self.active_in[g] -= 1;
            }
            if self.spec.exclusive[i] {
                self.exclusive_active = false;
            }
        }
        self.changed[i] = changed;
        self.mark_done(i, ok);
    }

    pub fn hook_finished(&mut self, g: usize, ok: bool) {
        if self.hooks[g] == HookState::Running {
            self.hooks_running -= 1;
        }
        self.set_hook(g, HookState::Done { ok });
    }

    /// Instance `i` is done: what waits for it, and its groups, look again.
    fn mark_done(&mut self, i: usize, ok: bool) {
        if matches!(self.run[i], Run::Done { .. }) {
            self.run[i] = Run::Done { ok };
            return;
        }
        self.run[i] = Run::Done { ok };
        let rank = self.watch.rank[i];
        if rank != usize::MAX {
            self.done += 1;
            self.ready.remove(&rank);
            self.ready_exclusive.remove(&rank);
        }
        self.dirty.extend(
            self.watch.inst_waiters[i]
                .iter()
                .map(|&w| self.watch.rank[w]),
        );
        for k in 0..self.watch.inst_in[i].len() {
            let g = self.watch.inst_in[i][k];
            self.member_finished(g, ok);
        }
    }

    /// A member of group `g` is done.
    fn member_finished(&mut self, g: usize, ok: bool) {
        self.undone[g] -= 1;
        self.members_ok[g] &= ok;
        if self.undone[g] == 0 {
            self.dirty_groups.insert(self.watch.group_rank[g]);
        }
    }

    fn set_hook(&mut self, g: usize, state: HookState) {
        let was_open = matches!(self.hooks[g], HookState::Waiting | HookState::Running);
        self.hooks[g] = state;
        let open = matches!(state, HookState::Waiting | HookState::Running);
        if was_open && !open {
            self.hooks_open -= 1;
            self.dirty.extend(
                self.watch.group_waiters[g]
                    .iter()
                    .map(|&w| self.watch.rank[w]),
            );
            if let Some(ok) = self.member_done(Member::Group(g)) {
                for k in 0..self.watch.group_in[g].len() {
                    let parent = self.watch.group_in[g][k];
                    self.member_finished(parent, ok);
                }
            }
        }
    }

    /// Starts the hooks of groups whose members all finished (or marks them
    /// not needed); whether anything changed. A hook an exclusive instance
    /// holds back stays to be looked at again.
    fn settle_hooks(&mut self, steps: &mut Vec<Step>) -> bool {
        let mut progressed = false;
        let mut held = BTreeSet::new();
        while let Some(k) = self.dirty_groups.pop_first() {
            let g = self.shape.inner_first[k];
            if self.hooks[g] != HookState::Waiting || self.undone[g] > 0 {
                continue;
            }
            let changed = self.owed[g]
                || self.shape.group_instances[g]
                    .iter()
                    .any(|&i| self.changed[i]);
            if !(self.spec.groups[g].hook && self.spec.changes && changed) {
                self.set_hook(g, HookState::NotNeeded);
                progressed = true;
                continue;
            }
            if self.exclusive_active {
                held.insert(k);
                continue;
            }
            self.set_hook(g, HookState::Running);
            self.hooks_running += 1;
            steps.push(Step::RunHook(g));
            progressed = true;
        }
        self.dirty_groups = held;
        progressed
    }

    fn start_ready(&mut self, steps: &mut Vec<Step>) {
        if self.exclusive_active {
            return;
        }
        if let Some(&rank) = self.ready_exclusive.first() {
            // A ready exclusive instance holds back everything else.
            if self.active == 0 && self.hooks_running == 0 {
                let alone = self.priority[rank];
                self.ready_exclusive.remove(&rank);
                self.start(alone, steps);
                self.exclusive_active = true;
            }
            return;
        }
        let mut started = Vec::new();
        let mut from = 0;
        while self.active < self.spec.limit {
            let Some(&rank) = self.ready.range(from..).next() else {
                break;
            };
            from = rank + 1;
            let i = self.priority[rank];
            if self.allows(i) {
                started.push(rank);
                self.start(i, steps);
            }
        }
        for rank in started {
            self.ready.remove(&rank);
        }
    }

    fn allows(&self, i: usize) -> bool {
        self.active < self.spec.limit
            && self.shape.ancestors[i].iter().all(|&g| {
                let group = &self.spec.groups[g];
                group.mode != Mode::Parallel
                    || group.concurrency == 0
                    || self.active_in[g] < group.concurrency
            })
    }

    fn start(&mut self, i: usize, steps: &mut Vec<Step>) {
        self.run[i] = Run::Active;
        self.active += 1;
        for &g in &self.shape.ancestors[i] {
            self.active_in[g] += 1;
        }
        steps.push(Step::Start(i));
    }

    /// `Some(ok)` once a member (and, for a group, its hook) is done.
    fn member_done(&self, member: Member) -> Option<bool> {
        match member {
            Member::Instance(i) if !self.spec.scheduled[i] => Some(true),
            Member::Instance(i) => match self.run[i] {
                Run::Done { ok } => Some(ok),
                _ => None,
            },
            Member::Group(g) => {
                if self.undone[g] > 0 {
                    return None;
                }
                let ok = self.members_ok[g];
                match self.hooks[g] {
                    HookState::Done { ok: hook } => Some(ok && hook),
                    HookState::NotNeeded => Some(ok),
                    HookState::Waiting | HookState::Running => None,
                }
            }
        }
    }

    fn member_name(&self, member: Member) -> &str {
        match member {
            Member::Instance(i) => &self.spec.names[i],
            Member::Group(g) => &self.spec.groups[g].name,
        }
    }

    fn readiness(&self, i: usize) -> Readiness {
        let mut failed_deps = Vec::new();
        let mut reasons = Vec::new();
        let mut serial_failed = Vec::new();
        for wait in &self.shape.waits[i] {
            match *wait {
                Wait::Dependency(d) => match self.member_done(Member::Instance(d)) {
                    None => return Readiness::Blocked,
                    Some(false) => failed_deps.push(self.spec.names[d].clone()),
                    Some(true) => {}
                },
                Wait::Earlier { group, member } => match self.member_done(member) {
                    None => return Readiness::Blocked,
                    // Only the first failed member of a group: the later ones were skipped for it.
                    Some(false) if !serial_failed.contains(&group) => {
                        serial_failed.push(group);
                        reasons.push(format!(
                            "earlier member of {} failed: {}",
                            self.spec.groups[group].name,
                            self.member_name(member)
                        ))
                    }
                    Some(_) => {}
                },
                Wait::Hook(g) => match self.hooks[g] {
                    HookState::Waiting | HookState::Running => return Readiness::Blocked,
                    HookState::Done { ok: false } => reasons.push(format!(
                        "the on_change hook of {} failed",
                        self.spec.groups[g].name
                    )),
                    _ => {}
                },
            }
        }
        if !failed_deps.is_empty() {
            reasons.insert(
                0,
                format!("upstream dependencies failed: {}", failed_deps.join(", ")),
            );
        }
        if reasons.is_empty() {
            Readiness::Ready
        } else {
            Readiness::Doomed(reasons.join("; "))
        }
    }
}
