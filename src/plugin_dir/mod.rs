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

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::error::mismatch;
use crate::fsutil;
use crate::lock_file;
use crate::manifest::ProviderPackage;
use crate::store::{Pin, Store};

mod slot;

pub use slot::Slot;

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
        Slot::new(&provider.source, &provider.version, &provider.platform)?
            .link(&plugins, &extraction.path)?;
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
    let locked = lock_file::read(&runfiles.join(lock_file))?;
    Ok(lock_file::find(&locked, &provider.source)
        .map(|block| block.hashes_with("h1:"))
        .unwrap_or_default())
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
}
