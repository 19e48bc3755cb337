//! The tree an archive unpacks to, as a map of paths to nodes, and the
//! resolution of symlinks against it: component by component, following the
//! links of the tree itself, like `realpath` confined to the root (the
//! semantics of Python's `tarfile` "data" filter). A link is safe only if
//! its resolution never climbs above the root, whatever links it goes
//! through, including links added after it. The same model, read back from
//! disk, is what `fleet verify` compares a published tree against.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::unsafe_input;
use crate::hash::{h1_from_digests, parse_sha256};

/// Links followed while resolving one path before it counts as a loop
/// (the kernel's own limit).
const MAX_LINK_HOPS: usize = 40;

/// One entry of a tree. Paths are relative, `/`-separated, without `.`/`..`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Node {
    Dir,
    /// A regular file: hex sha256 of its content, owner-execute bit.
    File {
        sha256: String,
        exec: bool,
    },
    /// A symbolic link and its target, verbatim.
    Symlink {
        target: String,
    },
    /// Anything else found on disk (device, FIFO, socket): never extracted.
    Special,
}

/// A whole tree: path → node, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    pub nodes: BTreeMap<String, Node>,
}

/// Where resolving a path ended.
enum Resolved {
    /// Inside the tree, at this path ("" is the root).
    Inside(String),
    /// Above the root.
    Escapes,
    /// More than [`MAX_LINK_HOPS`] links.
    Loops,
}

impl Model {
    /// Resolves the symlink at `link` fully (its target, and every link met
    /// on the way, including a final one). Components that do not exist
    /// count as directories, as `realpath -m` does.
    fn resolve_link(&self, link: &str, target: &str) -> Resolved {
        let mut current: Vec<String> = link.split('/').map(str::to_string).collect();
        current.pop();
        let mut pending: Vec<String> = target.split('/').rev().map(str::to_string).collect();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "" | "." => {}
                ".." => {
                    if current.pop().is_none() {
                        return Resolved::Escapes;
                    }
                }
                name => {
                    current.push(name.to_string());
                    if let Some(Node::Symlink { target }) = self.nodes.get(&current.join("/")) {
                        hops += 1;
                        if hops > MAX_LINK_HOPS {
                            return Resolved::Loops;
                        }
                        if target.starts_with('/') {
                            return Resolved::Escapes;
                        }
                        current.pop();
                        pending.extend(target.split('/').rev().map(str::to_string));
                    }
                }
            }
        }
        Resolved::Inside(current.join("/"))
    }

    /// Refuses (exit 4) the link at `link` unless it resolves inside the tree.
    pub fn check_link(&self, link: &str, target: &str) -> Result<String> {
        if target.starts_with('/') {
            return Err(unsafe_input(format!(
                "symlink {link:?} points to the absolute path {target:?}"
            )));
        }
        if target.is_empty() {
            return Err(unsafe_input(format!(
                "symlink {link:?} has an empty target"
            )));
        }
        match self.resolve_link(link, target) {
            Resolved::Inside(path) => Ok(path),
            Resolved::Escapes => Err(unsafe_input(format!(
                "symlink {link:?} -> {target:?} leaves the tree (resolved through the links in it)"
            ))),
            Resolved::Loops => Err(unsafe_input(format!(
                "symlink {link:?} -> {target:?} does not resolve: more than {MAX_LINK_HOPS} links (a loop)"
            ))),
        }
    }

    /// Checks every symlink against the tree as it is now (complete).
    pub fn check_all_links(&self) -> Result<()> {
        for (path, node) in &self.nodes {
            if let Node::Symlink { target } = node {
                self.check_link(path, target)?;
            }
        }
        Ok(())
    }

    /// Hash1 of the tree as Terraform and `fleet hash` see it on disk: files
    /// by content, links to files by the content they resolve to; links to
    /// directories or to nothing are skipped.
    pub fn h1(&self) -> Result<String> {
        let mut hashed = Vec::new();
        for (path, node) in &self.nodes {
            let digest = match node {
                Node::File { sha256, .. } => sha256,
                Node::Symlink { target } => {
                    let resolved = self.check_link(path, target)?;
                    match self.nodes.get(&resolved) {
                        Some(Node::File { sha256, .. }) => sha256,
                        _ => continue,
                    }
                }
                Node::Dir | Node::Special => continue,
            };
            hashed.push((path.clone(), parse_sha256(digest)?));
        }
        h1_from_digests(hashed)
    }

    /// The tree on disk below `root`, read without following any link.
    pub fn read_dir(root: &Path) -> Result<Model> {
        let mut model = Model::default();
        read_into(root, "", &mut model)?;
        Ok(model)
    }

    /// How `found` differs from `self` (the recorded tree), one line per
    /// path; empty when they are the same.
    pub fn differences(&self, found: &Model) -> Vec<String> {
        let mut out = Vec::new();
        for (path, want) in &self.nodes {
            match found.nodes.get(path) {
                None => out.push(format!("{path}: missing")),
                Some(got) if got != want => out.push(format!(
                    "{path}: was {}, is {}",
                    describe(want),
                    describe(got)
                )),
                Some(_) => {}
            }
        }
        for (path, got) in &found.nodes {
            if !self.nodes.contains_key(path) {
                out.push(format!("{path}: added ({})", describe(got)));
            }
        }
        out
    }
}

