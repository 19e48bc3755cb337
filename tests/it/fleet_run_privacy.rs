//! What fleet and terraform write under the fleet root is private to the
//! user whatever the umask; a sensitive upstream output stays sensitive
//! downstream; secrets from `secret_env` or the command line are never
//! written anywhere.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::runner::*;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Runs `cmd` with umask 000, as a careless caller might.
fn with_open_umask(mut cmd: Command) -> Output {
    // SAFETY: umask(2) is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    cmd.output().expect("running fleet")
}

/// Every directory below `root` is 0700 and every file 0600 or 0700.
fn assert_private(root: &Path) {
    let open: Vec<String> = modes_below(root)
        .into_iter()
        .filter(|(_, mode, _)| mode & 0o077 != 0)
        .map(|(path, mode, _)| format!("{:o} {}", mode, path.display()))
        .collect();
    assert!(open.is_empty(), "readable by others: {open:#?}");
}

const UPSTREAM: &str = r#"
# Assembled, so the source itself does not hold the value; sensitive, so
# the upstream's own plan does not show it.
resource "terraform_data" "t" { input = sensitive(join("", ["t0ps3", "cret-token"])) }
output "token" {
  value     = terraform_data.t.output
  sensitive = true
}
output "name" { value = "up" }
"#;

/// up (a sensitive output), down (reads it into a sensitive variable) and,
/// with `leaky`, an instance that reads it into a plain variable.
fn sensitive_fleet(leaky: bool) -> Fleet {
    let mut fleet = Fleet::new();
    fleet.add("up", UPSTREAM, &[]);
    let down = r#"
variable "token" {
  type      = string
  sensitive = true
}
resource "terraform_data" "d" { input = var.token }
"#;
    fleet.add("down", down, &["up"]);
    fleet.input_from("down", "token", "up", "token");
    if leaky {
        let plain = r#"
variable "token" { type = string }
resource "terraform_data" "d" { input = var.token }
"#;
        fleet.add("leaky", plain, &["up"]);
        fleet.input_from("leaky", "token", "up", "token");
    }
    fleet.write_manifest();
    fleet
}

#[test]
fn run_directories_and_reports_are_private_whatever_the_umask() {
    let fleet = sensitive_fleet(false);
    let report = fleet.report_path();
    for action in ["apply", "plan"] {
        let mut cmd = fleet.fleet("run");
        cmd.args(["--action", action, "--report", report.to_str().unwrap()]);
        let out = with_open_umask(cmd);
        assert!(out.status.success(), "{}", describe(&out));
        assert!(!stdout(&out).contains("t0ps3cret"), "{}", describe(&out));
    }
    assert!(fleet.run_dir("down").join("plan.tfplan").is_file());
    assert_private(&fleet.workspace.join(".fleet"));
    let report_mode = std::fs::metadata(&report).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&report_mode) & 0o777,
        0o600
    );
    let logs = fleet.run_dir("down").join("logs");
    assert!(logs.join("apply.log").is_file() && logs.join("plan.log").is_file());
    let holding = files_containing(&fleet.workspace, "t0ps3cret");
    assert!(
        holding.iter().all(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            // Only where terraform keeps values (state, saved plan) and the
            // private files that carry them from up to down: no log.
            [
                "terraform.tfstate",
                "plan.tfplan",
                "outputs.json",
                "fleet.inputs.auto.tfvars.json",
            ]
            .contains(&name.as_ref())
        }),
        "{holding:#?}"
    );
}

#[test]
fn a_sensitive_output_feeds_only_a_variable_declared_sensitive() {
    let fleet = sensitive_fleet(true);
    let report = fleet.report_path();
    let out = fleet.run("apply", &["--report", report.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "leaky fails: {}",
        describe(&out)
    );
    let r = fleet.report();
    assert_eq!(entry(&r, "up")["status"], "succeeded", "{r:#}");
    assert_eq!(entry(&r, "down")["status"], "succeeded", "{r:#}");
    assert_eq!(entry(&r, "leaky")["status"], "failed", "{r:#}");
    let reason = entry(&r, "leaky")["reason"].as_str().unwrap().to_string();
    for part in [
        "//pkg:up",
        "//pkg:leaky",
        "\"token\"",
        "variable token",
        "sensitive",
    ] {
        assert!(reason.contains(part), "{part} in {reason}");
    }
    assert!(
        !fleet.run_dir("leaky").join(".terraform-data").exists(),
        "terraform never ran for leaky"
    );
    let out = fleet
        .fleet("tf")
        .args(["--action", "plan", "--only", "leaky"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(stderr(&out).contains("//pkg:up"), "{}", describe(&out));
    assert_eq!(
        files_containing(&fleet.workspace, "t0ps3cret")
            .iter()
            .filter(|p| p.starts_with(fleet.run_dir("leaky")))
            .count(),
        0,
        "the value never reached leaky's run directory"
    );
}

#[test]
fn secrets_from_the_environment_and_the_command_line_are_written_nowhere() {
    let mut fleet = Fleet::new();
    let uses_pw = r#"
variable "pw" {
  type      = string
  sensitive = true
}
resource "terraform_data" "h" { input = sha256(var.pw) }
output "h" { value = terraform_data.h.output }
"#;
    fleet.add("env", uses_pw, &[]);
    fleet.instance_mut("env")["secret_env"] = json!({"pw": "FLEET_TEST_DB_PASSWORD"});
    fleet.add("cli", uses_pw, &[]);
    fleet.write_manifest();
    let report = fleet.report_path();
    let from_env = "S3cr3t-from-env";
    let from_cli = "S3cr3t-from-cli";

    let out = fleet
        .fleet("run")
        .args([
            "--action",
            "apply",
            "--only",
            "env",
            "--report",
            report.to_str().unwrap(),
        ])
        .env_remove("FLEET_TEST_DB_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let reason = entry(&fleet.report(), "env")["reason"]
        .as_str()
        .unwrap()
        .to_string();
    for part in ["//pkg:env", "pw", "FLEET_TEST_DB_PASSWORD"] {
        assert!(reason.contains(part), "{part} in {reason}");
    }
    let out = fleet
        .fleet("tf")
        .args(["--action", "plan", "--only", "env"])
        .env_remove("FLEET_TEST_DB_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("FLEET_TEST_DB_PASSWORD"),
        "{}",
        describe(&out)
    );
    assert!(
        !fleet.run_dir("env").join(".terraform-data").exists(),
        "no terraform ran"
    );

    let out = fleet
        .fleet("run")
        .args([
            "--action",
            "apply",
            "--only",
            "env",
            "--report",
            report.to_str().unwrap(),
        ])
        .env("FLEET_TEST_DB_PASSWORD", from_env)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let out = fleet
        .fleet("tf")
        .args(["--action", "apply", "--only", "cli", "--", "-auto-approve"])
        .args(["-var", &format!("pw={from_cli}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));

    // Terraform got them: the state holds their hashes.
    for (name, secret) in [("env", from_env), ("cli", from_cli)] {
        let outputs = read_json(&fleet.run_dir(name).join("outputs.json"));
        assert_eq!(
            outputs["h"]["value"],
            hex(Sha256::digest(secret.as_bytes()))
        );
    }
    // And nothing under the fleet root or in the report holds them, state included.
    for secret in [from_env, from_cli] {
        assert_eq!(
            files_containing(fleet.root(), secret),
            Vec::<std::path::PathBuf>::new()
        );
    }
}

fn hex(bytes: impl AsRef<[u8]>) -> String {
    bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
