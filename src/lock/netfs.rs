//! Network filesystems: flock there may be emulated per process (NFS) or
//! not shared between machines, so fleet says so once per directory.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The network filesystem a statfs `f_type` names, if it is one.
pub fn network_filesystem_name(magic: i64) -> Option<&'static str> {
    Some(match magic {
        0x6969 => "nfs",
        0x517B => "smb",
        0xFF53_4D42 => "cifs",
        0xFE53_4D42 => "smb2",
        0x564C => "ncp",
        0x7375_7245 => "coda",
        0x5346_414F | 0x6B41_4653 => "afs",
        0x0102_1997 => "9p",
        0x00C3_6400 => "ceph",
        0x0116_1970 => "gfs2",
        0x7461_636F => "ocfs2",
        0x0BD0_0BD0 => "lustre",
        0x4750_4653 => "gpfs",
        _ => return None,
    })
}

/// The network filesystem holding `dir`, if any (`None` when unknown).
pub fn network_filesystem_of(dir: &Path) -> Option<&'static str> {
    let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: a valid C string and a buffer of the right type.
    if unsafe { libc::statfs(c.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: statfs succeeded, so it filled the buffer.
    let magic = unsafe { stat.assume_init() }.f_type;
    // f_type is signed on some targets; the magic numbers are 32-bit.
    network_filesystem_name(i64::from(magic as u32))
}

/// Prints one warning line the first time a lock directory on a network
/// filesystem is used by this process.
pub fn warn_once(dir: &Path) {
    static SEEN: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if !seen
        .get_or_insert_with(HashSet::new)
        .insert(dir.to_path_buf())
    {
        return;
    }
    if let Some(fs) = network_filesystem_of(dir) {
        eprintln!(
            "fleet: warning: {} is on a network filesystem ({fs}); its locks may not exclude other machines, keep fleet stores and locks on a local disk",
            dir.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_magics_are_recognised_and_local_ones_not() {
        assert_eq!(network_filesystem_name(0x6969), Some("nfs"));
        assert_eq!(network_filesystem_name(0xFF53_4D42), Some("cifs"));
        assert_eq!(network_filesystem_name(0xFE53_4D42), Some("smb2"));
        assert_eq!(network_filesystem_name(0x517B), Some("smb"));
        assert_eq!(network_filesystem_name(0x0102_1997), Some("9p"));
        // ext4, xfs, btrfs, tmpfs, overlayfs
        for local in [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994, 0x794C_7630] {
            assert_eq!(network_filesystem_name(local), None, "{local:#x}");
        }
        // The sign-extended form statfs may return for a 32-bit magic.
        let cifs_as_signed = 0xFF53_4D42_u32 as i32;
        assert_eq!(
            network_filesystem_name(i64::from(cifs_as_signed as u32)),
            Some("cifs")
        );
        assert_eq!(network_filesystem_of(Path::new("/proc")), None);
    }
}
