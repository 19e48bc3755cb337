//! Validating unpacking of tar, gzip-compressed tar and zip archives.
//!
//! Everything that could write outside the destination is refused with exit
//! code 4 before it touches the disk: `..` and absolute paths, links leaving
//! the tree, entries written through a symlink, devices and FIFOs, duplicate
//! paths, truncated or corrupt streams. setuid/setgid/sticky and world-write
//! bits are dropped. The caller unpacks into a private staging directory and
//! publishes it only when this module returns `Ok`.
//!
//! Reading, hashing and decompressing run on a second thread that feeds the
//! tar parser through a bounded channel, so decompression and file creation
//! overlap the way `gzip -d | tar -x` does.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::error::{mismatch, unsafe_input};
use crate::hash::{h1_from_digests, Sha256Digest};

const CHUNK: usize = 256 * 1024;

/// What an archive turned out to be, by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tar,
    TarGz,
    Zip,
}

/// What was unpacked.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// sha256 of the archive's bytes, as read while unpacking.
    pub sha256: Sha256Digest,
    /// Hash1 of the unpacked tree.
    pub h1: String,
    pub files: usize,
    pub bytes: u64,
}

/// Detects the archive kind from its first bytes.
pub fn detect(path: &Path) -> Result<Kind> {
    let mut head = [0u8; 4];
    let mut file =
        File::open(path).with_context(|| format!("opening archive {}", path.display()))?;
    let n =
        read_up_to(&mut file, &mut head).with_context(|| format!("reading {}", path.display()))?;
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => Kind::TarGz,
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => Kind::Zip,
        _ => Kind::Tar,
    })
}

fn read_up_to<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Unpacks `archive` into `dest` (which must exist and be empty), checking
/// every entry. When `expected` is given, the archive's bytes must hash to
/// it (exit 5 otherwise). On error, `dest` may hold a partial tree: the
/// caller discards it.
pub fn unpack(archive: &Path, dest: &Path, expected: Option<&Sha256Digest>) -> Result<Unpacked> {
    let kind = detect(archive)?;
    let unpacked = match kind {
        Kind::Zip => unpack_zip(archive, dest),
        Kind::Tar | Kind::TarGz => unpack_tar(archive, dest, kind == Kind::TarGz),
    }
    .with_context(|| format!("unpacking {}", archive.display()))?;
    if let Some(want) = expected {
        if want != &unpacked.sha256 {
            return Err(mismatch(format!(
                "archive {} has sha256 {}, expected {}",
                archive.display(),
                hex::encode(unpacked.sha256),
                hex::encode(want)
            )));
        }
    }
    Ok(unpacked)
}

/// Streams (optionally gunzipped) archive bytes from a reader thread.
struct Feed {
    rx: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
    /// The last 512 bytes handed to the tar parser, to check the end marker.
    tail: Vec<u8>,
}

impl Read for Feed {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => self.done = true,
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(err)) => return Err(err),
                Err(_) => return Err(io::Error::other("archive reader stopped")),
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        self.remember(&out[..n]);
        Ok(n)
    }
}

impl Feed {
    fn remember(&mut self, bytes: &[u8]) {
        if bytes.len() >= 512 {
            self.tail.clear();
            self.tail.extend_from_slice(&bytes[bytes.len() - 512..]);
        } else {
            self.tail.extend_from_slice(bytes);
            let excess = self.tail.len().saturating_sub(512);
            self.tail.drain(..excess);
        }
    }

    fn drain(&mut self) -> io::Result<()> {
        let mut sink = [0u8; 8192];
        while self.read(&mut sink)? > 0 {}
        Ok(())
    }
}

