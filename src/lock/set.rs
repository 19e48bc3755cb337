//! Several named locks taken together. Every caller takes them in one global
//! order (sorted by name), so two processes holding different, overlapping
//! sets can never each hold what the other waits for: no deadlock.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::Lock;
use crate::error::usage;

/// Named exclusive locks `<dir>/<name>.lock`, held until dropped.
#[derive(Debug, Default)]
pub struct LockSet {
    locks: Vec<Lock>,
}

impl LockSet {
    /// Takes every named lock, in sorted order, all within one `timeout`.
    /// Fails with exit code 2 on a bad name, 3 (naming the holder) at the
    /// deadline; locks already taken are released on failure.
    pub fn acquire(
        dir: &Path,
        names: &[String],
        timeout: Duration,
        purpose: &str,
    ) -> Result<LockSet> {
        let deadline = Instant::now() + timeout;
        let mut locks = Vec::new();
        for path in ordered_paths(dir, names)? {
            let left = deadline.saturating_duration_since(Instant::now());
            locks.push(Lock::acquire(&path, left, purpose)?);
        }
        Ok(LockSet { locks })
    }

    pub fn locks(&self) -> &[Lock] {
        &self.locks
    }
}

/// The lock files of `names`, deduplicated, in the global (sorted) order.
pub fn ordered_paths(dir: &Path, names: &[String]) -> Result<Vec<PathBuf>> {
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    sorted.dedup();
    sorted
        .into_iter()
        .map(|name| {
            check_name(name)?;
            Ok(dir.join(format!("{name}.lock")))
        })
        .collect()
}

/// A lock name is one plain file-name word: it must not climb out of the
/// locks directory, hide as a dotfile or collide with the store's own locks.
fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if first_ok && rest_ok && name.len() <= 100 {
        return Ok(());
    }
    Err(usage(format!(
        "lock name {name:?} must be 1-100 of [A-Za-z0-9._-], starting with a letter or digit"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_sorted_and_deduplicated() {
        let names = ["b", "a", "b", "c-1"].map(String::from);
        let paths = ordered_paths(Path::new("/l"), &names).unwrap();
        let expected: Vec<PathBuf> = ["/l/a.lock", "/l/b.lock", "/l/c-1.lock"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(paths, expected);
    }

    #[test]
    fn names_that_leave_the_directory_are_refused() {
        for bad in ["../x", ".hidden", "a/b", "", "a b"] {
            let err = ordered_paths(Path::new("/l"), &[bad.to_string()]).unwrap_err();
            assert_eq!(
                crate::error::exit_code_of(&err),
                crate::error::ExitCode::Usage,
                "{bad}"
            );
        }
    }
}
