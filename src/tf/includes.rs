//! A manifest's `includes`: the manifests of an instance's dependencies,
//! named by runfiles path, read in turn (breadth first, each once), their
//! instances added to the including manifest. What a chain of N instances
//! writes is then N entries, and reading one costs what it holds.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::manifest::Manifest;

/// Adds every instance `manifest` includes, transitively, finding each
/// runfiles path with `find` (the runfiles lookup); then validates the whole.
pub fn resolve(
    manifest: &mut Manifest,
    path: &Path,
    find: impl Fn(&str) -> Result<PathBuf>,
) -> Result<()> {
    let mut known: HashMap<String, usize> = manifest
        .instances
        .iter()
        .enumerate()
        .map(|(i, inst)| (inst.label.clone(), i))
        .collect();
    let mut queue: VecDeque<String> = manifest.includes.iter().cloned().collect();
    let mut seen: HashSet<String> = queue.iter().cloned().collect();
    while let Some(short_path) = queue.pop_front() {
        crate::manifest::check_runfiles_path(&short_path)
            .with_context(|| format!("includes of manifest {}", path.display()))?;
        let file = find(&short_path).with_context(|| {
            format!(
                "finding {short_path}, included by manifest {}",
                path.display()
            )
        })?;
        let included = Manifest::read(&file)?;
        for next in &included.includes {
            if seen.insert(next.clone()) {
                queue.push_back(next.clone());
            }
        }
        manifest.absorb(included, &file, &mut known)?;
    }
    manifest
        .validate()
        .with_context(|| format!("manifest {}", path.display()))
}
