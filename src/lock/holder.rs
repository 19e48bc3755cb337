//! `<lock>.holder`: who holds a lock (pid, host, start time, program), for
//! waiters' messages. It never records arguments (they may carry secrets),
//! so it may stay readable by other users' waiters. Diagnostic only: every
//! failure to write it is ignored.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::fsutil;

pub(super) fn holder_path(lock: &Path) -> PathBuf {
    let mut name = lock.as_os_str().to_owned();
    name.push(".holder");
    PathBuf::from(name)
}

/// This process's name: the basename of argv[0], else of its executable.
pub fn program_name() -> String {
    let from_argv = std::env::args_os().next().map(PathBuf::from);
    let path = from_argv.or_else(|| std::env::current_exe().ok());
    path.as_deref()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unknown".to_string())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Records this process as the holder. Written in place (truncate, write)
/// so no temp file can be left behind; a waiter may read it half-written,
/// which costs nothing. A symlink, hard link or non-file at the path is
/// unlinked and replaced, never written through.
pub(super) fn record(lock: &Path, purpose: &str) {
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let text = format!(
        "pid={}\nhost={}\nstarted={started}\nprogram={}\npurpose={}\n",
        std::process::id(),
        host_name(),
        program_name(),
        purpose.replace('\n', " ")
    );
    if let Some(mut file) = open_for_record(&holder_path(lock)) {
        let _ = file.set_len(0);
        let _ = file.write_all(text.as_bytes());
    }
}

fn open_for_record(path: &Path) -> Option<File> {
    let flags = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    match OpenOptions::new()
        .write(true)
        .custom_flags(flags)
        .open(path)
    {
        Ok(file) if is_plain_file(&file) => return Some(file),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        // A link, a FIFO, a second name of some other file, or another
        // user's record we may not write: replace it if the directory lets us.
        _ => std::fs::remove_file(path).ok()?,
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(flags)
        .open(path)
        .ok()
}

fn is_plain_file(file: &File) -> bool {
    file.metadata()
        .is_ok_and(|m| m.file_type().is_file() && m.nlink() == 1)
}

/// "pid 123 (fleet)" from the holder record, for messages: pid, program
/// and (when not this machine) host; nothing else.
pub fn describe(lock: &Path) -> String {
    let Some(record) = read_record(&holder_path(lock)) else {
        return "another process (no holder record)".to_string();
    };
    let field = |key: &str| {
        record
            .lines()
            .find_map(|l| l.strip_prefix(key).map(str::to_string))
            .unwrap_or_default()
    };
    let pid = field("pid=");
    let mut text = format!("pid {pid} ({})", field("program="));
    let host = field("host=");
    if !host.is_empty() && host != host_name() {
        text.push_str(&format!(" on {host}"));
        return text;
    }
    if pid.parse::<u32>().map(fsutil::process_alive) == Ok(false) {
        text.push_str(" [that process has exited; the lock is held by whoever inherited it]");
    }
    text
}

/// Reads a record without following a link (bounded: it is a few lines).
fn read_record(path: &Path) -> Option<String> {
    use std::io::Read;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(4096).read_to_string(&mut text).ok()?;
    Some(text)
}
