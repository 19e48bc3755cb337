//! Independent hashing (Go dirhash Hash1, sha256) and filesystem snapshots.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn sha256_file(path: &Path) -> String {
    let mut f = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

/// Go's dirhash.Hash1: sha256 over "<hex sha256>  <path>\n" lines sorted by
/// path (byte order of the whole slash path), base64 (std), prefixed "h1:".
pub fn h1_of_entries(entries: impl IntoIterator<Item = (String, String)>) -> String {
    let mut entries: Vec<(String, String)> = entries.into_iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut h = Sha256::new();
    for (path, digest) in &entries {
        assert!(!path.contains('\n'), "dirhash refuses newlines in names");
        h.update(format!("{digest}  {path}\n").as_bytes());
    }
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    )
}

/// Hash1 of a directory as Go's dirhash.HashDir(dir, "", Hash1) computes it:
/// every non-directory below `dir` (symlinks are opened, so followed),
/// named by its slash path relative to `dir`.
pub fn h1_of_dir(dir: &Path) -> String {
    let mut entries = Vec::new();
    walk_files(dir, "", &mut entries);
    h1_of_entries(entries)
}

fn walk_files(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
    let rd = fs::read_dir(dir).unwrap_or_else(|e| panic!("read dir {}: {e}", dir.display()));
    for e in rd {
        let e = e.expect("dir entry");
        let name = e.file_name().into_string().expect("utf-8 name");
        let child_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let ft = e.file_type().expect("file type");
        if ft.is_dir() {
            walk_files(&e.path(), &child_rel, out);
        } else {
            out.push((child_rel, sha256_file(&e.path())));
        }
    }
}

/// What a snapshot records about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub ino: u64,
    pub nlink: u64,
    pub size: u64,
    pub mtime_ns: i128,
    pub content: Option<String>,
    pub target: Option<PathBuf>,
}

/// Every path below `root` (relative), except those under `skip` (absolute
/// paths), with type, mode, inode, link count, size, mtime, content digest
/// and symlink target. Directory mtimes are included, so a file created and
/// removed again still shows up as a change of its directory.
pub fn snapshot(root: &Path, skip: &[&Path]) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    snap(root, root, skip, true, &mut out);
    out
}

fn snap(
    root: &Path,
    path: &Path,
    skip: &[&Path],
    contents: bool,
    out: &mut BTreeMap<PathBuf, Node>,
) {
    if skip.contains(&path) {
        return;
    }
    let m = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("lstat {}: {e}", path.display()));
    let ft = m.file_type();
    let kind = if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else {
        "other"
    };
    let node = Node {
        kind,
        mode: m.mode() & 0o7777,
        ino: m.ino(),
        nlink: if ft.is_dir() { 0 } else { m.nlink() },
        size: if ft.is_dir() { 0 } else { m.size() },
        mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        content: (contents && ft.is_file()).then(|| sha256_file(path)),
        target: ft
            .is_symlink()
            .then(|| fs::read_link(path).expect("readlink")),
    };
    out.insert(
        path.strip_prefix(root).expect("below root").to_path_buf(),
        node,
    );
    if ft.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)
            .unwrap_or_else(|e| panic!("read dir {}: {e}", path.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        names.sort();
        for p in names {
            snap(root, &p, skip, contents, out);
        }
    }
}

/// Panics with a readable diff unless two snapshots are identical.
pub fn assert_same_snapshot(
    before: &BTreeMap<PathBuf, Node>,
    after: &BTreeMap<PathBuf, Node>,
    what: &str,
) {
    if before == after {
        return;
    }
    let mut diff = String::new();
    for (p, n) in after {
        match before.get(p) {
            None => diff.push_str(&format!("  new:     {} ({})\n", p.display(), n.kind)),
            Some(old) if old != n => diff.push_str(&format!(
                "  changed: {}\n    was {old:?}\n    now {n:?}\n",
                p.display()
            )),
            _ => {}
        }
    }
    for p in before.keys().filter(|p| !after.contains_key(*p)) {
        diff.push_str(&format!("  gone:    {}\n", p.display()));
    }
    panic!("{what}: the filesystem changed:\n{diff}");
}

/// (relative path, mode & 0o7777, kind) of every entry below `root`.
pub fn modes(root: &Path) -> BTreeMap<String, (u32, &'static str)> {
    let mut snap_ = BTreeMap::new();
    snap(root, root, &[], false, &mut snap_);
    snap_
        .into_iter()
        .map(|(p, n)| (p.to_string_lossy().into_owned(), (n.mode, n.kind)))
        .collect()
}

/// The snapshot with directory mtimes zeroed: for checks of "nothing new
/// appeared" where a tool may legitimately create and remove a temporary
/// entry beside its output directory.
pub fn ignoring_dir_mtimes(mut snap: BTreeMap<PathBuf, Node>) -> BTreeMap<PathBuf, Node> {
    for n in snap.values_mut() {
        if n.kind == "dir" {
            n.mtime_ns = 0;
        }
    }
    snap
}

/// Returns once the filesystem clock has moved past the moment of the call:
/// every file written after this returns has an mtime strictly greater than
/// any written before it. Synchronises on file timestamps, not on sleeping.
pub fn advance_fs_clock(dir: &Path) {
    let probe = dir.join(".fs-clock-probe");
    fs::write(&probe, b"a").expect("write probe");
    let t0 = fs::metadata(&probe)
        .expect("stat probe")
        .modified()
        .expect("mtime");
    loop {
        fs::write(&probe, b"b").expect("write probe");
        if fs::metadata(&probe)
            .expect("stat probe")
            .modified()
            .expect("mtime")
            > t0
        {
            break;
        }
        std::thread::yield_now();
    }
    fs::remove_file(&probe).expect("remove probe");
}
