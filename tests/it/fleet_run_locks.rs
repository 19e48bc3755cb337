//! Two runners on one fleet: they take turns on a shared instance, say whom
//! they wait for, and never wait on unrelated instances.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::runner::*;

fn fleet_with_gated_x() -> Fleet {
    let mut fleet = Fleet::new();
    let m = fleet.markers.display().to_string();
    let x = module(&format!(
        "echo run >> {m}/x.runs\ntouch {m}/x.started\ntimeout --foreground 120 sh -c 'until [ -e {m}/gate ]; do sleep 0.05; done'"
    ));
    fleet.add("x", &x, &[]);
    fleet.add("y", &module("true"), &[]);
    fleet.write_manifest();
    fleet
}

/// Lines of a child's stdout and stderr, as they come.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    for stream in [
        Box::new(out) as Box<dyn std::io::Read + Send>,
        Box::new(err),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    rx
}

fn wait_line(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, wanted: impl Fn(&str) -> bool) {
    while !seen.iter().any(|l| wanted(l)) {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no such line in {seen:#?}"));
        seen.push(line);
    }
}

#[test]
fn two_runners_take_turns_on_an_instance_and_not_on_others() {
    let fleet = fleet_with_gated_x();
    let report_a = fleet.root().join("a.json");
    let report_b = fleet.root().join("b.json");
    let mut a = fleet
        .fleet("run")
        .args([
            "--action",
            "apply",
            "--only",
            "x",
            "--report",
            report_a.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("runner a");
    wait_for_file(&fleet.marker("x.started"), Duration::from_secs(60));
    let mut b = fleet
        .fleet("run")
        .args(["--action", "apply", "--report", report_b.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runner b");
    let rx = lines(&mut b);
    let mut seen = vec![];
    let lock = fleet.run_dir("x").join(".fleet.lock");
    let waiting = format!("waiting for lock {} held by pid {}", lock.display(), a.id());
    wait_line(&rx, &mut seen, |l| l.contains(&waiting));
    // y finishes in runner b while b's x still waits for runner a.
    wait_line(&rx, &mut seen, |l| l.contains("] y: succeeded"));
    std::fs::write(fleet.marker("gate"), "").expect("gate");
    assert!(a.wait().expect("a").success());
    assert!(b.wait().expect("b").success());
    let (ra, rb) = (read_json(&report_a), read_json(&report_b));
    let a_end = entry(&ra, "x")["ended_unix_ms"].as_f64().unwrap();
    let b_x = entry(&rb, "x");
    assert!(b_x["lock_wait_s"].as_f64().unwrap() > 0.0);
    assert!(
        b_x["started_unix_ms"].as_f64().unwrap() + b_x["lock_wait_s"].as_f64().unwrap() * 1000.0
            >= a_end - 1.0
    );
    assert_eq!(
        fleet.state("x")["resources"][0]["instances"][0]["attributes"]["input"]["value"],
        "v"
    );
    let runs = std::fs::read_to_string(fleet.marker("x.runs")).expect("runs");
    assert_eq!(
        runs.lines().count(),
        1,
        "the second runner found x applied and changed nothing"
    );
}

#[test]
fn lock_timeout_fails_the_instance_with_exit_3() {
    let fleet = fleet_with_gated_x();
    let mut a = fleet
        .fleet("run")
        .args(["--action", "apply", "--only", "x"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("runner a");
    wait_for_file(&fleet.marker("x.started"), Duration::from_secs(60));
    let report = fleet.report_path();
    let out = fleet.run(
        "apply",
        &[
            "--only",
            "x",
            "--lock-timeout",
            "0.3",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    std::fs::write(fleet.marker("gate"), "").expect("gate");
    assert!(a.wait().expect("a").success());
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let report = fleet.report();
    let x = entry(&report, "x").clone();
    assert_eq!(x["status"], "lock_timeout");
    assert_eq!(report["counts"]["lock_timeout"], 1);
    assert_eq!(report["counts"]["failed"], 1);
    assert_eq!(x["exit_code"], 3);
    assert!(x["reason"].as_str().unwrap().contains("timed out"), "{x:#}");
}

/// A terraform of another user's making (not fleet's) applying `x` in its run
/// directory: it holds x's state lock (local backend) until the gate opens.
fn hold_state_lock(fleet: &Fleet) -> Child {
    let out = fleet.run("plan", &["--only", "x"]);
    assert!(out.status.success(), "{}", describe(&out));
    let dir = fleet.run_dir("x");
    let holder = std::process::Command::new(terraform())
        .args(["apply", "-auto-approve", "-input=false", "-no-color"])
        .current_dir(&dir)
        .env("TF_DATA_DIR", dir.join(".terraform-data"))
        .env("TF_CLI_CONFIG_FILE", dir.join(".terraformrc"))
        .env("CHECKPOINT_DISABLE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("terraform apply");
    wait_for_file(&fleet.marker("x.started"), Duration::from_secs(60));
    holder
}

/// The ID terraform's local backend records for the lock's holder.
fn state_lock_id(fleet: &Fleet) -> String {
    let info = read_json(&fleet.run_dir("x").join(".terraform.tfstate.lock.info"));
    info["ID"].as_str().expect("lock ID").to_string()
}

#[test]
fn a_state_lock_timeout_is_its_own_status_and_exit_3_naming_the_holder() {
    let fleet = fleet_with_gated_x();
    let mut holder = hold_state_lock(&fleet);
    let id = state_lock_id(&fleet);
    let report = fleet.report_path();
    let run = fleet.run(
        "apply",
        &[
            "--only",
            "x",
            "--lock-timeout",
            "1",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    let tf = fleet
        .fleet("tf")
        .args([
            "--action",
            "apply",
            "--instance",
            "x",
            "--lock-timeout",
            "1",
            "--",
            "-auto-approve",
        ])
        .output()
        .expect("fleet tf");
    std::fs::write(fleet.marker("gate"), "").expect("gate");
    assert!(holder.wait().expect("holder").success());

    assert_eq!(run.status.code(), Some(3), "{}", describe(&run));
    let report = fleet.report();
    let x = entry(&report, "x");
    assert_eq!(x["status"], "lock_timeout", "{x:#}");
    assert_eq!(x["exit_code"], 3);
    let reason = x["reason"].as_str().unwrap();
    assert!(reason.contains("waiting for the state lock"), "{reason}");
    assert!(
        reason.contains(&id),
        "names the holder's lock {id}: {reason}"
    );
    assert!(
        stdout(&run).contains("(1 by a lock timeout)"),
        "{}",
        describe(&run)
    );

    assert_eq!(tf.status.code(), Some(3), "{}", describe(&tf));
    let said = stderr(&tf);
    assert!(
        said.contains(
            "fleet: //pkg:x: terraform apply: timed out after 1s waiting for the state lock"
        ),
        "{said}"
    );
    assert!(said.contains(&id), "names the holder's lock {id}: {said}");
    let runs = std::fs::read_to_string(fleet.marker("x.runs")).expect("runs");
    assert_eq!(runs.lines().count(), 1, "only the holder applied");
}
