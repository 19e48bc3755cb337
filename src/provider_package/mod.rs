//! Terraform provider packages (the zips mirrors and registries serve):
//! their names, and writing one reproducibly from a provider binary.
//!
//! Same binary, same bytes, on every machine: one entry
//! `terraform-provider-<type>_v<version>`, mode 0755, DOS time 1980-01-01
//! 00:00, deflated by the zlib bundled into fleet at level 6 — the exact
//! bytes Python's `zipfile` wrote with the system zlib for earlier
//! rules_fleet versions, so lock files keep their `zh:` hashes.

mod deflate;
mod zip_writer;

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::error::usage;
use crate::fsutil;

/// `terraform-provider-<type>_<version>_<platform>.zip`.
pub fn package_file_name(source: &str, version: &str, platform: &str) -> String {
    let kind = source.rsplit('/').next().unwrap_or(source);
    format!("terraform-provider-{kind}_{version}_{platform}.zip")
}

/// `terraform-provider-<type>_v<version>`: the executable's name inside the zip.
pub fn entry_name(source: &str, version: &str) -> String {
    let kind = source.rsplit('/').next().unwrap_or(source);
    format!("terraform-provider-{kind}_v{version}")
}

/// The zip bytes of a package holding `binary` as `entry`.
pub fn package_bytes(entry: &str, binary: &[u8]) -> Result<Vec<u8>> {
    if entry.is_empty() || entry.contains('/') || entry.contains('\0') {
        return Err(usage(format!(
            "{entry:?} is not a file name for a package entry"
        )));
    }
    let compressed = deflate::deflate_raw(binary)?;
    zip_writer::single_entry_zip(entry, binary, &compressed)
}

/// Writes the package of `binary` to `zip` (replaced atomically).
pub fn write_package(binary: &Path, entry: &str, zip: &Path) -> Result<()> {
    let data = fs::read(binary)
        .with_context(|| format!("reading provider binary {}", binary.display()))?;
    let bytes = package_bytes(entry, &data)
        .with_context(|| format!("packaging {} as {}", binary.display(), zip.display()))?;
    fsutil::replace_file(zip, &bytes, fsutil::Replace::QUICK)
}

#[cfg(test)]
mod tests;
