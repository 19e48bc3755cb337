//! The one atomic file replace of the crate: write a staging file beside the
//! target (created `O_EXCL|O_NOFOLLOW` under an unpredictable name, so no
//! link planted in advance is followed), optionally with a fixed mode and
//! fsync, rename it over the target, then fsync the directory.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

use crate::fsutil;

/// How [`replace`] writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Replace<'a> {
    /// fsync the file before the rename and the directory after it.
    pub durable: bool,
    /// The file's mode, whatever the umask (default: 0666 minus the umask).
    pub mode: Option<u32>,
    /// The staging path (default: a unique sibling of the target). Callers
    /// that own a staging area put it there, so their sweep finds leftovers.
    pub staging: Option<&'a Path>,
}

/// Replaces `path` with `bytes` atomically.
pub fn replace(path: &Path, bytes: &[u8], how: Replace<'_>) -> Result<()> {
    let sibling;
    let temp = match how.staging {
        Some(staging) => staging,
        None => {
            sibling = fsutil::sibling_temp(path);
            &sibling
        }
    };
    let file = create_staging(temp, how.mode)?;
    // Only a staging file this call created is removed on failure.
    let result = write_then_rename(file, temp, path, bytes, how);
    if result.is_err() {
        let _ = fs::remove_file(temp);
    }
    result
}

fn create_staging(temp: &Path, mode: Option<u32>) -> Result<File> {
    let mut options = OpenOptions::new();
    options
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    if let Some(mode) = mode {
        options.mode(mode);
    }
    options
        .open(temp)
        .with_context(|| format!("creating {}", temp.display()))
}

fn write_then_rename(
    mut file: File,
    temp: &Path,
    path: &Path,
    bytes: &[u8],
    how: Replace<'_>,
) -> Result<()> {
    if let Some(mode) = how.mode {
        // The umask may have narrowed the mode given at creation.
        file.set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting mode {mode:o} on {}", temp.display()))?;
    }
    file.write_all(bytes)
        .with_context(|| format!("writing {}", temp.display()))?;
    if how.durable {
        file.sync_all()
            .with_context(|| format!("syncing {}", temp.display()))?;
    }
    fs::rename(temp, path)
        .with_context(|| format!("renaming {} to {}", temp.display(), path.display()))?;
    if how.durable {
        fsutil::sync_parent(path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_is_exact_whatever_the_umask_and_no_temp_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, "old").unwrap();
        for mode in [0o644, 0o600, 0o755] {
            let how = Replace {
                durable: true,
                mode: Some(mode),
                staging: None,
            };
            replace(&path, b"new", how).unwrap();
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
                mode
            );
        }
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_link_at_the_staging_path_is_refused_and_the_target_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let victim = dir.path().join("victim");
        fs::write(&path, "old").unwrap();
        fs::write(&victim, "victim").unwrap();
        let staging = dir.path().join("staging");
        std::os::unix::fs::symlink(&victim, &staging).unwrap();
        let how = Replace {
            staging: Some(&staging),
            ..Replace::default()
        };
        assert!(replace(&path, b"new", how).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"victim");
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }
}
