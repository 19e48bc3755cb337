//! Extraction into the store: unpacked once per digest, published whole.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::archive::{self, Unpacked};
use crate::fsutil::{self, Replace};
use crate::hash;
use crate::lock::Lock;

use super::digest_index::{ArchiveFile, DigestSource};
use super::{Extraction, Pin, Store, VersionManifest, MANIFEST_SCHEMA};

impl Store {
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
        fsutil::replace_file(
            &self.listing_path(digest),
            &listing,
            Replace {
                staging: Some(&temp),
                ..Replace::DURABLE
            },
        )?;
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
        fsutil::replace_file(
            &self.manifest_path(digest),
            &json,
            Replace {
                staging: Some(&temp),
                ..Replace::DURABLE
            },
        )?;
        Ok(manifest)
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
        // A tree a killed process was deleting: a live pid may still be
        // removing it.
        let trash = self.root.join(".trash");
        for entry in fs::read_dir(&trash).with_context(|| format!("listing {}", trash.display()))? {
            let entry = entry.with_context(|| format!("listing {}", trash.display()))?;
            let pid = entry
                .file_name()
                .to_str()
                .and_then(|name| trash_owner(name, digest));
            if pid.is_some_and(|pid| !fsutil::process_alive(pid)) {
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
    pub(super) fn discard(&self, tree: &Path) -> Result<()> {
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
}

/// The pid of the process that trashed `name` when it is a tree of
/// `digest`. `discard` names trash `<tree name>.<pid>.<nanos>.<n>.<random>`
/// (`fsutil::unique_suffix`), and the tree name is the version's
/// (`<digest>`) or a staging tree's (`<digest>.tree.<pid>.…`, trashed by a
/// failed or repairing extraction), so the pid is read from the end.
fn trash_owner(name: &str, digest: &str) -> Option<u32> {
    name.strip_prefix(digest)?.strip_prefix('.')?;
    name.rsplit('.').nth(3)?.parse().ok()
}

/// Swaps two directory entries atomically (`renameat2(RENAME_EXCHANGE)`).
fn exchange(a: &Path, b: &Path) -> Result<()> {
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .with_context(|| format!("path {} contains NUL", p.display()))
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // The system call, not glibc's wrapper (glibc 2.28+): the released helper
    // runs on glibc 2.17 (docs/release.md); the kernel call is Linux 3.15+.
    // SAFETY: two valid NUL-terminated paths; the call touches no memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
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

#[cfg(test)]
mod tests {
    use super::trash_owner;

    #[test]
    fn trash_of_a_version_and_of_a_staging_tree_name_their_trasher() {
        let d = "ab".repeat(32);
        let version = format!("{d}.4242.17.0.00ff00ff00ff00ff");
        let staging = format!("{d}.tree.77.5.1.0123456789abcdef.4243.18.2.fedcba9876543210");
        assert_eq!(trash_owner(&version, &d), Some(4242));
        assert_eq!(trash_owner(&staging, &d), Some(4243));
        assert_eq!(trash_owner(&version, &"cd".repeat(32)), None);
        assert_eq!(trash_owner(&format!("{d}x.1.2.3.4"), &d), None);
        assert_eq!(trash_owner(&format!("{d}.junk"), &d), None);
    }
}
