//! Small filesystem primitives for safe publication: unique staging names,
//! atomic replace, durability, read-only trees.

pub mod private;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

/// A suffix no other process or call can produce and nobody can predict:
/// `<pid>.<nanos>.<counter>.<64 random bits>`. The pid comes first so
/// leftovers can be traced to their process; the random part means a link
/// cannot be planted in advance at a temp name (which `O_EXCL|O_NOFOLLOW`
/// would refuse anyway).
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}.{nanos}.{}.{:016x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        random_u64()
    )
}

/// 64 bits from the kernel's random pool (getrandom(2)); never blocks after
/// boot. Falls back to address-space and clock noise if it is unavailable.
/// The system call itself, not glibc's wrapper (glibc 2.25+): the released
/// helper runs on glibc 2.17 (docs/release.md).
fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getrandom,
            buf.as_mut_ptr(),
            buf.len(),
            0 as libc::c_uint,
        )
    };
    if n == buf.len() as libc::c_long {
        return u64::from_ne_bytes(buf);
    }
    let stack = &buf as *const _ as u64;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    stack.rotate_left(32) ^ nanos
}

/// A staging name beside `path` in the same directory (so rename is atomic).
pub fn sibling_temp(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "tmp".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp.{}", unique_suffix()))
}

/// Replaces `path` durably with `bytes` ([`replace_file`], which sweeps the
/// temp files killed writers left beside it).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    replace_file(path, bytes, Replace::DURABLE)
}

/// Removes `.<name>.tmp.<pid>.*` siblings of `path` whose writer process no
/// longer exists (a live pid, even a reused one, is left alone). Best effort.
pub fn sweep_dead_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}.tmp.", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let pid = rest.split('.').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !process_alive(pid)) {
            let _ = remove_tree(&entry.path());
        }
    }
}

/// Whether a process with this pid exists (on this machine's /proc).
pub fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// How [`replace_file`] writes.
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

impl Replace<'_> {
    /// Durable, default mode, unique sibling staging name.
    pub const DURABLE: Replace<'static> = Replace {
        durable: true,
        mode: None,
        staging: None,
    };
    /// No fsync (diagnostic files, build outputs Bazel itself records).
    pub const QUICK: Replace<'static> = Replace {
        durable: false,
        mode: None,
        staging: None,
    };
}

/// The one atomic file replace of the crate: writes a staging file beside
/// the target (created `O_EXCL|O_NOFOLLOW` under an unpredictable name, so no
/// link planted in advance is followed), optionally with a fixed mode and
/// fsync, renames it over `path`, then fsyncs the directory.
pub fn replace_file(path: &Path, bytes: &[u8], how: Replace<'_>) -> Result<()> {
    let sibling;
    let temp = match how.staging {
        Some(staging) => staging,
        None => {
            // A writer killed between its temp file and the rename leaves the
            // temp behind (`extract_crash` found a `.index` record's temp
            // surviving the recovering extraction): sweep before writing.
            sweep_dead_temps(path);
            sibling = sibling_temp(path);
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
        sync_parent(path)?;
    }
    Ok(())
}

/// Points `link` at `target` atomically, so readers see the old target or
/// the new one, never nothing: a symlink at a unique sibling name renamed
/// over it (after sweeping dead writers' temps), then the directory fsynced.
pub fn replace_symlink(link: &Path, target: &Path) -> Result<()> {
    sweep_dead_temps(link);
    let temp = sibling_temp(link);
    std::os::unix::fs::symlink(target, &temp)
        .with_context(|| format!("creating symlink {}", temp.display()))?;
    if let Err(e) = fs::rename(&temp, link) {
        let _ = fs::remove_file(&temp);
        return Err(e).with_context(|| format!("replacing link {}", link.display()));
    }
    sync_parent(link)
}

/// fsyncs the directory holding `path`, making a rename in it durable.
pub fn sync_parent(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    sync_dir(parent)
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))
}

/// Flushes the whole filesystem holding `path` with one syncfs(2): far
/// cheaper than an fsync per file when publishing a tree of thousands.
pub fn sync_filesystem(path: &Path) -> Result<()> {
    let dir = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: syncfs takes a valid open descriptor and touches no memory.
    let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("syncfs on {}", path.display()));
    }
    Ok(())
}

/// Removes write permission from every file and directory below `root`
/// (directories last, so the walk itself is not blocked).
pub fn make_read_only(path: &Path) -> Result<()> {
    make_read_only_below(path)?;
    drop_write_bits(path)
}

/// Like [`make_read_only`] but leaves `dir` itself writable: a directory
/// can only be renamed into another parent while it is writable by its
/// (non-root) owner, since its `..` entry changes. Publishers call
/// [`drop_write_bits`] on it after the rename.
pub fn make_read_only_below(dir: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if meta.is_dir() {
        for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
            make_read_only(&entry.path())?;
        }
    }
    Ok(())
}

