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
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::archive::model::Model;
use crate::archive::{self, Limits, Unpacked};
use crate::error::unsafe_input;
use crate::fsutil;
use crate::hash;
use crate::lock::{Lock, Mode};

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

/// The archive being extracted, opened at most once (the warm path never
/// opens it): hashing and unpacking read the same descriptor.
struct ArchiveFile<'a> {
    path: &'a Path,
    file: Option<fs::File>,
}

impl ArchiveFile<'_> {
    fn get(&mut self) -> Result<&fs::File> {
        if self.file.is_none() {
            self.file = Some(archive::open(self.path)?);
        }
        self.file
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("archive {} not open", self.path.display()))
    }
}

/// Where the digest of an extraction came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DigestSource {
    /// Given (`--sha256`, a lock file) or recorded: check the bytes first.
    Claimed,
    /// Just computed from the open descriptor: already the bytes' digest.
    HashedHere,
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

    /// Makes the archive's tree available at `<root>/<sha256>/`, unpacking it
    /// at most once per digest across all processes.
    pub fn extract(
        &self,
        archive: &Path,
        known: Option<&str>,
        timeout: Duration,
    ) -> Result<(Extraction, Pin)> {
        self.extract_checked(archive, known, timeout, false)
    }

    /// [`Store::extract`]; with `verify`, a published tree is re-hashed
    /// against its record and, when it differs, replaced atomically by a
    /// fresh extraction (`repaired`).
    pub fn extract_checked(
        &self,
        archive: &Path,
        known: Option<&str>,
        timeout: Duration,
        verify: bool,
    ) -> Result<(Extraction, Pin)> {
        let mut file = ArchiveFile {
            path: archive,
            file: None,
        };
        let (digest, source) = match known {
            Some(hex_text) => (
                hex::encode(hash::parse_sha256(hex_text)?),
                DigestSource::Claimed,
            ),
            None => self.digest_of(&mut file, timeout)?,
        };
        let pin = self.pin(&digest, timeout)?;
        if let Some(manifest) = self.complete(&digest)? {
            if !verify || self.verify_version(&digest, &manifest)?.is_empty() {
                // Fast path: no extraction lock. Touching records the use for gc.
                let _ = fsutil::touch(&self.manifest_path(&digest));
                return Ok((self.result(manifest, false, Duration::ZERO), pin));
            }
        }
        let purpose = format!(
            "extracting {} into {}",
            archive.display(),
            self.root.display()
        );
        let started = Instant::now();
        // With --verify, a waiter takes the lock in turn and checks the tree
        // once then, rather than re-hashing it at every poll.
        let done = || -> Result<bool> { Ok(!verify && self.complete(&digest)?.is_some()) };
        let lock = Lock::acquire_unless(&self.lock_path(&digest, "lock"), timeout, &purpose, done)?;
        let waited = started.elapsed();
        // Someone else published (or repaired) it while we waited (then we
        // hold no lock), or just before we took the lock.
        if let Some(manifest) = self.complete(&digest)? {
            let problems = if verify {
                self.verify_version(&digest, &manifest)?
            } else {
                Vec::new()
            };
            if problems.is_empty() {
                return Ok((self.result(manifest, false, waited), pin));
            }
            let lock =
                lock.ok_or_else(|| anyhow::anyhow!("version {digest} changed while waiting"))?;
            eprintln!(
                "fleet: {} does not match its record ({}); extracting it again",
                self.version_path(&digest).display(),
                problems.join("; ")
            );
            let manifest = self.publish(&mut file, &digest, source, true)?;
            drop(lock);
            let mut result = self.result(manifest, true, waited);
            result.repaired = true;
            return Ok((result, pin));
        }
        let lock =
            lock.ok_or_else(|| anyhow::anyhow!("version {digest} vanished while waiting"))?;
        self.sweep(&digest)?;
        let manifest = self.publish(&mut file, &digest, source, false)?;
        drop(lock);
        Ok((self.result(manifest, true, waited), pin))
    }

    /// Unpacks, publishes (or, with `replace`, swaps in) the tree, then its
    /// listing and manifest. Runs under the digest's extraction lock.
    fn publish(
        &self,
        file: &mut ArchiveFile,
        digest: &str,
        source: DigestSource,
        replace: bool,
    ) -> Result<VersionManifest> {
        let unpacked = self.unpack_and_publish(file, digest, source, replace)?;
        let listing = serde_json::to_vec(&unpacked.model).context("encoding version listing")?;
        let temp = self.staging_path(digest, "listing");
        fsutil::write_through(&temp, &self.listing_path(digest), &listing, true)?;
        let manifest = VersionManifest {
            schema: MANIFEST_SCHEMA,
            sha256: digest.to_string(),
            h1: unpacked.h1,
            files: unpacked.files,
            bytes: unpacked.bytes,
            archive: file.path.display().to_string(),
        };
        let json = serde_json::to_vec_pretty(&manifest).context("encoding version manifest")?;
        // Staged under the digest's name so the sweep of a later extraction
        // removes it if this process dies before the rename.
        let temp = self.staging_path(digest, "manifest");
        fsutil::write_through(&temp, &self.manifest_path(digest), &json, true)?;
        Ok(manifest)
    }

    /// The sha256 of an archive file, computed once per file however many
    /// processes ask: the first hashes under a lock keyed by the file's
    /// identity and records the digest; the others wait and read it. The
    /// identity includes ctime, which any write to the file changes, and an
    /// extraction still verifies the bytes it reads against the digest.
    fn digest_of(
        &self,
        archive: &mut ArchiveFile,
        timeout: Duration,
    ) -> Result<(String, DigestSource)> {
        let key = archive_identity(archive.path)?;
        let record = self.root.join(".index").join(&key);
        if let Some(digest) = read_digest(&record) {
            return Ok((digest, DigestSource::Claimed));
        }
        let purpose = format!("hashing {}", archive.path.display());
        let _lock = Lock::acquire_unless(&self.lock_path(&key, "hash"), timeout, &purpose, || {
            Ok(read_digest(&record).is_some())
        })?;
        if let Some(digest) = read_digest(&record) {
            return Ok((digest, DigestSource::Claimed));
        }
        let digest = hex::encode(archive::hash_descriptor(archive.path, archive.get()?)?);
        // Record it only if the file did not change while it was read. The
        // path is kept so gc can tell a record whose file changed.
        if archive_identity(archive.path)? == key {
            let absolute = std::path::absolute(archive.path).context("resolving archive path")?;
            let text = format!("{digest}\n{}\n", absolute.display());
            fsutil::write_replace(&record, text.as_bytes(), false)?;
        }
        Ok((digest, DigestSource::HashedHere))
    }

    fn result(&self, manifest: VersionManifest, extracted: bool, waited: Duration) -> Extraction {
        Extraction {
            path: self.version_path(&manifest.sha256),
            sha256: manifest.sha256,
            h1: manifest.h1,
            extracted,
            repaired: false,
            waited_ms: waited.as_millis() as u64,
        }
    }

    /// Removes what killed extractions of this digest left behind. Runs
    /// under the digest's extraction lock, so nobody else is staging it.
    fn sweep(&self, digest: &str) -> Result<()> {
        let staging = self.root.join(".staging");
        let prefix = format!("{digest}.");
        for entry in
            fs::read_dir(&staging).with_context(|| format!("listing {}", staging.display()))?
        {
            let entry = entry.with_context(|| format!("listing {}", staging.display()))?;
            if entry.file_name().as_bytes().starts_with(prefix.as_bytes()) {
                eprintln!(
                    "fleet: removing staging leftover {}",
                    entry.path().display()
                );
                fsutil::remove_tree(&entry.path())?;
            }
        }
        // A version renamed into place whose manifest was never written.
        let version = self.version_path(digest);
        if version.exists() {
            eprintln!("fleet: removing incomplete version {}", version.display());
            self.discard(&version)?;
        }
        Ok(())
    }

    /// Moves a tree into the trash (atomic), then deletes it there.
    fn discard(&self, tree: &Path) -> Result<()> {
        let name = tree
            .file_name()
            .map_or_else(|| "x".into(), |n| n.to_string_lossy().into_owned());
        let trash = self
            .root
            .join(".trash")
            .join(format!("{name}.{}", fsutil::unique_suffix()));
        fs::rename(tree, &trash)
            .with_context(|| format!("moving {} to the trash", tree.display()))?;
        fsutil::remove_tree(&trash)
    }

    /// Checks a claimed digest on the descriptor before anything exists,
    /// unpacks into staging (hashing again as it reads), then renames the
    /// tree into place, or with `replace` exchanges it atomically with the
    /// published one (readers see the old tree or the new one, never none),
    /// and trashes what it replaced.
    fn unpack_and_publish(
        &self,
        archive: &mut ArchiveFile,
        digest: &str,
        source: DigestSource,
        replace: bool,
    ) -> Result<Unpacked> {
        let expected = hash::parse_sha256(digest)?;
        let path = archive.path;
        let file = archive.get()?;
        if source == DigestSource::Claimed {
            archive::verify_digest(path, file, &expected)?;
        }
        let staging = self.staging_path(digest, "tree");
        fs::create_dir(&staging).with_context(|| format!("creating {}", staging.display()))?;
        let published = (|| {
            let unpacked = archive::unpack(path, file, &staging, Some(&expected), self.limits)?;
            // The top stays writable until it is renamed (see make_read_only_below).
            fsutil::make_read_only_below(&staging)?;
            fsutil::sync_filesystem(&staging)?;
            let version = self.version_path(digest);
            if replace {
                exchange(&staging, &version)?;
            } else {
                fs::rename(&staging, &version).with_context(|| {
                    format!("publishing {} as {}", staging.display(), version.display())
                })?;
            }
            fsutil::drop_write_bits(&version)?;
            fsutil::sync_dir(&self.root)?;
            Ok(unpacked)
        })();
        if staging.exists() {
            // A failed extraction's partial tree, or the tampered tree that
            // `replace` swapped out.
            let result = self.discard(&staging);
            if published.is_ok() {
                result?;
            }
        }
        published
    }

    /// How the published tree of `digest` differs from its record (empty:
    /// it matches). Re-hashes every file: on demand only (`--verify`,
    /// `fleet verify`). Versions published before listings were recorded
    /// are checked by their h1 alone.
    pub fn verify_version(&self, digest: &str, manifest: &VersionManifest) -> Result<Vec<String>> {
        let found = Model::read_dir(&self.version_path(digest))?;
        let mut problems = match fs::read(self.listing_path(digest)) {
            Ok(bytes) => match serde_json::from_slice::<Model>(&bytes) {
                Ok(recorded) => recorded.differences(&found),
                Err(e) => vec![format!("its listing does not parse ({e})")],
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                let listing = self.listing_path(digest);
                return Err(e).with_context(|| format!("reading {}", listing.display()));
            }
        };
        match found.h1() {
            Ok(h1) if h1 == manifest.h1 => {}
            Ok(h1) => problems.push(format!("h1 is {h1}, recorded {}", manifest.h1)),
            Err(e) => problems.push(format!("{e:#}")),
        }
        Ok(problems)
    }

    /// Checks every complete version; returns (digest, problems) for each.
    pub fn verify_all(&self, timeout: Duration) -> Result<Vec<(String, Vec<String>)>> {
        let mut results = Vec::new();
        let mut digests = self.version_digests()?;
        digests.sort();
        for digest in digests {
            // Pinned, so gc does not remove it while it is read.
            let _pin = self.pin(&digest, timeout)?;
            if let Some(manifest) = self.complete(&digest)? {
                let problems = self.verify_version(&digest, &manifest)?;
                results.push((digest, problems));
            }
        }
        Ok(results)
    }

    /// Points `link` at a version: a temp symlink renamed over it, so readers
    /// see the old target or the new one, never nothing. Records the link so
    /// gc keeps its target.
    pub fn link(&self, link: &Path, version: &Path) -> Result<()> {
        if let Some(parent) = link.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let already = fs::read_link(link).map(|t| t == version).unwrap_or(false);
        if !already {
            if let Ok(meta) = fs::symlink_metadata(link) {
                if !meta.file_type().is_symlink() {
                    return Err(anyhow::anyhow!(
                        "{} exists and is not a symlink; move it away once so fleet can manage it as a link to {}",
                        link.display(),
                        version.display()
                    ));
                }
            }
            fsutil::sweep_dead_temps(link);
            let temp = fsutil::sibling_temp(link);
            std::os::unix::fs::symlink(version, &temp)
                .with_context(|| format!("creating symlink {}", temp.display()))?;
            if let Err(e) = fs::rename(&temp, link) {
                let _ = fs::remove_file(&temp);
                return Err(e).with_context(|| format!("replacing link {}", link.display()));
            }
            fsutil::sync_parent(link)?;
        }
        self.record_link(link)
    }

    fn record_link(&self, link: &Path) -> Result<()> {
        let absolute =
            std::path::absolute(link).with_context(|| format!("resolving {}", link.display()))?;
        let key = hex::encode(
            hash::sha256_reader(absolute.as_os_str().as_bytes()).context("hashing link path")?,
        );
        let record = self.root.join(".links").join(key);
        let bytes = absolute.as_os_str().as_bytes();
        if fs::read(&record).ok().as_deref() != Some(bytes) {
            fsutil::write_atomic(&record, bytes)?;
        }
        Ok(())
    }

    /// Digests that recorded links currently point at; stale records are dropped.
    fn linked_digests(&self) -> Result<Vec<String>> {
        let dir = self.root.join(".links");
        let mut digests = Vec::new();
        for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let record = entry
                .with_context(|| format!("listing {}", dir.display()))?
                .path();
            let Ok(link) = fs::read(&record) else {
                continue;
            };
            let link = PathBuf::from(std::ffi::OsStr::from_bytes(&link));
            match fs::read_link(&link) {
                Ok(target) if target.parent() == Some(self.root.as_path()) => {
                    digests.push(
                        target
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    );
                }
                _ => {
                    let _ = fs::remove_file(&record);
                }
            }
        }
        Ok(digests)
    }

    /// Removes staging leftovers, incomplete versions and all but the `keep`
    /// most recently used complete versions, never a linked or in-use one.
    pub fn gc(&self, keep: usize, timeout: Duration) -> Result<GcReport> {
        let _gc = Lock::acquire(
            &self.root.join(".locks/gc.lock"),
            timeout,
            "collecting garbage",
        )?;
        let mut report = GcReport::default();
        for entry in fs::read_dir(self.root.join(".trash")).context("listing the trash")? {
            fsutil::remove_tree(&entry.context("listing the trash")?.path())?;
        }
        // Digest records of archives that changed or went away.
        let index = self.root.join(".index");
        for entry in fs::read_dir(&index).with_context(|| format!("listing {}", index.display()))? {
            let record = entry
                .with_context(|| format!("listing {}", index.display()))?
                .path();
            if !index_record_current(&record) {
                fsutil::remove_tree(&record)?;
            }
        }
        report.staging_swept = self.sweep_all_staging()?;
        let linked = self.linked_digests()?;
        let mut complete = Vec::new();
        for digest in self.version_digests()? {
            match self.complete(&digest) {
                Ok(Some(_)) => {
                    let used = fs::metadata(self.manifest_path(&digest))
                        .and_then(|m| m.modified())
                        .unwrap_or(SystemTime::UNIX_EPOCH);
                    complete.push((used, digest));
                }
                // Incomplete or unreadable: remove unless an extraction owns it.
                _ => {
                    if self.remove_version(&digest, &mut report)? {
                        report.incomplete_removed += 1;
                    }
                }
            }
        }
        complete.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        for (rank, (_, digest)) in complete.iter().enumerate() {
            if rank < keep || linked.contains(digest) {
                report.kept += 1;
            } else if self.remove_version(digest, &mut report)? {
                report.removed += 1;
            } else {
                report.kept += 1;
            }
        }
        Ok(report)
    }

    /// Digests with anything in the store: a tree, a manifest or a listing
    /// (a gc killed between removing a tree and its listing leaves one).
    fn version_digests(&self) -> Result<Vec<String>> {
        let mut digests = Vec::new();
        for dir in [self.root.clone(), self.root.join(".listings")] {
            for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
                let name = entry
                    .with_context(|| format!("listing {}", dir.display()))?
                    .file_name();
                let name = name.to_string_lossy();
                let digest = name.strip_suffix(".json").unwrap_or(&name);
                if digest.len() == 64
                    && digest.bytes().all(|b| b.is_ascii_hexdigit())
                    && !digests.iter().any(|d| d == digest)
                {
                    digests.push(digest.to_string());
                }
            }
        }
        Ok(digests)
    }

    /// Removes one version if neither its extraction nor its use lock is held:
    /// manifest first (the version stops being complete), then the tree via
    /// the trash. Returns whether it was removed.
    fn remove_version(&self, digest: &str, report: &mut GcReport) -> Result<bool> {
        let Some(_extracting) =
            Lock::try_acquire(&self.lock_path(digest, "lock"), Mode::Exclusive, "gc")?
        else {
            report.in_use.push(digest.to_string());
            return Ok(false);
        };
        let Some(_using) =
            Lock::try_acquire(&self.lock_path(digest, "use"), Mode::Exclusive, "gc")?
        else {
            report.in_use.push(digest.to_string());
            return Ok(false);
        };
        let manifest = self.manifest_path(digest);
        if manifest.exists() {
            fs::remove_file(&manifest)
                .with_context(|| format!("removing {}", manifest.display()))?;
            fsutil::sync_dir(&self.root)?;
        }
        let version = self.version_path(digest);
        if version.exists() {
            self.discard(&version)?;
        }
        let listing = self.listing_path(digest);
        if listing.exists() {
            fs::remove_file(&listing).with_context(|| format!("removing {}", listing.display()))?;
        }
        Ok(true)
    }

    fn sweep_all_staging(&self) -> Result<usize> {
        let staging = self.root.join(".staging");
        let mut swept = 0;
        for entry in
            fs::read_dir(&staging).with_context(|| format!("listing {}", staging.display()))?
        {
            let path = entry
                .with_context(|| format!("listing {}", staging.display()))?
                .path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let digest = name.split('.').next().unwrap_or_default();
            if let Some(_lock) =
                Lock::try_acquire(&self.lock_path(digest, "lock"), Mode::Exclusive, "gc")?
            {
                fsutil::remove_tree(&path)?;
                swept += 1;
            }
        }
        Ok(swept)
    }
}

