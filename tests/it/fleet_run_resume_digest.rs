//! `--resume` against the real terraform compares one instance digest that
//! covers everything that makes a run differ: an instance whose `env`
//! (`AWS_PROFILE`, a `TF_VAR_*`) or workspace changed runs again, and so does
//! one resumed with or without `--from-plan` unlike the report, or whose saved
//! plan was made again; an unchanged one is reused.

use std::fs;

use crate::common::runner::*;
use serde_json::json;

/// A module whose every apply runs its provisioner (replaced at every
/// apply: `triggers_replace` is a timestamp), which records what
/// terraform's environment held.
fn recording(fleet: &Fleet, name: &str) -> String {
    let runs = fleet.marker(&format!("{name}.runs"));
    module(&format!(
        "echo \"profile=$AWS_PROFILE region=$TF_VAR_region\" >> {}",
        runs.display()
    ))
    .replace(
        "input = var.value",
        "input = var.value\n  triggers_replace = timestamp()",
    )
}

fn runs(fleet: &Fleet, name: &str) -> Vec<String> {
    fs::read_to_string(fleet.marker(&format!("{name}.runs")))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn resume(fleet: &Fleet, extra: &[&str]) -> serde_json::Value {
    let report = fleet.report_path();
    let mut args = vec!["--resume", "--report", report.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = fleet.run("apply", &args);
    assert!(out.status.success(), "{}", describe(&out));
    fleet.report()
}

#[test]
fn an_instance_whose_env_or_workspace_changed_runs_again() {
    let mut fleet = Fleet::new();
    let main_tf = recording(&fleet, "a");
    fleet.add("a", &main_tf, &[]);
    fleet.instance_mut("a")["env"] = json!({"AWS_PROFILE": "dev"});
    fleet.write_manifest();
    let report = fleet.report_path();
    let out = fleet.run("apply", &["--report", report.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(runs(&fleet, "a"), ["profile=dev region="]);

    // Nothing changed: reused.
    let r = resume(&fleet, &[]);
    assert_eq!(entry(&r, "a")["reused"], true, "{r:#}");
    assert_eq!(runs(&fleet, "a").len(), 1);

    let changes: [(&str, serde_json::Value); 3] = [
        ("AWS_PROFILE", json!({"AWS_PROFILE": "prod"})),
        (
            "TF_VAR_region",
            json!({"AWS_PROFILE": "prod", "TF_VAR_region": "eu-west-1"}),
        ),
        (
            "workspace",
            json!({"AWS_PROFILE": "prod", "TF_VAR_region": "eu-west-1"}),
        ),
    ];
    for (n, (what, env)) in changes.into_iter().enumerate() {
        fleet.instance_mut("a")["env"] = env;
        if what == "workspace" {
            fleet.instance_mut("a")["workspace"] = json!("blue");
        }
        fleet.write_manifest();
        let r = resume(&fleet, &[]);
        assert_eq!(entry(&r, "a")["reused"], false, "{what}: {r:#}");
        assert_eq!(
            runs(&fleet, "a").len(),
            n + 2,
            "{what} changed: it ran again"
        );
        // And the next resume reuses the new success.
        let r = resume(&fleet, &[]);
        assert_eq!(entry(&r, "a")["reused"], true, "{what}: {r:#}");
        assert_eq!(runs(&fleet, "a").len(), n + 2);
    }
    assert_eq!(
        runs(&fleet, "a").last().map(String::as_str),
        Some("profile=prod region=eu-west-1")
    );
    assert!(fleet
        .run_dir("a")
        .join("terraform.tfstate.d/blue/terraform.tfstate")
        .is_file());
}

#[test]
fn resuming_with_or_without_from_plan_or_after_a_new_plan_runs_again() {
    let mut fleet = Fleet::new();
    let main_tf = recording(&fleet, "a");
    fleet.add("a", &main_tf, &[]);
    fleet.write_manifest();
    let report = fleet.report_path();
    let report_arg = report.to_str().unwrap();
    let plan = |fleet: &Fleet| {
        let out = fleet.run("plan", &[]);
        assert!(out.status.success(), "{}", describe(&out));
    };

    plan(&fleet);
    let out = fleet.run("apply", &["--from-plan", "--report", report_arg]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(runs(&fleet, "a").len(), 1);
    let r = resume(&fleet, &["--from-plan"]);
    assert_eq!(entry(&r, "a")["reused"], true, "same plan: {r:#}");

    // The report is of an apply of the saved plan; this one is not.
    let r = resume(&fleet, &[]);
    assert_eq!(entry(&r, "a")["reused"], false, "{r:#}");
    assert_eq!(runs(&fleet, "a").len(), 2);

    // And back: the report is of a plain apply.
    plan(&fleet);
    let r = resume(&fleet, &["--from-plan"]);
    assert_eq!(entry(&r, "a")["reused"], false, "{r:#}");
    assert_eq!(runs(&fleet, "a").len(), 3);
    let r = resume(&fleet, &["--from-plan"]);
    assert_eq!(entry(&r, "a")["reused"], true, "{r:#}");

    // A new saved plan is another run.
    plan(&fleet);
    let r = resume(&fleet, &["--from-plan"]);
    assert_eq!(entry(&r, "a")["reused"], false, "{r:#}");
    assert_eq!(runs(&fleet, "a").len(), 4);
}
