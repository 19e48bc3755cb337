//! A stable `--link` path swapped between two versions while other processes
//! read through it: no read fails, every tree read is exactly A or B.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crate::common::*;

const WRITERS: usize = 2;
const FLEET_READERS: usize = 3;
const READS_PER_READER: usize = 40;
const MAX_WRITER_ROUNDS: usize = 2_000;

fn extract_link(archive: &Path, store: &Path, link: &Path) -> Run {
    let mut cmd = fleet_cmd(["extract", "--archive"]);
    cmd.arg(archive)
        .arg("--store")
        .arg(store)
        .arg("--link")
        .arg(link)
        .args(["--lock-timeout", "60"]);
    run(cmd)
}

#[test]
fn readers_through_a_swapped_link_see_a_or_b_never_a_failure() {
    let s = Scratch::new("link");
    let a = write_fixture(&s.join("a.tar.gz"), 0xA, 150, 3 << 20, 50);
    let b = write_fixture(&s.join("b.tar.gz"), 0xB, 170, 3 << 20, 50);
    assert_ne!(a.h1, b.h1);
    let store = s.join("store");
    fs::create_dir(s.join("build")).expect("mkdir build");
    let link = s.join("build/tools");

    let first = extract_link(&a.path, &store, &link);
    first.ok();
    assert_eq!(
        PathBuf::from(first.line().trim_end_matches('/')),
        store.join(&a.sha256)
    );
    assert_eq!(
        fs::read_link(&link).expect("link exists"),
        store.join(&a.sha256)
    );

    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (a, b, store, link, done) = (
                a.path.clone(),
                b.path.clone(),
                store.clone(),
                link.clone(),
                done.clone(),
            );
            thread::spawn(move || {
                let mut rounds = 0;
                while !done.load(Ordering::SeqCst) && rounds < MAX_WRITER_ROUNDS {
                    // Writers start on opposite archives so the link keeps changing.
                    let order = if (rounds + w) % 2 == 0 {
                        [&b, &a]
                    } else {
                        [&a, &b]
                    };
                    for archive in order {
                        extract_link(archive, &store, &link).ok();
                    }
                    rounds += 1;
                }
                rounds
            })
        })
        .collect();

    let known: BTreeMap<String, &'static str> = [(a.h1.clone(), "A"), (b.h1.clone(), "B")].into();
    let mut readers: Vec<thread::JoinHandle<Vec<String>>> = (0..FLEET_READERS)
        .map(|_| {
            let link = link.clone();
            thread::spawn(move || {
                (0..READS_PER_READER)
                    .map(|_| fleet(["hash".as_ref(), link.as_os_str()]).ok().line())
                    .collect()
            })
        })
        .collect();
    // An independent reader: resolve the link once, then hash what it names.
    readers.push({
        let link = link.clone();
        thread::spawn(move || {
            (0..READS_PER_READER)
                .map(|_| {
                    let target = fs::canonicalize(&link).expect("link resolves");
                    h1_of_dir(&target)
                })
                .collect()
        })
    });
    // The link itself must exist at every instant.
    let prober = {
        let (link, done) = (link.clone(), done.clone());
        thread::spawn(move || {
            let mut probes = 0u64;
            while !done.load(Ordering::SeqCst) {
                let target = fs::read_link(&link)
                    .unwrap_or_else(|e| panic!("link missing after {probes} probes: {e}"));
                assert!(
                    target.is_dir(),
                    "link points at {} which is not a directory",
                    target.display()
                );
                probes += 1;
                thread::yield_now();
            }
            probes
        })
    };

    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failure = None;
    for r in readers {
        match r.join() {
            Ok(h1s) => {
                for h in h1s {
                    match known.get(&h) {
                        Some(name) => *seen.entry(name).or_default() += 1,
                        None => {
                            failure = failure.or(Some(format!(
                                "a reader hashed {h}, which is neither A nor B"
                            )))
                        }
                    }
                }
            }
            Err(_) => {
                failure = failure.or(Some("a reader failed (see its panic above)".to_string()))
            }
        }
    }
    done.store(true, Ordering::SeqCst);
    let writer_rounds: Vec<usize> = writers
        .into_iter()
        .map(|w| w.join().expect("writer"))
        .collect();
    let probes = prober.join().expect("link prober");
    if let Some(f) = failure {
        panic!("{f}");
    }
    eprintln!("reads: {seen:?}, writer rounds: {writer_rounds:?}, link probes: {probes}");
    assert!(
        seen.len() == 2,
        "readers must have seen both trees while the link was swapped: {seen:?}"
    );

    assert_store_clean(&store, &[&a.sha256, &b.sha256]);
    let beside: Vec<_> = fs::read_dir(s.join("build"))
        .expect("list build")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        beside,
        vec![std::ffi::OsString::from("tools")],
        "temp symlinks left beside the link"
    );
}
