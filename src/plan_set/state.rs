//! The state a plan was made against and the state an apply would change:
//! lineage and serial. Terraform stores the backend's snapshot metadata at
//! plan time (remote backends included) in the plan file's `tfstate` entry;
//! `terraform state pull` prints the backend's current snapshot.

use std::io::{Cursor, Read};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// A state snapshot's identity: `lineage` is fixed when a state is first
/// written, `serial` grows with every write. No state yet: `""` and 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateRef {
    pub lineage: String,
    pub serial: u64,
}

#[derive(Deserialize)]
struct StateHeader {
    #[serde(default)]
    lineage: String,
    #[serde(default)]
    serial: u64,
}

/// The prior state recorded in a saved plan (a zip holding `tfstate`);
/// refused past 64 MiB (a state that large is not a plan's).
pub fn planned_against(plan: &[u8]) -> Result<StateRef> {
    let mut zip = zip::ZipArchive::new(Cursor::new(plan)).context("reading the plan file (zip)")?;
    let entry = zip
        .by_name("tfstate")
        .context("the plan file has no tfstate entry")?;
    let mut text = Vec::new();
    entry
        .take(64 << 20)
        .read_to_end(&mut text)
        .context("reading the plan file's tfstate entry")?;
    from_state_json(&text).context("the plan file's tfstate entry")
}

/// The state `terraform state pull` printed (nothing: no state yet).
pub fn from_state_json(text: &[u8]) -> Result<StateRef> {
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(StateRef::default());
    }
    let header: StateHeader = serde_json::from_slice(text).context("state does not parse")?;
    Ok(StateRef {
        lineage: header.lineage,
        serial: header.serial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_pull_is_no_state() {
        assert_eq!(from_state_json(b"\n").unwrap(), StateRef::default());
        let s =
            from_state_json(br#"{"version":4,"lineage":"l","serial":7,"resources":[]}"#).unwrap();
        assert_eq!((s.lineage.as_str(), s.serial), ("l", 7));
        assert!(from_state_json(b"{").is_err());
    }
}