/// Removes the write bits of one file or directory (never of a symlink's target).
pub fn drop_write_bits(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let mode = meta.permissions().mode();
    if !meta.file_type().is_symlink() && mode & 0o222 != 0 {
        set_mode(path, mode & !0o222)?;
    }
    Ok(())
}

fn make_dirs_writable(dir: &Path) -> Result<()> {
    let meta = fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if meta.permissions().mode() & 0o700 != 0o700 {
        set_mode(dir, meta.permissions().mode() | 0o700)?;
    }
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            make_dirs_writable(&entry.path())?;
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
        .with_context(|| format!("setting mode {mode:o} on {}", path.display()))
}

/// Deletes a tree even when it was published read-only (only directories
/// need write permission for their entries to be unlinked).
pub fn remove_tree(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        Ok(meta) if !meta.is_dir() => {
            return fs::remove_file(path).with_context(|| format!("removing {}", path.display()))
        }
        Ok(_) => {}
    }
    make_dirs_writable(path)?;
    fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))
}

/// Sets a file's access and modification times to now (used as "last
/// used" for gc). Opens read-only and without following a link; setting
/// "now" (rather than an explicit time) needs only write permission, not
/// ownership, so members of a group-writable shared store can record uses.
pub fn touch(path: &Path) -> Result<()> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("touching {}", path.display()))?;
    // SAFETY: a valid descriptor; a null times pointer means "now".
    if unsafe { libc::futimens(file.as_raw_fd(), std::ptr::null()) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("touching {}", path.display()));
    }
    Ok(())
}

/// Creates `dir` (if missing) with the permission bits of `like`, setgid and
/// sticky included, whatever the umask: the work areas of a store made
/// group-writable (`chmod 2775`) or world-writable sticky (`chmod 1777`)
/// are then usable by every user of the store. An existing `dir` is left
/// as it is.
pub fn create_dir_like(dir: &Path, like: &Path) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("creating directory {}", dir.display())),
    }
    let mode = fs::metadata(like)
        .with_context(|| format!("reading {}", like.display()))?
        .permissions()
        .mode();
    set_mode(dir, mode & 0o7777)
}

/// What kind of file a path is, in words (for refusals).
fn kind_of(file_type: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_fifo() {
        "a fifo"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Refuses (exit 4) to replace `path` when something other than a regular
/// file or a symlink is there: a rename over a device node, fifo or socket
/// would replace it (as root, `/dev/full` with a regular file). A symlink is
/// allowed, as for every file fleet publishes: the rename replaces the link
/// itself, never its target. A missing path is fine.
pub fn check_replaceable(path: &Path, what: &str) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("reading {what} {}", path.display())),
        Ok(meta) if meta.is_file() || meta.file_type().is_symlink() => Ok(()),
        Ok(meta) => Err(crate::error::unsafe_input(format!(
            "{what} {} is {}: fleet replaces only regular files there (pass another path)",
            path.display(),
            kind_of(meta.file_type())
        ))),
    }
}

/// Reads a file fleet expects to be regular (a report), following links but
/// refusing (exit 4) a fifo, device or socket without blocking on it: the
/// type is checked before the open, the open does not wait for a fifo's
/// writer, and the type is checked again on the open descriptor.
pub fn read_regular(path: &Path, what: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let not_regular = |meta: &fs::Metadata| {
        crate::error::unsafe_input(format!(
            "{what} {} is {}, not a regular file",
            path.display(),
            kind_of(meta.file_type())
        ))
    };
    // Checked before the open too: opening some devices has effects.
    let before =
        fs::metadata(path).with_context(|| format!("reading {what} {}", path.display()))?;
    if !before.is_file() {
        return Err(not_regular(&before));
    }
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("reading {what} {}", path.display()))?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temps_of_dead_writers_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        // pid_max is at most 2^22, so this pid cannot exist.
        let dead = dir.path().join(".f.tmp.999999999.1.0");
        let live = dir
            .path()
            .join(format!(".f.tmp.{}.1.0", std::process::id()));
        fs::write(&dead, b"half").unwrap();
        fs::write(&live, b"busy").unwrap();
        write_atomic(&path, b"x").unwrap();
        assert!(!dead.exists());
        assert!(live.exists());
    }

    #[test]
    fn read_only_tree_can_still_be_removed() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("t");
        fs::create_dir_all(tree.join("a/b")).unwrap();
        fs::write(tree.join("a/b/f"), b"x").unwrap();
        make_read_only(&tree).unwrap();
        assert!(fs::write(tree.join("a/new"), b"y").is_err() || is_root());
        remove_tree(&tree).unwrap();
        assert!(!tree.exists());
    }

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

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
            replace_file(&path, b"new", how).unwrap();
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
        assert!(replace_file(&path, b"new", how).is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"victim");
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }
}
