//! The digest index lets racers without `--sha256` hash an archive once; it
//! must never make an extraction trust a digest for bytes that changed.

use std::fs;
use std::time::SystemTime;

use crate::common::*;

fn index_records(store: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(store.join(".index"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_rewritten_archive_is_hashed_again_even_with_its_old_mtime() {
    let s = Scratch::new("index-rewrite");
    let a = write_fixture(&s.join("a.tar.gz"), 0x1DE1, 20, 200_000, 50);
    let b = write_fixture(&s.join("b.tar.gz"), 0x1DE2, 20, 200_000, 50);
    let store = s.join("store");
    let path = s.join("tools.tar.gz");
    fs::copy(&a.path, &path).expect("copy a");
    let first = extract_json(&path, &store, &[]);
    assert_eq!(first["sha256"], a.sha256.as_str());
    assert_eq!(index_records(&store).len(), 1);

    // Same path, new bytes, and the old modification time put back: only
    // ctime (which nobody can set) tells the file changed.
    let mtime: SystemTime = fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    fs::write(&path, fs::read(&b.path).expect("read b")).expect("rewrite");
    fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(mtime))
        .expect("restore mtime");
    let second = extract_json(&path, &store, &[]);
    assert_eq!(
        second["sha256"],
        b.sha256.as_str(),
        "a stale digest was trusted"
    );
    assert_eq!(second["h1"], b.h1.as_str());
    assert_eq!(second["extracted"], true);

    // gc drops the record of the old state of the file and keeps the current one.
    assert_eq!(index_records(&store).len(), 2);
    let r = fleet(["gc".as_ref(), "--store".as_ref(), store.as_os_str()]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    assert_eq!(index_records(&store).len(), 1);
    let third = extract_json(&path, &store, &[]);
    assert_eq!(third["sha256"], b.sha256.as_str());
    assert_eq!(third["extracted"], false);
}

#[test]
fn a_corrupt_index_record_is_recomputed_not_trusted() {
    let s = Scratch::new("index-corrupt");
    let a = write_fixture(&s.join("a.tar.gz"), 0x1DE3, 10, 100_000, 50);
    let store = s.join("store");
    extract_json(&a.path, &store, &[]);
    let records = index_records(&store);
    assert_eq!(records.len(), 1);
    fs::write(store.join(".index").join(&records[0]), "not a digest").expect("corrupt");
    let again = extract_json(&a.path, &store, &[]);
    assert_eq!(again["sha256"], a.sha256.as_str());
    assert_eq!(again["extracted"], false);
    assert_store_clean(&store, &[&a.sha256]);
}
