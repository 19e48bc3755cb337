//! Extractions SIGKILLed at random moments: the store only ever holds whole
//! versions, the next run succeeds with the right tree, and leftovers go.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const KILLS: usize = 24;

#[test]
fn sigkilled_extractions_leave_only_whole_versions_and_get_swept() {
    let s = Scratch::new("crash");
    let fx = write_fixture(&s.join("tools.tar.gz"), 0xC4A5, 240, 12 << 20, 80);
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
    for i in 0..KILLS {
        let store = s.join(format!("store-{i}"));
        // Every third round kills twice before recovering, piling up leftovers.
        let kills = if i % 3 == 0 { 2 } else { 1 };
        for k in 0..kills {
            let mut child = fleet_cmd(["extract", "--archive"])
                .arg(&fx.path)
                .arg("--store")
                .arg(&store)
                .args(["--timeout", "60"])
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

        let v = extract_json(&fx.path, &store, &["--timeout", "60"]);
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
    // Kills are uniform over one extraction, so most must hit it mid-way;
    // otherwise this test proved nothing about crashes.
    assert!(
        interrupted >= KILLS / 4,
        "only {interrupted} kills left an interrupted extraction behind"
    );
}
