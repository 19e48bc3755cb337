//! The content-addressed store: each archive is unpacked once per digest,
//! however many processes race for it, and published read-only and whole.
//!
//! Layout of a store directory:
//! ```text
//! <sha256>/                 a published version (read-only tree)
//! <sha256>.json             its manifest, written after the rename: the
//!                           version is complete only when both exist;
//!                           its mtime is the version's last use (for gc)
//! .locks/<sha256>.lock      extraction lock (exclusive)
//! .locks/<sha256>.use       in-use lock: shared while a fleet process uses
//!                           the version, exclusive while gc removes it
//! .locks/gc.lock            one gc at a time
//! .staging/<sha256>.<tree|manifest>.<pid>.<nanos>.<n>   being unpacked or written
//! .trash/                   versions being deleted by gc
//! .links/<sha256 of path>   link paths made by --link (gc keeps their targets)
//! .index/<key>              sha256 of an archive file, keyed by its path and
//!                           stat identity (device, inode, size, mtime, ctime)
//! .listings/<sha256>.json   every path of a version with its type, content
//!                           digest or link target: what `verify` compares
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::archive::Limits;
use crate::error::unsafe_input;
use crate::fsutil;
use crate::lock::{Lock, Mode};

mod default_dir;
mod digest_index;
mod extract;
mod gc;
mod links;
mod verify;

pub use default_dir::default_dir;
pub use gc::GcReport;

/// Schema of version manifests.
const MANIFEST_SCHEMA: u32 = 1;

/// What a complete version records about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionManifest {
    pub schema: u32,
    pub sha256: String,
    pub h1: String,
    pub files: usize,
    pub bytes: u64,
    /// The archive path it was first extracted from (informational).
    pub archive: String,
}

/// The result of [`Store::extract`]; `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Extraction {
    pub path: PathBuf,
    pub sha256: String,
    pub h1: String,
    /// Whether this call unpacked the archive (false: reused).
    pub extracted: bool,
    /// Whether `--verify` found the published tree tampered with and
    /// replaced it by a fresh extraction.
    pub repaired: bool,
    pub waited_ms: u64,
}

/// A held "in use" lock: gc will not remove the version while it lives.
pub struct Pin {
    _lock: Lock,
}

/// A content-addressed store rooted at a directory.
pub struct Store {
    root: PathBuf,
    limits: Limits,
}

impl Store {
    /// Opens (creating if needed) a store. The root is made absolute so
    /// printed paths and links do not depend on the working directory.
    /// Work areas get the root's mode (see `fsutil::create_dir_like`), so a
    /// shared root (2775 or 1777) is shared all the way down.
    pub fn open(root: &Path) -> Result<Store> {
        fs::create_dir_all(root)
            .with_context(|| format!("creating store directory {}", root.display()))?;
        for sub in [
            ".locks",
            ".staging",
            ".trash",
            ".links",
            ".index",
            ".listings",
        ] {
            fsutil::create_dir_like(&root.join(sub), root)?;
        }
        let root = fs::canonicalize(root)
            .with_context(|| format!("resolving store {}", root.display()))?;
        Ok(Store {
            root,
            limits: Limits::from_env()?,
        })
    }

    /// Sets the caps on what one extraction may unpack.
    pub fn with_limits(mut self, limits: Limits) -> Store {
        self.limits = limits;
        self
    }

    pub fn version_path(&self, digest: &str) -> PathBuf {
        self.root.join(digest)
    }

    fn manifest_path(&self, digest: &str) -> PathBuf {
        self.root.join(format!("{digest}.json"))
    }

    fn listing_path(&self, digest: &str) -> PathBuf {
        self.root.join(".listings").join(format!("{digest}.json"))
    }

    /// A fresh name in `.staging/` that the sweep of `digest` recognises.
    fn staging_path(&self, digest: &str, what: &str) -> PathBuf {
        self.root
            .join(".staging")
            .join(format!("{digest}.{what}.{}", fsutil::unique_suffix()))
    }

    fn lock_path(&self, digest: &str, kind: &str) -> PathBuf {
        self.root.join(".locks").join(format!("{digest}.{kind}"))
    }

    /// Reads a version's manifest; `Ok(None)` when the version is not complete.
    pub fn complete(&self, digest: &str) -> Result<Option<VersionManifest>> {
        let path = self.manifest_path(digest);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let manifest: VersionManifest = serde_json::from_slice(&bytes).map_err(|e| {
            unsafe_input(format!(
                "store manifest {} does not parse ({e}); run `fleet gc --store {}` to remove the version",
                path.display(),
                self.root.display()
            ))
        })?;
        if manifest.sha256 != digest || !self.version_path(digest).is_dir() {
            return Ok(None);
        }
        Ok(Some(manifest))
    }

    /// Marks a version in use until the returned pin is dropped.
    pub fn pin(&self, digest: &str, timeout: Duration) -> Result<Pin> {
        let lock = Lock::acquire_mode(
            &self.lock_path(digest, "use"),
            Mode::Shared,
            timeout,
            "using a version",
        )?;
        Ok(Pin { _lock: lock })
    }
}
