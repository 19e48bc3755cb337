//! Files and directories only their owner can read, whatever the caller's
//! umask: run directories hold state, outputs (sensitive ones too), inputs,
//! plans and logs.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

use super as fsutil;

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and missing parents 0700 (a world-writable parent would let
/// anyone swap the run directory) and makes `dir` itself 0700, also when an
/// older fleet created it more open.
pub fn create_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .with_context(|| format!("creating directory {}", dir.display()))?;
    set_mode(dir, DIR_MODE)
}

pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("making {} private ({mode:o})", path.display()))
}

/// Opens `path` for writing from scratch, mode 0600 (an existing file is
/// truncated and narrowed to 0600 too).
pub fn create_file(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))
        .with_context(|| format!("making {} private", path.display()))?;
    Ok(file)
}

/// Replaces `path` atomically (staging file beside it, then rename) with a
/// 0600 file holding `bytes`; `durable` adds the fsyncs.
pub fn write_file(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    write_file_mode(path, bytes, FILE_MODE, durable)
}

/// Like [`write_file`] with `mode` (0700 for an executable rendered file).
pub fn write_file_mode(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> Result<()> {
    let how = fsutil::Replace {
        durable,
        mode: Some(mode),
        staging: None,
    };
    fsutil::replace_file(path, bytes, how)
}
