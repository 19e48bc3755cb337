//! Secret values fleet hands to terraform (`secret_env` values, sensitive
//! upstream outputs passed by `inputs_from`) never reach what fleet writes
//! or prints: `logs/<action>.log`, the JSON report, the Markdown summary, the
//! console in both output modes and `fleet tf`'s output. Terraform itself
//! prints them in places (a failed validation's `var.pw is "…"`, the tfvars
//! line it quotes, a precondition's or a provisioner's error message, wrapped
//! over several lines); fleet shows `(sensitive value)` there instead. And a
//! `secret_env` value may only feed a variable declared `sensitive = true`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::runner::*;
use serde_json::json;

const PW_ENV: &str = "FLEET_TEST_SECRET_PW";
const REDACTED: &str = "(sensitive value)";

/// One place fleet wrote or printed something, and what it holds.
struct Sink {
    what: String,
    text: String,
}

fn sink(what: impl Into<String>, text: impl Into<String>) -> Sink {
    Sink {
        what: what.into(),
        text: text.into(),
    }
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}

/// Every log file below the instance run directories.
fn logs(fleet: &Fleet) -> Vec<PathBuf> {
    modes_below(&fleet.workspace.join(".fleet"))
        .into_iter()
        .filter(|(p, _, dir)| !dir && p.extension().is_some_and(|e| e == "log"))
        .map(|(p, _, _)| p)
        .collect()
}

/// `fleet run --action ACTION` in both output modes with a report and a
/// summary, then `fleet tf` of `single` (when given): everything they
/// wrote and printed. Every run must exit with `code`.
fn run_everywhere(
    fleet: &Fleet,
    action: &str,
    env: &[(&str, &str)],
    single: Option<&str>,
    code: i32,
) -> Vec<Sink> {
    let mut sinks = Vec::new();
    for mode in ["grouped", "stream"] {
        let report = fleet.root().join(format!("report-{mode}.json"));
        let summary = fleet.root().join(format!("summary-{mode}.md"));
        let mut cmd = fleet.fleet("run");
        cmd.args(["--action", action, "--output", mode])
            .arg("--report")
            .arg(&report)
            .arg("--summary")
            .arg(&summary)
            .envs(env.iter().copied());
        let out = cmd.output().expect("running fleet");
        assert_eq!(out.status.code(), Some(code), "{mode}: {}", describe(&out));
        sinks.push(sink(format!("{mode} stdout"), stdout(&out)));
        sinks.push(sink(format!("{mode} stderr"), stderr(&out)));
        sinks.push(sink(format!("{mode} report"), read(&report)));
        sinks.push(sink(format!("{mode} summary"), read(&summary)));
        for log in logs(fleet) {
            sinks.push(sink(format!("{mode} {}", log.display()), read(&log)));
        }
    }
    if let Some(name) = single {
        let mut cmd = fleet.fleet("tf");
        cmd.args(["--action", action, "--only", name]);
        if action != "plan" {
            cmd.args(["--", "-auto-approve"]);
        }
        let out: Output = cmd.envs(env.iter().copied()).output().expect("fleet tf");
        assert_eq!(
            out.status.code(),
            Some(code),
            "fleet tf: {}",
            describe(&out)
        );
        let both = format!("{}{}", stdout(&out), stderr(&out));
        sinks.push(sink("fleet tf output", both));
    }
    sinks
}

/// `secret` in the forms it could be printed in: as is, JSON-escaped, with
/// its whitespace collapsed (terraform wraps long messages) and, for a
/// multi-line value, each of its lines.
fn forms(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).unwrap();
    let mut forms = vec![
        secret.to_string(),
        json[1..json.len() - 1].to_string(),
        collapse(secret),
        secret.replace('\\', "\\\\").replace('"', "\\\""),
    ];
    forms.extend(
        secret
            .lines()
            .map(str::trim)
            .filter(|l| l.len() >= 8)
            .map(str::to_string),
    );
    forms
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// No sink holds `secret` in any form; those named in `redacted` show
/// `(sensitive value)` (where terraform printed the value).
fn assert_hidden(sinks: &[Sink], secret: &str, redacted: &[String]) {
    for s in sinks {
        let collapsed = collapse(&s.text);
        for form in forms(secret) {
            assert!(
                !s.text.contains(&form) && !collapsed.contains(&collapse(&form)),
                "{} holds the secret ({form:?}):\n{}",
                s.what,
                s.text
            );
        }
    }
    for want in redacted {
        let matching: Vec<&Sink> = sinks
            .iter()
            .filter(|s| s.what.contains(want.as_str()))
            .collect();
        assert!(!matching.is_empty(), "no sink named {want}");
        for s in matching {
            assert!(
                s.text.contains(REDACTED),
                "{} does not show {REDACTED}:\n{}",
                s.what,
                s.text
            );
        }
    }
}

