//! `<component>.lock_test` (`fleet lock-file check`): fails when a provider
//! the module requires is missing from the lock file, when a known package
//! (any platform) matches none of its provider's hashes, or when a provider
//! has fewer `h1:` hashes than there are platforms to lock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::mirror::PackageArg;
use super::terraform::ModuleCopy;
use super::{find, LockedProvider};
use crate::error::mismatch;
use crate::hash;

/// What to check, as `tf_lock_test` gives it.
#[derive(Debug, Clone)]
pub struct Check {
    pub label: String,
    pub terraform: PathBuf,
    pub platforms: Vec<String>,
    pub packages: Vec<PackageArg>,
    pub modules: Vec<(String, PathBuf)>,
    /// The lock file (None: the component has none yet).
    pub lock: Option<PathBuf>,
    /// Its path in the workspace, for messages.
    pub lock_path: String,
    /// The `.lock` target, for messages.
    pub lock_target: String,
}

/// Prints a summary and returns Ok when the lock file is complete; exit 5 naming each gap otherwise.
pub fn check(req: &Check) -> Result<()> {
    let lock = req.lock.as_ref().filter(|l| l.exists()).ok_or_else(|| {
        mismatch(format!(
            "{}: the component has no lock file; create it with `bazel run {}` and set lock_file",
            req.label, req.lock_target
        ))
    })?;
    let locked = super::read(lock)?;
    let mut problems = Vec::new();
    for source in required_providers(req)? {
        match find(&locked, &source) {
            None => problems.push(format!(
                "{source} is required by the module but not in the lock file"
            )),
            Some(block) if block.version.is_empty() || block.hashes.is_empty() => problems.push(
                format!("{source} has no version or no hashes in the lock file"),
            ),
            Some(_) => {}
        }
    }
    let checked = check_packages(req, &locked, &mut problems)?;
    for block in sorted(&locked) {
        let unchecked = req
            .platforms
            .iter()
            .any(|p| !checked.get(&block.source).is_some_and(|c| c.contains(p)));
        let h1_count = block.hashes_with("h1:").len();
        if unchecked && h1_count < req.platforms.len() {
            problems.push(format!(
                "{} has {h1_count} h1: hash(es) for {} platforms ({}): a platform lacks hashes",
                block.source,
                req.platforms.len(),
                req.platforms.join(", ")
            ));
        }
    }
    if !problems.is_empty() {
        return Err(mismatch(format!(
            "{}: the lock file {} is incomplete; regenerate it: bazel run {}\n  {}",
            req.label,
            req.lock_path,
            req.lock_target,
            problems.join("\n  ")
        )));
    }
    println!(
        "{}: {} provider(s) locked for {}",
        req.label,
        locked.len(),
        req.platforms.join(", ")
    );
    Ok(())
}

/// Each package against its provider's block; returns the platforms checked per source.
fn check_packages(
    req: &Check,
    locked: &[LockedProvider],
    problems: &mut Vec<String>,
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut checked: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in &req.packages {
        let name = package
            .zip
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let Some(block) = find(locked, &package.source) else {
            problems.push(format!(
                "{} (package {name}) is not in the lock file",
                package.source
            ));
            continue;
        };
        if block.version != package.version {
            problems.push(format!(
                "{}: the lock file has version {}, the package for {} is {}",
                package.source, block.version, package.platform, package.version
            ));
            continue;
        }
        let zh = hash::zh_file(&package.zip)?;
        let h1 = hash::h1_zip(&package.zip)?;
        if !block.hashes.contains(&h1) && !block.hashes.contains(&zh) {
            problems.push(format!(
                "{} {} lacks hashes for {} (the package has {h1}, {zh})",
                package.source, package.version, package.platform
            ));
        }
        checked
            .entry(package.source.clone())
            .or_default()
            .insert(package.platform.clone());
    }
    Ok(checked)
}

fn sorted(locked: &[LockedProvider]) -> Vec<&LockedProvider> {
    let mut blocks: Vec<&LockedProvider> = locked.iter().collect();
    blocks.sort_by(|a, b| a.source.cmp(&b.source));
    blocks
}

/// Source addresses the module's configuration requires (`terraform
/// providers`, no init: it reads the configuration only and never writes a
/// lock file, so the test cannot change what it checks). Built-in providers
/// ship with terraform and are never locked.
fn required_providers(req: &Check) -> Result<BTreeSet<String>> {
    let copy = ModuleCopy::create("fleet-lock-check", &req.modules)?;
    let args = ["providers".to_string(), "-no-color".to_string()];
    let output = copy
        .terraform(&req.terraform, &args)?
        .output()
        .with_context(|| format!("running {}", req.terraform.display()))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        anyhow::bail!("{}: terraform providers failed:\n{text}", req.label);
    }
    Ok(provider_addresses(&text))
}

/// The `provider[<address>]` entries of `terraform providers` output.
fn provider_addresses(text: &str) -> BTreeSet<String> {
    text.split("provider[")
        .skip(1)
        .filter_map(|rest| rest.split_once(']').map(|(address, _)| address))
        .filter(|a| !a.is_empty() && !a.starts_with("terraform.io/builtin/"))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_terraform_providers_output() {
        let text = "Providers required by configuration:\n.\n├── provider[registry.terraform.io/hashicorp/aws] ~> 5.0\n├── provider[terraform.io/builtin/terraform]\n└── module.m\n    └── provider[example.com/acme/widgets]\n";
        let found: Vec<String> = provider_addresses(text).into_iter().collect();
        assert_eq!(
            found,
            [
                "example.com/acme/widgets",
                "registry.terraform.io/hashicorp/aws"
            ]
        );
    }
}
