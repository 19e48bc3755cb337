//! Validating unpacking of tar, gzip-compressed tar and zip archives.
//!
//! Everything that could write outside the destination is refused with exit
//! code 4 before it touches the disk: `..` and absolute paths, links leaving
//! the tree (resolved through the other links of the tree, see [`model`]),
//! entries written through a symlink, devices and FIFOs, duplicate paths,
//! truncated or corrupt streams, more bytes or entries than the [`Limits`].
//! setuid/setgid/sticky and world-write bits are dropped. Symlinks are
//! created last, after every link of the complete tree has been checked, so
//! no link exists on disk while files are written. The caller unpacks into a
//! private staging directory and publishes it only when this returns `Ok`.
//!
//! The archive is read through one open descriptor: a known digest is
//! checked on it before anything is unpacked ([`verify_digest`]), and the
//! bytes unpacked are hashed again as they are read, so an archive that
//! changes in between is refused too (exit 5). Hashing twice costs a read of
//! the compressed archive; a private copy would cost a write of it.
//!
//! Reading, hashing and decompressing run on a second thread that feeds the
//! tar parser through a bounded channel, so decompression and file creation
//! overlap the way `gzip -d | tar -x` does.

mod feed;
pub mod model;
mod paths;
mod tree;
mod untar;
mod unzip;

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::error::mismatch;
use crate::hash::Sha256Digest;
use model::Model;

const CHUNK: usize = 256 * 1024;

/// Default cap on the bytes one archive may unpack to (8 GiB).
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 8 << 30;
/// Default cap on the entries of one archive.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;

/// Caps on what one archive may unpack to, counted as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_unpacked_bytes: u64,
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_unpacked_bytes: DEFAULT_MAX_UNPACKED_BYTES,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

impl Limits {
    /// The defaults, overridden by `FLEET_MAX_UNPACKED_BYTES` and
    /// `FLEET_MAX_ENTRIES` when set (for callers without flags).
    pub fn from_env() -> Result<Limits> {
        let read = |name: &str, default: u64| -> Result<u64> {
            match std::env::var(name) {
                Ok(text) => text
                    .trim()
                    .parse()
                    .map_err(|_| crate::error::usage(format!("{name}={text:?} is not a number"))),
                Err(_) => Ok(default),
            }
        };
        Ok(Limits {
            max_unpacked_bytes: read("FLEET_MAX_UNPACKED_BYTES", DEFAULT_MAX_UNPACKED_BYTES)?,
            max_entries: read("FLEET_MAX_ENTRIES", DEFAULT_MAX_ENTRIES)?,
        })
    }
}

/// What an archive turned out to be, by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tar,
    TarGz,
    Zip,
}

/// What was unpacked.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// sha256 of the archive's bytes, as read while unpacking.
    pub sha256: Sha256Digest,
    /// Hash1 of the unpacked tree.
    pub h1: String,
    pub files: usize,
    pub bytes: u64,
    /// The tree as unpacked (what `fleet verify` compares against).
    pub model: Model,
}

/// Opens an archive for [`verify_digest`] and [`unpack`]: one descriptor
/// for all the reads of one extraction.
pub fn open(path: &Path) -> Result<File> {
    File::open(path).with_context(|| format!("opening archive {}", path.display()))
}

/// Detects the archive kind from its first bytes.
fn detect(path: &Path, file: &File) -> Result<Kind> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match file.read_at(&mut head[n..], n as u64) {
            Ok(0) => break,
            Ok(read) => n += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => Kind::TarGz,
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => Kind::Zip,
        _ => Kind::Tar,
    })
}

fn read_up_to<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// sha256 of everything the descriptor holds, read from offset 0 without
/// moving its file position.
pub fn hash_descriptor(path: &Path, file: &File) -> Result<Sha256Digest> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        let n = match file.read_at(&mut buf, offset) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buf[..n]);
        offset += n as u64;
    }
}

/// Exit 5 unless the archive's bytes hash to `expected`. Called before
/// anything is created, so a wrong digest leaves no trace.
pub fn verify_digest(path: &Path, file: &File, expected: &Sha256Digest) -> Result<()> {
    let actual = hash_descriptor(path, file)?;
    if &actual != expected {
        return Err(mismatch(format!(
            "archive {} has sha256 {}, expected {}; nothing was unpacked",
            path.display(),
            hex::encode(actual),
            hex::encode(expected)
        )));
    }
    Ok(())
}

/// Unpacks the archive open as `file` into `dest` (which must exist and be
/// empty), checking every entry against the tree and `limits`. When
/// `expected` is given, the bytes read while unpacking must hash to it
/// (exit 5 otherwise: call [`verify_digest`] first so a wrong archive
/// writes nothing; this catches one that changed since). On error, `dest`
/// may hold a partial tree: the caller discards it.
pub fn unpack(
    path: &Path,
    file: &File,
    dest: &Path,
    expected: Option<&Sha256Digest>,
    limits: Limits,
) -> Result<Unpacked> {
    let unpacked = match detect(path, file)? {
        Kind::Zip => unzip::unpack_zip(path, file, dest, limits),
        kind => untar::unpack_tar(file, dest, kind == Kind::TarGz, limits),
    }
    .with_context(|| format!("unpacking {}", path.display()))?;
    if let Some(want) = expected {
        if want != &unpacked.sha256 {
            return Err(mismatch(format!(
                "archive {} has sha256 {} as unpacked, expected {} (it changed while being read?)",
                path.display(),
                hex::encode(unpacked.sha256),
                hex::encode(want)
            )));
        }
    }
    Ok(unpacked)
}

/// Hermetic extraction (`fleet extract --out DIR`): DIR must be empty or
/// missing; on failure it is left empty. A known digest is checked before
/// DIR is touched.
pub fn extract_to(
    archive: &Path,
    out: &Path,
    expected: Option<&Sha256Digest>,
    limits: Limits,
) -> Result<Unpacked> {
    let file = open(archive)?;
    if let Some(want) = expected {
        verify_digest(archive, &file, want)?;
    }
    match fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(crate::error::usage(format!(
                    "--out {} is not empty",
                    out.display()
                )));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", out.display())),
    }
    let result = unpack(archive, &file, out, expected, limits);
    if result.is_err() {
        clear_dir(out);
    }
    result
}

fn clear_dir(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = crate::fsutil::remove_tree(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_resolution_stays_inside() {
        let tree = Model::default();
        assert_eq!(tree.check_link("a/b/l", "../c").unwrap(), "a/c");
        assert!(tree.check_link("a/l", "../../x").is_err());
        assert!(tree.check_link("l", "/etc").is_err());
    }

    fn small_tar(content: &[u8]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, "f", content).unwrap();
        builder.into_inner().unwrap()
    }

    /// The bytes checked and the bytes unpacked are compared: an archive
    /// rewritten in place after the digest check is refused (exit 5).
    #[test]
    fn an_archive_changed_after_the_digest_check_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        let original = small_tar(b"original");
        fs::write(&path, &original).unwrap();
        let file = open(&path).unwrap();
        let digest: Sha256Digest = Sha256::digest(&original).into();
        verify_digest(&path, &file, &digest).unwrap();
        // Another writer, same inode, same length.
        fs::write(&path, small_tar(b"replaced")).unwrap();
        let dest = dir.path().join("out");
        fs::create_dir(&dest).unwrap();
        let err = unpack(&path, &file, &dest, Some(&digest), Limits::default()).unwrap_err();
        assert_eq!(
            crate::error::exit_code_of(&err),
            crate::error::ExitCode::Mismatch
        );
    }
}
