//! The terraform environment policy in run targets (`fleet tf`, `fleet run`):
//! the caller's terraform settings never reach terraform, `secret_env`
//! (`TF_VAR_<name>`) and the instance's own `env` always do.

use std::fs;

use crate::common::runner::*;
use serde_json::json;

const MODULE: &str = r#"
variable "region" {
  default = "from-the-instance"
}
variable "pw" {
  sensitive = true
}
output "region" {
  value = var.region
}
output "pw" {
  value     = var.pw
  sensitive = true
}
output "log_env" {
  value = terraform.workspace
}
"#;

/// Settings a caller may well have exported for another project.
fn with_caller_settings(cmd: &mut std::process::Command, root: &std::path::Path) {
    cmd.env("TF_CLI_ARGS", "-no-such-flag")
        .env("TF_CLI_ARGS_apply", "-no-such-flag")
        .env("TF_CLI_ARGS_init", "-no-such-flag")
        .env("TF_WORKSPACE", "another")
        .env("TF_LOG", "TRACE")
        .env("TF_LOG_PATH", root.join("caller.log"))
        .env("TF_INPUT", "1")
        .env("FLEET_TEST_PW", "s3cret");
}

fn fleet_with_one_instance() -> Fleet {
    let mut fleet = Fleet::new();
    fleet.add("one", MODULE, &[]);
    fleet.instance_mut("one")["secret_env"] = json!({"pw": "FLEET_TEST_PW"});
    fleet.write_manifest();
    fleet
}

fn assert_outputs(fleet: &Fleet, what: &str) {
    let outputs = read_json(&fleet.run_dir("one").join("outputs.json"));
    assert_eq!(
        outputs["region"]["value"], "from-the-instance",
        "{what}: the instance's region changed"
    );
    assert_eq!(
        outputs["pw"]["value"], "s3cret",
        "{what}: secret_env did not pass"
    );
    assert_eq!(
        outputs["log_env"]["value"], "default",
        "{what}: TF_WORKSPACE leaked"
    );
    assert!(
        !fleet.root().join("caller.log").exists(),
        "{what}: TF_LOG_PATH leaked"
    );
}

#[test]
fn fleet_tf_keeps_the_callers_terraform_settings_out() {
    let fleet = fleet_with_one_instance();
    let mut cmd = fleet.fleet("tf");
    cmd.args(["--action", "apply", "--", "-auto-approve"]);
    with_caller_settings(&mut cmd, fleet.root());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        !stderr(&out).contains("[TRACE]"),
        "TF_LOG leaked: {}",
        describe(&out)
    );
    assert_outputs(&fleet, "fleet tf");
}

#[test]
fn fleet_run_keeps_the_callers_terraform_settings_out() {
    let fleet = fleet_with_one_instance();
    let mut cmd = fleet.fleet("run");
    cmd.args(["--action", "apply"]);
    with_caller_settings(&mut cmd, fleet.root());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_outputs(&fleet, "fleet run");
    let log = fs::read_to_string(fleet.run_dir("one").join("logs/apply.log")).unwrap_or_default();
    assert!(!log.contains("[TRACE]"), "TF_LOG leaked into the log");
}

/// The instance's `env` is explicit: it may set what the caller's environment may not.
#[test]
fn the_instance_env_is_applied_after_the_policy() {
    let mut fleet = fleet_with_one_instance();
    fleet.instance_mut("one")["env"] = json!({"TF_VAR_region": "from-env-attribute"});
    fleet.write_manifest();
    let mut cmd = fleet.fleet("tf");
    cmd.args(["--action", "apply", "--", "-auto-approve"]);
    with_caller_settings(&mut cmd, fleet.root());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let outputs = read_json(&fleet.run_dir("one").join("outputs.json"));
    assert_eq!(outputs["region"]["value"], "from-env-attribute");
}