/// Reads the file, hashes its bytes and (for gzip) decompresses them, sending
/// chunks to the parser. The thread returns the sha256 of the raw bytes,
/// read to the very end so the gzip trailer (CRC, length) is verified and
/// trailing garbage is refused.
fn spawn_reader(
    archive: &Path,
    gzip: bool,
) -> Result<(Feed, thread::JoinHandle<io::Result<Sha256Digest>>)> {
    let file =
        File::open(archive).with_context(|| format!("opening archive {}", archive.display()))?;
    let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(32);
    let handle = thread::spawn(move || {
        let hashing = HashingReader {
            inner: BufReader::with_capacity(CHUNK, file),
            hasher: Sha256::new(),
        };
        let pump = |source: &mut dyn Read| -> io::Result<()> {
            loop {
                let mut chunk = vec![0u8; CHUNK];
                let n = match read_up_to(source, &mut chunk) {
                    Ok(n) => n,
                    Err(err) => {
                        let copy = io::Error::new(err.kind(), err.to_string());
                        let _ = tx.send(Err(err));
                        return Err(copy);
                    }
                };
                chunk.truncate(n);
                // A closed channel means the parser stopped early (an error
                // it reports itself); stop reading.
                if tx.send(Ok(chunk)).is_err() || n == 0 {
                    return Ok(());
                }
            }
        };
        let mut hashing = if gzip {
            let mut decoder = flate2::read::MultiGzDecoder::new(hashing);
            pump(&mut decoder)?;
            decoder.into_inner()
        } else {
            let mut plain = hashing;
            pump(&mut plain)?;
            plain
        };
        io::copy(&mut hashing, &mut io::sink())?;
        Ok(hashing.hasher.finalize().into())
    });
    Ok((
        Feed {
            rx,
            current: Vec::new(),
            pos: 0,
            done: false,
            tail: Vec::new(),
        },
        handle,
    ))
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Maps a stream error to exit 4 when it means corrupt data, 1 otherwise.
/// The tar parser reports format errors (bad checksum, short block) as
/// `Other`; real I/O failures come with their own kinds.
fn stream_error(err: io::Error, what: &str) -> anyhow::Error {
    match err.kind() {
        io::ErrorKind::InvalidData
        | io::ErrorKind::InvalidInput
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::Other => {
            unsafe_input(format!("{what}: corrupt or truncated archive: {err}"))
        }
        _ => anyhow::Error::new(err).context(what.to_string()),
    }
}

/// Tracks what has been created so every entry can be checked against it.
#[derive(Default)]
struct Tree {
    /// Explicit entries seen (duplicates are refused).
    seen: HashSet<String>,
    /// Directories that exist (explicit or implied).
    dirs: HashSet<String>,
    /// Symlinks: path → target, lexically resolved inside the tree.
    links: HashMap<String, String>,
    /// Regular files: path → sha256 of content.
    files: HashMap<String, Sha256Digest>,
    /// Explicit directory modes, applied last (deepest first).
    dir_modes: Vec<(String, u32)>,
    bytes: u64,
}

impl Tree {
    fn claim(&mut self, path: &str) -> Result<()> {
        if !self.seen.insert(path.to_string()) {
            return Err(unsafe_input(format!("entry {path:?} appears twice")));
        }
        Ok(())
    }

    /// Creates the parent directories of `path`, refusing to go through a
    /// symlink or a file.
    fn make_parents(&mut self, dest: &Path, path: &str) -> Result<()> {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if self.links.contains_key(&prefix) {
                return Err(unsafe_input(format!(
                    "entry {path:?} goes through the symlink {prefix:?}"
                )));
            }
            if self.files.contains_key(&prefix) {
                return Err(unsafe_input(format!(
                    "entry {path:?} goes through the file {prefix:?}"
                )));
            }
            if self.dirs.insert(prefix.clone()) {
                let dir = dest.join(&prefix);
                fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
            }
        }
        Ok(())
    }
}

