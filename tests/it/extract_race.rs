//! Many processes race to extract the same archive into a fresh store:
//! exactly one unpacks it, everyone gets the same whole, read-only tree.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::*;

const RACERS: usize = 32;
const FULL_ROUNDS: usize = 10;

#[test]
fn thirty_two_racers_extract_once_per_round() {
    let s = Scratch::new("race");
    // ~50 MB of mostly incompressible content in several hundred files.
    let fx = write_fixture(&s.join("tools.tar.gz"), 0x5eed_0001, 480, 50 << 20, 90);
    assert!(fx.bytes > 40 << 20, "fixture is {} bytes", fx.bytes);

    for round in 0..stress_rounds(FULL_ROUNDS) {
        let store = s.join(format!("store-{round}"));
        let started = std::time::Instant::now();
        // Half the rounds start from a missing store, half from an empty one.
        if round % 2 == 1 {
            std::fs::create_dir(&store).expect("mkdir store");
        }
        // Spawned back to back so they overlap as much as the machine allows.
        let children: Vec<Child> = (0..RACERS)
            .map(|_| {
                fleet_cmd(["extract", "--archive"])
                    .arg(&fx.path)
                    .arg("--store")
                    .arg(&store)
                    .args(["--json", "--lock-timeout", "120"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn racer")
            })
            .collect();
        let runs: Vec<Run> = children
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let out = c.wait_with_output().expect("wait racer");
                Run::from_output(format!("racer {i} of round {round}"), out, Duration::ZERO)
            })
            .collect();

        let raced = started.elapsed();
        let mut extracted = 0;
        for r in &runs {
            r.ok();
            let v = r.json();
            assert_eq!(json_path(&v), store.join(&fx.sha256), "{}", r.transcript());
            assert_eq!(v["sha256"], fx.sha256.as_str(), "{}", r.transcript());
            assert_eq!(v["h1"], fx.h1.as_str(), "{}", r.transcript());
            assert!(v["waited_ms"].is_u64(), "{}", r.transcript());
            match v["extracted"].as_bool() {
                Some(true) => extracted += 1,
                Some(false) => {}
                None => panic!("no boolean `extracted`\n{}", r.transcript()),
            }
        }
        assert_eq!(
            extracted, 1,
            "round {round}: exactly one racer must extract"
        );

        let version = store.join(&fx.sha256);
        assert_eq!(h1_of_dir(&version), fx.h1, "round {round}: published tree");
        for (path, (mode, kind)) in modes(&version) {
            assert_eq!(
                mode & 0o222,
                0,
                "round {round}: {kind} {path} is writable ({mode:o})"
            );
        }
        let root_mode = std::fs::metadata(&version)
            .expect("stat version")
            .permissions()
            .mode();
        assert_eq!(
            root_mode & 0o222,
            0,
            "round {round}: version root is writable ({root_mode:o})"
        );
        assert_store_clean(&store, &[&fx.sha256]);
        remove_tree(&store);
        eprintln!(
            "round {round}: race {raced:?}, with checks {:?}",
            started.elapsed()
        );
    }
}
