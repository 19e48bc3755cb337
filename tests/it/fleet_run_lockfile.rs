//! A rendered `.terraform.lock.hcl` is authoritative at run time: `init`
//! runs with `-lockfile=readonly`, so a provider the lock file does not
//! cover fails init instead of being trusted on first use and recorded.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::runner::*;

const MAIN_TF: &str = r#"
terraform {
  required_providers {
    fake = {
      source  = "example.com/test/fake"
      version = "1.0.0"
    }
  }
}
"#;

/// A lock file that covers only another provider.
const LOCK_FILE: &str = r#"# This file is maintained automatically by "terraform init".
provider "example.com/test/other" {
  version     = "2.0.0"
  constraints = "2.0.0"
  hashes = [
    "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
  ]
}
"#;

/// An instance needing example.com/test/fake, which terraform finds in the
/// working directory's implied mirror (`terraform.d/plugins`), as it would
/// on any machine that has it: only the lock file can refuse it.
fn fleet_with_uncovered_provider() -> Fleet {
    let mut fleet = Fleet::new();
    fleet.add("x", MAIN_TF, &[]);
    let rendered = fleet.rendered("x");
    fs::write(rendered.join(".terraform.lock.hcl"), LOCK_FILE).unwrap();
    let plugin_dir = rendered.join("terraform.d/plugins/example.com/test/fake/1.0.0/linux_amd64");
    fs::create_dir_all(&plugin_dir).unwrap();
    let binary = plugin_dir.join("terraform-provider-fake_v1.0.0");
    fs::write(
        &binary,
        "#!/bin/sh\necho 'not a real provider' >&2\nexit 1\n",
    )
    .unwrap();
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
    fleet.write_manifest();
    fleet
}

fn assert_refused(fleet: &Fleet, text: &str) {
    let lock = fleet.run_dir("x").join(".terraform.lock.hcl");
    assert_eq!(
        fs::read_to_string(&lock).unwrap(),
        LOCK_FILE,
        "init left the lock file as rendered"
    );
    assert!(
        text.contains("Provider dependency changes detected"),
        "says why: {text}"
    );
}

#[test]
fn fleet_tf_init_does_not_add_providers_to_the_lock_file() {
    let fleet = fleet_with_uncovered_provider();
    let out = fleet
        .fleet("tf")
        .args(["--action", "plan"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        stderr(&out).contains("terraform init failed"),
        "{}",
        describe(&out)
    );
    assert_refused(&fleet, &format!("{}{}", stdout(&out), stderr(&out)));
}

#[test]
fn fleet_run_init_does_not_add_providers_to_the_lock_file() {
    let fleet = fleet_with_uncovered_provider();
    let out = fleet.run("plan", &["--report", fleet.report_path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report = fleet.report();
    assert_eq!(
        entry(&report, "x")["reason"],
        "terraform init exited with 1",
        "{report:#}"
    );
    let log = fs::read_to_string(fleet.run_dir("x").join("logs/plan.log")).unwrap();
    assert!(log.contains("-lockfile=readonly"), "{log}");
    assert_refused(&fleet, &log);
}
