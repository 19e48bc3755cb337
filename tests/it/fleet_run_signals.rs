//! Interrupting `fleet run` and `fleet tf`: terraform is stopped through
//! SIGINT, nothing of the run survives, the state lock is free and the run
//! can be resumed.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::runner::*;

/// A module that says it started, then blocks until `gate` exists (bounded).
fn blocking(fleet: &Fleet, name: &str) -> String {
    let m = fleet.markers.display();
    // --foreground: GNU timeout otherwise moves itself to a new process group.
    module(&format!(
        "touch {m}/{name}.started\ntimeout --foreground 120 sh -c 'until [ -e {m}/gate ]; do sleep 0.05; done'"
    ))
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// `terraform plan` in the run directory fails at once if the state is locked.
fn assert_state_unlocked(fleet: &Fleet, name: &str) {
    let dir = fleet.run_dir(name);
    let out = Command::new(terraform())
        .args(["plan", "-input=false", "-no-color", "-lock-timeout=0s"])
        .current_dir(&dir)
        .env("TF_DATA_DIR", dir.join(".terraform-data"))
        .env("TF_CLI_CONFIG_FILE", dir.join(".terraformrc"))
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform plan");
    assert!(
        out.status.success(),
        "state of {name} is still locked: {}",
        describe(&out)
    );
}

#[test]
fn sigint_stops_every_terraform_and_leaves_a_resumable_report() {
    let mut fleet = Fleet::new();
    let names = ["a", "b", "c"];
    for name in names {
        let tf = blocking(&fleet, name);
        fleet.add(name, &tf, &[]);
    }
    fleet.add("after", &module("true"), &["a"]);
    fleet.write_manifest();
    let report_path = fleet.report_path();
    let report_arg = report_path.to_str().unwrap();
    let mut child = fleet
        .fleet("run")
        .args([
            "--action",
            "apply",
            "--parallelism",
            "3",
            "--report",
            report_arg,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fleet run");
    for name in names {
        wait_for_file(
            &fleet.marker(&format!("{name}.started")),
            Duration::from_secs(60),
        );
    }
    signal(&child, libc::SIGINT);
    let status = wait_exit(&mut child, Duration::from_secs(60));
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        fleet.live_processes(),
        vec![],
        "no process of the run survives"
    );
    let report = fleet.report();
    assert_eq!(report["interrupted_by"], "SIGINT");
    assert_eq!(report["exit_code"], 130);
    for name in names {
        assert_eq!(entry(&report, name)["status"], "interrupted", "{report:#}");
        assert_state_unlocked(&fleet, name);
    }
    assert_eq!(entry(&report, "after")["status"], "cancelled");

    std::fs::write(fleet.marker("gate"), "").expect("gate");
    let out = fleet.run("apply", &["--resume", "--report", report_arg]);
    assert!(out.status.success(), "{}", describe(&out));
    let report = fleet.report();
    for name in ["a", "b", "c", "after"] {
        assert_eq!(entry(&report, name)["status"], "succeeded");
        assert_eq!(entry(&report, name)["reused"], false);
    }
}

#[test]
fn sigterm_to_fleet_tf_is_forwarded_to_terraform() {
    let mut fleet = Fleet::new();
    let tf = blocking(&fleet, "only");
    fleet.add("only", &tf, &[]);
    fleet.write_manifest();
    let mut child = fleet
        .fleet("tf")
        .args(["--action", "apply", "--", "-auto-approve"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fleet tf");
    wait_for_file(&fleet.marker("only.started"), Duration::from_secs(60));
    signal(&child, libc::SIGTERM);
    let status = wait_exit(&mut child, Duration::from_secs(60));
    assert!(!status.success());
    assert_eq!(fleet.live_processes(), vec![]);
    assert_state_unlocked(&fleet, "only");
}
