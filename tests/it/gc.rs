//! Garbage collection: keeps the N most recently used versions, linked ones
//! and ones in use; sweeps leftovers; survives being killed.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn gc(store: &Path, keep: usize) -> Run {
    let r = fleet([
        "gc".as_ref(),
        "--store".as_ref(),
        store.as_os_str(),
        "--keep".as_ref(),
        keep.to_string().as_ref(),
    ]);
    r.ok();
    r
}

fn small(s: &Scratch, i: u64) -> Fixture {
    write_fixture(&s.join(format!("v{i}.tar.gz")), 0x6C00 + i, 8, 20_000, 50)
}

fn extract_link(f: &Fixture, store: &Path, link: &Path) {
    let mut cmd = fleet_cmd(["extract", "--archive"]);
    cmd.arg(&f.path)
        .arg("--store")
        .arg(store)
        .arg("--link")
        .arg(link);
    run(cmd).ok();
}

fn whole(fixtures: &[&Fixture]) -> BTreeMap<String, String> {
    fixtures
        .iter()
        .map(|f| (f.sha256.clone(), f.h1.clone()))
        .collect()
}

#[test]
fn gc_keeps_the_most_recently_used_and_the_linked() {
    let s = Scratch::new("gc-keep");
    let v: Vec<Fixture> = (0..5).map(|i| small(&s, i)).collect();
    let store = s.join("store");
    let link = s.join("build/tools");

    extract_link(&v[0], &store, &link);
    for f in &v[1..] {
        advance_fs_clock(s.path());
        extract_json(&f.path, &store, &[]);
    }
    // Using v1 again (fast path) makes it the most recently used.
    advance_fs_clock(s.path());
    assert_eq!(extract_json(&v[1].path, &store, &[])["extracted"], false);

    gc(&store, 2);
    assert_store_clean(&store, &[&v[0].sha256, &v[1].sha256, &v[4].sha256]);
    assert_versions_whole(&store, &whole(&[&v[0], &v[1], &v[4]]));
    assert_eq!(h1_of_dir(&fs::canonicalize(&link).expect("link")), v[0].h1);

    gc(&store, 0);
    assert_store_clean(&store, &[&v[0].sha256]);

    // Once the link moves on, its old target is fair game.
    extract_link(&v[3], &store, &link);
    gc(&store, 0);
    assert_store_clean(&store, &[&v[3].sha256]);
    assert_eq!(h1_of_dir(&fs::canonicalize(&link).expect("link")), v[3].h1);
    // A removed version comes back on demand.
    assert_eq!(extract_json(&v[0].path, &store, &[])["extracted"], true);
}

#[test]
fn gc_never_removes_a_version_in_use() {
    let s = Scratch::new("gc-in-use");
    let (a, b) = (small(&s, 10), small(&s, 11));
    let store = s.join("store");
    extract_json(&a.path, &store, &[]);
    extract_json(&b.path, &store, &[]);

    // "In use" is a shared flock on .locks/<sha256>.use, as fleet takes it
    // while it works with a version.
    let use_lock = store.join(".locks").join(format!("{}.use", a.sha256));
    let mut user = Command::new("flock")
        .arg("--shared")
        .arg(&use_lock)
        .args(["sh", "-c", "echo ready; read x || :"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn flock");
    let stdin = user.stdin.take();
    Lines::new(user.stdout.take().expect("stdout")).expect(
        Duration::from_secs(30),
        "the user to hold its lock",
        |l| l == "ready",
    );

    gc(&store, 0);
    assert_store_clean(&store, &[&a.sha256]);
    assert_versions_whole(&store, &whole(&[&a]));

    drop(stdin);
    assert!(wait_or_kill(&mut user, Duration::from_secs(30), "flock").success());
    gc(&store, 0);
    assert_store_clean(&store, &[]);
}

#[test]
fn gc_sweeps_what_killed_extractions_left() {
    let s = Scratch::new("gc-sweep");
    let keep = small(&s, 20);
    let big = write_fixture(&s.join("big.tar.gz"), 0xB16, 300, 12 << 20, 90);
    for attempt in 0..5 {
        let store = s.join(format!("store-{attempt}"));
        extract_json(&keep.path, &store, &[]);
        let mut child = fleet_cmd(["extract", "--archive"])
            .arg(&big.path)
            .arg("--store")
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn extractor");
        if await_exclusive_flock(&mut child, &store, Duration::from_secs(60)).is_none() {
            continue;
        }
        // Kill once the staging tree has content.
        let staging = store.join(".staging");
        let started = loop {
            let has_files = fs::read_dir(&staging)
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|e| e.ok())
                .is_some_and(|e| {
                    fs::read_dir(e.path())
                        .map(|mut d| d.next().is_some())
                        .unwrap_or(false)
                });
            if has_files {
                break true;
            }
            if child.try_wait().expect("try_wait").is_some() {
                break false;
            }
            std::thread::yield_now();
        };
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        if !started || store_problems(&store).is_empty() {
            continue;
        }
        assert_versions_whole(&store, &whole(&[&keep, &big]));
        gc(&store, 5);
        assert_store_clean(&store, &[&keep.sha256]);
        assert_versions_whole(&store, &whole(&[&keep]));
        return;
    }
    panic!("no attempt left a staging leftover to sweep");
}

const GC_KILLS: usize = 6;

#[test]
fn an_interrupted_gc_leaves_whole_versions_and_the_next_gc_finishes() {
    let s = Scratch::new("gc-kill");
    let keep = small(&s, 30);
    let big = write_fixture(&s.join("big.tar.gz"), 0xB17, 700, 4 << 20, 50);
    let expected = whole(&[&keep, &big]);
    let store = s.join("store");

    // Makes `big` a complete version older than `keep`.
    let prepare = || {
        extract_json(&big.path, &store, &[]);
        advance_fs_clock(s.path());
        extract_json(&keep.path, &store, &[]);
        assert_store_clean(&store, &[&keep.sha256, &big.sha256]);
    };
    prepare();
    let start = Instant::now();
    gc(&store, 1);
    let full = start.elapsed();
    assert_store_clean(&store, &[&keep.sha256]);
    eprintln!("one gc of the big version: {full:?}");

    let mut rng = Rng::from_env_or_clock("gc-kill");
    let mut interrupted = 0;
    for i in 0..GC_KILLS {
        prepare();
        let mut child = fleet_cmd(["gc", "--store"])
            .arg(&store)
            .args(["--keep", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gc");
        let delay = Duration::from_micros(rng.below(full.as_micros() as u64 + 1));
        // Fault injection, not synchronisation.
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        let left_work =
            !store_problems(&store).is_empty() || version_dirs(&store).contains(&big.sha256);
        if status.code().is_none() && left_work {
            interrupted += 1;
        }
        eprintln!("gc {i}: killed after {delay:?}: {status:?}, left work: {left_work}");
        assert_versions_whole(&store, &expected);
        assert!(
            store.join(&keep.sha256).is_dir()
                && store.join(format!("{}.json", keep.sha256)).is_file(),
            "gc removed the kept version"
        );

        gc(&store, 1);
        assert_store_clean(&store, &[&keep.sha256]);
        assert_versions_whole(&store, &expected);
    }
    assert!(
        interrupted >= 2,
        "only {interrupted} of {GC_KILLS} kills interrupted a gc"
    );
}
