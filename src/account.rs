//! The password database's entry for an account: its name and home
//! directory. Read with `getpwuid_r`, so runner threads may ask at once.

use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// What fleet reads of an account's entry.
pub struct Account {
    /// `None` when the entry has no name.
    pub name: Option<String>,
    /// `None` when the entry has no home directory.
    pub home: Option<PathBuf>,
}

/// The entry of `uid`, or `None` when there is none (or it cannot be read).
pub fn by_uid(uid: libc::uid_t) -> Option<Account> {
    // SAFETY: zeroed is a valid passwd (null pointers, zero ids).
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: entry, buf and found are valid for getpwuid_r to fill; the
    // strings point into buf, read before buf is dropped.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() {
        return None;
    }
    let name = (!entry.pw_name.is_null()).then(|| {
        unsafe { CStr::from_ptr(entry.pw_name) }
            .to_string_lossy()
            .into_owned()
    });
    let home = (!entry.pw_dir.is_null())
        .then(|| unsafe { CStr::from_ptr(entry.pw_dir) }.to_bytes())
        .filter(|dir| !dir.is_empty())
        .map(|dir| PathBuf::from(OsStr::from_bytes(dir)));
    Some(Account { name, home })
}
