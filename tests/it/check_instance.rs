//! `fleet check`: one instance planned against mock providers by the real
//! terraform (>= 1.7), as the per-instance build action runs it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

const MODULE: &str = r#"
variable "shape" {
  type = object({ nodes = number, zones = list(string) })
  validation {
    condition     = var.shape.nodes <= 6
    error_message = "shape.nodes must be at most 6."
  }
}
variable "password" {
  type      = string
  default   = ""
  sensitive = true
}
resource "terraform_data" "node" {
  for_each = toset(var.shape.zones)
  input    = { zone = each.key, password = var.password }
}
output "password" {
  value     = var.password
  sensitive = true
}
"#;

const PASSWORD: &str = "pw-check-7c1e";

fn terraform() -> PathBuf {
    let path = crate::common::terraform();
    assert!(
        path.exists(),
        "terraform (>= 1.7) is needed: {} is missing; set TERRAFORM",
        path.display()
    );
    path
}

/// A rendered tree: the module, the instance's values, and a test file of the
/// module's own that must not run (it would fail).
fn tree(scratch: &Scratch, name: &str, vars: &str) -> PathBuf {
    let dir = scratch.mkdir(name);
    fs::write(dir.join("main.tf"), MODULE).unwrap();
    fs::write(dir.join("terraform.tfvars.json"), vars).unwrap();
    fs::write(
        dir.join("own.tftest.hcl"),
        "run \"own\" {\n  command = plan\n  assert {\n    condition     = var.shape.nodes == 100\n    error_message = \"the module's own test ran\"\n  }\n}\n",
    )
    .unwrap();
    dir
}

fn check(tree: &Path, out: &Path, label: &str) -> Run {
    let mut cmd = fleet_cmd([
        "check",
        "--label",
        label,
        "--component",
        "//infra/shape:shape",
    ]);
    cmd.arg("--terraform").arg(terraform());
    cmd.arg("--tree").arg(tree).arg("--out").arg(out);
    cmd.args(["--source", "main.tf=infra/shape/main.tf"]);
    cmd.arg("--source")
        .arg(format!("terraform.tfvars.json={label} vars"));
    // None of this may reach terraform.
    cmd.env("TF_CLI_ARGS", "-no-such-flag")
        .env("TF_CLI_ARGS_test", "-no-such-flag");
    cmd.env("TF_WORKSPACE", "nope")
        .env("TF_DATA_DIR", tree.join("leak"));
    run(cmd)
}

