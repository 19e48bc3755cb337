//! Path and mode rules for archive entries.

use anyhow::Result;

use crate::error::unsafe_input;

/// Normalises an archive path: relative, `/`-separated, no `..`, `.` or
/// empty parts. `None` for the root itself (`./`).
pub(super) fn clean_path(raw: &[u8]) -> Result<Option<String>> {
    let text = std::str::from_utf8(raw).map_err(|_| {
        unsafe_input(format!(
            "entry name {:?} is not UTF-8",
            String::from_utf8_lossy(raw)
        ))
    })?;
    if text.starts_with('/') {
        return Err(unsafe_input(format!("entry {text:?} has an absolute path")));
    }
    if text.contains('\n') || text.contains('\0') {
        return Err(unsafe_input(format!(
            "entry {text:?} has a newline or NUL in its name"
        )));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_input(format!("entry {text:?} contains '..'"))),
            other => parts.push(other),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// Permission bits we keep: no setuid/setgid/sticky, no world write, and
/// the owner can always read (and enter directories) so the tree can be hashed.
pub(super) fn sanitize_mode(mode: u32, dir: bool) -> u32 {
    let base = mode & 0o777 & !0o002;
    if dir {
        base | 0o700
    } else {
        base | 0o600
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean_path(b"./a//b/").unwrap().as_deref(), Some("a/b"));
        assert_eq!(clean_path(b"./").unwrap(), None);
        assert!(clean_path(b"a/../b").is_err());
        assert!(clean_path(b"/etc/passwd").is_err());
    }

    #[test]
    fn modes_drop_special_and_world_write() {
        assert_eq!(sanitize_mode(0o6777, false), 0o775);
        assert_eq!(sanitize_mode(0o1777, true), 0o775);
        assert_eq!(sanitize_mode(0o000, false), 0o600);
    }
}
