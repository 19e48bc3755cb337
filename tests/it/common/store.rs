//! What a store directory may contain, as observed from `fleet` (issue 2):
//!
//! ```text
//! <sha256>/                 published version (read-only tree)
//! <sha256>.json             its manifest (written after the rename; complete = both)
//! .locks/<sha256>.lock      extraction lock      .locks/<sha256>.use  in-use lock
//! .locks/gc.lock            gc lock              .locks/*.holder      holder records
//! .staging/<sha256>.<pid>.<nanos>.<n>/           trees being unpacked
//! .trash/                   trees being deleted
//! .links/<sha256 of path>   records of --link paths
//! .index/<key>              sha256 of an archive file keyed by its stat identity
//! .locks/<key>.hash         lock under which one process hashes an archive
//! .listings/<sha256>.json   the recorded tree of a version (for verify)
//! ```
//!
//! "Clean" means: only versions with their manifests, the four dot
//! directories, empty `.staging/` and `.trash/`, and nothing in `.locks/` or
//! `.links/` but lock files, holder records and link records (no temp files).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use super::h1_of_dir;

pub const STORE_DOT_DIRS: [&str; 6] = [
    ".locks",
    ".staging",
    ".trash",
    ".links",
    ".index",
    ".listings",
];

pub fn is_digest(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("list {}: {e}", dir.display()),
    };
    v.sort();
    v
}

/// Digest-named version directories present in the store.
pub fn version_dirs(store: &Path) -> BTreeSet<String> {
    names(store)
        .into_iter()
        .filter(|n| is_digest(n) && store.join(n).is_dir())
        .collect()
}

/// Everything in the store that is not a lock, holder record or link record:
/// a compact picture for "nothing new appeared" checks.
pub fn store_contents(store: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for n in names(store) {
        if n == ".locks" || n == ".links" || n == ".index" {
            continue;
        }
        out.insert(n.clone());
        if n == ".staging" || n == ".trash" || n == ".listings" {
            for m in names(&store.join(&n)) {
                out.insert(format!("{n}/{m}"));
            }
        }
    }
    for n in names(&store.join(".locks")) {
        if !is_lock_file_name(&n) {
            out.insert(format!(".locks/{n}"));
        }
    }
    // The digest index: one 64-hex record per archive identity, no temp files.
    for n in names(&store.join(".index")) {
        let record = fs::read_to_string(store.join(".index").join(&n)).unwrap_or_default();
        if !is_digest(&n) || !is_digest(record.lines().next().unwrap_or_default()) {
            out.insert(format!(".index/{n}"));
        }
    }
    for n in names(&store.join(".links")) {
        if !is_digest(&n) {
            out.insert(format!(".links/{n}"));
        }
    }
    out
}

fn is_lock_file_name(n: &str) -> bool {
    let base = n.strip_suffix(".holder").unwrap_or(n);
    base == "gc.lock"
        || base
            .strip_suffix(".lock")
            .or_else(|| base.strip_suffix(".use"))
            .or_else(|| base.strip_suffix(".hash"))
            .is_some_and(is_digest)
}

/// Problems that make a store not clean (empty when clean).
pub fn store_problems(store: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let top = names(store);
    for n in &top {
        let p = store.join(n);
        if STORE_DOT_DIRS.contains(&n.as_str()) {
            continue;
        }
        if is_digest(n) && p.is_dir() {
            if !store.join(format!("{n}.json")).is_file() {
                problems.push(format!("version {n}/ has no manifest"));
            }
        } else if let Some(d) = n.strip_suffix(".json").filter(|d| is_digest(d)) {
            if !store.join(d).is_dir() {
                problems.push(format!("manifest {n} has no version directory"));
            }
        } else {
            problems.push(format!("unexpected top-level entry {n}"));
        }
    }
    for d in [".staging", ".trash"] {
        for n in names(&store.join(d)) {
            problems.push(format!("leftover {d}/{n}"));
        }
    }
    for n in names(&store.join(".locks")) {
        if !is_lock_file_name(&n) {
            problems.push(format!("unexpected .locks/{n}"));
        }
    }
    // The digest index: one 64-hex record per archive identity, no temp files.
    for n in names(&store.join(".index")) {
        let record = fs::read_to_string(store.join(".index").join(&n)).unwrap_or_default();
        if !is_digest(&n) || !is_digest(record.lines().next().unwrap_or_default()) {
            problems.push(format!("unexpected .index/{n} ({record:?})"));
        }
    }
    for n in names(&store.join(".links")) {
        if !is_digest(&n) {
            problems.push(format!("unexpected .links/{n}"));
        }
    }
    // One listing per complete version, nothing else.
    for n in names(&store.join(".listings")) {
        match n.strip_suffix(".json").filter(|d| is_digest(d)) {
            Some(d) if store.join(d).is_dir() => {}
            _ => problems.push(format!("unexpected .listings/{n}")),
        }
    }
    problems
}

/// Panics unless the store is clean and holds exactly `versions`.
pub fn assert_store_clean(store: &Path, versions: &[&str]) {
    let problems = store_problems(store);
    assert!(
        problems.is_empty(),
        "store {} is not clean: {problems:#?}\n{}",
        store.display(),
        listing(store)
    );
    let want: BTreeSet<String> = versions.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        version_dirs(store),
        want,
        "versions in {}\n{}",
        store.display(),
        listing(store)
    );
}

/// Panics unless every version directory present has the h1 it should
/// (`expected`: digest → h1); a digest not in `expected` is a failure too.
pub fn assert_versions_whole(store: &Path, expected: &BTreeMap<String, String>) {
    for v in version_dirs(store) {
        let want = expected.get(&v).unwrap_or_else(|| {
            panic!(
                "unknown version {v} in {}\n{}",
                store.display(),
                listing(store)
            )
        });
        let got = h1_of_dir(&store.join(&v));
        assert_eq!(
            &got,
            want,
            "version {v} in {} is not whole",
            store.display()
        );
    }
}

/// A recursive listing (two levels below the dot directories), for messages.
pub fn listing(store: &Path) -> String {
    let mut s = format!("{}:\n", store.display());
    for n in names(store) {
        s.push_str(&format!("  {n}\n"));
        if n.starts_with('.') {
            for m in names(&store.join(&n)) {
                s.push_str(&format!("    {m}\n"));
            }
        }
    }
    s
}