/// Normalises an archive path: relative, `/`-separated, no `..`, `.` or
/// empty parts. `None` for the root itself (`./`).
fn clean_path(raw: &[u8]) -> Result<Option<String>> {
    let text = std::str::from_utf8(raw).map_err(|_| {
        unsafe_input(format!(
            "entry name {:?} is not UTF-8",
            String::from_utf8_lossy(raw)
        ))
    })?;
    if text.starts_with('/') {
        return Err(unsafe_input(format!("entry {text:?} has an absolute path")));
    }
    if text.contains('\n') || text.contains('\0') {
        return Err(unsafe_input(format!(
            "entry {text:?} has a newline or NUL in its name"
        )));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_input(format!("entry {text:?} contains '..'"))),
            other => parts.push(other),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// Resolves a symlink target relative to the link's directory, lexically;
/// refuses absolute targets and targets that climb out of the tree.
fn resolve_link(link: &str, target: &[u8]) -> Result<String> {
    let text = std::str::from_utf8(target)
        .map_err(|_| unsafe_input(format!("symlink {link:?} has a non-UTF-8 target")))?;
    if text.starts_with('/') {
        return Err(unsafe_input(format!(
            "symlink {link:?} points to the absolute path {text:?}"
        )));
    }
    if text.is_empty() {
        return Err(unsafe_input(format!(
            "symlink {link:?} has an empty target"
        )));
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(unsafe_input(format!(
                        "symlink {link:?} -> {text:?} leaves the tree"
                    )));
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

/// Permission bits we keep: no setuid/setgid/sticky, no world write, and
/// the owner can always read (and enter directories) so the tree can be hashed.
fn sanitize_mode(mode: u32, dir: bool) -> u32 {
    let base = mode & 0o777 & !0o002;
    if dir {
        base | 0o700
    } else {
        base | 0o600
    }
}

fn unpack_tar(archive: &Path, dest: &Path, gzip: bool) -> Result<Unpacked> {
    let (mut feed, reader) = spawn_reader(archive, gzip)?;
    let result = read_tar_entries(&mut feed, dest);
    let finished = result.and_then(|tree| {
        feed.drain()
            .map_err(|e| stream_error(e, "reading past the end-of-archive marker"))?;
        Ok(tree)
    });
    drop(feed);
    let digest = reader
        .join()
        .map_err(|_| anyhow::anyhow!("archive reader thread panicked"))?;
    let tree = finished?;
    let sha256 = digest.map_err(|e| stream_error(e, "reading archive"))?;
    finish_tree(dest, tree, sha256)
}

fn read_tar_entries(feed: &mut Feed, dest: &Path) -> Result<Tree> {
    let mut tree = Tree::default();
    let mut tar = tar::Archive::new(&mut *feed);
    let entries = tar.entries().map_err(|e| stream_error(e, "reading tar"))?;
    for (index, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| stream_error(e, &format!("tar entry {}", index + 1)))?;
        let kind = entry.header().entry_type();
        if matches!(kind, tar::EntryType::XGlobalHeader) {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let Some(path) = clean_path(&raw)? else {
            if kind.is_dir() {
                continue;
            }
            return Err(unsafe_input("an entry names the archive root itself"));
        };
        let mode = entry
            .header()
            .mode()
            .map_err(|e| stream_error(e, &format!("mode of {path:?}")))?;
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                tree.claim(&path)?;
                tree.make_parents(dest, &path)?;
                let digest = write_file(dest, &path, sanitize_mode(mode, false), &mut entry)?;
                tree.bytes += entry.size();
                tree.files.insert(path, digest);
            }
            tar::EntryType::Directory => {
                tree.claim(&path)?;
                tree.make_parents(dest, &path)?;
                if tree.links.contains_key(&path) || tree.files.contains_key(&path) {
                    return Err(unsafe_input(format!(
                        "directory {path:?} replaces another entry"
                    )));
                }
                if tree.dirs.insert(path.clone()) {
                    let dir = dest.join(&path);
                    fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
                }
                tree.dir_modes.push((path, sanitize_mode(mode, true)));
            }
            tar::EntryType::Symlink => {
                tree.claim(&path)?;
                tree.make_parents(dest, &path)?;
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_input(format!("symlink {path:?} has no target")))?
                    .into_owned();
                let resolved = resolve_link(&path, &target)?;
                if tree.dirs.contains(&path) {
                    return Err(unsafe_input(format!(
                        "symlink {path:?} replaces a directory"
                    )));
                }
                let link = dest.join(&path);
                std::os::unix::fs::symlink(
                    Path::new(std::str::from_utf8(&target).unwrap_or_default()),
                    &link,
                )
                .with_context(|| format!("creating symlink {}", link.display()))?;
                tree.links.insert(path, resolved);
            }
            tar::EntryType::Link => {
                tree.claim(&path)?;
                tree.make_parents(dest, &path)?;
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| unsafe_input(format!("hard link {path:?} has no target")))?
                    .into_owned();
                let shown = String::from_utf8_lossy(&target).into_owned();
                let target = clean_path(&target)
                    .map_err(|e| unsafe_input(format!("hard link {path:?} -> {shown:?}: {e}")))?
                    .ok_or_else(|| {
                        unsafe_input(format!("hard link {path:?} points at the root"))
                    })?;
                let digest = *tree.files.get(&target).ok_or_else(|| {
                    unsafe_input(format!("hard link {path:?} -> {target:?} does not name an earlier file of the archive"))
                })?;
                fs::hard_link(dest.join(&target), dest.join(&path))
                    .with_context(|| format!("linking {path:?} to {target:?}"))?;
                tree.files.insert(path, digest);
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                return Err(unsafe_input(format!(
                    "entry {path:?} is a device or FIFO ({kind:?}), which a tools archive must not contain"
                )));
            }
            other => {
                return Err(unsafe_input(format!(
                    "entry {path:?} has an unsupported type {other:?}"
                )));
            }
        }
    }
    if feed.tail.len() < 512 || feed.tail.iter().any(|&b| b != 0) {
        return Err(unsafe_input(
            "truncated tar: the end-of-archive marker is missing".to_string(),
        ));
    }
    Ok(tree)
}

