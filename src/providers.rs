//! Providers for run targets: each provider package is unpacked once per
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
        let (extraction, pin) = store
            .extract(&archive, None, timeout)
            .with_context(|| format!("provider {} {}", provider.source, provider.version))?;
        verify_h1(provider, &extraction.h1)?;
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

/// The unpacked package must match one of the lock file's `h1:` hashes.
fn verify_h1(provider: &ProviderPackage, h1: &str) -> Result<()> {
    if provider.h1.is_empty() {
        return Err(mismatch(format!(
            "the lock file has no h1: hash for {} {} on {}; regenerate it with the component's .lock target (bazel run //<package>:<component>.lock)",
            provider.source, provider.version, provider.platform
        )));
    }
    if provider.h1.iter().any(|want| want == h1) {
        return Ok(());
    }
    Err(mismatch(format!(
        "provider {} {} ({}) unpacks to {h1}, which is not among the lock file's hashes [{}]",
        provider.source,
        provider.version,
        provider.archive,
        provider.h1.join(", ")
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
        assert!(verify_h1(&provider("a/b/c"), "h1:abc").is_ok());
        let err = verify_h1(&provider("a/b/c"), "h1:zzz").unwrap_err();
        assert_eq!(
            crate::error::exit_code_of(&err),
            crate::error::ExitCode::Mismatch
        );
    }
}