/// Where terraform's output for instance `name` is shown: its logs, the
/// summary's failure block, the console in both modes, `fleet tf`.
fn shown(name: &str) -> Vec<String> {
    [
        &format!("/pkg/{name}/logs/"),
        "summary",
        "grouped stdout",
        "stream stdout",
        "fleet tf",
    ]
    .map(str::to_string)
    .to_vec()
}

#[test]
fn a_secret_env_value_failing_validation_is_hidden_everywhere() {
    let mut fleet = Fleet::new();
    let main_tf = r#"
variable "pw" {
  type      = string
  sensitive = true
  validation {
    condition     = length(var.pw) > 64
    error_message = "The password must be longer than 64 characters."
  }
}
resource "terraform_data" "d" { input = sha256(var.pw) }
"#;
    fleet.add("db", main_tf, &[]);
    fleet.instance_mut("db")["secret_env"] = json!({"pw": PW_ENV});
    fleet.write_manifest();
    // Quotes and a backslash: terraform prints it escaped, `"Hunter2-\"q\"\\b…"`.
    let secret = r#"Hunter2-"q"\back-s3cret"#;
    let sinks = run_everywhere(&fleet, "plan", &[(PW_ENV, secret)], Some("db"), 1);
    assert_hidden(&sinks, secret, &shown("db"));
    let log = read(&fleet.run_dir("db").join("logs/plan.log"));
    assert!(log.contains(&format!("var.pw is {REDACTED}")), "{log}");
}

#[test]
fn a_sensitive_upstream_output_failing_validation_downstream_is_hidden() {
    let mut fleet = Fleet::new();
    // Assembled, so the source does not hold it; a quote, `<` and a control
    // character: terraform's JSON, fleet's tfvars file and terraform's
    // diagnostics each escape them differently.
    let up = r#"
resource "terraform_data" "t" {
  input = sensitive(join("", ["upstream-t0ps3cret<", "\"tok\"-\u0001-value"]))
}
output "token" {
  value     = terraform_data.t.output
  sensitive = true
}
"#;
    fleet.add("up", up, &[]);
    let down = r#"
variable "token" {
  type      = string
  sensitive = true
  validation {
    condition     = startswith(var.token, "zz")
    error_message = "The token must start with zz."
  }
}
resource "terraform_data" "d" { input = var.token }
"#;
    fleet.add("down", down, &["up"]);
    fleet.input_from("down", "token", "up", "token");
    fleet.write_manifest();
    let out = fleet.run("apply", &["--only", "up"]);
    assert!(out.status.success(), "{}", describe(&out));

    let sinks = run_everywhere(&fleet, "plan", &[], Some("down"), 1);
    let secret = "upstream-t0ps3cret<\"tok\"-\u{1}-value";
    assert_hidden(&sinks, secret, &shown("down"));
    assert_hidden(&sinks, "upstream-t0ps3cret", &[]);
    let log = read(&fleet.run_dir("down").join("logs/plan.log"));
    // The quoted tfvars line and the value line.
    assert!(log.contains(&format!("\"token\": {REDACTED}")), "{log}");
    assert!(log.contains(&format!("var.token is {REDACTED}")), "{log}");
}

#[test]
fn secrets_in_error_messages_and_provisioner_output_are_hidden() {
    let mut fleet = Fleet::new();
    // A precondition whose message shows the value (nonsensitive), wrapped
    // by terraform over several lines: the secret has spaces.
    let precondition = r#"
variable "pw" {
  type      = string
  sensitive = true
}
resource "terraform_data" "d" {
  input = sha256(var.pw)
  lifecycle {
    precondition {
      condition     = length(var.pw) > 500
      error_message = "The passphrase given to this instance, which was ${nonsensitive(var.pw)}, is far too short for the policy of this organisation."
    }
  }
}
"#;
    fleet.add("wrapped", precondition, &[]);
    fleet.instance_mut("wrapped")["secret_env"] = json!({"pw": PW_ENV});
    // A provisioner that fails: terraform suppresses its output while it
    // runs (the environment is sensitive), then quotes all of it in the error.
    let provisioner = r#"
variable "pw" {
  type      = string
  sensitive = true
}
resource "terraform_data" "d" {
  provisioner "local-exec" {
    command     = "printf 'connecting with %s\n' \"$PW\" >&2; exit 3"
    environment = { PW = var.pw }
  }
}
"#;
    fleet.add("provisioner", provisioner, &[]);
    fleet.instance_mut("provisioner")["secret_env"] = json!({"pw": PW_ENV});
    fleet.write_manifest();

    let passphrase = "correct horse battery staple of the operations team kept in the vault";
    for name in ["wrapped", "provisioner"] {
        let sinks = run_only(&fleet, name, &[(PW_ENV, passphrase)]);
        assert_hidden(&sinks, passphrase, &shown(name));
    }
}

