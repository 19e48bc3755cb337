//! `fleet tf`: one instance, the real terraform, output to the terminal.

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::common::runner::*;
use serde_json::json;

#[test]
fn apply_plan_and_output_work_in_the_instance_run_directory() {
    let mut fleet = Fleet::new();
    fleet.add("one", &module("true"), &[]);
    fs::write(
        fleet.rendered("one").join("extra.tf"),
        "output \"extra\" { value = 42 }\n",
    )
    .unwrap();
    fleet.write_manifest();
    let out = fleet
        .fleet("tf")
        .args(["--action", "apply", "--", "-auto-approve"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        !all.contains("Unable to open CLI configuration file"),
        "own CLI config: {all}"
    );
    assert!(all.contains("Apply complete! Resources: 1 added"), "{all}");

    let dir = fleet.run_dir("one");
    for file in [
        "terraform.tfstate",
        ".terraformrc",
        ".fleet.lock",
        "outputs.json",
        "main.tf",
        "backend.tf.json",
    ] {
        assert!(dir.join(file).is_file(), "{file} in {}", dir.display());
    }
    assert!(
        dir.join(".terraform-data").is_dir() && !dir.join(".terraform").exists(),
        "private TF_DATA_DIR"
    );
    assert_eq!(read_json(&dir.join("outputs.json"))["extra"]["value"], 42);

    let out = fleet
        .fleet("tf")
        .args(["--action", "output", "--", "-raw", "value"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "v", "{}", describe(&out));
    let out = fleet
        .fleet("tf")
        .args(["--action", "output", "--", "-json"])
        .output()
        .unwrap();
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed,
        read_json(&dir.join("outputs.json")),
        "outputs.json is terraform output -json"
    );

    // A file no longer rendered leaves the run directory.
    fs::remove_file(fleet.rendered("one").join("extra.tf")).unwrap();
    let out = fleet
        .fleet("tf")
        .args(["--action", "plan", "--", "-detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "the output went away, a change: {}",
        describe(&out)
    );
    assert!(!dir.join("extra.tf").exists());

    let out = fleet
        .fleet("tf")
        .args(["--action", "destroy", "--", "-auto-approve"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!dir.join("outputs.json").exists());
}

#[test]
fn workspace_and_inputs_from_upstream_outputs() {
    let mut fleet = Fleet::new();
    let up = "output \"ids\" { value = [1, 2] }\noutput \"name\" { value = \"up\" }\n";
    fleet.add("up", up, &[]);
    let down = r#"
variable "ids" { type = list(number) }
variable "from" { type = string }
output "sum" { value = sum(var.ids) }
output "from" { value = var.from }
"#;
    fleet.add("down", down, &["up"]);
    fleet.input_from("down", "ids", "up", "ids");
    fleet.input_from("down", "from", "up", "name");
    fleet.instance_mut("down")["workspace"] = json!("blue");
    fleet.write_manifest();

    let apply = |name: &str| {
        fleet
            .fleet("tf")
            .args(["--action", "apply", "--only", name, "--", "-auto-approve"])
            .output()
            .unwrap()
    };
    let out = apply("down");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("//pkg:up"),
        "names the upstream: {}",
        describe(&out)
    );

    assert!(apply("//pkg:up").status.success());
    let out = apply("down");
    assert!(out.status.success(), "{}", describe(&out));
    let outputs = read_json(&fleet.run_dir("down").join("outputs.json"));
    assert_eq!(
        (
            outputs["sum"]["value"].clone(),
            outputs["from"]["value"].clone()
        ),
        (json!(3), json!("up"))
    );
    assert!(fleet
        .run_dir("down")
        .join("terraform.tfstate.d/blue/terraform.tfstate")
        .is_file());
}

#[test]
fn same_instance_waits_naming_the_holder_other_instances_do_not() {
    let mut fleet = Fleet::new();
    let m = fleet.markers.display().to_string();
    let gated = format!("echo run >> {m}/x.runs\ntouch {m}/x.started\ntimeout --foreground 120 sh -c 'until [ -e {m}/gate ]; do sleep 0.05; done'");
    fleet.add("x", &module(&gated), &[]);
    fleet.add("y", &module("true"), &[]);
    fleet.write_manifest();
    let tf = |name: &str| {
        let mut cmd = fleet.fleet("tf");
        cmd.args(["--action", "apply", "--only", name, "--", "-auto-approve"]);
        cmd
    };
    let mut first = tf("x")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_file(&fleet.marker("x.started"), Duration::from_secs(60));

    // y is applied from start to end while x's lock is held.
    let out = tf("y").output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));

    let mut second = tf("x")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(second.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let lock = fleet.run_dir("x").join(".fleet.lock");
    assert!(
        line.contains(&format!(
            "waiting for lock {} held by pid {}",
            lock.display(),
            first.id()
        )),
        "{line}"
    );
    assert!(
        line.contains("fleet tf --action apply //pkg:x"),
        "says what the holder does: {line}"
    );
    fs::write(fleet.marker("gate"), "").unwrap();
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
    assert_eq!(
        fs::read_to_string(fleet.marker("x.runs"))
            .unwrap()
            .lines()
            .count(),
        1
    );
}

#[test]
fn bad_invocations_have_typed_exit_codes() {
    let mut fleet = Fleet::new();
    fleet.add("a", &module("true"), &[]);
    fleet.add("b", &module("true"), &[]);
    fleet.write_manifest();
    let code = |args: &[&str]| fleet.fleet("tf").args(args).output().unwrap().status.code();
    assert_eq!(
        code(&["--action", "plan"]),
        Some(2),
        "two instances, none picked"
    );
    assert_eq!(code(&["--action", "plan", "--only", "zzz"]), Some(2));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fleet"))
        .args(["tf", "--action", "plan", "--only", "a", "--manifest"])
        .arg(&fleet.manifest)
        .env_remove("BUILD_WORKSPACE_DIRECTORY")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "no workspace root: {}",
        describe(&out)
    );
    fs::write(&fleet.manifest, "{not json").unwrap();
    assert_eq!(code(&["--action", "plan", "--only", "a"]), Some(4));
}
