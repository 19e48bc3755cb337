//! Who is affected when something finishes: the reverse of the shape's
//! waits and memberships, so the schedule re-examines only the instances and
//! groups an event can change (O(affected) per event, not O(fleet)).

use super::shape::{Shape, Wait};
use super::{Member, Spec};

pub struct Watch {
    /// Instance → scheduled instances with a wait on it.
    pub inst_waiters: Vec<Vec<usize>>,
    /// Group → scheduled instances waiting for it (as a serial group's
    /// earlier member, or for its hook).
    pub group_waiters: Vec<Vec<usize>>,
    /// Instance → groups listing it as a member.
    pub inst_in: Vec<Vec<usize>>,
    /// Group → groups listing it as a member.
    pub group_in: Vec<Vec<usize>>,
    /// Instance → its position in the priority order (usize::MAX: not scheduled).
    pub rank: Vec<usize>,
    /// Group → its position in `shape.inner_first`.
    pub group_rank: Vec<usize>,
}

impl Watch {
    pub fn new(spec: &Spec, shape: &Shape, priority: &[usize]) -> Watch {
        let n = spec.names.len();
        let groups = spec.groups.len();
        let mut w = Watch {
            inst_waiters: vec![Vec::new(); n],
            group_waiters: vec![Vec::new(); groups],
            inst_in: vec![Vec::new(); n],
            group_in: vec![Vec::new(); groups],
            rank: vec![usize::MAX; n],
            group_rank: vec![0; groups],
        };
        for (k, &i) in priority.iter().enumerate() {
            w.rank[i] = k;
            for wait in &shape.waits[i] {
                match *wait {
                    Wait::Dependency(d)
                    | Wait::Earlier {
                        member: Member::Instance(d),
                        ..
                    } => w.inst_waiters[d].push(i),
                    Wait::Earlier {
                        member: Member::Group(h),
                        ..
                    }
                    | Wait::Hook(h) => w.group_waiters[h].push(i),
                }
            }
        }
        for (g, members) in shape.order.iter().enumerate() {
            for m in members {
                match *m {
                    Member::Instance(i) => w.inst_in[i].push(g),
                    Member::Group(h) => w.group_in[h].push(g),
                }
            }
        }
        for (k, &g) in shape.inner_first.iter().enumerate() {
            w.group_rank[g] = k;
        }
        w
    }
}
