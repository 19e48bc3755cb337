//! `<component>.lock` (`fleet lock-file regenerate`): runs `terraform
//! providers lock -fs-mirror` in a scratch copy of the module, starting from
//! the current lock file, adds the `zh:` hash of every package it locked, and
//! replaces the lock file in the source tree only when its bytes change.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::mirror::{self, PackageArg};
use super::terraform::{copy_content, ModuleCopy};
use crate::error::usage;
use crate::fsutil::{replace_file, Replace};
use crate::hash;
use crate::provider_package::package_file_name;

/// What to regenerate, as `tf_lock` and the user's `-- ...` arguments give it.
#[derive(Debug, Clone)]
pub struct Regenerate {
    pub label: String,
    pub terraform: PathBuf,
    pub platforms: Vec<String>,
    pub packages: Vec<PackageArg>,
    pub modules: Vec<(String, PathBuf)>,
    /// The lock file, relative to the workspace root.
    pub dest: String,
    /// Filesystem mirror directories: absolute, `file://`, or workspace-relative.
    pub mirrors: Vec<String>,
    /// Start from an empty lock file.
    pub fresh: bool,
    /// The workspace root (`BUILD_WORKSPACE_DIRECTORY` under `bazel run`).
    pub workspace: Option<PathBuf>,
}

/// Whether the lock file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    NoProviders,
    Unchanged,
    Updated,
}

pub fn regenerate(req: &Regenerate) -> Result<Outcome> {
    let root = req.workspace.clone().ok_or_else(|| {
        usage(format!(
            "run me with `bazel run {}` (BUILD_WORKSPACE_DIRECTORY is not set)",
            req.label
        ))
    })?;
    let dest = root.join(&req.dest);
    let copy = ModuleCopy::create("fleet-lock", &req.modules)?;
    let lock = copy.module.join(".terraform.lock.hcl");
    if dest.exists() && !req.fresh {
        copy_content(&dest, &lock)?;
    }
    let mirror_dir = copy.scratch.subdir("mirror")?;
    let dirs: Vec<PathBuf> = req
        .mirrors
        .iter()
        .map(|m| mirror_dir_path(&root, m))
        .collect();
    mirror::assemble(&mirror_dir, &req.packages, &dirs)?;

    // The one deliberate exception to `-lockfile=readonly` (every init a build
    // action runs uses it): this `bazel run` target exists to write the lock
    // file, in a scratch copy of the module, published only after it succeeds.
    let mut args = vec!["providers".to_string(), "lock".to_string()];
    args.push(format!("-fs-mirror={}", mirror_dir.display()));
    args.extend(req.platforms.iter().map(|p| format!("-platform={p}")));
    if !std::io::stderr().is_terminal() {
        args.push("-no-color".into());
    }
    eprintln!(
        "{}: terraform providers lock for {}",
        req.label,
        req.platforms.join(", ")
    );
    let status = copy
        .terraform(&req.terraform, &args)?
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("running {}", req.terraform.display()))?;
    if !status.success() {
        anyhow::bail!(
            "{}: terraform providers lock failed ({status}); is every provider in the mirror for every platform?",
            req.label
        );
    }
    if !lock.exists() {
        eprintln!(
            "{}: the module requires no provider; nothing to lock",
            req.label
        );
        return Ok(Outcome::NoProviders);
    }
    let text = fs::read_to_string(&lock).with_context(|| format!("reading {}", lock.display()))?;
    let data =
        super::with_hashes(&text, &zh_hashes(&text, &mirror_dir, &req.platforms)?).into_bytes();
    if fs::read(&dest).ok().as_deref() == Some(&data[..]) {
        println!("{}: {} unchanged", req.label, req.dest);
        return Ok(Outcome::Unchanged);
    }
    let how = Replace {
        mode: Some(0o644),
        ..Replace::DURABLE
    };
    replace_file(&dest, &data, how)
        .with_context(|| format!("{}: writing {}", req.label, dest.display()))?;
    println!("{}: {} updated", req.label, req.dest);
    Ok(Outcome::Updated)
}

/// `zh:` of each package in the mirror for a locked provider and platform.
fn zh_hashes(
    text: &str,
    mirror_dir: &Path,
    platforms: &[String],
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut zh: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for provider in super::parse(text, "written by terraform providers lock")? {
        for platform in platforms {
            let name = package_file_name(&provider.source, &provider.version, platform);
            let package = mirror_dir.join(&provider.source).join(name);
            if package.exists() {
                zh.entry(provider.source.clone())
                    .or_default()
                    .insert(hash::zh_file(&package)?);
            }
        }
    }
    Ok(zh)
}

fn mirror_dir_path(root: &Path, entry: &str) -> PathBuf {
    let path = Path::new(entry.strip_prefix("file://").unwrap_or(entry));
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    }
}