fn read_into(dir: &Path, prefix: &str, model: &mut Model) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = entry.path();
        let meta =
            fs::symlink_metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        let kind = meta.file_type();
        let node = if kind.is_dir() {
            read_into(&path, &rel, model)?;
            Node::Dir
        } else if kind.is_file() {
            Node::File {
                sha256: hex::encode(crate::hash::sha256_file(&path)?),
                exec: meta.permissions().mode() & 0o100 != 0,
            }
        } else if kind.is_symlink() {
            let target =
                fs::read_link(&path).with_context(|| format!("reading {}", path.display()))?;
            Node::Symlink {
                target: target.to_string_lossy().into_owned(),
            }
        } else {
            Node::Special
        };
        model.nodes.insert(rel, node);
    }
    Ok(())
}

fn describe(node: &Node) -> String {
    match node {
        Node::Dir => "a directory".to_string(),
        Node::File { sha256, exec } => {
            format!(
                "a {}file with sha256 {sha256}",
                if *exec { "executable " } else { "" }
            )
        }
        Node::Symlink { target } => format!("a symlink to {target:?}"),
        Node::Special => "a device, FIFO or socket".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(links: &[(&str, &str)], dirs: &[&str]) -> Model {
        let mut m = Model::default();
        for d in dirs {
            m.nodes.insert(d.to_string(), Node::Dir);
        }
        for (l, t) in links {
            m.nodes.insert(
                l.to_string(),
                Node::Symlink {
                    target: t.to_string(),
                },
            );
        }
        m
    }

    #[test]
    fn chains_that_stay_inside_as_text_but_escape_on_disk_are_refused() {
        let up = format!("{}{}etc/passwd", "l/".repeat(12), "../".repeat(12));
        assert!(model(&[("l", "."), ("passwd", &up)], &[])
            .check_all_links()
            .is_err());
        assert!(model(&[("d/l", ".."), ("up", "d/l/..")], &["d"])
            .check_all_links()
            .is_err());
        assert!(model(&[("x/b", "."), ("x/a", "b/../..")], &["x"])
            .check_all_links()
            .is_err());
        assert!(model(&[("a", "b"), ("b", "a")], &[])
            .check_all_links()
            .is_err());
    }

    #[test]
    fn chains_inside_resolve_to_their_end() {
        let m = model(
            &[("bin", "sub"), ("tool", "bin/x"), ("self", ".")],
            &["sub"],
        );
        m.check_all_links().unwrap();
        assert_eq!(m.check_link("t", "self/self/tool").unwrap(), "sub/x");
        assert_eq!(m.check_link("sub/u", "../bin/..").unwrap(), "");
    }
}
