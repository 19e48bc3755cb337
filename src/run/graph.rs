//! The instance graph: dependencies from the manifest (`deps`, which already
//! include every `inputs_from` upstream), restricted to the selected
//! instances, reversed for destroy. Cycles are refused, naming the cycle.

use std::collections::BTreeSet;

use anyhow::Result;

use crate::error::unsafe_input;
use crate::manifest::Manifest;

/// The graph over the selected instances; indices are manifest indices.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Selected manifest indices, in manifest order.
    pub nodes: Vec<usize>,
    /// `before[i]`: nodes that must succeed before manifest index `i` starts.
    pub before: Vec<Vec<usize>>,
}

/// Fails with exit 4 when the manifest's dependencies have a cycle.
pub fn check_cycles(manifest: &Manifest) -> Result<()> {
    let deps = direct_deps(manifest);
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut color = vec![0u8; deps.len()];
    for start in 0..deps.len() {
        if color[start] != 0 {
            continue;
        }
        // Iterative DFS keeping the path, so a cycle can be printed.
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        color[start] = 1;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match color[dep] {
                    0 => {
                        color[dep] = 1;
                        path.push((dep, 0));
                    }
                    1 => {
                        let from = path.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let mut names: Vec<&str> = path[from..]
                            .iter()
                            .map(|(n, _)| manifest.instances[*n].label.as_str())
                            .collect();
                        names.push(manifest.instances[dep].label.as_str());
                        return Err(unsafe_input(format!(
                            "dependency cycle: {}",
                            names.join(" -> ")
                        )));
                    }
                    _ => {}
                }
            } else {
                color[node] = 2;
                path.pop();
            }
        }
    }
    Ok(())
}

fn direct_deps(manifest: &Manifest) -> Vec<Vec<usize>> {
    let by_label = manifest.index_by_label();
    let index = |label: &str| by_label.get(label).copied();
    manifest
        .instances
        .iter()
        .map(|inst| {
            let mut deps: Vec<usize> = inst.deps.iter().filter_map(|d| index(d)).collect();
            deps.sort_unstable();
            deps.dedup();
            deps
        })
        .collect()
}

impl Graph {
    /// Builds the graph of `selected` (manifest indices). A dependency that
    /// is not selected is looked through: if A → B → C and only A and C are
    /// selected, C still waits for A. `reverse` (destroy) flips every edge.
    /// Call [`check_cycles`] first.
    pub fn build(manifest: &Manifest, selected: &BTreeSet<usize>, reverse: bool) -> Graph {
        let deps = direct_deps(manifest);
        let n = manifest.instances.len();
        let mut before = vec![Vec::new(); n];
        for &node in selected {
            let mut seen = BTreeSet::new();
            let mut stack = deps[node].clone();
            while let Some(dep) = stack.pop() {
                if !seen.insert(dep) {
                    continue;
                }
                if selected.contains(&dep) {
                    before[node].push(dep);
                } else {
                    stack.extend(deps[dep].iter().copied());
                }
            }
        }
        if reverse {
            let mut flipped = vec![Vec::new(); n];
            for (node, list) in before.iter().enumerate() {
                for &dep in list {
                    flipped[dep].push(node);
                }
            }
            before = flipped;
        }
        for list in &mut before {
            list.sort_unstable();
            list.dedup();
        }
        Graph {
            nodes: selected.iter().copied().collect(),
            before,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Instance, SCHEMA};

    fn manifest(edges: &[(&str, &[&str])]) -> Manifest {
        let instances = edges
            .iter()
            .map(|(name, deps)| Instance {
                label: format!("//p:{name}"),
                name: name.to_string(),
                rendered: "r".into(),
                run_dir: format!("p/{name}"),
                workspace: None,
                env: Default::default(),
                deps: deps.iter().map(|d| format!("//p:{d}")).collect(),
                inputs_from: Default::default(),
                providers: vec![],
                secret_env: Default::default(),
                exclusive: false,
                retry: None,
                identity: None,
            })
            .collect();
        Manifest {
            schema: SCHEMA,
            target: "//p:f".into(),
            parallelism: 0,
            terraform: "tf".into(),
            fleet_root: ".fleet".into(),
            instances,
            groups: vec![],
            includes: vec![],
        }
    }

    #[test]
    fn cycle_is_named() {
        let m = manifest(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]);
        let msg = format!("{:#}", check_cycles(&m).unwrap_err());
        assert!(msg.contains("//p:a -> //p:c -> //p:b -> //p:a"), "{msg}");
    }

    #[test]
    fn unselected_dependencies_are_looked_through_and_destroy_reverses() {
        let m = manifest(&[("a", &[]), ("b", &["a"]), ("c", &["b"])]);
        check_cycles(&m).unwrap();
        let selected: BTreeSet<usize> = [0, 2].into();
        let g = Graph::build(&m, &selected, false);
        assert_eq!(g.before[2], vec![0]);
        let g = Graph::build(&m, &selected, true);
        assert_eq!(g.before[0], vec![2]);
        assert!(g.before[2].is_empty());
    }
}
