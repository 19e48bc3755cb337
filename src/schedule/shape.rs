//! The static shape of a run: each group's parent and instances, each
//! instance's enclosing groups and everything it waits for, the scheduling
//! priority (longest chain of waiters), and the checks that refuse a shape
//! that cannot run (a member in two groups, a group inside itself, an order
//! cycle between dependencies, serial orders and hooks).

use anyhow::Result;

use super::{Member, Mode, Spec};
use crate::error::unsafe_input;

/// Something an instance waits for before it may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// A dependency (`deps`, `inputs_from`).
    Dependency(usize),
    /// An earlier member of a serial group.
    Earlier { group: usize, member: Member },
    /// The hook of a group holding one of its dependencies.
    Hook(usize),
}

#[derive(Debug, Clone)]
pub struct Shape {
    /// Enclosing group of each group.
    pub group_parent: Vec<Option<usize>>,
    /// Enclosing groups of each instance, innermost first.
    pub ancestors: Vec<Vec<usize>>,
    /// Scheduled instances inside each group, nested ones included.
    pub group_instances: Vec<Vec<usize>>,
    /// Each group's members in run order (reversed serial order for destroy).
    pub order: Vec<Vec<Member>>,
    /// Groups, innermost first (a group comes before every group holding it).
    pub inner_first: Vec<usize>,
    pub waits: Vec<Vec<Wait>>,
    /// Longest chain of instances waiting on each instance (priority).
    pub height: Vec<usize>,
}

impl Shape {
    /// Derives the shape; fails with exit 4 when it cannot run.
    pub fn new(spec: &Spec) -> Result<Shape> {
        let n = spec.names.len();
        let (group_parent, instance_parent) = parents(spec)?;
        let mut ancestors = vec![Vec::new(); n];
        for (i, chain) in ancestors.iter_mut().enumerate() {
            let mut at = instance_parent[i];
            while let Some(g) = at {
                chain.push(g);
                at = group_parent[g];
            }
        }
        let mut group_instances = vec![Vec::new(); spec.groups.len()];
        for (i, chain) in ancestors.iter().enumerate() {
            if spec.scheduled[i] {
                for &g in chain {
                    group_instances[g].push(i);
                }
            }
        }
        let order = spec
            .groups
            .iter()
            .map(|g| {
                let mut members = g.members.clone();
                if spec.reverse && g.mode == Mode::Serial {
                    members.reverse();
                }
                members
            })
            .collect();
        let depth = |mut g: usize| {
            let mut d = 0;
            while let Some(p) = group_parent[g] {
                d += 1;
                g = p;
            }
            d
        };
        let mut inner_first: Vec<usize> = (0..spec.groups.len()).collect();
        inner_first.sort_by_key(|&g| std::cmp::Reverse(depth(g)));
        let mut shape = Shape {
            group_parent,
            ancestors,
            group_instances,
            order,
            inner_first,
            waits: Vec::new(),
            height: Vec::new(),
        };
        shape.waits = (0..n).map(|i| shape.waits_of(spec, i)).collect();
        let edges = shape.edges(spec);
        check_acyclic(spec, &edges)?;
        shape.height = heights(&edges);
        Ok(shape)
    }

    /// The scheduled instances of a member.
    pub fn member_instances(&self, spec: &Spec, member: Member) -> Vec<usize> {
        match member {
            Member::Instance(i) if spec.scheduled[i] => vec![i],
            Member::Instance(_) => vec![],
            Member::Group(g) => self.group_instances[g].clone(),
        }
    }

    fn waits_of(&self, spec: &Spec, i: usize) -> Vec<Wait> {
        let mut waits: Vec<Wait> = spec.before[i]
            .iter()
            .map(|&d| Wait::Dependency(d))
            .collect();
        let chain = &self.ancestors[i];
        for (k, &g) in chain.iter().enumerate() {
            if spec.groups[g].mode != Mode::Serial {
                continue;
            }
            let mine = if k == 0 {
                Member::Instance(i)
            } else {
                Member::Group(chain[k - 1])
            };
            for &member in self.order[g].iter().take_while(|&&m| m != mine) {
                if !self.member_instances(spec, member).is_empty() {
                    waits.push(Wait::Earlier { group: g, member });
                }
            }
        }
        for &d in &spec.before[i] {
            for &g in &self.ancestors[d] {
                if spec.groups[g].hook && !chain.contains(&g) && !waits.contains(&Wait::Hook(g)) {
                    waits.push(Wait::Hook(g));
                }
            }
        }
        waits
    }

