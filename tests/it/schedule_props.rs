//! Property tests of the run scheduler (`fleet::schedule`) over many random
//! fleets: nested parallel/serial groups with limits and hooks, exclusive
//! instances, dependencies, failures. Each case runs a discrete-event
//! simulation driven by the real state machine and then checks every
//! invariant on the recorded start/end events, with its own (independent)
//! reading of the rules: limits, serial order, exclusivity, dependency
//! order, hooks once and after their group, skips exactly where a wait
//! failed, and no idle slot while a ready instance could run.

use fleet::schedule::{GroupSpec, Member, Mode, Schedule, Spec, Step};
use proptest::prelude::*;

/// A random fleet and how each of its runs goes.
#[derive(Debug, Clone)]
struct World {
    spec: Spec,
    duration: Vec<u64>,
    fails: Vec<bool>,
    changes: Vec<bool>,
    hook_duration: Vec<u64>,
    hook_fails: Vec<bool>,
}

/// Turns a stream of random numbers into a fleet (shrinks well: fewer, smaller numbers).
fn world(n: usize, groups: usize, raw: &[u32]) -> World {
    let mut at = 0;
    let mut next = |m: u32| {
        let v = raw[at % raw.len()] % m.max(1);
        at += 1;
        v
    };
    let scheduled: Vec<bool> = (0..n).map(|_| next(10) != 0).collect();
    let mut members: Vec<Vec<(u32, Member)>> = vec![Vec::new(); groups];
    for g in 1..groups {
        if next(4) != 0 {
            let parent = next(g as u32) as usize;
            members[parent].push((next(100), Member::Group(g)));
        }
    }
    for i in 0..n {
        if groups > 0 && next(5) != 0 {
            let parent = next(groups as u32) as usize;
            members[parent].push((next(100), Member::Instance(i)));
        }
    }
    let groups: Vec<GroupSpec> = members
        .into_iter()
        .enumerate()
        .map(|(g, mut list)| {
            list.sort_by_key(|(key, _)| *key);
            GroupSpec {
                name: format!("g{g}"),
                mode: if next(2) == 0 {
                    Mode::Parallel
                } else {
                    Mode::Serial
                },
                concurrency: next(4) as usize,
                members: list.into_iter().map(|(_, m)| m).collect(),
                hook: next(2) == 0,
            }
        })
        .collect();
    let mut before = vec![Vec::new(); n];
    for j in 0..n {
        for i in 0..j {
            if scheduled[i] && scheduled[j] && next(6) == 0 {
                before[j].push(i);
            }
        }
    }
    let spec = Spec {
        names: (0..n).map(|i| format!("i{i}")).collect(),
        scheduled,
        before,
        exclusive: (0..n).map(|_| next(8) == 0).collect(),
        groups,
        limit: 1 + next(4) as usize,
        changes: next(4) != 0,
        reverse: next(4) == 0,
    };
    let groups = spec.groups.len();
    World {
        spec,
        duration: (0..n).map(|_| 1 + u64::from(next(4))).collect(),
        fails: (0..n).map(|_| next(6) == 0).collect(),
        changes: (0..n).map(|_| next(2) == 0).collect(),
        hook_duration: (0..groups).map(|_| 1 + u64::from(next(2))).collect(),
        hook_fails: (0..groups).map(|_| next(5) == 0).collect(),
    }
}

/// What happened, on a simulated clock.
#[derive(Debug, Default)]
struct Trace {
    start: Vec<Option<u64>>,
    end: Vec<Option<u64>>,
    /// When and why an instance was skipped.
    skipped: Vec<Option<(u64, String)>>,
    hooks: Vec<Vec<(u64, u64)>>,
    decisions: Vec<u64>,
}

enum Ev {
    Instance(usize),
    Hook(usize),
}

