//! Verification tags: canonical JSON recording the digests of inputs and
//! some values. A tag file is rewritten only when its bytes would change
//! (same bytes: same inode, same mtime), so nothing downstream rebuilds for
//! nothing; when it changes it is replaced atomically under a lock.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::{mismatch, unsafe_input, usage};
use crate::fsutil;
use crate::hash;
use crate::lock::Lock;

/// Schema version written into every tag.
pub const TAG_SCHEMA: u32 = 1;

/// The tag's content. Maps are BTreeMaps so keys are always sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    /// Input path (as given) → `sha256:<hex>` (file) or `h1:...` (directory).
    pub inputs: BTreeMap<String, String>,
    pub schema: u32,
    pub values: BTreeMap<String, String>,
}

/// What `write` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Unchanged,
    Updated,
}

/// Computes the tag for inputs as they are now.
pub fn compute(inputs: &[PathBuf], values: &[(String, String)]) -> Result<Tag> {
    let mut tag = Tag {
        inputs: BTreeMap::new(),
        schema: TAG_SCHEMA,
        values: BTreeMap::new(),
    };
    for input in inputs {
        let key = input.to_string_lossy().into_owned();
        let digest = digest_of(input)?;
        if tag.inputs.insert(key.clone(), digest).is_some() {
            return Err(usage(format!("--input {key} is given twice")));
        }
    }
    for (key, value) in values {
        if tag.values.insert(key.clone(), value.clone()).is_some() {
            return Err(usage(format!("--set {key} is given twice")));
        }
    }
    Ok(tag)
}

/// What a tag records for an input: `sha256:<hex>` of a file, `h1:...` of a directory.
pub fn digest_of(input: &Path) -> Result<String> {
    let meta =
        fs::metadata(input).with_context(|| format!("reading tag input {}", input.display()))?;
    if meta.is_dir() {
        hash::h1_dir(input)
    } else {
        Ok(format!("sha256:{}", hex::encode(hash::sha256_file(input)?)))
    }
}

/// The canonical bytes of a tag: pretty JSON with sorted keys and a final newline.
pub fn encode(tag: &Tag) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(tag).context("encoding tag")?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn read_existing(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading tag {}", path.display())),
    }
}

fn lock_path(tag: &Path) -> PathBuf {
    let mut name = tag.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The tag as fleet itself wrote it: a regular file, never read through a
/// symlink (one planted at the tag path is refused with exit 4, so its
/// target is neither compared nor replaced).
fn read_own(path: &Path) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let opened = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let mut file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(unsafe_input(format!(
                "tag {} is a symbolic link; fleet never writes through links (remove it)",
                path.display()
            )))
        }
        Err(e) => return Err(e).with_context(|| format!("reading tag {}", path.display())),
    };
    let meta = file
        .metadata()
        .with_context(|| format!("reading tag {}", path.display()))?;
    if !meta.is_file() {
        return Err(unsafe_input(format!(
            "tag {} is not a regular file",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("reading tag {}", path.display()))?;
    Ok(Some(bytes))
}

/// Writes `bytes` to the tag file unless it already holds exactly them.
pub fn write(path: &Path, bytes: &[u8], timeout: std::time::Duration) -> Result<WriteOutcome> {
    if read_own(path)?.as_deref() == Some(bytes) {
        return Ok(WriteOutcome::Unchanged);
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let _lock = Lock::acquire(
        &lock_path(path),
        timeout,
        &format!("writing tag {}", path.display()),
    )?;
    // Another writer may have written the same content while we waited.
    if read_own(path)?.as_deref() == Some(bytes) {
        return Ok(WriteOutcome::Unchanged);
    }
    // The temp is created O_EXCL|O_NOFOLLOW under an unpredictable name and
    // renamed over the path: a link planted after the check is replaced,
    // not followed.
    fsutil::write_atomic(path, bytes)?;
    Ok(WriteOutcome::Updated)
}

/// Compares the tag on disk with `expected`; the error names every difference.
pub fn check(path: &Path, expected: &Tag) -> Result<()> {
    let bytes = read_existing(path)?
        .ok_or_else(|| mismatch(format!("tag {} does not exist", path.display())))?;
    let found: Tag = serde_json::from_slice(&bytes)
        .map_err(|e| unsafe_input(format!("tag {} does not parse: {e}", path.display())))?;
    let mut reasons = Vec::new();
    if found.schema != expected.schema {
        reasons.push(format!(
            "schema is {}, expected {}",
            found.schema, expected.schema
        ));
    }
    diff_maps("input", &found.inputs, &expected.inputs, &mut reasons);
    diff_maps("value", &found.values, &expected.values, &mut reasons);
    if reasons.is_empty() {
        return Ok(());
    }
    Err(mismatch(format!(
        "tag {} is out of date: {}",
        path.display(),
        reasons.join("; ")
    )))
}

fn diff_maps(
    what: &str,
    found: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
    out: &mut Vec<String>,
) {
    for (key, want) in now {
        match found.get(key) {
            None => out.push(format!("{what} {key} is not in the tag")),
            Some(have) if have != want => {
                out.push(format!("{what} {key}: tag has {have}, now {want}"))
            }
            Some(_) => {}
        }
    }
    for key in found.keys().filter(|k| !now.contains_key(*k)) {
        out.push(format!("{what} {key} is in the tag but no longer given"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_canonical() {
        let values = vec![
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ];
        let one = encode(&compute(&[], &values).unwrap()).unwrap();
        let mut reversed = values.clone();
        reversed.reverse();
        assert_eq!(one, encode(&compute(&[], &reversed).unwrap()).unwrap());
        let text = String::from_utf8(one).unwrap();
        assert!(text.find("\"a\"").unwrap() < text.find("\"b\"").unwrap());
    }
}
