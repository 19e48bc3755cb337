//! The digest index: an archive file's sha256, computed once per file state.

use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use super::Store;
use crate::archive::{self};
use crate::fsutil::{self, Replace};
use crate::hash;
use crate::lock::Lock;

/// The archive being extracted, opened at most once (the warm path never
/// opens it): hashing and unpacking read the same descriptor.
pub(super) struct ArchiveFile<'a> {
    pub(super) path: &'a Path,
    pub(super) file: Option<fs::File>,
}

impl ArchiveFile<'_> {
    pub(super) fn get(&mut self) -> Result<&fs::File> {
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
pub(super) enum DigestSource {
    /// Given (`--sha256`, a lock file) or recorded: check the bytes first.
    Claimed,
    /// Just computed from the open descriptor: already the bytes' digest.
    HashedHere,
}

impl Store {
    /// The sha256 of an archive file, computed once per file however many
    /// processes ask: the first hashes under a lock keyed by the file's
    /// identity and records the digest; the others wait and read it. The
    /// identity includes ctime, which any write to the file changes, and an
    /// extraction still verifies the bytes it reads against the digest.
    pub(super) fn digest_of(
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
            fsutil::replace_file(&record, text.as_bytes(), Replace::QUICK)?;
        }
        Ok((digest, DigestSource::HashedHere))
    }
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
pub(super) fn index_record_current(record: &Path) -> bool {
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
