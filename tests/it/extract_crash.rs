//! Extractions SIGKILLed at random moments: the store only ever holds whole
//! versions, the next run succeeds with the right tree, and leftovers go.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

/// Rounds of kill-then-recover; every third round kills twice (27 kills).
const FULL_ROUNDS: usize = 20;

#[test]
fn sigkilled_extractions_leave_only_whole_versions_and_get_swept() {
    let s = Scratch::new("crash");
    let fx = write_fixture(&s.join("tools.tar.gz"), 0xC4A5, 200, 8 << 20, 80);
    let expected: BTreeMap<String, String> = [(fx.sha256.clone(), fx.h1.clone())].into();

    // How long one full extraction takes here (the quickest of three): kills
    // land within it.
    let full = (0..3)
        .map(|i| {
            let probe = s.join(format!("probe-store-{i}"));
            let start = Instant::now();
            let v = extract_json(&fx.path, &probe, &[]);
            let took = start.elapsed();
            assert_eq!(v["h1"], fx.h1.as_str());
            remove_tree(&probe);
            took
        })
        .min()
        .expect("three runs");
    eprintln!("one extraction: {full:?}");

    let mut rng = Rng::from_env_or_clock("crash");
    let mut interrupted = 0;
    let rounds = stress_rounds(FULL_ROUNDS);
    for i in 0..rounds {
        let store = s.join(format!("store-{i}"));
        // Every third round kills twice before recovering, piling up leftovers.
        let kills = if i % 3 == 0 { 2 } else { 1 };
        for k in 0..kills {
            let mut child = fleet_cmd(["extract", "--archive"])
                .arg(&fx.path)
                .arg("--store")
                .arg(&store)
                .args(["--lock-timeout", "60"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn extractor");
            let delay = Duration::from_micros(rng.below(full.as_micros() as u64 + 1));
            // Fault injection, not synchronisation: the kill lands anywhere.
            std::thread::sleep(delay);
            child.kill().expect("SIGKILL");
            let status = wait_or_kill(&mut child, Duration::from_secs(10), "killed extractor");
            if status.code().is_none() && !store_problems(&store).is_empty() {
                interrupted += 1;
            }
            eprintln!("round {i}.{k}: killed after {delay:?}: {status:?}");
            assert_versions_whole(&store, &expected);
        }

        let v = extract_json(&fx.path, &store, &["--lock-timeout", "60"]);
        assert_eq!(json_path(&v), store.join(&fx.sha256), "round {i}");
        assert_eq!(v["h1"], fx.h1.as_str(), "round {i}");
        assert_eq!(
            h1_of_dir(&store.join(&fx.sha256)),
            fx.h1,
            "round {i}: tree after recovery"
        );
        assert_store_clean(&store, &[&fx.sha256]);
        remove_tree(&store);
    }
    eprintln!("{interrupted} kills interrupted an extraction");
    // Kills are uniform over one extraction, so most must hit it mid-way;
    // otherwise this test proved nothing about crashes.
    assert!(
        interrupted >= rounds / 4,
        "only {interrupted} kills left an interrupted extraction behind"
    );
}

/// The version is in place but its manifest is not: the extraction is
/// between publishing the tree and recording it.
fn published_without_manifest(store: &std::path::Path, digest: &str) -> bool {
    store.join(digest).is_dir() && !store.join(format!("{digest}.json")).exists()
}

#[test]
fn a_kill_between_publishing_and_the_manifest_leaves_nothing_behind() {
    let s = Scratch::new("crash-manifest");
    let fx = write_fixture(&s.join("small.tar.gz"), 0xC4A6, 20, 1 << 20, 90);
    // Several catches: the window holds more than one step (syncs, the
    // manifest's temp file, its rename), and each should be hit.
    let mut caught_times = 0;
    for attempt in 0..100 {
        if caught_times == 5 {
            break;
        }
        let store = s.join(format!("store-{attempt}"));
        let mut child = fleet_cmd(["extract", "--archive"])
            .arg(&fx.path)
            .arg("--store")
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn extractor");
        // Kill the moment the tree is published while its manifest is not.
        let caught = loop {
            if published_without_manifest(&store, &fx.sha256) {
                child.kill().expect("SIGKILL");
                break true;
            }
            if child.try_wait().expect("try_wait").is_some() {
                break false;
            }
            std::thread::yield_now();
        };
        child.wait().expect("reap");
        if !caught || !published_without_manifest(&store, &fx.sha256) {
            remove_tree(&store);
            continue;
        }
        eprintln!(
            "attempt {attempt}: killed with {:?}",
            store_problems(&store)
        );
        assert_versions_whole(&store, &[(fx.sha256.clone(), fx.h1.clone())].into());
        let v = extract_json(&fx.path, &store, &[]);
        assert_eq!(v["h1"], fx.h1.as_str());
        let after_extract = store_problems(&store);
        fleet([
            "gc".as_ref(),
            "--store".as_ref(),
            store.as_os_str(),
            "--keep".as_ref(),
            "5".as_ref(),
        ])
        .ok();
        let after_gc = store_problems(&store);
        assert!(
            after_extract.is_empty() && after_gc.is_empty(),
            "leftovers of the killed write survive\n  the next extraction: {after_extract:?}\n  and gc: {after_gc:?}"
        );
        assert_store_clean(&store, &[&fx.sha256]);
        caught_times += 1;
    }
    assert!(
        caught_times > 0,
        "never caught an extraction between publishing a tree and writing its manifest"
    );
}
