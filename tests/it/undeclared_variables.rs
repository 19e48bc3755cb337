//! `fleet render --label`: every variable an instance sets (its `vars`, its
//! var files, `secret_env`, `inputs_from`, env `TF_VAR_*`) must be declared by
//! the rendered root module; terraform would only warn, or say nothing.

use std::fs;

use crate::common::*;

const MODULE: &str = r#"
variable "size" {
  type    = number
  default = 1
}
variable "password" {
  type      = string
  default   = ""
  sensitive = true
}
"#;

const JSON_MODULE: &str = r#"{"variable": {"node_type": {"type": "string"}}}"#;

fn render(scratch: &Scratch, name: &str, vars: &str, var_file: &str, sets: &[&str]) -> Run {
    let dir = scratch.mkdir(format!("src-{name}"));
    let main = dir.join("main.tf");
    fs::write(&main, MODULE).unwrap();
    let json = dir.join("more.tf.json");
    fs::write(&json, JSON_MODULE).unwrap();
    let tfvars = dir.join("vars.json");
    fs::write(&tfvars, vars).unwrap();
    let file = dir.join("prod.tfvars");
    fs::write(&file, var_file).unwrap();
    let mut cmd = fleet_cmd([
        "render",
        "--label",
        "//infra/x:a",
        "--component",
        "//infra/x:x",
    ]);
    cmd.arg("--out").arg(scratch.join(format!("out-{name}")));
    cmd.args(["--values", "terraform.tfvars.json=vars"]);
    cmd.args([
        "--values",
        "fleet-001-prod.auto.tfvars=var_files infra/x/prod.tfvars",
    ]);
    for set in sets {
        cmd.args(["--sets", set]);
    }
    cmd.arg("--");
    cmd.arg("main.tf").arg(&main).arg("more.tf.json").arg(&json);
    cmd.arg("terraform.tfvars.json").arg(&tfvars);
    cmd.arg("fleet-001-prod.auto.tfvars").arg(&file);
    run(cmd)
}

/// Fails on the old code: render knew no --label and wrote the tree.
#[test]
fn a_misspelt_key_fails_naming_it_and_what_it_likely_meant() {
    let scratch = Scratch::new("undeclared");
    let run = render(
        &scratch,
        "vars",
        r#"{"size": 1, "sizee": 2}"#,
        "node_type = \"small\"\n",
        &[],
    );
    run.expect(5);
    assert_mentions(
        &run.stderr,
        "rules_fleet: //infra/x:a sets \"sizee\", which //infra/x:x does not declare (did you mean \"size\"?)\n  set in vars",
        "the misspelt vars key",
    );
    assert_mentions(
        &run.stderr,
        "//infra/x:x declares: node_type, password, size",
        "the declared names",
    );
}

#[test]
fn every_way_of_setting_a_variable_is_checked() {
    let scratch = Scratch::new("undeclared-sources");
    let run = render(
        &scratch,
        "all",
        r#"{"size": 1}"#,
        "node_typ = \"small\"\n",
        &[
            "pasword=secret_env",
            "upstream=inputs_from",
            "sise=env TF_VAR_sise",
        ],
    );
    run.expect(5);
    for (name, suggestion, source) in [
        (
            "node_typ",
            Some("node_type"),
            "var_files infra/x/prod.tfvars",
        ),
        ("pasword", Some("password"), "secret_env"),
        ("upstream", None, "inputs_from"),
        ("sise", Some("size"), "env TF_VAR_sise"),
    ] {
        let mut line =
            format!("rules_fleet: //infra/x:a sets {name:?}, which //infra/x:x does not declare");
        if let Some(suggestion) = suggestion {
            line.push_str(&format!(" (did you mean {suggestion:?}?)"));
        }
        line.push_str(&format!("\n  set in {source}\n"));
        assert_mentions(&run.stderr, &line, name);
    }
}

#[test]
fn declared_names_render_and_unparseable_modules_are_left_to_terraform() {
    let scratch = Scratch::new("undeclared-ok");
    let rendered = render(
        &scratch,
        "ok",
        r#"{"size": 1, "node_type": "big"}"#,
        "password = \"x\"\n",
        &["password=secret_env"],
    );
    rendered.ok();
    assert!(scratch.join("out-ok/main.tf").is_file());

    // A module file fleet cannot parse: terraform, which runs next, says why.
    let dir = scratch.mkdir("broken");
    let main = dir.join("main.tf");
    fs::write(&main, "variable \"size\" {\n").unwrap();
    let vars = dir.join("vars.json");
    fs::write(&vars, r#"{"sizee": 1}"#).unwrap();
    let mut cmd = fleet_cmd(["render", "--label", "//x:a", "--component", "//x:x"]);
    cmd.arg("--out").arg(scratch.join("out-broken"));
    cmd.args(["--values", "terraform.tfvars.json=vars", "--"]);
    cmd.arg("main.tf")
        .arg(&main)
        .arg("terraform.tfvars.json")
        .arg(&vars);
    run(cmd).ok();
}
