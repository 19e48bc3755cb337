//! Retries of transient failures (`retry` in the manifest): a step runs
//! again exactly as often as declared and only on a matching error; an
//! apply that started changing resources is not rerun unless declared
//! idempotent; the backoff grows to its cap with full jitter (read from the
//! report); a signal during a backoff ends the run at once.
//!
//! Failures come from a terraform wrapper that fails the first N runs of one
//! step (counted in a file) with a given message and is the real terraform
//! otherwise, or from a real `local-exec` provisioner failing N times.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::runner::*;

/// Makes the fleet's terraform a wrapper: `terraform $FLAKY_STEP` fails its
/// first `$FLAKY_FAILS` runs with `Error: $FLAKY_MESSAGE`, counting every
/// run in `$FLAKY_COUNT`; everything else is the real terraform.
fn wrap_terraform(fleet: &mut Fleet) {
    let script = format!(
        r#"#!/bin/sh
if [ -n "$FLAKY_STEP" ] && [ "$1" = "$FLAKY_STEP" ]; then
  n=$(( $(cat "$FLAKY_COUNT" 2>/dev/null || echo 0) + 1 ))
  echo "$n" > "$FLAKY_COUNT"
  if [ "$n" -le "$FLAKY_FAILS" ]; then
    printf '\nError: %s\n\n' "$FLAKY_MESSAGE" >&2
    exit 1
  fi
fi
exec {} "$@"
"#,
        terraform().display()
    );
    let path = fleet.root().join("flaky-terraform");
    fs::write(&path, script).expect("wrapper");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    fleet.terraform = path;
}

/// Adds `name`, whose `step` fails `fails` times with `message`.
fn add_flaky(fleet: &mut Fleet, name: &str, step: &str, fails: u32, message: &str) -> PathBuf {
    let count = fleet.marker(&format!("{name}.count"));
    let inst = fleet.add(name, &module("true"), &[]);
    inst["env"] = json!({
        "FLAKY_STEP": step,
        "FLAKY_FAILS": fails.to_string(),
        "FLAKY_MESSAGE": message,
        "FLAKY_COUNT": count.display().to_string(),
    });
    count
}

fn runs(count: &Path) -> u32 {
    fs::read_to_string(count)
        .map(|t| t.trim().parse().expect("a count"))
        .unwrap_or(0)
}

fn retry(patterns: &[&str], max_attempts: u32, delay_ms: u64, max_delay_ms: u64) -> Value {
    json!({
        "patterns": patterns,
        "max_attempts": max_attempts,
        "delay_ms": delay_ms,
        "max_delay_ms": max_delay_ms,
    })
}