/// Writes one file (created new: never through an existing name) and returns
/// the sha256 of its content.
fn write_file(dest: &Path, path: &str, mode: u32, content: &mut impl Read) -> Result<Sha256Digest> {
    let full = dest.join(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&full)
        .with_context(|| format!("creating {}", full.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = content
            .read(&mut buf)
            .map_err(|e| stream_error(e, &format!("reading entry {path:?}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .with_context(|| format!("writing {}", full.display()))?;
    }
    // The process umask may have narrowed the mode given to open.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting mode of {}", full.display()))?;
    start_writeback(&file);
    Ok(hasher.finalize().into())
}

/// Starts writing the file's data to disk without waiting, so the single
/// syncfs before publication finds little left to flush. Best effort.
fn start_writeback(file: &File) {
    use std::os::unix::io::AsRawFd;
    // SAFETY: a valid descriptor; sync_file_range touches no memory of ours.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

fn unpack_zip(archive: &Path, dest: &Path) -> Result<Unpacked> {
    let sha256 = crate::hash::sha256_file(archive)?;
    let file =
        File::open(archive).with_context(|| format!("opening archive {}", archive.display()))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| unsafe_input(format!("not a readable zip: {e}")))?;
    let mut tree = Tree::default();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| unsafe_input(format!("zip entry {i}: {e}")))?;
        let Some(path) = clean_path(entry.name_raw())? else {
            continue;
        };
        let mode = entry
            .unix_mode()
            .unwrap_or(if entry.is_dir() { 0o755 } else { 0o644 });
        if mode & 0o170000 == 0o120000 {
            return Err(unsafe_input(format!(
                "zip entry {path:?} is a symlink, which provider packages must not contain"
            )));
        }
        tree.claim(&path)?;
        tree.make_parents(dest, &path)?;
        if entry.is_dir() {
            if tree.dirs.insert(path.clone()) {
                fs::create_dir(dest.join(&path)).with_context(|| format!("creating {path:?}"))?;
            }
            tree.dir_modes.push((path, sanitize_mode(mode, true)));
            continue;
        }
        let digest = write_file(dest, &path, sanitize_mode(mode, false), &mut entry)?;
        tree.bytes += entry.size();
        tree.files.insert(path, digest);
    }
    finish_tree(dest, tree, sha256)
}

/// Applies directory modes (deepest first) and computes the tree's h1.
fn finish_tree(dest: &Path, mut tree: Tree, sha256: Sha256Digest) -> Result<Unpacked> {
    tree.dir_modes
        .sort_by_key(|(path, _)| std::cmp::Reverse(path.matches('/').count()));
    for (path, mode) in &tree.dir_modes {
        let dir = dest.join(path);
        fs::set_permissions(&dir, fs::Permissions::from_mode(*mode))
            .with_context(|| format!("setting mode of {}", dir.display()))?;
    }
    let mut hashed: Vec<(String, Sha256Digest)> =
        tree.files.iter().map(|(p, d)| (p.clone(), *d)).collect();
    for link in tree.links.keys() {
        if let Some(digest) = link_target_digest(&tree, link) {
            hashed.push((link.clone(), digest));
        }
    }
    Ok(Unpacked {
        sha256,
        h1: h1_from_digests(hashed)?,
        files: tree.files.len(),
        bytes: tree.bytes,
    })
}

/// The content digest a symlink resolves to, following chains inside the
/// tree; `None` for links to directories or to nothing (h1 skips them).
fn link_target_digest(tree: &Tree, link: &str) -> Option<Sha256Digest> {
    let mut current = tree.links.get(link)?;
    for _ in 0..40 {
        if let Some(digest) = tree.files.get(current) {
            return Some(*digest);
        }
        current = tree.links.get(current)?;
    }
    None
}

/// Hermetic extraction (`fleet extract --out DIR`): DIR must be empty or
/// missing; on failure it is left empty.
pub fn extract_to(archive: &Path, out: &Path) -> Result<Unpacked> {
    match fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(crate::error::usage(format!(
                    "--out {} is not empty",
                    out.display()
                )));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", out.display())),
    }
    let result = unpack(archive, out, None);
    if result.is_err() {
        clear_dir(out);
    }
    result
}

fn clear_dir(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = crate::fsutil::remove_tree(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean_path(b"./a//b/").unwrap().as_deref(), Some("a/b"));
        assert_eq!(clean_path(b"./").unwrap(), None);
        assert!(clean_path(b"a/../b").is_err());
        assert!(clean_path(b"/etc/passwd").is_err());
    }

    #[test]
    fn link_resolution_stays_inside() {
        assert_eq!(resolve_link("a/b/l", b"../c").unwrap(), "a/c");
        assert!(resolve_link("a/l", b"../../x").is_err());
        assert!(resolve_link("l", b"/etc").is_err());
    }

    #[test]
    fn modes_drop_special_and_world_write() {
        assert_eq!(sanitize_mode(0o6777, false), 0o775);
        assert_eq!(sanitize_mode(0o1777, true), 0o775);
        assert_eq!(sanitize_mode(0o000, false), 0o600);
    }
}
