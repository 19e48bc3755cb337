//! `fleet run` against the real terraform: order, limit, failures, resume,
//! plans, destroy, output modes, cycles and arguments.

use std::fs;
use std::time::Duration;

use crate::common::runner::*;
use serde_json::json;

fn interval(report: &serde_json::Value, name: &str) -> (f64, f64) {
    let e = entry(report, name);
    (
        e["started_unix_ms"].as_f64().expect("start"),
        e["ended_unix_ms"].as_f64().expect("end"),
    )
}

#[test]
fn dependencies_run_in_order_and_outputs_flow_with_their_types() {
    let mut fleet = Fleet::new();
    let network = r#"
resource "terraform_data" "vpc" { input = "vpc-123" }
output "vpc_id" { value = terraform_data.vpc.output }
output "cidrs" { value = ["10.0.0.0/24", "10.0.1.0/24"] }
output "size" { value = 3 }
output "tags" { value = { env = "test", on = true } }
"#;
    fleet.add("network", network, &[]);
    let subnet = r#"
variable "vpc_id" { type = string }
variable "cidrs" { type = list(string) }
resource "terraform_data" "s" { input = "${var.vpc_id}/${var.cidrs[1]}" }
output "subnet_id" { value = terraform_data.s.output }
"#;
    fleet.add("subnet", subnet, &["network"]);
    fleet.input_from("subnet", "vpc_id", "network", "vpc_id");
    fleet.input_from("subnet", "cidrs", "network", "cidrs");
    let app = r#"
variable "subnet_id" { type = string }
variable "size" { type = number }
variable "tags" { type = object({ env = string, on = bool }) }
resource "terraform_data" "a" { input = var.size * 2 }
output "seen" { value = { subnet = var.subnet_id, doubled = terraform_data.a.output, on = var.tags.on } }
"#;
    fleet.add("app", app, &["subnet", "network"]);
    fleet.input_from("app", "subnet_id", "subnet", "subnet_id");
    fleet.input_from("app", "size", "network", "size");
    fleet.input_from("app", "tags", "network", "tags");
    fleet.write_manifest();

    let out = fleet.run(
        "apply",
        &["--report", fleet.report_path().to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let report = fleet.report();
    let (_, net_end) = interval(&report, "network");
    let (sub_start, sub_end) = interval(&report, "subnet");
    let (app_start, _) = interval(&report, "app");
    assert!(
        sub_start >= net_end && app_start >= sub_end,
        "order: {report:#}"
    );
    let seen = read_json(&fleet.run_dir("app").join("outputs.json"));
    assert_eq!(
        seen["seen"]["value"],
        json!({"subnet": "vpc-123/10.0.1.0/24", "doubled": 6, "on": true}),
        "values keep their JSON types"
    );
    let inputs = read_json(&fleet.run_dir("app").join("fleet.inputs.auto.tfvars.json"));
    assert_eq!(inputs["tags"], json!({"env": "test", "on": true}));
    let app = entry(&report, "app");
    assert_eq!(app["status"], "succeeded");
    assert_eq!(
        app["resources"],
        json!({"added": 1, "changed": 0, "destroyed": 0})
    );
    assert_eq!(app["exit_code"], 0);
    assert!(app["log"]
        .as_str()
        .unwrap()
        .ends_with("pkg/app/logs/apply.log"));
    assert!(fs::read_to_string(app["log"].as_str().unwrap())
        .unwrap()
        .contains("Apply complete!"));
    assert!(
        stdout(&out).contains("ADDED"),
        "summary table: {}",
        describe(&out)
    );

    // Destroy walks the graph in reverse and forgets outputs.
    let out = fleet.run(
        "destroy",
        &["--report", fleet.report_path().to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let report = fleet.report();
    let (net_start, _) = interval(&report, "network");
    let (sub_start, sub_end) = interval(&report, "subnet");
    let (_, app_end) = interval(&report, "app");
    assert!(
        sub_start >= app_end && net_start >= sub_end,
        "reverse order: {report:#}"
    );
    assert_eq!(entry(&report, "network")["resources"]["destroyed"], 1);
    assert!(!fleet.run_dir("network").join("outputs.json").exists());
    assert_eq!(fleet.state("app")["resources"], json!([]));
}

#[test]
fn at_most_n_instances_run_at_once() {
    let mut fleet = Fleet::new();
    // The first two must be running together (each waits for the other's
    // start marker), so the limit is reached, never exceeded.
    let names = ["i1", "i2", "i3", "i4", "i5"];
    for name in names {
        let wait = format!(
            "timeout --foreground 60 sh -c 'until [ $(ls {m} | grep -c \"\\.start$\") -ge 2 ]; do sleep 0.02; done'",
            m = fleet.markers.display()
        );
        fleet.add(name, &module(&timed(&fleet.markers, name, &wait)), &[]);
    }
    fleet.write_manifest();
    let report_path = fleet.report_path();
    let out = fleet.run(
        "apply",
        &[
            "--parallelism",
            "2",
            "--report",
            report_path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let report = fleet.report();
    assert_eq!(report["parallelism"], 2);
    let runner: Vec<(f64, f64)> = names.iter().map(|n| interval(&report, n)).collect();
    assert_eq!(max_overlap(&runner), 2, "report intervals {runner:?}");
    let read = |p: std::path::PathBuf| {
        fs::read_to_string(p)
            .unwrap()
            .trim()
            .parse::<f64>()
            .unwrap()
    };
    let inside: Vec<(f64, f64)> = names
        .iter()
        .map(|n| {
            (
                read(fleet.marker(&format!("{n}.start"))),
                read(fleet.marker(&format!("{n}.end"))),
            )
        })
        .collect();
    assert_eq!(max_overlap(&inside), 2, "provisioner intervals {inside:?}");
}

#[test]
fn failure_skips_dependents_keeps_going_and_resume_reruns_the_rest() {
    let mut fleet = Fleet::new();
    let counting = |fleet: &Fleet, name: &str| {
        module(&format!(
            "echo run >> {}",
            fleet.marker(&format!("{name}.runs")).display()
        ))
    };
    // terraform_data with a changing input re-runs its provisioner per apply.
    let always = |script: String| script.replace("input = var.value", "input = timestamp()");
    let good = always(counting(&fleet, "good"));
    fleet.add("good", &good, &[]);
    fleet.add(
        "bad",
        &always(module("echo failing on purpose; exit 1")),
        &[],
    );
    let child = always(counting(&fleet, "child"));
    fleet.add("child", &child, &["bad"]);
    let grandchild = always(counting(&fleet, "grandchild"));
    fleet.add("grandchild", &grandchild, &["child"]);
    fleet.write_manifest();
    let report_path = fleet.report_path();
    let report_arg = report_path.to_str().unwrap();

    let out = fleet.run("apply", &["--report", report_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report = fleet.report();
    assert_eq!(report["exit_code"], 1);
    assert_eq!(entry(&report, "good")["status"], "succeeded");
    assert_eq!(entry(&report, "bad")["status"], "failed");
    assert_eq!(entry(&report, "bad")["exit_code"], 1);
    assert_eq!(entry(&report, "child")["status"], "skipped");
    assert_eq!(
        entry(&report, "child")["reason"],
        "upstream dependencies failed: bad"
    );
    assert_eq!(
        entry(&report, "grandchild")["reason"],
        "upstream dependencies failed: child"
    );
    let text = stdout(&out);
    assert!(
        text.contains("failing on purpose"),
        "grouped output shows the failure: {text}"
    );
    assert!(text.contains("upstream dependencies failed: bad"), "{text}");

    // Fix the failing instance and resume: only bad, child and grandchild run.
    fleet.render("bad", &always(counting(&fleet, "bad")));
    let out = fleet.run("apply", &["--resume", "--report", report_arg]);
    assert!(out.status.success(), "{}", describe(&out));
    let report = fleet.report();
    assert_eq!(entry(&report, "good")["reused"], true);
    for name in ["bad", "child", "grandchild"] {
        assert_eq!(entry(&report, name)["status"], "succeeded", "{report:#}");
        assert_eq!(entry(&report, name)["reused"], false);
    }
    let runs = |name: &str| {
        fs::read_to_string(fleet.marker(&format!("{name}.runs")))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(
        (runs("good"), runs("bad"), runs("child"), runs("grandchild")),
        (1, 1, 1, 1)
    );

    // The default report (no --report) is what a later --resume reads.
    let out = fleet.run("apply", &["--resume"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(runs("good"), 1, "nothing left to resume");
}

#[test]
fn fail_fast_interrupts_running_instances_and_starts_nothing_new() {
    let mut fleet = Fleet::new();
    let m = fleet.markers.display().to_string();
    // slow is running (it has started) when fails fails; later never starts.
    let slow = format!("touch {m}/slow.started\ntimeout --foreground 60 sh -c 'until [ -e {m}/never ]; do sleep 0.05; done'\ntouch {m}/slow.finished");
    fleet.add("slow", &module(&slow), &[]);
    let fails = format!("timeout --foreground 60 sh -c 'until [ -e {m}/slow.started ]; do sleep 0.02; done'\nexit 1");
    fleet.add("fails", &module(&fails), &[]);
    fleet.add("later", &module(&format!("touch {m}/later.started")), &[]);
    fleet.write_manifest();
    let report_path = fleet.report_path();
    let out = fleet.run(
        "apply",
        &[
            "--fail-fast",
            "--parallelism",
            "2",
            "--report",
            report_path.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report = fleet.report();
    assert_eq!(entry(&report, "fails")["status"], "failed");
    assert_eq!(
        entry(&report, "slow")["status"],
        "interrupted",
        "{report:#}"
    );
    assert_eq!(entry(&report, "later")["status"], "cancelled");
    assert!(entry(&report, "later")["reason"]
        .as_str()
        .unwrap()
        .contains("--fail-fast after fails failed"));
    assert!(!fleet.marker("later.started").exists());
    assert!(!fleet.marker("slow.finished").exists());
    assert_eq!(
        fleet.live_processes(),
        vec![],
        "no terraform outlives the run"
    );
}

#[test]
fn plan_saves_plans_and_apply_from_plan_applies_them() {
    let mut fleet = Fleet::new();
    let tf = |v: &str| {
        format!("resource \"terraform_data\" \"r\" {{ input = \"{v}\" }}\noutput \"v\" {{ value = terraform_data.r.output }}\n")
    };
    fleet.add("a", &tf("planned"), &[]);
    fleet.add("b", &tf("planned"), &[]);
    fleet.write_manifest();
    let report_path = fleet.report_path();
    let report_arg = report_path.to_str().unwrap();
    let out = fleet.run("plan", &["--report", report_arg, "--output", "stream"]);
    assert!(out.status.success(), "{}", describe(&out));
    let report = fleet.report();
    assert_eq!(
        entry(&report, "a")["resources"],
        json!({"added": 1, "changed": 0, "destroyed": 0})
    );
    assert!(fleet.run_dir("a").join("plan.tfplan").exists());
    assert_eq!(
        entry(&report, "a")["plan_file"],
        fleet.run_dir("a").join("plan.tfplan").display().to_string()
    );
    let text = stdout(&out);
    assert!(
        text.contains("a | Plan: 1 to add") && text.contains("TO ADD"),
        "{text}"
    );

    // Apply applies the saved plan even though the rendered tree moved on.
    fleet.render("a", &tf("changed later"));
    let out = fleet.run("apply", &["--from-plan", "--report", report_arg]);
    assert!(out.status.success(), "{}", describe(&out));
    let outputs = read_json(&fleet.run_dir("a").join("outputs.json"));
    assert_eq!(outputs["v"]["value"], "planned");
}

#[test]
fn grouped_output_keeps_each_instance_together() {
    let mut fleet = Fleet::new();
    for name in ["x", "y", "z"] {
        let script = (1..=5)
            .map(|n| format!("echo {name}-line-{n}"))
            .collect::<Vec<_>>()
            .join("\n");
        fleet.add(name, &module(&script), &[]);
    }
    fleet.write_manifest();
    let out = fleet.run("apply", &["--parallelism", "3"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    for name in ["x", "y", "z"] {
        let lines: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains(&format!("(local-exec): {name}-line-")))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(
            lines[4] - lines[0],
            4,
            "block of {name} is contiguous: {text}"
        );
        assert!(text.contains(&format!("] {name}: succeeded in")), "{text}");
    }
    assert!(
        text.contains("fleet: started x"),
        "plain progress lines without a terminal: {text}"
    );
}

#[test]
fn cycles_and_bad_arguments_are_refused() {
    let mut fleet = Fleet::new();
    fleet.add("a", &module("true"), &["c"]);
    fleet.add("b", &module("true"), &["a"]);
    fleet.add("c", &module("true"), &["b"]);
    fleet.write_manifest();
    let out = fleet.run("apply", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(
        stderr(&out).contains("dependency cycle: //pkg:a -> //pkg:c -> //pkg:b -> //pkg:a"),
        "{}",
        describe(&out)
    );

    let mut fleet = Fleet::new();
    fleet.parallelism = 3;
    fleet.add("a", &module("true"), &[]);
    fleet.write_manifest();
    let out = fleet.run("apply", &["--parallelism", "-1"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = fleet.run("plan", &["--from-plan"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = fleet.run("apply", &["--only", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = fleet.run("apply", &["--resume"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no report to resume: {}",
        describe(&out)
    );
    assert!(fleet.live_processes().is_empty());

    let report_path = fleet.report_path();
    let out = fleet.run(
        "apply",
        &[
            "--parallelism",
            "0",
            "--report",
            report_path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        fleet.report()["parallelism"],
        3,
        "0 means the manifest's value"
    );
}

#[test]
fn only_runs_the_named_instances() {
    let mut fleet = Fleet::new();
    fleet.add("a", &module("true"), &[]);
    fleet.add("b", &module("true"), &[]);
    fleet.write_manifest();
    let report_path = fleet.report_path();
    let out = fleet.run(
        "apply",
        &[
            "--only",
            "//pkg:b",
            "--report",
            report_path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let report = fleet.report();
    assert_eq!(report["instances"].as_array().unwrap().len(), 1);
    assert!(!fleet.run_dir("a").exists());
    let _ = Duration::ZERO;
}

#[test]
fn a_terminal_gets_a_live_status_line_instead_of_progress_lines() {
    let mut fleet = Fleet::new();
    fleet.add("a", &module("true"), &[]);
    fleet.add("b", &module("true"), &["a"]);
    fleet.write_manifest();
    let command = format!(
        "{} run --manifest {} --runfiles {} --workspace-root {} --action apply",
        env!("CARGO_BIN_EXE_fleet"),
        fleet.manifest.display(),
        fleet.runfiles.display(),
        fleet.workspace.display()
    );
    // script(1) gives the runner a pseudo-terminal.
    let out = std::process::Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .env("TERM", "xterm")
        .env("TF_CLI_CONFIG_FILE", fleet.root().join("missing"))
        .output()
        .expect("script");
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("\r\x1b[2Kfleet apply: 1 running, 1 done, 0 failed, 0 skipped, 0 pending"),
        "{text:?}"
    );
    assert!(
        !text.contains("fleet: started"),
        "no plain progress lines on a terminal: {text:?}"
    );
    assert!(text.contains("] b: succeeded in"), "{text:?}");
}

/// An instance's end line: the reason and, for a failure, its log; grouped
/// output heads the instance's block with it, stream output prefixes `fleet:`.
#[test]
fn an_end_line_names_the_reason_and_the_log_of_a_failure() {
    let mut fleet = Fleet::new();
    fleet.add("good", &module("echo fine"), &[]);
    fleet.add("bad", &module("echo broken-output; exit 3"), &[]);
    fleet.write_manifest();
    let log = fleet.run_dir("bad").join("logs/apply.log");
    for (mode, head) in [("grouped", "==== "), ("stream", "fleet: ")] {
        let out = fleet.run("apply", &["--output", mode]);
        assert!(!out.status.success(), "{mode}: {}", describe(&out));
        let text = stdout(&out);
        let bad = text
            .lines()
            .find(|l| l.contains("] bad: failed in"))
            .unwrap_or_else(|| panic!("{mode}: no end line for bad: {text}"));
        assert!(bad.starts_with(head), "{mode}: {bad}");
        assert!(bad.contains("s: "), "{mode}: no reason: {bad}");
        assert!(
            bad.contains(&format!("(log: {})", log.display())),
            "{mode}: no log: {bad}"
        );
        let good = text.lines().find(|l| l.contains("] good: "));
        if let Some(good) = good {
            assert!(
                !good.contains("(log:"),
                "{mode}: a success names no log: {good}"
            );
        }
        if mode == "grouped" {
            assert!(bad.ends_with(" ===="), "{bad}");
            assert!(
                text.contains("broken-output"),
                "grouped shows the output: {text}"
            );
        }
    }
}