fn simulate(w: &World, schedule: &mut Schedule) -> Trace {
    let n = w.spec.names.len();
    let mut trace = Trace {
        start: vec![None; n],
        end: vec![None; n],
        skipped: vec![None; n],
        hooks: vec![Vec::new(); w.spec.groups.len()],
        decisions: Vec::new(),
    };
    let mut queue: Vec<(u64, Ev)> = Vec::new();
    let mut t = 0;
    loop {
        trace.decisions.push(t);
        for step in schedule.decide() {
            match step {
                Step::Start(i) => {
                    assert!(trace.start[i].is_none(), "i{i} started twice");
                    trace.start[i] = Some(t);
                    queue.push((t + w.duration[i], Ev::Instance(i)));
                }
                Step::Skip(i, reason) => trace.skipped[i] = Some((t, reason)),
                Step::RunHook(g) => {
                    trace.hooks[g].push((t, t + w.hook_duration[g]));
                    queue.push((t + w.hook_duration[g], Ev::Hook(g)));
                }
            }
        }
        let Some(now) = queue.iter().map(|(at, _)| *at).min() else {
            break;
        };
        t = now;
        let (due, rest): (Vec<_>, Vec<_>) = queue.into_iter().partition(|(at, _)| *at == now);
        queue = rest;
        for (_, ev) in due {
            match ev {
                Ev::Instance(i) => {
                    trace.end[i] = Some(now);
                    let ok = !w.fails[i];
                    schedule.finished(i, ok, ok && w.changes[i]);
                }
                Ev::Hook(g) => schedule.hook_finished(g, !w.hook_fails[g]),
            }
        }
    }
    trace
}

/// The rules, read independently of the implementation.
struct Rules<'a> {
    w: &'a World,
    t: &'a Trace,
    parent: Vec<Option<usize>>,
    group_parent: Vec<Option<usize>>,
}

impl<'a> Rules<'a> {
    fn new(w: &'a World, t: &'a Trace) -> Rules<'a> {
        let mut parent = vec![None; w.spec.names.len()];
        let mut group_parent = vec![None; w.spec.groups.len()];
        for (g, group) in w.spec.groups.iter().enumerate() {
            for m in &group.members {
                match *m {
                    Member::Instance(i) => parent[i] = Some(g),
                    Member::Group(h) => group_parent[h] = Some(g),
                }
            }
        }
        Rules {
            w,
            t,
            parent,
            group_parent,
        }
    }

    fn groups_of(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut at = self.parent[i];
        while let Some(g) = at {
            out.push(g);
            at = self.group_parent[g];
        }
        out
    }

    fn in_group(&self, i: usize, g: usize) -> bool {
        self.w.spec.scheduled[i] && self.groups_of(i).contains(&g)
    }

    fn instances(&self, m: Member) -> Vec<usize> {
        (0..self.w.spec.names.len())
            .filter(|&i| match m {
                Member::Instance(j) => i == j && self.w.spec.scheduled[i],
                Member::Group(g) => self.in_group(i, g),
            })
            .collect()
    }

    fn ordered(&self, g: usize) -> Vec<Member> {
        let mut m = self.w.spec.groups[g].members.clone();
        if self.w.spec.reverse && self.w.spec.groups[g].mode == Mode::Serial {
            m.reverse();
        }
        m
    }

    fn ok(&self, i: usize) -> bool {
        self.t.end[i].is_some() && !self.w.fails[i]
    }

    /// When a member was completely done (instances and hooks), and whether all went well.
    fn member_done(&self, m: Member) -> (Option<u64>, bool) {
        match m {
            Member::Instance(i) if !self.w.spec.scheduled[i] => (Some(0), true),
            Member::Instance(i) => (
                self.t.end[i].or(self.t.skipped[i].as_ref().map(|s| s.0)),
                self.ok(i),
            ),
            Member::Group(g) => {
                let (mut at, mut ok) = (Some(0), true);
                for m in self.ordered(g) {
                    let (done, fine) = self.member_done(m);
                    at = at.zip(done).map(|(a, b)| a.max(b));
                    ok &= fine;
                }
                if let Some(&(_, end)) = self.t.hooks[g].first() {
                    at = at.map(|a| a.max(end));
                    ok &= !self.w.hook_fails[g];
                }
                (at, ok)
            }
        }
    }

    /// Everything instance `i` waits for, as members (a hooked group counts
    /// whole), why it would be skipped, and whether only the hook's failure counts.
    fn waits(&self, i: usize) -> Vec<(Member, String, bool)> {
        let mut waits = Vec::new();
        for &d in &self.w.spec.before[i] {
            waits.push((
                Member::Instance(d),
                "upstream dependencies failed".to_string(),
                false,
            ));
            for g in self.groups_of(d) {
                if self.w.spec.groups[g].hook && !self.groups_of(i).contains(&g) {
                    waits.push((
                        Member::Group(g),
                        format!("on_change hook of g{g} failed"),
                        true,
                    ));
                }
            }
        }
        let chain = self.groups_of(i);
        for (k, &g) in chain.iter().enumerate() {
            if self.w.spec.groups[g].mode != Mode::Serial {
                continue;
            }
            let mine = if k == 0 {
                Member::Instance(i)
            } else {
                Member::Group(chain[k - 1])
            };
            for m in self.ordered(g).into_iter().take_while(|&m| m != mine) {
                waits.push((m, format!("earlier member of g{g} failed"), false));
            }
        }
        waits
    }

    /// Whether a wait went well (for a hooked group: its hook did not fail).
    fn wait_ok(&self, m: Member, hook_only: bool) -> bool {
        match m {
            Member::Group(g) if hook_only => self.t.hooks[g].is_empty() || !self.w.hook_fails[g],
            _ => self.member_done(m).1,
        }
    }

    fn ready_at(&self, i: usize, t: u64) -> bool {
        self.waits(i).iter().all(|&(m, _, hook_only)| {
            self.wait_ok(m, hook_only) && self.member_done(m).0.is_some_and(|a| a <= t)
        })
    }

    fn active_at(&self, t: u64) -> Vec<usize> {
        (0..self.w.spec.names.len())
            .filter(|&i| matches!((self.t.start[i], self.t.end[i]), (Some(s), Some(e)) if s <= t && t < e))
            .collect()
    }

    fn hooks_at(&self, t: u64) -> usize {
        self.t
            .hooks
            .iter()
            .flatten()
            .filter(|(s, e)| *s <= t && t < *e)
            .count()
    }
}

