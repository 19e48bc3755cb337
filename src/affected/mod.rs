//! Which instances a change affects: compare each instance's identity (a
//! digest of everything that decides its plan, computed at build time) in
//! the base build and now. Changed and new instances are affected, and so is
//! everything that depends on them (`deps` and `inputs_from`, transitively).
//! Instances only the base has are removed: listed, never destroyed.

pub mod base_build;
mod worktree;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

/// One instance of the current build, as the comparison needs it.
pub struct HeadInstance<'a> {
    pub label: &'a str,
    /// `None` when the build did not record one (then it counts as changed).
    pub identity: Option<&'a str>,
    /// Labels it depends on (`inputs_from` upstreams are among them).
    pub deps: &'a [String],
}

/// The outcome of the comparison; every list is of labels, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// Where the base came from: `git REV` or `manifest FILE`.
    pub base: String,
    /// In both builds, with a different (or unknown) identity.
    pub changed: Vec<String>,
    /// Only in the current build.
    pub added: Vec<String>,
    /// Unchanged themselves, but depending on a changed or added instance.
    pub dependents: Vec<String>,
    /// Only in the base build: listed, never destroyed by fleet.
    pub removed: Vec<String>,
    /// In both builds, same identity, nothing upstream affected.
    pub unaffected: Vec<String>,
}

impl Affected {
    /// Compares the base's identities (label → identity, `None` if the base
    /// build recorded none) with the current build's instances.
    pub fn compute(
        base_name: &str,
        base: &BTreeMap<String, Option<String>>,
        head: &[HeadInstance],
    ) -> Affected {
        let mut affected = Affected {
            base: base_name.to_string(),
            ..Affected::default()
        };
        let mut seeds = BTreeSet::new();
        for inst in head {
            match base.get(inst.label) {
                None => affected.added.push(inst.label.to_string()),
                Some(before) => {
                    let same =
                        matches!((before.as_deref(), inst.identity), (Some(b), Some(h)) if b == h);
                    if same {
                        continue;
                    }
                    affected.changed.push(inst.label.to_string());
                }
            }
            seeds.insert(inst.label);
        }
        let reached = dependents_of(&seeds, head);
        affected.dependents = reached.iter().map(|l| l.to_string()).collect();
        let head_labels: BTreeSet<&str> = head.iter().map(|i| i.label).collect();
        affected.removed = base
            .keys()
            .filter(|l| !head_labels.contains(l.as_str()))
            .cloned()
            .collect();
        affected.unaffected = head
            .iter()
            .map(|i| i.label)
            .filter(|l| !seeds.contains(l) && !reached.contains(l))
            .map(str::to_string)
            .collect();
        affected.added.sort();
        affected.changed.sort();
        affected.unaffected.sort();
        affected
    }

    /// Labels to run: changed, added and their dependents.
    pub fn selected(&self) -> BTreeSet<&str> {
        self.changed
            .iter()
            .chain(&self.added)
            .chain(&self.dependents)
            .map(String::as_str)
            .collect()
    }

    /// One line for the console and the summary.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            format!("{} changed", self.changed.len()),
            format!("{} added", self.added.len()),
            format!("{} dependent", self.dependents.len()),
            format!("{} unaffected", self.unaffected.len()),
        ];
        if !self.removed.is_empty() {
            parts.push(format!(
                "{} removed (not destroyed: {})",
                self.removed.len(),
                self.removed.join(", ")
            ));
        }
        format!("affected since {}: {}", self.base, parts.join(", "))
    }
}

/// Instances that depend on a seed, directly or through others; seeds excluded.
fn dependents_of<'a>(seeds: &BTreeSet<&'a str>, head: &[HeadInstance<'a>]) -> BTreeSet<&'a str> {
    let mut users: BTreeMap<&str, Vec<&'a str>> = BTreeMap::new();
    for inst in head {
        for dep in inst.deps {
            users.entry(dep.as_str()).or_default().push(inst.label);
        }
    }
    let mut reached = BTreeSet::new();
    let mut queue: VecDeque<&str> = seeds.iter().copied().collect();
    while let Some(label) = queue.pop_front() {
        for &user in users.get(label).into_iter().flatten() {
            if !seeds.contains(user) && reached.insert(user) {
                queue.push_back(user);
            }
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(l, i)| (l.to_string(), i.map(str::to_string)))
            .collect()
    }

    #[test]
    fn changed_added_removed_and_transitive_dependents() {
        let none: Vec<String> = vec![];
        let on_net = vec!["//n:net".to_string()];
        let on_sub = vec!["//n:sub".to_string()];
        let head = [
            HeadInstance {
                label: "//n:net",
                identity: Some("n2"),
                deps: &none,
            },
            HeadInstance {
                label: "//n:sub",
                identity: Some("s1"),
                deps: &on_net,
            },
            HeadInstance {
                label: "//n:app",
                identity: Some("a1"),
                deps: &on_sub,
            },
            HeadInstance {
                label: "//n:other",
                identity: Some("o1"),
                deps: &none,
            },
            HeadInstance {
                label: "//n:new",
                identity: Some("x"),
                deps: &none,
            },
        ];
        let before = base(&[
            ("//n:net", Some("n1")),
            ("//n:sub", Some("s1")),
            ("//n:app", Some("a1")),
            ("//n:other", Some("o1")),
            ("//n:gone", Some("g1")),
        ]);
        let a = Affected::compute("git HEAD~1", &before, &head);
        assert_eq!(a.changed, ["//n:net"]);
        assert_eq!(a.added, ["//n:new"]);
        assert_eq!(a.dependents, ["//n:app", "//n:sub"]);
        assert_eq!(a.removed, ["//n:gone"]);
        assert_eq!(a.unaffected, ["//n:other"]);
        let selected: Vec<&str> = a.selected().into_iter().collect();
        assert_eq!(selected, ["//n:app", "//n:net", "//n:new", "//n:sub"]);
        assert!(a.describe().contains("1 removed (not destroyed: //n:gone)"));
    }

    #[test]
    fn unknown_identity_counts_as_changed_and_equal_ones_do_not() {
        let none: Vec<String> = vec![];
        let head = [
            HeadInstance {
                label: "//a:x",
                identity: Some("1"),
                deps: &none,
            },
            HeadInstance {
                label: "//a:y",
                identity: None,
                deps: &none,
            },
        ];
        let a = Affected::compute("m", &base(&[("//a:x", None), ("//a:y", Some("2"))]), &head);
        assert_eq!(a.changed, ["//a:x", "//a:y"]);
        let same = Affected::compute("m", &base(&[("//a:x", Some("1"))]), &head[..1]);
        assert!(same.selected().is_empty());
        assert_eq!(same.unaffected, ["//a:x"]);
    }

    #[test]
    fn a_dependency_cycle_terminates() {
        let on_b = vec!["//c:b".to_string()];
        let on_a = vec!["//c:a".to_string()];
        let head = [
            HeadInstance {
                label: "//c:a",
                identity: Some("2"),
                deps: &on_b,
            },
            HeadInstance {
                label: "//c:b",
                identity: Some("1"),
                deps: &on_a,
            },
        ];
        let a = Affected::compute(
            "m",
            &base(&[("//c:a", Some("1")), ("//c:b", Some("1"))]),
            &head,
        );
        assert_eq!(a.changed, ["//c:a"]);
        assert_eq!(a.dependents, ["//c:b"]);
    }
}