    /// `edges[u]`: instances that wait (directly) for instance `u`.
    fn edges(&self, spec: &Spec) -> Vec<Vec<usize>> {
        let mut edges = vec![Vec::new(); spec.names.len()];
        for (i, waits) in self.waits.iter().enumerate() {
            if !spec.scheduled[i] {
                continue;
            }
            for wait in waits {
                let from = match *wait {
                    Wait::Dependency(d) => vec![d],
                    Wait::Earlier { member, .. } => self.member_instances(spec, member),
                    Wait::Hook(g) => self.group_instances[g].clone(),
                };
                for u in from {
                    edges[u].push(i);
                }
            }
        }
        for list in &mut edges {
            list.sort_unstable();
            list.dedup();
        }
        edges
    }
}

/// Each group's and each instance's enclosing group; a member listed twice
/// (in two groups, or twice in one) or a group inside itself is refused.
#[allow(clippy::type_complexity)]
fn parents(spec: &Spec) -> Result<(Vec<Option<usize>>, Vec<Option<usize>>)> {
    let n = spec.names.len();
    let mut group_parent: Vec<Option<usize>> = vec![None; spec.groups.len()];
    let mut instance_parent: Vec<Option<usize>> = vec![None; n];
    for (g, group) in spec.groups.iter().enumerate() {
        for &member in &group.members {
            let (slot, name) = match member {
                Member::Instance(i) if i < n => (&mut instance_parent[i], spec.names[i].as_str()),
                Member::Group(m) if m < spec.groups.len() => {
                    (&mut group_parent[m], spec.groups[m].name.as_str())
                }
                _ => {
                    return Err(unsafe_input(format!(
                        "group {}: member {member:?} does not exist",
                        group.name
                    )))
                }
            };
            if let Some(other) = *slot {
                return Err(unsafe_input(format!(
                    "{name} is a member of two groups: {} and {}",
                    spec.groups[other].name, group.name
                )));
            }
            *slot = Some(g);
        }
    }
    for start in 0..spec.groups.len() {
        let (mut at, mut steps) = (group_parent[start], 0);
        while let Some(g) = at {
            steps += 1;
            if g == start || steps > spec.groups.len() {
                return Err(unsafe_input(format!(
                    "group {} contains itself",
                    spec.groups[start].name
                )));
            }
            at = group_parent[g];
        }
    }
    Ok((group_parent, instance_parent))
}

/// Refuses an order cycle (exit 4), naming it.
fn check_acyclic(spec: &Spec, edges: &[Vec<usize>]) -> Result<()> {
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut color = vec![0u8; edges.len()];
    for start in 0..edges.len() {
        if color[start] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        color[start] = 1;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            let Some(&to) = edges[node].get(*next) else {
                color[node] = 2;
                path.pop();
                continue;
            };
            *next += 1;
            match color[to] {
                0 => {
                    color[to] = 1;
                    path.push((to, 0));
                }
                1 => {
                    let from = path.iter().position(|(n, _)| *n == to).unwrap_or(0);
                    let mut names: Vec<&str> = path[from..]
                        .iter()
                        .map(|(n, _)| spec.names[*n].as_str())
                        .collect();
                    names.push(spec.names[to].as_str());
                    return Err(unsafe_input(format!(
                        "order cycle (dependencies, serial groups and group hooks): {}",
                        names.join(" -> ")
                    )));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Longest chain of waiters per instance, over an acyclic `edges`.
fn heights(edges: &[Vec<usize>]) -> Vec<usize> {
    let n = edges.len();
    let mut indegree = vec![0usize; n];
    for list in edges {
        for &v in list {
            indegree[v] += 1;
        }
    }
    let mut topo: Vec<usize> = (0..n).filter(|&u| indegree[u] == 0).collect();
    let mut at = 0;
    while at < topo.len() {
        for &v in &edges[topo[at]] {
            indegree[v] -= 1;
            if indegree[v] == 0 {
                topo.push(v);
            }
        }
        at += 1;
    }
    let mut height = vec![0usize; n];
    for &u in topo.iter().rev() {
        height[u] = edges[u].iter().map(|&v| height[v] + 1).max().unwrap_or(0);
    }
    height
}