fn outcomes(entry: &Value) -> Vec<String> {
    entry["attempts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["outcome"].as_str().expect("outcome").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_transient_plan_failure_is_retried_exactly_as_declared() {
    let mut fleet = Fleet::new();
    wrap_terraform(&mut fleet);
    let throttled = "api error Throttling: Rate exceeded";
    let twice = add_flaky(&mut fleet, "twice", "plan", 2, throttled);
    fleet.instance_mut("twice")["retry"] = retry(&["Throttling"], 3, 10, 40);
    let always = add_flaky(&mut fleet, "always", "plan", 99, throttled);
    fleet.instance_mut("always")["retry"] = retry(&["Throttling"], 3, 10, 40);
    fleet.write_manifest();
    let summary = fleet.root().join("summary.md");
    let out = fleet.run(
        "plan",
        &[
            "--report",
            fleet.report_path().to_str().unwrap(),
            "--summary",
            summary.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report = fleet.report();
    let markdown = fs::read_to_string(&summary).expect("summary");
    assert!(markdown.contains("after 2 retries"), "{markdown}");
    assert!(markdown.contains("failed after 2 retries"), "{markdown}");

    assert_eq!(runs(&twice), 3, "two failures and the success");
    let e = entry(&report, "twice");
    assert_eq!(e["status"], "succeeded", "{e:#}");
    assert_eq!(e["retries"], 2);
    assert_eq!(outcomes(e), ["retried", "retried", "succeeded"]);
    assert_eq!(e["attempts"][0]["pattern"], "Throttling");
    assert_eq!(e["attempts"][0]["step"], "plan");
    assert!(
        stdout(&out).contains("succeeded after 2 retries"),
        "{}",
        describe(&out)
    );

    assert_eq!(runs(&always), 3, "max_attempts counts the first run");
    let e = entry(&report, "always");
    assert_eq!(e["status"], "failed", "{e:#}");
    assert_eq!(outcomes(e), ["retried", "retried", "failed"]);
    let reason = e["attempts"][2]["reason"].as_str().unwrap();
    assert!(reason.contains("attempt 3 of 3 was the last"), "{reason}");
    let log = fs::read_to_string(fleet.run_dir("always").join("logs/plan.log")).unwrap();
    assert_eq!(
        log.matches("matches retry pattern \"Throttling\"").count(),
        2,
        "{log}"
    );

    // --max-attempts 1 turns retries off for one run.
    let out = fleet.run("plan", &["--max-attempts", "1", "--only", "always"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(runs(&always), 4, "one more run, no retry");
}

#[test]
fn a_non_matching_error_is_not_retried() {
    let mut fleet = Fleet::new();
    wrap_terraform(&mut fleet);
    let count = add_flaky(&mut fleet, "typo", "plan", 1, "Invalid reference");
    let mut policy = retry(&["Throttling", "TooManyRequests"], 5, 10, 40);
    policy["defaults"] = json!(true);
    fleet.instance_mut("typo")["retry"] = policy;
    fleet.write_manifest();
    let out = fleet.run("plan", &["--report", fleet.report_path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(runs(&count), 1, "never run again");
    let report = fleet.report();
    let e = entry(&report, "typo");
    assert_eq!(e["status"], "failed");
    assert_eq!(outcomes(e), ["failed"]);
    let reason = e["attempts"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("matches no retry pattern"), "{reason}");
}

/// A module whose provisioner fails its first `fails` runs with `message`.
fn failing_provisioner(count: &Path, fails: u32, message: &str) -> String {
    let c = count.display();
    module(&format!(
        "n=$(( $(cat {c} 2>/dev/null || echo 0) + 1 ))\necho $n > {c}\nif [ $n -le {fails} ]; then echo '{message}' >&2; exit 1; fi"
    ))
}

#[test]
fn an_apply_that_changed_a_resource_is_retried_only_when_idempotent() {
    let mut fleet = Fleet::new();
    wrap_terraform(&mut fleet);
    let message = "RequestLimitExceeded: Request limit exceeded";
    // Real terraform: the resource is being created when its provisioner fails.
    let changed = fleet.marker("changed.count");
    fleet.add("changed", &failing_provisioner(&changed, 2, message), &[]);
    fleet.instance_mut("changed")["retry"] = retry(&["RequestLimitExceeded"], 3, 10, 40);
    let idempotent = fleet.marker("idempotent.count");
    fleet.add(
        "idempotent",
        &failing_provisioner(&idempotent, 2, message),
        &[],
    );
    let mut policy = retry(&["RequestLimitExceeded"], 3, 10, 40);
    policy["apply"] = json!(true);
    fleet.instance_mut("idempotent")["retry"] = policy;
    // Fails before terraform changed anything: retried without `apply`.
    let early = add_flaky(&mut fleet, "early", "apply", 2, message);
    fleet.instance_mut("early")["retry"] = retry(&["RequestLimitExceeded"], 3, 10, 40);
    fleet.write_manifest();
    let out = fleet.run(
        "apply",
        &["--report", fleet.report_path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report = fleet.report();

    assert_eq!(runs(&changed), 1, "a half-applied change is not rerun");
    let e = entry(&report, "changed");
    assert_eq!(e["status"], "failed", "{e:#}");
    let reason = e["attempts"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("started changing resources"), "{reason}");

    assert_eq!(runs(&idempotent), 3);
    let e = entry(&report, "idempotent");
    assert_eq!(e["status"], "succeeded", "{e:#}");
    assert_eq!(e["retries"], 2);

    assert_eq!(runs(&early), 3);
    let e = entry(&report, "early");
    assert_eq!(e["status"], "succeeded", "{e:#}");
    assert_eq!(outcomes(e), ["retried", "retried", "succeeded"]);
    assert!(fleet.state("early")["resources"]
        .as_array()
        .is_some_and(|r| r.len() == 1));
}

#[test]
fn backoff_delays_grow_to_their_cap() {
    let mut fleet = Fleet::new();
    wrap_terraform(&mut fleet);
    let count = add_flaky(&mut fleet, "slow", "plan", 4, "503 Service Unavailable");
    let mut policy = retry(&[], 5, 40, 100);
    policy["defaults"] = json!(true);
    fleet.instance_mut("slow")["retry"] = policy;
    fleet.write_manifest();
    let out = fleet.run("plan", &["--report", fleet.report_path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(runs(&count), 5);
    let report = fleet.report();
    let e = entry(&report, "slow");
    let attempts = e["attempts"].as_array().expect("attempts");
    let ceilings: Vec<f64> = attempts[..4]
        .iter()
        .map(|a| a["max_delay_s"].as_f64().expect("ceiling"))
        .collect();
    assert_eq!(ceilings, [0.04, 0.08, 0.1, 0.1], "{e:#}");
    for a in &attempts[..4] {
        let delay = a["delay_s"].as_f64().expect("delay");
        assert!(
            delay >= 0.0 && delay <= a["max_delay_s"].as_f64().unwrap(),
            "{a}"
        );
        assert_eq!(a["pattern"], r"\b503 Service Unavailable\b");
    }
    assert_eq!(attempts[4]["outcome"], "succeeded");
}

#[test]
fn twenty_four_instances_throttled_at_once_all_succeed_spread_by_jitter() {
    let mut fleet = Fleet::new();
    wrap_terraform(&mut fleet);
    fleet.parallelism = 24;
    let mut counts = vec![];
    for i in 0..24 {
        let name = format!("i{i:02}");
        counts.push(add_flaky(&mut fleet, &name, "plan", 2, "TooManyRequests"));
        fleet.instance_mut(&name)["retry"] = retry(&["TooManyRequests"], 4, 1000, 4000);
    }
    fleet.write_manifest();
    let out = fleet.run("plan", &["--report", fleet.report_path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    let report = fleet.report();
    let mut first_delays = vec![];
    for (i, count) in counts.iter().enumerate() {
        assert_eq!(runs(count), 3, "instance {i}");
        let e = entry(&report, &format!("i{i:02}"));
        assert_eq!(outcomes(e), ["retried", "retried", "succeeded"], "{e:#}");
        first_delays.push(e["attempts"][0]["delay_s"].as_f64().expect("delay"));
    }
    // Full jitter: the first retries are spread over [0, 1 s], not in lockstep.
    let mut distinct = first_delays.clone();
    distinct.sort_by(|a, b| a.partial_cmp(b).unwrap());
    distinct.dedup();
    let spread = distinct.last().unwrap() - distinct.first().unwrap();
    assert!(distinct.len() >= 18, "{first_delays:?}");
    assert!(spread > 0.4, "{first_delays:?}");
    assert!(first_delays.iter().all(|d| *d <= 1.0), "{first_delays:?}");
}

#[test]
fn sigint_during_a_backoff_stops_the_run_at_once() {
    let mut fleet = Fleet::new();
    wrap_terraform(&mut fleet);
    let names: Vec<String> = (0..6).map(|i| format!("w{i}")).collect();
    for name in &names {
        add_flaky(&mut fleet, name, "plan", 99, "Throttling");
        fleet.instance_mut(name)["retry"] = retry(&["Throttling"], 3, 60_000, 60_000);
    }
    fleet.parallelism = 6;
    fleet.write_manifest();
    let mut child = fleet
        .fleet("run")
        .args(["--action", "plan", "--report"])
        .arg(fleet.report_path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fleet run");
    // Every instance failed once and waits for its second attempt.
    wait_until(
        Duration::from_secs(120),
        "every instance in its backoff",
        || {
            names.iter().all(|n| {
                fs::read_to_string(fleet.run_dir(n).join("logs/plan.log"))
                    .is_ok_and(|log| log.contains("attempt 2 in"))
            })
        },
    );
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("fleet run did not stop within 90 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = signalled.elapsed().as_secs_f64();
    let report = fleet.report();
    assert_eq!(status.code(), Some(130), "{report:#}");
    let mut longest: f64 = 0.0;
    for name in &names {
        let e = entry(&report, name);
        assert_eq!(e["status"], "interrupted", "{e:#}");
        // An instance that drew a short wait may be in its second backoff.
        let attempts = e["attempts"].as_array().expect("attempts");
        let last = attempts.last().expect("an attempt");
        assert_eq!(last["outcome"], "interrupted", "{e:#}");
        longest = longest.max(last["delay_s"].as_f64().expect("delay"));
    }
    // The drawn waits (uniform below 60 s) were far from over.
    assert!(took < 10.0, "stopped {took:.1}s after SIGINT");
    assert!(
        longest > took + 5.0,
        "longest wait {longest:.1}s, stopped after {took:.1}s"
    );
}
