//! Resources added / changed / destroyed, read from terraform's own summary
//! lines (`Plan: ...`, `Apply complete! ...`).

use serde::{Deserialize, Serialize};

/// Resource counts of one instance's run (for a plan: what it would do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub added: u64,
    pub changed: u64,
    pub destroyed: u64,
}

/// Reads one line of terraform's output:
/// `Apply complete! Resources: 1 added, 0 changed, 0 destroyed.`,
/// `Destroy complete! Resources: 2 destroyed.`,
/// `Plan: 1 to add, 0 to change, 0 to destroy.` or `No changes. ...`.
/// A plan's counts come from `Plan:` / `No changes.`; an apply's or
/// destroy's only from its completion line (an interrupted apply has a plan
/// but added nothing).
pub fn parse_line(line: &str, planned: bool) -> Option<Resources> {
    let line = line.trim();
    let counts = if planned {
        if line.starts_with("No changes.") {
            return Some(Resources::default());
        }
        line.strip_prefix("Plan:")?
    } else {
        line.strip_prefix("Apply complete! Resources:")
            .or_else(|| line.strip_prefix("Destroy complete! Resources:"))?
    };
    let mut found = Resources::default();
    for part in counts.trim_end_matches('.').split(',') {
        let mut words = part.split_whitespace();
        let Some(n) = words.next().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        let kind: Vec<&str> = words.collect();
        match kind.as_slice() {
            ["added"] | ["to", "add"] => found.added = n,
            ["changed"] | ["to", "change"] => found.changed = n,
            ["destroyed"] | ["to", "destroy"] => found.destroyed = n,
            _ => {}
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_terraform_summaries() {
        let r = |a, c, d| {
            Some(Resources {
                added: a,
                changed: c,
                destroyed: d,
            })
        };
        let apply = |l: &str| parse_line(l, false);
        let plan = |l: &str| parse_line(l, true);
        assert_eq!(
            apply("Apply complete! Resources: 1 added, 2 changed, 3 destroyed."),
            r(1, 2, 3)
        );
        assert_eq!(
            apply("Apply complete! Resources: 4 imported, 1 added, 0 changed, 0 destroyed."),
            r(1, 0, 0)
        );
        assert_eq!(
            apply("Destroy complete! Resources: 5 destroyed."),
            r(0, 0, 5)
        );
        assert_eq!(
            plan("Plan: 1 to add, 0 to change, 7 to destroy."),
            r(1, 0, 7)
        );
        assert_eq!(apply("Plan: 1 to add, 0 to change, 7 to destroy."), None);
        assert_eq!(
            plan("No changes. Your infrastructure matches the configuration."),
            r(0, 0, 0)
        );
        assert_eq!(plan("terraform_data.r: Creating..."), None);
    }
}
