//! The one builder of Terraform's unpacked plugin-directory layout,
//! `<dir>/<host>/<namespace>/<type>/<version>/<os>_<arch>/`, as symlinks to
//! unpacked packages: run targets link store versions (`fleet tf`, `fleet
//! run`), the build check links Bazel's unpacked trees (`fleet check`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::unsafe_input;

/// A package's place in a plugin directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// `<host>/<namespace>/<type>/<version>/<os>_<arch>`, every part checked.
    parts: [String; 5],
}

impl Slot {
    pub fn new(source: &str, version: &str, platform: &str) -> Result<Slot> {
        let mut parts: Vec<&str> = source.split('/').collect();
        if parts.len() != 3 {
            return Err(unsafe_input(format!(
                "provider source {source:?} must be <host>/<namespace>/<type>"
            )));
        }
        parts.extend([version, platform]);
        Slot::from_parts(&parts)
    }

    /// `<host>/<namespace>/<type>/<version>/<os>_<arch>` as the rules write it.
    pub fn parse(text: &str) -> Result<Slot> {
        let parts: Vec<&str> = text.split('/').collect();
        if parts.len() != 5 {
            return Err(unsafe_input(format!(
                "plugin slot {text:?} must be <host>/<namespace>/<type>/<version>/<os>_<arch>"
            )));
        }
        Slot::from_parts(&parts)
    }

    fn from_parts(parts: &[&str]) -> Result<Slot> {
        if parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0'))
        {
            return Err(unsafe_input(format!(
                "provider address {:?} has an empty, `.` or `..` part",
                parts.join("/")
            )));
        }
        Ok(Slot {
            parts: [0, 1, 2, 3, 4].map(|i| parts[i].to_string()),
        })
    }

    /// The provider's type (its local name by default).
    pub fn kind(&self) -> &str {
        &self.parts[2]
    }

    /// The slot's path below `dir`.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        self.parts
            .iter()
            .fold(dir.to_path_buf(), |p, part| p.join(part))
    }

    /// Makes the slot below `dir` a symlink to the unpacked package `target`.
    pub fn link(&self, dir: &Path, target: &Path) -> Result<()> {
        let slot = self.path_in(dir);
        if let Some(parent) = slot.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::os::unix::fs::symlink(target, &slot)
            .with_context(|| format!("linking {} to {}", slot.display(), target.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_unpacked_mirror_layout_and_refuse_escapes() {
        let slot = Slot::new("example.com/ns/t", "0.1.0", "linux_amd64").unwrap();
        assert_eq!(
            slot.path_in(Path::new("/p")),
            Path::new("/p/example.com/ns/t/0.1.0/linux_amd64")
        );
        assert_eq!(
            Slot::parse("example.com/ns/t/0.1.0/linux_amd64").unwrap(),
            slot
        );
        assert_eq!(slot.kind(), "t");
        for (source, version) in [
            ("../ns/t", "1"),
            ("ns/t", "1"),
            ("a/b/c", ".."),
            ("a/b/c/d", "1"),
        ] {
            assert!(
                Slot::new(source, version, "linux_amd64").is_err(),
                "{source} {version}"
            );
        }
        assert!(Slot::parse("a/b/c/1").is_err());
        assert!(Slot::parse("a/b/../1/linux_amd64").is_err());
    }

    #[test]
    fn link_creates_the_parents_and_points_at_the_package() {
        let dir = tempfile::tempdir().unwrap();
        let slot = Slot::new("h/n/t", "1.0.0", "linux_arm64").unwrap();
        slot.link(&dir.path().join("plugins"), Path::new("/unpacked"))
            .unwrap();
        let link = dir.path().join("plugins/h/n/t/1.0.0/linux_arm64");
        assert_eq!(fs::read_link(link).unwrap(), Path::new("/unpacked"));
    }
}
