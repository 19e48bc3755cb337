//! Terraform provider packages for run targets: each package is unpacked once per
//! machine into the content-addressed store (locked extraction), verified
//! against the lock file's `h1:` hashes, and every instance initialises from
//! it read-only through a per-run plugin directory of symlinks:
//!
//! ```text
//! <run dir>/.plugins/<host>/<namespace>/<type>/<version>/<os_arch> -> <store>/<sha256>/
//! ```
//!
//! Terraform installs a local-directory package by linking to it, so N
//! instances cost one unpacked copy, and there is no shared writable
//! `TF_PLUGIN_CACHE_DIR` anywhere.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::error::{mismatch, unsafe_input};
use crate::fsutil;
use crate::manifest::ProviderPackage;
use crate::store::{Pin, Store};

/// Where the machine-wide store lives: `$FLEET_STORE`, else
/// `$XDG_CACHE_HOME/rules_fleet/store`, else `~/.cache/rules_fleet/store`.
pub fn default_store_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("FLEET_STORE").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or_else(|| {
            anyhow::anyhow!("cannot place the fleet store: set FLEET_STORE (or HOME)")
        })?;
    Ok(cache.join("rules_fleet").join("store"))
}

/// A plugin directory ready for `terraform init -plugin-dir`, with the store
/// versions it links to pinned (gc keeps them) while this value lives.
pub struct PluginDir {
    pub path: PathBuf,
    _pins: Vec<Pin>,
}

/// Builds `<run_dir>/.plugins` for `providers` (archives resolved against
/// `runfiles`). Returns `None` when the instance uses no packaged provider.
pub fn prepare(
    providers: &[ProviderPackage],
    runfiles: &Path,
    run_dir: &Path,
    store_dir: &Path,
    timeout: Duration,
) -> Result<Option<PluginDir>> {
    if providers.is_empty() {
        return Ok(None);
    }
    let store = Store::open(store_dir)?;
    let plugins = run_dir.join(".plugins");
    // Rebuilt every run from the manifest; it holds only symlinks.
    fsutil::remove_tree(&plugins)?;
    let mut pins = Vec::with_capacity(providers.len());
    for provider in providers {
        let archive = runfiles.join(&provider.archive);
        let started = std::time::Instant::now();
        let (extraction, pin) = store
            .extract(&archive, provider.sha256.as_deref(), timeout)
            .with_context(|| format!("provider {} {}", provider.source, provider.version))?;
        if extraction.extracted {
            eprintln!(
                "fleet: extracted {} into {} in {:.2}s",
                archive.display(),
                extraction.path.display(),
                started.elapsed().as_secs_f64()
            );
        }
        let locked = lock_file_h1_hashes(provider, runfiles)?;
        verify_h1(provider, &locked, &extraction.h1)?;
        let slot = plugin_slot(&plugins, provider)?;
        if let Some(parent) = slot.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::os::unix::fs::symlink(&extraction.path, &slot).with_context(|| {
            format!(
                "linking {} to {}",
                slot.display(),
                extraction.path.display()
            )
        })?;
        pins.push(pin);
    }
    Ok(Some(PluginDir {
        path: plugins,
        _pins: pins,
    }))
}

/// The `h1:` hashes the lock file records for this provider: from the
/// manifest, or read from the component's lock file.
fn lock_file_h1_hashes(provider: &ProviderPackage, runfiles: &Path) -> Result<Vec<String>> {
    if !provider.h1.is_empty() {
        return Ok(provider.h1.clone());
    }
    let Some(lock_file) = &provider.lock_file else {
        return Ok(Vec::new());
    };
    let path = runfiles.join(lock_file);
    let text = fs::read_to_string(&path)
        .with_context(|| format!("reading lock file {}", path.display()))?;
    Ok(lock_file_hashes(&text, &provider.source)
        .into_iter()
        .filter(|h| h.starts_with("h1:"))
        .collect())
}

/// The `hashes` of one provider block of a `.terraform.lock.hcl`. The file
/// is machine-written by terraform in one fixed shape, so a line scanner is
/// enough: `provider "<source>" {`, then `hashes = [`, quoted strings, `]`.
pub fn lock_file_hashes(text: &str, source: &str) -> Vec<String> {
    let header = format!("provider \"{source}\"");
    let mut hashes = Vec::new();
    let (mut in_block, mut in_hashes) = (false, false);
    for line in text.lines().map(str::trim) {
        if !in_block {
            in_block = line.starts_with(&header) && line.ends_with('{');
            continue;
        }
        if in_hashes {
            if line.starts_with(']') {
                break;
            }
            if let Some(hash) = line
                .trim_end_matches(',')
                .strip_prefix('"')
                .and_then(|l| l.strip_suffix('"'))
            {
                hashes.push(hash.to_string());
            }
        } else if line.starts_with("hashes") {
            in_hashes = true;
        } else if line == "}" {
            break;
        }
    }
    hashes
}