/// `run_everywhere` restricted to one instance (`--only`), action apply.
fn run_only(fleet: &Fleet, name: &str, env: &[(&str, &str)]) -> Vec<Sink> {
    let mut sinks = Vec::new();
    for mode in ["grouped", "stream"] {
        let report = fleet.root().join(format!("report-{name}-{mode}.json"));
        let summary = fleet.root().join(format!("summary-{name}-{mode}.md"));
        let out = fleet
            .fleet("run")
            .args(["--action", "apply", "--output", mode, "--only", name])
            .arg("--report")
            .arg(&report)
            .arg("--summary")
            .arg(&summary)
            .envs(env.iter().copied())
            .output()
            .expect("running fleet");
        assert_eq!(out.status.code(), Some(1), "{mode}: {}", describe(&out));
        sinks.push(sink(format!("{mode} stdout"), stdout(&out)));
        sinks.push(sink(format!("{mode} stderr"), stderr(&out)));
        sinks.push(sink(format!("{mode} report"), read(&report)));
        sinks.push(sink(format!("{mode} summary"), read(&summary)));
        let log = fleet.run_dir(name).join("logs/apply.log");
        sinks.push(sink(format!("{mode} {}", log.display()), read(&log)));
    }
    let out = fleet
        .fleet("tf")
        .args(["--action", "apply", "--only", name, "--", "-auto-approve"])
        .envs(env.iter().copied())
        .output()
        .expect("fleet tf");
    assert_eq!(out.status.code(), Some(1), "fleet tf: {}", describe(&out));
    sinks.push(sink(
        "fleet tf output",
        format!("{}{}", stdout(&out), stderr(&out)),
    ));
    sinks
}

#[test]
fn a_multi_line_secret_echoed_line_by_line_is_hidden() {
    let mut fleet = Fleet::new();
    // The provisioner's environment is not sensitive (nonsensitive), so
    // terraform streams each line of the value, prefixed.
    let main_tf = r#"
variable "pw" {
  type      = string
  sensitive = true
}
resource "terraform_data" "d" {
  provisioner "local-exec" {
    command     = "printf '%s\n' \"$KEY\"; exit 3"
    environment = { KEY = nonsensitive(var.pw) }
  }
}
"#;
    fleet.add("key", main_tf, &[]);
    fleet.instance_mut("key")["secret_env"] = json!({"pw": PW_ENV});
    fleet.write_manifest();
    let key = "-----BEGIN PRIVATE KEY-----\n\
               MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n\
               VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDu\n\
               -----END PRIVATE KEY-----";
    let sinks = run_only(&fleet, "key", &[(PW_ENV, key)]);
    assert_hidden(&sinks, key, &shown("key"));
}

