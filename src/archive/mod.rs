//! Validating unpacking of tar, gzip-compressed tar and zip archives.
//!
//! Everything that could write outside the destination is refused with exit
//! code 4 before it touches the disk: `..` and absolute paths, links leaving
//! the tree (resolved through the other links of the tree, see [`model`]),
//! entries written through a symlink, devices and FIFOs, duplicate paths,
//! truncated or corrupt streams, more bytes or entries than the [`Limits`].
//! setuid/setgid/sticky and world-write bits are dropped. Symlinks are
//! created last, after every link of the complete tree has been checked, so
//! no link exists on disk while files are written. The caller unpacks into a
//! private staging directory and publishes it only when this returns `Ok`.
//!
//! The archive is read through one open descriptor: a known digest is
//! checked on it before anything is unpacked ([`verify_digest`]), and the
//! bytes unpacked are hashed again as they are read, so an archive that
//! changes in between is refused too (exit 5). Hashing twice costs a read of
//! the compressed archive; a private copy would cost a write of it.
//!
//! Reading, hashing and decompressing run on a second thread that feeds the
//! tar parser through a bounded channel, so decompression and file creation
//! overlap the way `gzip -d | tar -x` does.

pub mod model;

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::error::{mismatch, unsafe_input};
use crate::hash::Sha256Digest;
use model::{Model, Node};

const CHUNK: usize = 256 * 1024;

/// Default cap on the bytes one archive may unpack to (8 GiB).
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 8 << 30;
/// Default cap on the entries of one archive.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;

/// Caps on what one archive may unpack to, counted as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_unpacked_bytes: u64,
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_unpacked_bytes: DEFAULT_MAX_UNPACKED_BYTES,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

impl Limits {
    /// The defaults, overridden by `FLEET_MAX_UNPACKED_BYTES` and
    /// `FLEET_MAX_ENTRIES` when set (for callers without flags).
    pub fn from_env() -> Result<Limits> {
        let read = |name: &str, default: u64| -> Result<u64> {
            match std::env::var(name) {
                Ok(text) => text
                    .trim()
                    .parse()
                    .map_err(|_| crate::error::usage(format!("{name}={text:?} is not a number"))),
                Err(_) => Ok(default),
            }
        };
        Ok(Limits {
            max_unpacked_bytes: read("FLEET_MAX_UNPACKED_BYTES", DEFAULT_MAX_UNPACKED_BYTES)?,
            max_entries: read("FLEET_MAX_ENTRIES", DEFAULT_MAX_ENTRIES)?,
        })
    }
}

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
    /// The tree as unpacked (what `fleet verify` compares against).
    pub model: Model,
}

/// Opens an archive for [`verify_digest`] and [`unpack`]: one descriptor
/// for all the reads of one extraction.
pub fn open(path: &Path) -> Result<File> {
    File::open(path).with_context(|| format!("opening archive {}", path.display()))
}

/// Detects the archive kind from its first bytes.
fn detect(path: &Path, file: &File) -> Result<Kind> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match file.read_at(&mut head[n..], n as u64) {
            Ok(0) => break,
            Ok(read) => n += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
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

/// sha256 of everything the descriptor holds, read from offset 0 without
/// moving its file position.
pub fn hash_descriptor(path: &Path, file: &File) -> Result<Sha256Digest> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        let n = match file.read_at(&mut buf, offset) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(&buf[..n]);
        offset += n as u64;
    }
}

/// Exit 5 unless the archive's bytes hash to `expected`. Called before
/// anything is created, so a wrong digest leaves no trace.
pub fn verify_digest(path: &Path, file: &File, expected: &Sha256Digest) -> Result<()> {
    let actual = hash_descriptor(path, file)?;
    if &actual != expected {
        return Err(mismatch(format!(
            "archive {} has sha256 {}, expected {}; nothing was unpacked",
            path.display(),
            hex::encode(actual),
            hex::encode(expected)
        )));
    }
    Ok(())
}