/// The unpacked package must match one of the lock file's `h1:` hashes.
fn verify_h1(provider: &ProviderPackage, locked: &[String], h1: &str) -> Result<()> {
    let regenerate = match &provider.lock_file_target {
        Some(target) => format!("bazel run {target}"),
        None => "bazel run //<package>:<component>.lock".to_string(),
    };
    if locked.is_empty() {
        return Err(mismatch(format!(
            "the lock file has no h1: hash for {} {} on {}; regenerate it: {regenerate}",
            provider.source, provider.version, provider.platform
        )));
    }
    if locked.iter().any(|want| want == h1) {
        return Ok(());
    }
    Err(mismatch(format!(
        "provider {} {} ({}) unpacks to {h1}, which is not among the lock file's hashes [{}]; if the lock file is out of date: {regenerate}",
        provider.source,
        provider.version,
        provider.archive,
        locked.join(", ")
    )))
}

/// `<plugins>/<host>/<namespace>/<type>/<version>/<os_arch>`, every part checked.
fn plugin_slot(plugins: &Path, provider: &ProviderPackage) -> Result<PathBuf> {
    let mut parts: Vec<&str> = provider.source.split('/').collect();
    parts.push(&provider.version);
    parts.push(&provider.platform);
    let mut slot = plugins.to_path_buf();
    let mut count = 0;
    for part in parts {
        if part.is_empty() || part == "." || part == ".." {
            return Err(unsafe_input(format!(
                "provider source {:?} version {:?} platform {:?} is not a valid address",
                provider.source, provider.version, provider.platform
            )));
        }
        slot.push(part);
        count += 1;
    }
    if count != 5 {
        return Err(unsafe_input(format!(
            "provider source {:?} must be <host>/<namespace>/<type>",
            provider.source
        )));
    }
    Ok(slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(source: &str) -> ProviderPackage {
        ProviderPackage {
            source: source.into(),
            version: "0.1.0".into(),
            platform: "linux_amd64".into(),
            archive: "x.zip".into(),
            h1: vec!["h1:abc".into()],
            sha256: None,
            lock_file: None,
            lock_file_target: Some("//infra:cache.lock".into()),
        }
    }

    #[test]
    fn slot_follows_the_unpacked_mirror_layout() {
        let slot = plugin_slot(Path::new("/p"), &provider("example.com/ns/t")).unwrap();
        assert_eq!(slot, Path::new("/p/example.com/ns/t/0.1.0/linux_amd64"));
        assert!(plugin_slot(Path::new("/p"), &provider("../ns/t")).is_err());
        assert!(plugin_slot(Path::new("/p"), &provider("ns/t")).is_err());
    }

    #[test]
    fn h1_must_be_listed() {
        let p = provider("a/b/c");
        assert!(verify_h1(&p, &p.h1, "h1:abc").is_ok());
        let err = verify_h1(&p, &p.h1, "h1:zzz").unwrap_err();
        assert_eq!(
            crate::error::exit_code_of(&err),
            crate::error::ExitCode::Mismatch
        );
        let err = verify_h1(&p, &[], "h1:abc").unwrap_err();
        assert!(
            format!("{err:#}").contains("bazel run //infra:cache.lock"),
            "{err:#}"
        );
    }

    /// The shape `terraform providers lock` writes.
    const LOCK_FILE: &str = r#"# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "fleet.test/rules-fleet/other" {
  version = "1.0.0"
  hashes = [
    "h1:other=",
  ]
}

provider "fleet.test/rules-fleet/fleettest" {
  version     = "0.1.0"
  constraints = "0.1.0"
  hashes = [
    "h1:8wPxA7FX82JUwuMERzcyX2/pcloFa+3YEDFFAojcgFc=",
    "zh:047a94ffa1aa50597b79e6954f41d547c7f1ea072d2459236a7061b2abd96dd7",
  ]
}
"#;

    #[test]
    fn lock_file_hashes_of_one_provider() {
        assert_eq!(
            lock_file_hashes(LOCK_FILE, "fleet.test/rules-fleet/fleettest"),
            vec![
                "h1:8wPxA7FX82JUwuMERzcyX2/pcloFa+3YEDFFAojcgFc=".to_string(),
                "zh:047a94ffa1aa50597b79e6954f41d547c7f1ea072d2459236a7061b2abd96dd7".to_string()
            ]
        );
        assert!(lock_file_hashes(LOCK_FILE, "fleet.test/rules-fleet/absent").is_empty());
    }
}
