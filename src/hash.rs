//! Content hashes: sha256 of files, Terraform's `zh:` (sha256 of a provider
//! zip) and `h1:` (Go's dirhash Hash1, as used in `.terraform.lock.hcl`).
//!
//! Hash1: sort the file paths (slash-separated, relative, byte order), hash
//! each file's content, then sha256 over the lines `"<hex>  <path>\n"`,
//! base64 (standard) encoded and prefixed with `h1:`.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::{unsafe_input, usage};

/// A sha256 digest.
pub type Sha256Digest = [u8; 32];

/// Output format of `fleet hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Go dirhash Hash1 (directories; for a zip file, over its entries).
    H1,
    /// Hex sha256 of a file.
    Sha256,
    /// Terraform's legacy zip hash: `zh:` + hex sha256 of the file.
    Zh,
}

impl Format {
    pub const NAMES: [&'static str; 3] = ["h1", "sha256", "zh"];
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(name: &str) -> std::result::Result<Format, String> {
        match name {
            "h1" => Ok(Format::H1),
            "sha256" => Ok(Format::Sha256),
            "zh" => Ok(Format::Zh),
            _ => Err(format!("{name:?} is not h1, sha256 or zh")),
        }
    }
}

/// sha256 of everything `reader` yields.
pub fn sha256_reader(mut reader: impl Read) -> io::Result<Sha256Digest> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buf[..n]);
    }
}

/// sha256 of a file's bytes.
pub fn sha256_file(path: &Path) -> Result<Sha256Digest> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    sha256_reader(file).with_context(|| format!("reading {}", path.display()))
}

/// Hash1 over `(path, sha256 of content)` pairs.
pub fn h1_from_digests(mut files: Vec<(String, Sha256Digest)>) -> Result<String> {
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut summary = Sha256::new();
    for (path, digest) in &files {
        if path.contains('\n') {
            return Err(unsafe_input(format!(
                "h1 cannot hash a file name with a newline: {path:?}"
            )));
        }
        summary.update(format!("{}  {path}\n", hex::encode(digest)).as_bytes());
    }
    Ok(format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(summary.finalize())
    ))
}

/// Hash1 of a directory, like Terraform's PackageHashV1: the root is
/// resolved once (so a reader through a swapped link hashes one tree), files
/// and links to files are hashed by content; links to directories are skipped
/// (Go's walk would fail on them).
pub fn h1_dir(dir: &Path) -> Result<String> {
    let root = fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let mut files = Vec::new();
    collect_files(&root, "", &mut files)?;
    h1_from_digests(files)
}

fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<(String, Sha256Digest)>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let name = entry.file_name().into_string().map_err(|n| {
            unsafe_input(format!("file name {n:?} in {} is not UTF-8", dir.display()))
        })?;
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("reading {}", path.display()))?;
        if kind.is_dir() {
            collect_files(&path, &rel, out)?;
        } else if kind.is_symlink() && fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false) {
            continue;
        } else {
            out.push((rel, sha256_file(&path)?));
        }
    }
    Ok(())
}

/// Hash1 of a zip's files, as Terraform's PackageHashV1 computes it for a
/// provider archive: the hash of the tree unpacking would produce, so
/// directory entries do not count (unlike Go's dirhash.HashZip).
pub fn h1_zip(path: &Path) -> Result<String> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| unsafe_input(format!("{} is not a readable zip: {e}", path.display())))?;
    let mut files = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| unsafe_input(format!("zip {} entry {i}: {e}", path.display())))?;
        if entry.is_dir() {
            continue;
        }
        let name = String::from_utf8(entry.name_raw().to_vec()).map_err(|_| {
            unsafe_input(format!(
                "zip {} entry {i} has a non-UTF-8 name",
                path.display()
            ))
        })?;
        let digest = sha256_reader(entry)
            .map_err(|e| unsafe_input(format!("zip {} entry {name}: {e}", path.display())))?;
        files.push((name, digest));
    }
    h1_from_digests(files)
}

/// `zh:` hash of a file.
pub fn zh_file(path: &Path) -> Result<String> {
    Ok(format!("zh:{}", hex::encode(sha256_file(path)?)))
}

/// The hash `fleet hash` prints for `path` in `format` (defaults: h1 for a
/// directory, sha256 for a file).
pub fn hash_path(path: &Path, format: Option<Format>) -> Result<String> {
    let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    match (meta.is_dir(), format) {
        (true, None | Some(Format::H1)) => h1_dir(path),
        (true, Some(other)) => Err(usage(format!(
            "{} is a directory: only --format h1 applies (not {other:?})",
            path.display()
        ))),
        (false, None | Some(Format::Sha256)) => Ok(hex::encode(sha256_file(path)?)),
        (false, Some(Format::Zh)) => zh_file(path),
        (false, Some(Format::H1)) => h1_zip(path),
    }
}

/// `fleet hash`.
/// Parses a 64-digit hex sha256 (either case).
pub fn parse_sha256(hex_text: &str) -> Result<Sha256Digest> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_text.trim(), &mut digest)
        .map_err(|_| usage(format!("{hex_text:?} is not a sha256 (64 hex digits)")))?;
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's cmd/go: the Hash1 of an empty go.mod.
    const EMPTY_GO_MOD_H1: &str = "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=";

    #[test]
    fn empty_go_mod_vector() {
        let empty = sha256_reader(io::empty()).unwrap();
        assert_eq!(
            h1_from_digests(vec![("go.mod".into(), empty)]).unwrap(),
            EMPTY_GO_MOD_H1
        );
    }

    #[test]
    fn order_is_by_bytes_not_by_insertion() {
        let d = [7u8; 32];
        let a = h1_from_digests(vec![("b".into(), d), ("a/z".into(), d)]).unwrap();
        let b = h1_from_digests(vec![("a/z".into(), d), ("b".into(), d)]).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn rejects_bad_sha256() {
        assert!(parse_sha256("abc").is_err());
        assert!(parse_sha256(&"A".repeat(64)).is_ok());
    }
}