#[test]
fn a_secret_env_variable_must_be_declared_sensitive() {
    let mut fleet = Fleet::new();
    let plain = r#"
variable "pw" { type = string }
resource "terraform_data" "d" { input = var.pw }
"#;
    fleet.add("plain", plain, &[]);
    fleet.instance_mut("plain")["secret_env"] = json!({"pw": PW_ENV});
    let undeclared = r#"
resource "terraform_data" "d" { input = "x" }
"#;
    fleet.add("undeclared", undeclared, &[]);
    fleet.instance_mut("undeclared")["secret_env"] = json!({"pw": PW_ENV});
    fleet.write_manifest();
    let secret = "plain-s3cret-value";
    let report = fleet.report_path();
    let out = fleet
        .fleet("run")
        .args(["--action", "plan", "--report", report.to_str().unwrap()])
        .env(PW_ENV, secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let r = fleet.report();
    for name in ["plain", "undeclared"] {
        assert_eq!(entry(&r, name)["status"], "failed", "{r:#}");
        let reason = entry(&r, name)["reason"].as_str().unwrap().to_string();
        for part in [
            format!("//pkg:{name}"),
            "secret_env".to_string(),
            "variable pw".to_string(),
            "sensitive = true".to_string(),
        ] {
            assert!(reason.contains(&part), "{part} in {reason}");
        }
        assert!(
            !fleet.run_dir(name).join(".terraform-data").exists(),
            "terraform never ran for {name}"
        );
        let out = fleet
            .fleet("tf")
            .args(["--action", "plan", "--only", name])
            .env(PW_ENV, secret)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
        assert!(stderr(&out).contains("variable pw"), "{}", describe(&out));
    }
    assert!(
        files_containing(fleet.root(), secret).is_empty(),
        "the value was written nowhere"
    );
}

#[test]
fn an_on_change_hook_printing_a_secret_env_value_is_scrubbed() {
    let mut fleet = Fleet::new();
    let main_tf = r#"
variable "pw" {
  type      = string
  sensitive = true
}
resource "terraform_data" "d" { input = sha256(var.pw) }
"#;
    fleet.add("db", main_tf, &[]);
    fleet.instance_mut("db")["secret_env"] = json!({"pw": PW_ENV});
    fleet.write_manifest();
    // The hook inherits fleet's environment, the secret's variable included.
    let hook = fleet.runfiles.join("pkg/notify.sh");
    fs::create_dir_all(hook.parent().unwrap()).unwrap();
    fs::write(
        &hook,
        format!("#!/bin/sh\necho \"notifying with ${PW_ENV}\"\n"),
    )
    .unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    let mut manifest = read_json(&fleet.manifest);
    manifest["groups"] = json!([{"label": "//pkg:dbs", "name": "dbs", "mode": "parallel",
        "concurrency": 0, "members": ["//pkg:db"], "on_change": "pkg/notify.sh"}]);
    fs::write(
        &fleet.manifest,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();

    let secret = "hook-visible-s3cret";
    let mut sinks = Vec::new();
    for mode in ["grouped", "stream"] {
        // Destroy first, so that the apply changes something and the hook runs.
        let out = fleet
            .fleet("run")
            .args(["--action", "destroy"])
            .env(PW_ENV, secret)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        let report = fleet.root().join(format!("report-{mode}.json"));
        let out = fleet
            .fleet("run")
            .args(["--action", "apply", "--output", mode])
            .arg("--report")
            .arg(&report)
            .env(PW_ENV, secret)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        sinks.push(sink(format!("{mode} stdout"), stdout(&out)));
        sinks.push(sink(format!("{mode} report"), read(&report)));
        let log = fleet
            .workspace
            .join(".fleet/.groups/pkg/dbs/apply.hook.log");
        sinks.push(sink(format!("{mode} hook log"), read(&log)));
    }
    assert_hidden(
        &sinks,
        secret,
        &[
            "hook log".to_string(),
            "grouped stdout".to_string(),
            "stream stdout".to_string(),
        ],
    );
}

#[test]
fn a_value_the_saved_plan_marks_sensitive_is_scrubbed_from_the_log_once_read() {
    let mut fleet = Fleet::new();
    // Sensitive only inside the module: fleet learns it from the plan's JSON
    // (read for --summary). A check block's warning prints it while the plan
    // succeeds.
    let main_tf = r#"
locals { pw = sensitive(join("-", ["module", "made", "s3cret"])) }
resource "terraform_data" "d" { input = local.pw }
check "pw" {
  assert {
    condition     = length(local.pw) > 500
    error_message = "short: ${nonsensitive(local.pw)}"
  }
}
"#;
    fleet.add("mod", main_tf, &[]);
    fleet.write_manifest();
    let summary = fleet.root().join("summary.md");
    let report = fleet.report_path();
    let out = fleet.run(
        "plan",
        &[
            "--summary",
            summary.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let log = fleet.run_dir("mod").join("logs/plan.log");
    let sinks = vec![
        sink("grouped stdout", stdout(&out)),
        sink("log", read(&log)),
        sink("summary", read(&summary)),
        sink("report", read(&report)),
    ];
    assert_hidden(
        &sinks,
        "module-made-s3cret",
        &["grouped stdout".to_string(), "log".to_string()],
    );
    assert!(
        read(&log).contains("short: (sensitive value)"),
        "{}",
        read(&log)
    );
}