#[test]
fn a_fitting_instance_passes_and_records_its_plan_without_values() {
    let scratch = Scratch::new("check-fits");
    let vars =
        format!(r#"{{"shape": {{"nodes": 2, "zones": ["a", "b"]}}, "password": "{PASSWORD}"}}"#);
    let dir = tree(&scratch, "fits", &vars);
    let out = scratch.join("fits.check.json");
    check(&dir, &out, "//infra/shape:fits").ok();
    let text = fs::read_to_string(&out).unwrap();
    let result: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(result["result"], "pass", "{text}");
    let addresses: Vec<&str> = result["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        [r#"terraform_data.node["a"]"#, r#"terraform_data.node["b"]"#]
    );
    assert_eq!(
        result["resources"][0]["actions"],
        serde_json::json!(["create"])
    );
    assert!(
        !text.contains(PASSWORD),
        "a sensitive value reached the result:\n{text}"
    );
    assert!(
        !text.contains(scratch.path().to_str().unwrap()),
        "an absolute path reached the result:\n{text}"
    );
    assert!(
        !dir.join("leak").exists() && !dir.join(".terraform").exists(),
        "the tree was written to"
    );

    // Same instance elsewhere: same bytes.
    let moved = tree(&scratch, "elsewhere/deeper/fits", &vars);
    let again = scratch.join("again.check.json");
    check(&moved, &again, "//infra/shape:fits").ok();
    assert_eq!(text, fs::read_to_string(&again).unwrap());
}

#[test]
fn a_misfit_fails_naming_label_component_reason_and_source() {
    let scratch = Scratch::new("check-misfit");
    let vars = format!(r#"{{"shape": {{"nodes": 9, "zones": ["a"]}}, "password": "{PASSWORD}"}}"#);
    let dir = tree(&scratch, "big", &vars);
    let run = check(&dir, &scratch.join("big.check.json"), "//infra/shape:big");
    run.expect(5);
    assert_mentions(
        &run.stderr,
        "rules_fleet: //infra/shape:big does not fit //infra/shape:shape:",
        "the failure",
    );
    assert_mentions(
        &run.stderr,
        "shape.nodes must be at most 6.",
        "terraform's reason",
    );
    assert_mentions(
        &run.stderr,
        "validation rule at infra/shape/main.tf:4",
        "the rule's source",
    );
    assert!(!run.stderr.contains(PASSWORD), "{}", run.transcript());
    assert!(
        !run.stderr.contains(scratch.path().to_str().unwrap()),
        "{}",
        run.transcript()
    );
    assert!(
        !run.stderr.contains("the module's own test ran"),
        "{}",
        run.transcript()
    );
}

#[test]
fn a_missing_required_variable_and_a_wrong_type_fail() {
    let scratch = Scratch::new("check-types");
    for (name, vars, reason) in [
        ("missing", "{}", "No value for required variable"),
        (
            "typed",
            r#"{"shape": {"nodes": "many", "zones": 7}}"#,
            "list of string required",
        ),
    ] {
        let dir = tree(&scratch, name, vars);
        let run = check(
            &dir,
            &scratch.join("out.json"),
            &format!("//infra/shape:{name}"),
        );
        run.expect(5);
        assert_mentions(&run.stderr, reason, name);
    }
}

#[test]
fn mock_files_must_name_a_provider_the_module_uses() {
    let scratch = Scratch::new("check-mocks");
    let dir = tree(
        &scratch,
        "fits",
        r#"{"shape": {"nodes": 1, "zones": ["a"]}}"#,
    );
    let mock = scratch.write("aws.tfmock.hcl", "mock_resource \"aws_instance\" {}\n");
    let mut cmd = fleet_cmd(["check", "--label", "//x:fits"]);
    cmd.arg("--terraform")
        .arg(terraform())
        .arg("--tree")
        .arg(&dir);
    cmd.arg("--out").arg(scratch.join("out.json"));
    cmd.arg("--mocks").arg(format!("aws={}", mock.display()));
    let run = run(cmd);
    run.expect(2);
    assert_mentions(&run.stderr, "which the module does not use", "the refusal");
}

/// A module file terraform would reject: the check reports terraform's own
/// diagnostic (exit 5), not a parse error of fleet's (exit 4).
#[test]
fn a_syntax_error_in_the_module_is_reported_in_terraforms_words() {
    let scratch = Scratch::new("check-syntax");
    let dir = tree(
        &scratch,
        "broken",
        r#"{"shape": {"nodes": 1, "zones": ["a"]}}"#,
    );
    fs::write(
        dir.join("broken.tf"),
        "resource \"terraform_data\" \"x\" {\n  input = \"a\"\n",
    )
    .unwrap();
    fs::write(dir.join("worse.tf.json"), "{\"resource\": ").unwrap();
    let run = check(&dir, &scratch.join("out.json"), "//infra/shape:broken");
    run.expect(5);
    assert_mentions(&run.stderr, "//infra/shape:broken", "the label");
    assert_mentions(
        &run.stderr,
        "Unclosed configuration block",
        "terraform's HCL diagnostic",
    );
    assert_mentions(&run.stderr, "broken.tf", "the HCL file");
    assert_mentions(&run.stderr, "worse.tf.json", "the JSON file");
    assert!(
        !run.stderr.contains("does not parse as"),
        "{}",
        run.transcript()
    );
}

const PIN_MODULE: &str = r#"
variable "admin_pin" {
  type      = string
  sensitive = true
  validation {
    condition     = can(regex("^[0-9]{6}$", var.admin_pin))
    error_message = "admin_pin ${var.admin_pin} must be six digits."
  }
}
variable "pins" {
  type      = map(string)
  default   = {}
  sensitive = true
  validation {
    condition     = alltrue([for p in values(var.pins) : length(p) == 6])
    error_message = "every pin must have six characters: ${jsonencode(var.pins)}."
  }
}
resource "terraform_data" "node" {
  input = var.admin_pin
}
"#;

/// `terraform test` prints a sensitive variable's value where its validation
/// quotes it (the value line and an error_message built from it): whether it
/// comes from `vars`, a var file or the env file, the failure text and the
/// result say `(sensitive value)` instead. Fails on the old code (it printed
/// terraform's words as they were).
#[test]
fn a_sensitive_value_quoted_by_a_failed_validation_is_never_printed_or_recorded() {
    let scratch = Scratch::new("check-sensitive");
    let cases = [
        ("vars", "pin-in-vars-93ac\"q", None, None),
        (
            "file",
            "pin-in-file-51be",
            Some("admin_pin = \"pin-in-file-51be\"\n"),
            None,
        ),
        (
            "env",
            "pin-in-env-0d4f",
            None,
            Some(r#"{"TF_VAR_admin_pin": "pin-in-env-0d4f"}"#),
        ),
    ];
    for (name, secret, var_file, env) in cases {
        let dir = scratch.mkdir(name);
        fs::write(dir.join("main.tf"), PIN_MODULE).unwrap();
        let vars = match (var_file, env) {
            (None, None) => serde_json::json!({ "admin_pin": secret }),
            _ => serde_json::json!({}),
        };
        // A second sensitive value, nested in a map, from a var file.
        fs::write(dir.join("terraform.tfvars.json"), vars.to_string()).unwrap();
        let pins = "pins = { a = \"nested-pin-77e1x\" }\n";
        fs::write(dir.join("fleet-001-pins.auto.tfvars"), pins).unwrap();
        if let Some(text) = var_file {
            fs::write(dir.join("fleet-002-pin.auto.tfvars"), text).unwrap();
        }
        let out = scratch.join(format!("{name}.check.json"));
        let mut cmd = fleet_cmd(["check", "--label", "//db:main", "--component", "//db:db"]);
        cmd.arg("--terraform")
            .arg(terraform())
            .arg("--tree")
            .arg(&dir)
            .arg("--out")
            .arg(&out);
        if let Some(json) = env {
            cmd.arg("--env-file")
                .arg(scratch.write(format!("{name}.env.json"), json));
        }
        let run = run(cmd);
        run.expect(5);
        let result = fs::read_to_string(&out).unwrap();
        for text in [&run.stderr, &result] {
            for leaked in [secret, "nested-pin-77e1x"] {
                let escaped = serde_json::to_string(leaked).unwrap();
                assert!(
                    !text.contains(leaked) && !text.contains(&escaped[1..escaped.len() - 1]),
                    "{name}: {leaked} leaked:\n{}\n{result}",
                    run.transcript()
                );
            }
        }
        assert_mentions(&run.stderr, "must be six digits", name);
        assert_mentions(
            &run.stderr,
            "admin_pin (sensitive value) must be six digits",
            name,
        );
        assert_mentions(&run.stderr, "var.admin_pin is (sensitive value)", name);
        assert_mentions(&result, "(sensitive value)", name);
    }
}

const RUN_VALUES_MODULE: &str = r#"
variable "nodes" {
  type    = number
  default = 1
  validation {
    condition     = var.nodes <= 6
    error_message = "nodes must be at most 6."
  }
}
resource "terraform_data" "node" {
  input = var.nodes
  lifecycle {
    precondition {
      condition     = terraform.workspace != "default"
      error_message = "workspace is ${terraform.workspace}."
    }
  }
}
"#;

/// The plan sees the instance's env (`TF_VAR_*`, below the values files as at
/// run time) and its workspace; the caller's `TF_WORKSPACE` never. Fails on
/// the old code (no --workspace / --env-file: the plan ran in `default`).
#[test]
fn the_plan_sees_the_instances_env_and_workspace() {
    let scratch = Scratch::new("check-run-values");
    let check_with = |name: &str, vars: &str, workspace: Option<&str>, env: Option<&str>| {
        let dir = scratch.mkdir(name);
        fs::write(dir.join("main.tf"), RUN_VALUES_MODULE).unwrap();
        fs::write(dir.join("terraform.tfvars.json"), vars).unwrap();
        let mut cmd = fleet_cmd(["check", "--label", "//x:i", "--component", "//x:c"]);
        cmd.arg("--terraform")
            .arg(terraform())
            .arg("--tree")
            .arg(&dir);
        cmd.arg("--out").arg(scratch.join(format!("{name}.json")));
        if let Some(workspace) = workspace {
            cmd.args(["--workspace", workspace]);
        }
        if let Some(json) = env {
            cmd.arg("--env-file")
                .arg(scratch.write(format!("{name}.env.json"), json));
        }
        cmd.env("TF_WORKSPACE", "from-the-caller");
        run(cmd)
    };
    let nine = Some(r#"{"TF_VAR_nodes": "9"}"#);
    let run = check_with("default", "{}", None, None);
    run.expect(5);
    assert_mentions(
        &run.stderr,
        "workspace is default.",
        "the default workspace",
    );
    check_with("prod", "{}", Some("prod"), None).ok();
    let run = check_with("env", "{}", Some("prod"), nine);
    run.expect(5);
    assert_mentions(
        &run.stderr,
        "nodes must be at most 6.",
        "env's TF_VAR_nodes",
    );
    // vars win over the environment, as in a run.
    check_with("vars-win", r#"{"nodes": 2}"#, Some("prod"), nine).ok();
    let run = check_with(
        "not-tf-var",
        "{}",
        Some("prod"),
        Some(r#"{"TF_LOG": "trace"}"#),
    );
    run.expect(2);
    assert_mentions(
        &run.stderr,
        "TF_LOG is not a TF_VAR_* variable",
        "the refusal",
    );
    // A malformed file is refused by position, without quoting its values.
    let run = check_with(
        "not-string",
        "{}",
        Some("prod"),
        Some(r#"{"TF_VAR_nodes": 86420}"#),
    );
    run.expect(2);
    assert_mentions(
        &run.stderr,
        "must be a JSON object of strings",
        "the refusal",
    );
    assert!(!run.stderr.contains("86420"), "{}", run.transcript());
}