/// Unpacks the archive open as `file` into `dest` (which must exist and be
/// empty), checking every entry against the tree and `limits`. When
/// `expected` is given, the bytes read while unpacking must hash to it
/// (exit 5 otherwise: call [`verify_digest`] first so a wrong archive
/// writes nothing; this catches one that changed since). On error, `dest`
/// may hold a partial tree: the caller discards it.
pub fn unpack(
    path: &Path,
    file: &File,
    dest: &Path,
    expected: Option<&Sha256Digest>,
    limits: Limits,
) -> Result<Unpacked> {
    let unpacked = match detect(path, file)? {
        Kind::Zip => unpack_zip(path, file, dest, limits),
        kind => unpack_tar(file, dest, kind == Kind::TarGz, limits),
    }
    .with_context(|| format!("unpacking {}", path.display()))?;
    if let Some(want) = expected {
        if want != &unpacked.sha256 {
            return Err(mismatch(format!(
                "archive {} has sha256 {} as unpacked, expected {} (it changed while being read?)",
                path.display(),
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
    file: &File,
    gzip: bool,
) -> Result<(Feed, thread::JoinHandle<io::Result<Sha256Digest>>)> {
    // The same open file (a duplicate descriptor), read from its start.
    let mut file = file
        .try_clone()
        .context("duplicating the archive descriptor")?;
    file.rewind().context("rewinding the archive")?;
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
struct Tree {
    /// Explicit entries seen (duplicates are refused).
    seen: HashSet<String>,
    /// Everything the tree holds, implied directories included; symlinks
    /// are only recorded here until [`Tree::finish`] creates them.
    model: Model,
    /// Explicit directory modes, applied last (deepest first).
    dir_modes: Vec<(String, u32)>,
    limits: Limits,
    entries: u64,
    bytes: u64,
    files: usize,
}

impl Tree {
    fn new(limits: Limits) -> Tree {
        Tree {
            seen: HashSet::new(),
            model: Model::default(),
            dir_modes: Vec::new(),
            limits,
            entries: 0,
            bytes: 0,
            files: 0,
        }
    }

    /// Counts one archive entry against the entry cap.
    fn count_entry(&mut self) -> Result<()> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(unsafe_input(format!(
                "more than {} entries, the cap (--max-entries / FLEET_MAX_ENTRIES)",
                self.limits.max_entries
            )));
        }
        Ok(())
    }

    /// Bytes the remaining entries may still write.
    fn byte_budget(&self) -> u64 {
        self.limits.max_unpacked_bytes.saturating_sub(self.bytes)
    }

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
            match self.model.nodes.get(&prefix) {
                Some(Node::Dir) => {}
                Some(Node::Symlink { .. }) => {
                    return Err(unsafe_input(format!(
                        "entry {path:?} goes through the symlink {prefix:?}"
                    )))
                }
                Some(_) => {
                    return Err(unsafe_input(format!(
                        "entry {path:?} goes through the file {prefix:?}"
                    )))
                }
                None => {
                    let dir = dest.join(&prefix);
                    fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
                    self.model.nodes.insert(prefix.clone(), Node::Dir);
                }
            }
        }
        Ok(())
    }

    /// Claims `path` for a new entry: not seen before, parents created.
    fn begin(&mut self, dest: &Path, path: &str) -> Result<()> {
        self.claim(path)?;
        self.make_parents(dest, path)
    }

    /// Writes a regular file's content, within the byte cap.
    fn add_file(
        &mut self,
        dest: &Path,
        path: String,
        mode: u32,
        content: &mut impl Read,
    ) -> Result<()> {
        let mode = sanitize_mode(mode, false);
        let (digest, written) = write_file(dest, &path, mode, content, self.byte_budget())
            .map_err(|e| self.cap_error(e))?;
        self.bytes += written;
        self.files += 1;
        let node = Node::File {
            sha256: hex::encode(digest),
            exec: mode & 0o100 != 0,
        };
        self.model.nodes.insert(path, node);
        Ok(())
    }

    /// Turns the writer's "over budget" marker into the cap error.
    fn cap_error(&self, err: anyhow::Error) -> anyhow::Error {
        if err.downcast_ref::<OverBudget>().is_some() {
            return unsafe_input(format!(
                "unpacks to more than {} bytes, the cap (--max-unpacked-bytes / FLEET_MAX_UNPACKED_BYTES)",
                self.limits.max_unpacked_bytes
            ));
        }
        err
    }

    fn add_dir(&mut self, dest: &Path, path: String, mode: u32) -> Result<()> {
        match self.model.nodes.get(&path) {
            Some(Node::Dir) => {}
            Some(_) => {
                return Err(unsafe_input(format!(
                    "directory {path:?} replaces another entry"
                )))
            }
            None => {
                let dir = dest.join(&path);
                fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
                self.model.nodes.insert(path.clone(), Node::Dir);
            }
        }
        self.dir_modes.push((path, sanitize_mode(mode, true)));
        Ok(())
    }

    /// Records a symlink (created by [`Tree::finish`]) after checking it
    /// against the tree so far; the complete tree is checked again at the end.
    fn add_symlink(&mut self, path: String, target: &[u8]) -> Result<()> {
        let target = std::str::from_utf8(target)
            .map_err(|_| unsafe_input(format!("symlink {path:?} has a non-UTF-8 target")))?;
        if self.model.nodes.contains_key(&path) {
            return Err(unsafe_input(format!(
                "symlink {path:?} replaces another entry"
            )));
        }
        self.model.check_link(&path, target)?;
        let node = Node::Symlink {
            target: target.to_string(),
        };
        self.model.nodes.insert(path, node);
        Ok(())
    }

    /// A hard link, only to a regular file extracted earlier (never to a
    /// link, never through one: no symlink exists on disk yet).
    fn add_hardlink(&mut self, dest: &Path, path: String, target: &[u8]) -> Result<()> {
        let shown = String::from_utf8_lossy(target).into_owned();
        let target = clean_path(target)
            .map_err(|e| unsafe_input(format!("hard link {path:?} -> {shown:?}: {e}")))?
            .ok_or_else(|| unsafe_input(format!("hard link {path:?} points at the root")))?;
        let node = match self.model.nodes.get(&target) {
            Some(node @ Node::File { .. }) => node.clone(),
            _ => {
                return Err(unsafe_input(format!(
                    "hard link {path:?} -> {target:?} does not name an earlier file of the archive"
                )))
            }
        };
        fs::hard_link(dest.join(&target), dest.join(&path))
            .with_context(|| format!("linking {path:?} to {target:?}"))?;
        self.files += 1;
        self.model.nodes.insert(path, node);
        Ok(())
    }

    /// Checks every link against the complete tree, creates the links,
    /// applies directory modes (deepest first) and computes the h1.
    fn finish(mut self, dest: &Path, sha256: Sha256Digest) -> Result<Unpacked> {
        self.model.check_all_links()?;
        for (path, node) in &self.model.nodes {
            if let Node::Symlink { target } = node {
                let link = dest.join(path);
                std::os::unix::fs::symlink(target, &link)
                    .with_context(|| format!("creating symlink {}", link.display()))?;
            }
        }
        self.dir_modes
            .sort_by_key(|(path, _)| std::cmp::Reverse(path.matches('/').count()));
        for (path, mode) in &self.dir_modes {
            let dir = dest.join(path);
            fs::set_permissions(&dir, fs::Permissions::from_mode(*mode))
                .with_context(|| format!("setting mode of {}", dir.display()))?;
        }
        Ok(Unpacked {
            sha256,
            h1: self.model.h1()?,
            files: self.files,
            bytes: self.bytes,
            model: self.model,
        })
    }
}

/// Marks a write stopped by the byte cap (mapped to the cap's message).
#[derive(Debug, thiserror::Error)]
#[error("over the unpacked-bytes cap")]
struct OverBudget;

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

fn unpack_tar(file: &File, dest: &Path, gzip: bool, limits: Limits) -> Result<Unpacked> {
    let (mut feed, reader) = spawn_reader(file, gzip)?;
    let result = read_tar_entries(&mut feed, dest, limits);
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
    tree.finish(dest, sha256)
}

fn read_tar_entries(feed: &mut Feed, dest: &Path, limits: Limits) -> Result<Tree> {
    let mut tree = Tree::new(limits);
    let mut tar = tar::Archive::new(&mut *feed);
    let entries = tar.entries().map_err(|e| stream_error(e, "reading tar"))?;
    for (index, entry) in entries.enumerate() {
        let entry = entry.map_err(|e| stream_error(e, &format!("tar entry {}", index + 1)))?;
        if matches!(entry.header().entry_type(), tar::EntryType::XGlobalHeader) {
            continue;
        }
        tree.count_entry()?;
        add_tar_entry(&mut tree, dest, entry)?;
    }
    if feed.tail.len() < 512 || feed.tail.iter().any(|&b| b != 0) {
        return Err(unsafe_input(
            "truncated tar: the end-of-archive marker is missing".to_string(),
        ));
    }
    Ok(tree)
}

fn add_tar_entry(tree: &mut Tree, dest: &Path, mut entry: tar::Entry<impl Read>) -> Result<()> {
    let kind = entry.header().entry_type();
    let raw = entry.path_bytes().into_owned();
    let Some(path) = clean_path(&raw)? else {
        if kind.is_dir() {
            return Ok(());
        }
        return Err(unsafe_input("an entry names the archive root itself"));
    };
    let mode = entry
        .header()
        .mode()
        .map_err(|e| stream_error(e, &format!("mode of {path:?}")))?;
    let link_target = |entry: &tar::Entry<_>, what: &str| {
        entry
            .link_name_bytes()
            .map(|t| t.into_owned())
            .ok_or_else(|| unsafe_input(format!("{what} {path:?} has no target")))
    };
    match kind {
        tar::EntryType::Regular | tar::EntryType::Continuous => {
            // The declared size is what the tar parser will read: refuse it
            // before creating anything when it alone is over the cap.
            if entry.size() > tree.byte_budget() {
                return Err(tree.cap_error(OverBudget.into()));
            }
            tree.begin(dest, &path)?;
            tree.add_file(dest, path, mode, &mut entry)
        }
        tar::EntryType::Directory => {
            tree.begin(dest, &path)?;
            tree.add_dir(dest, path, mode)
        }
        tar::EntryType::Symlink => {
            tree.begin(dest, &path)?;
            let target = link_target(&entry, "symlink")?;
            tree.add_symlink(path, &target)
        }
        tar::EntryType::Link => {
            tree.begin(dest, &path)?;
            let target = link_target(&entry, "hard link")?;
            tree.add_hardlink(dest, path, &target)
        }
        tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
            Err(unsafe_input(format!(
                "entry {path:?} is a device or FIFO ({kind:?}), which a tools archive must not contain"
            )))
        }
        other => Err(unsafe_input(format!(
            "entry {path:?} has an unsupported type {other:?}"
        ))),
    }
}

/// Writes one file (created new: never through an existing name), at most
/// `budget` bytes (counted as written: declared sizes may lie), and returns
/// the sha256 of its content and its length.
fn write_file(
    dest: &Path,
    path: &str,
    mode: u32,
    content: &mut impl Read,
    budget: u64,
) -> Result<(Sha256Digest, u64)> {
    let full = dest.join(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&full)
        .with_context(|| format!("creating {}", full.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut written = 0u64;
    loop {
        let n = content
            .read(&mut buf)
            .map_err(|e| stream_error(e, &format!("reading entry {path:?}")))?;
        if n == 0 {
            break;
        }
        if written + n as u64 > budget {
            return Err(OverBudget.into());
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .with_context(|| format!("writing {}", full.display()))?;
        written += n as u64;
    }
    // The process umask may have narrowed the mode given to open.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting mode of {}", full.display()))?;
    start_writeback(&file);
    Ok((hasher.finalize().into(), written))
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

/// Zips are read at random offsets, so their bytes are hashed before
/// unpacking and again after, through the same descriptor: a zip that
/// changed in between is refused.
fn unpack_zip(path: &Path, file: &File, dest: &Path, limits: Limits) -> Result<Unpacked> {
    let sha256 = hash_descriptor(path, file)?;
    let reader = file
        .try_clone()
        .context("duplicating the archive descriptor")?;
    let mut zip = zip::ZipArchive::new(BufReader::new(reader))
        .map_err(|e| unsafe_input(format!("not a readable zip: {e}")))?;
    let mut tree = Tree::new(limits);
    for i in 0..zip.len() {
        tree.count_entry()?;
        let mut entry = zip
            .by_index(i)
            .map_err(|e| unsafe_input(format!("zip entry {i}: {e}")))?;
        let Some(name) = clean_path(entry.name_raw())? else {
            continue;
        };
        let mode = entry
            .unix_mode()
            .unwrap_or(if entry.is_dir() { 0o755 } else { 0o644 });
        if mode & 0o170000 == 0o120000 {
            return Err(unsafe_input(format!(
                "zip entry {name:?} is a symlink, which provider packages must not contain"
            )));
        }
        tree.begin(dest, &name)?;
        if entry.is_dir() {
            tree.add_dir(dest, name, mode)?;
        } else {
            tree.add_file(dest, name, mode, &mut entry)?;
        }
    }
    if hash_descriptor(path, file)? != sha256 {
        return Err(mismatch(format!(
            "archive {} changed while being unpacked",
            path.display()
        )));
    }
    tree.finish(dest, sha256)
}

/// Hermetic extraction (`fleet extract --out DIR`): DIR must be empty or
/// missing; on failure it is left empty. A known digest is checked before
/// DIR is touched.
pub fn extract_to(
    archive: &Path,
    out: &Path,
    expected: Option<&Sha256Digest>,
    limits: Limits,
) -> Result<Unpacked> {
    let file = open(archive)?;
    if let Some(want) = expected {
        verify_digest(archive, &file, want)?;
    }
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
    let result = unpack(archive, &file, out, expected, limits);
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
        let tree = Model::default();
        assert_eq!(tree.check_link("a/b/l", "../c").unwrap(), "a/c");
        assert!(tree.check_link("a/l", "../../x").is_err());
        assert!(tree.check_link("l", "/etc").is_err());
    }

    fn small_tar(content: &[u8]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, "f", content).unwrap();
        builder.into_inner().unwrap()
    }

    /// The bytes checked and the bytes unpacked are compared: an archive
    /// rewritten in place after the digest check is refused (exit 5).
    #[test]
    fn an_archive_changed_after_the_digest_check_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        let original = small_tar(b"original");
        fs::write(&path, &original).unwrap();
        let file = open(&path).unwrap();
        let digest: Sha256Digest = Sha256::digest(&original).into();
        verify_digest(&path, &file, &digest).unwrap();
        // Another writer, same inode, same length.
        fs::write(&path, small_tar(b"replaced")).unwrap();
        let dest = dir.path().join("out");
        fs::create_dir(&dest).unwrap();
        let err = unpack(&path, &file, &dest, Some(&digest), Limits::default()).unwrap_err();
        assert_eq!(
            crate::error::exit_code_of(&err),
            crate::error::ExitCode::Mismatch
        );
    }

    #[test]
    fn modes_drop_special_and_world_write() {
        assert_eq!(sanitize_mode(0o6777, false), 0o775);
        assert_eq!(sanitize_mode(0o1777, true), 0o775);
        assert_eq!(sanitize_mode(0o000, false), 0o600);
    }
}