/// Is there an order cycle? (deps, serial orders, hooked groups), by transitive closure.
fn has_cycle(w: &World) -> bool {
    let n = w.spec.names.len();
    let empty = Trace {
        start: vec![None; n],
        end: vec![None; n],
        skipped: vec![None; n],
        hooks: vec![Vec::new(); w.spec.groups.len()],
        decisions: vec![],
    };
    let rules = Rules::new(w, &empty);
    let mut before = vec![vec![false; n]; n];
    for i in (0..n).filter(|&i| w.spec.scheduled[i]) {
        for (m, _, _) in rules.waits(i) {
            for u in rules.instances(m) {
                before[u][i] = true;
            }
        }
    }
    for k in 0..n {
        for a in 0..n {
            for b in 0..n {
                if before[a][k] && before[k][b] {
                    before[a][b] = true;
                }
            }
        }
    }
    (0..n).any(|a| before[a][a])
}

fn check(w: &World, t: &Trace) -> Result<(), TestCaseError> {
    let spec = &w.spec;
    let r = Rules::new(w, t);
    let n = spec.names.len();
    for i in (0..n).filter(|&i| spec.scheduled[i]) {
        // Every instance ran to its end or was skipped, never both.
        prop_assert!(t.end[i].is_some() != t.skipped[i].is_some(), "i{i}: {t:?}");
        let failed: Vec<String> = r
            .waits(i)
            .into_iter()
            .filter(|&(m, _, hook_only)| !r.wait_ok(m, hook_only))
            .map(|(_, why, _)| why)
            .collect();
        match &t.skipped[i] {
            // Skipped exactly when something it waits for failed, saying why.
            Some((_, reason)) => {
                prop_assert!(!failed.is_empty(), "i{i} skipped for nothing: {reason}");
                prop_assert!(
                    failed.iter().any(|why| reason.contains(why.as_str())),
                    "i{i}: reason {reason:?}, expected one of {failed:?}"
                );
            }
            None => {
                prop_assert!(failed.is_empty(), "i{i} ran though {failed:?}");
                let s = t.start[i].unwrap_or(u64::MAX);
                for (m, _, _) in r.waits(i) {
                    let done = r.member_done(m).0;
                    prop_assert!(
                        done.is_some_and(|d| d <= s),
                        "i{i} started at {s} before {m:?} was done ({done:?})"
                    );
                }
            }
        }
    }
    for &now in &t.decisions {
        let active = r.active_at(now);
        prop_assert!(active.len() <= spec.limit, "limit at {now}: {active:?}");
        let alone = active.iter().any(|&i| spec.exclusive[i]);
        prop_assert!(
            !alone || (active.len() == 1 && r.hooks_at(now) == 0),
            "exclusive at {now}: {active:?}"
        );
        let load = |g: usize| active.iter().filter(|&&i| r.in_group(i, g)).count();
        for (g, group) in spec.groups.iter().enumerate() {
            if group.mode == Mode::Parallel && group.concurrency > 0 {
                prop_assert!(
                    load(g) <= group.concurrency,
                    "g{g} over {} at {now}",
                    group.concurrency
                );
            }
        }
        // No idle slot: a ready instance not running is held back by a rule.
        let waiting: Vec<usize> = (0..n)
            .filter(|&i| {
                spec.scheduled[i] && t.start[i].is_none_or(|s| s > now) && r.ready_at(i, now)
            })
            .collect();
        let draining = waiting.iter().any(|&j| spec.exclusive[j]);
        for &i in &waiting {
            let held = active.len() >= spec.limit
                || alone
                || (spec.exclusive[i] && (!active.is_empty() || r.hooks_at(now) > 0))
                || (!spec.exclusive[i] && draining)
                || r.groups_of(i).iter().any(|&g| {
                    let group = &spec.groups[g];
                    group.mode == Mode::Parallel
                        && group.concurrency > 0
                        && load(g) >= group.concurrency
                });
            prop_assert!(held, "i{i} ready but idle at {now}: active {active:?}");
        }
    }
    for (g, group) in spec.groups.iter().enumerate() {
        let members = r.instances(Member::Group(g));
        let changed = members.iter().any(|&i| r.ok(i) && w.changes[i]);
        let should = group.hook && spec.changes && changed;
        prop_assert_eq!(t.hooks[g].len(), usize::from(should), "hook of g{}", g);
        if let Some(&(start, _)) = t.hooks[g].first() {
            let mut done = 0;
            for m in r.ordered(g) {
                done = done.max(r.member_done(m).0.unwrap_or(u64::MAX));
            }
            prop_assert!(
                done <= start,
                "hook of g{g} at {start} before its group finished at {done}"
            );
            // It started at the first decision after that with no exclusive instance running.
            for &now in t.decisions.iter().filter(|&&d| d >= done && d < start) {
                prop_assert!(
                    r.active_at(now).iter().any(|&i| spec.exclusive[i]),
                    "hook of g{g} idle at {now}"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn every_rule_holds_on_random_group_trees(
        n in 1usize..11,
        groups in 0usize..6,
        raw in proptest::collection::vec(any::<u32>(), 64..256),
    ) {
        let w = world(n, groups, &raw);
        match Schedule::new(w.spec.clone()) {
            Err(e) => {
                let msg = format!("{e:#}");
                prop_assert!(msg.contains("order cycle"), "{msg}");
                prop_assert!(has_cycle(&w), "refused without a cycle: {msg}");
            }
            Ok(mut schedule) => {
                prop_assert!(!has_cycle(&w), "accepted an order cycle");
                let trace = simulate(&w, &mut schedule);
                prop_assert!(schedule.all_done());
                check(&w, &trace)?;
            }
        }
    }
}