/// Swaps two directory entries atomically (`renameat2(RENAME_EXCHANGE)`).
fn exchange(a: &Path, b: &Path) -> Result<()> {
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .with_context(|| format!("path {} contains NUL", p.display()))
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: two valid NUL-terminated paths; the call touches no memory of ours.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("exchanging {} with {}", a.display(), b.display()));
    }
    Ok(())
}

/// A key naming one state of one file: its absolute path and stat identity.
fn archive_identity(archive: &Path) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let meta =
        fs::metadata(archive).with_context(|| format!("reading archive {}", archive.display()))?;
    let absolute =
        std::path::absolute(archive).with_context(|| format!("resolving {}", archive.display()))?;
    let identity = format!(
        "{}\0{}:{}:{}:{}.{}:{}.{}",
        absolute.display(),
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    );
    Ok(hex::encode(
        hash::sha256_reader(identity.as_bytes()).context("hashing identity")?,
    ))
}

/// A recorded digest, if the record exists and is well formed.
fn read_digest(record: &Path) -> Option<String> {
    let text = fs::read_to_string(record).ok()?;
    let digest = text.lines().next()?;
    (digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| digest.to_string())
}

/// Whether an index record still describes its file as it is now.
fn index_record_current(record: &Path) -> bool {
    let Ok(text) = fs::read_to_string(record) else {
        return false;
    };
    let mut lines = text.lines();
    let (Some(_), Some(path)) = (lines.next(), lines.next()) else {
        return false;
    };
    let name = record.file_name().map(|n| n.to_string_lossy().into_owned());
    read_digest(record).is_some() && archive_identity(Path::new(path)).ok() == name
}

/// What `fleet gc` did.
#[derive(Debug, Default, Serialize)]
pub struct GcReport {
    pub removed: usize,
    pub kept: usize,
    pub incomplete_removed: usize,
    pub staging_swept: usize,
    /// Versions skipped because a fleet process is extracting or using them.
    pub in_use: Vec<String>,
}
