//! The optional on-disk copy of a record, so tests can see that terraform
//! really ran the provider (and how often).

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Writes `contents` to `path` through a staging file and a rename, so a
/// concurrent reader never sees a partial record.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut staging_name = file_name.to_os_string();
    staging_name.push(format!(".tmp-{}", std::process::id()));
    let staging = path.with_file_name(staging_name);
    let mut file = fs::File::create(&staging)?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(&staging, path)
}

/// Removes `path`; a file that is already gone is not an error.
pub fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}
