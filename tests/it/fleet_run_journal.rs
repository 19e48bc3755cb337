//! The progress journal (`<report>.journal`): a runner killed with SIGKILL
//! at random points while events are being appended leaves a journal whose
//! complete lines say exactly what succeeded; `--resume` reuses exactly
//! those and reruns the rest. A torn last line is ignored, a corrupt line in
//! the middle refused (exit 4); a finished run leaves no journal.

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::runner::*;
use crate::common::{assert_mentions, stress_rounds, Rng};

const LIMIT: Duration = Duration::from_secs(300);
const INSTANCES: usize = 10;

fn recording(fleet: &Fleet, name: &str) -> String {
    let m = fleet.markers.display();
    format!(
        r#"
resource "terraform_data" "r" {{
  triggers_replace = timestamp()
  provisioner "local-exec" {{
    command = "echo run >> {m}/{name}.runs"
  }}
}}
"#
    )
}

fn runs(fleet: &Fleet, name: &str) -> usize {
    fs::read_to_string(fleet.marker(&format!("{name}.runs")))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// The complete lines of a journal: its start (the report) and its events.
fn journal_lines(path: &Path) -> Vec<Value> {
    let bytes = fs::read(path).unwrap_or_default();
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |e| e + 1);
    bytes[..end]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("a complete journal line parses"))
        .collect()
}

/// Names the journal records as succeeded (the last event of each wins).
fn succeeded_in(lines: &[Value]) -> Vec<String> {
    let Some(start) = lines.first() else {
        return vec![];
    };
    let mut status: Vec<(String, String)> = start["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().into(),
                i["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    for event in &lines[1..] {
        let k = event["k"].as_u64().map(|k| k as usize);
        match (event["event"].as_str(), k) {
            (Some("running"), Some(k)) => status[k].1 = "interrupted".into(),
            (Some("finished"), Some(k)) => {
                status[k].1 = event["entry"]["status"].as_str().unwrap().into()
            }
            _ => {}
        }
    }
    let mut ok: Vec<String> = status
        .into_iter()
        .filter(|(_, s)| s == "succeeded")
        .map(|(n, _)| n)
        .collect();
    ok.sort();
    ok
}

fn spawn(fleet: &Fleet, args: &[&str]) -> Child {
    fleet
        .fleet("run")
        .args(["--action", "apply", "--parallelism", "3"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning fleet")
}

fn fleet_of(n: usize) -> Fleet {
    let mut fleet = Fleet::new();
    for k in 0..n {
        let name = format!("i{k}");
        let body = recording(&fleet, &name);
        // Every third instance depends on the one before it.
        let before = format!("i{}", k.saturating_sub(1));
        let deps: Vec<&str> = if k % 3 == 2 { vec![&before] } else { vec![] };
        fleet.add(&name, &body, &deps);
    }
    fleet.write_manifest();
    fleet
}

#[test]
fn sigkill_while_the_journal_is_appended_then_resume_reuses_exactly_what_it_records() {
    let mut rng = Rng::from_env_or_clock("fleet_run_journal");
    for round in 0..stress_rounds(4) {
        let fleet = fleet_of(INSTANCES);
        let report = fleet.report_path();
        let journal = report.with_extension("json.journal");
        let report_arg = report.to_str().unwrap().to_string();
        // Kill once the journal holds this many events (2 per instance at most).
        let kill_at = 1 + rng.below(2 * INSTANCES as u64 - 2) as usize;
        let mut runner = spawn(&fleet, &["--report", &report_arg]);
        let t0 = Instant::now();
        let mut ended_by_itself = false;
        while journal_lines(&journal).len() < 1 + kill_at {
            assert!(t0.elapsed() < LIMIT, "round {round}: journal did not grow");
            if runner.try_wait().expect("polling").is_some() {
                ended_by_itself = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(runner.id() as i32, libc::SIGKILL) };
        runner.wait().expect("reaping the runner");
        let lines = journal_lines(&journal);
        // Killed after at most 2N - 2 of its 2N events: the run cannot have
        // finished, so its journal must be there.
        assert!(
            !ended_by_itself && !lines.is_empty(),
            "round {round}: the runner ended by itself ({ended_by_itself}) or left no journal"
        );
        let recorded = succeeded_in(&lines);
        // Its terraforms get SIGINT from their guards; wait for them to go.
        let t0 = Instant::now();
        while !fleet.live_processes().is_empty() {
            assert!(t0.elapsed() < LIMIT, "terraform outlived its killed runner");
            std::thread::sleep(Duration::from_millis(20));
        }
        let before: Vec<usize> = (0..INSTANCES)
            .map(|k| runs(&fleet, &format!("i{k}")))
            .collect();

        let out = fleet.run(
            "apply",
            &["--parallelism", "3", "--resume", "--report", &report_arg],
        );
        assert!(out.status.success(), "round {round}: {}", stderr(&out));
        assert!(!journal.exists(), "a finished run leaves no journal");
        let done = fleet.report();
        for (k, earlier) in before.iter().enumerate() {
            let name = format!("i{k}");
            let entry = done["instances"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["name"] == name.as_str())
                .expect("entry");
            assert_eq!(
                entry["status"], "succeeded",
                "round {round} {name}: {done:#}"
            );
            let reused = recorded.contains(&name);
            assert_eq!(
                entry["reused"], reused,
                "round {round} (killed after {kill_at} events) {name}: journal says succeeded = {reused}"
            );
            let again = runs(&fleet, &name) - earlier;
            assert_eq!(
                again,
                usize::from(!reused),
                "round {round} {name} ran {again} more times"
            );
        }
    }
}

#[test]
fn a_torn_last_line_is_not_an_event_and_a_corrupt_line_is_refused() {
    let fleet = fleet_of(2);
    let report = fleet.report_path();
    let report_arg = report.to_str().unwrap().to_string();
    let out = fleet.run("apply", &["--report", &report_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let journal = report.with_extension("json.journal");
    // A journal as a killed runner leaves it: i0 finished, i1's end torn.
    let mut start = fleet.report();
    for entry in start["instances"].as_array_mut().unwrap() {
        entry["status"] = "not_run".into();
    }
    let finished = |k: usize| {
        let mut entry = fleet.report()["instances"][k].clone();
        entry["status"] = "succeeded".into();
        serde_json::json!({"event": "finished", "k": k, "entry": entry}).to_string()
    };
    let torn = finished(1);
    let text = format!("{start}\n{}\n{}", finished(0), &torn[..torn.len() / 2]);
    fs::write(&journal, &text).unwrap();
    let out = fleet.run("apply", &["--resume", "--report", &report_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let done = fleet.report();
    assert_eq!(done["instances"][0]["reused"], true, "{done:#}");
    assert_eq!(done["instances"][1]["reused"], false, "{done:#}");

    let text = format!(
        "{start}\n{{\"event\": \"finished\", \"k\"\n{}\n",
        finished(0)
    );
    fs::write(&journal, text).unwrap();
    let out = fleet.run("apply", &["--resume", "--report", &report_arg]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_mentions(&stderr(&out), "report journal", "the corrupt journal");
}
