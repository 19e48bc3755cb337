//! Manifest validation through the binary: nested run directories, bad
//! `secret_env` names, run directories in the fleet root's own `.reports/`
//! and `.groups/`, a serial group with a parallelism (manifest key `concurrency`), and hooks or
//! rendered trees outside the runfiles are refused (exit 4) before anything
//! runs.

use crate::common::runner::*;
use serde_json::json;

#[test]
fn nested_run_directories_are_refused_naming_both() {
    let mut fleet = Fleet::new();
    fleet.add("c", &module("true"), &[]);
    fleet.add("b", &module("true"), &[]);
    fleet.instance_mut("b")["label"] = json!("//pkg/c:b");
    fleet.instance_mut("b")["run_dir"] = json!("pkg/c/b");
    fleet.add("cb", &module("true"), &[]);
    fleet.write_manifest();
    for sub in ["run", "tf"] {
        let mut cmd = fleet.fleet(sub);
        cmd.args(["--action", "plan"]);
        if sub == "tf" {
            cmd.args(["--only", "c"]);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
        let err = stderr(&out);
        for part in ["of //pkg:c:", "//pkg/c:b", "pkg/c/b", "directory pkg/c of"] {
            assert!(err.contains(part), "{part} in {err}");
        }
        assert!(!fleet.workspace.join(".fleet").exists(), "nothing ran");
    }
}

#[test]
fn secret_env_names_are_validated() {
    for (var, env) in [("pw", "BAD-NAME"), ("p w", "PW"), ("pw", "1PW")] {
        let mut fleet = Fleet::new();
        fleet.add("a", &module("true"), &[]);
        fleet.instance_mut("a")["secret_env"] = json!({ var: env });
        fleet.write_manifest();
        let out = fleet.run("plan", &[]);
        assert_eq!(
            out.status.code(),
            Some(4),
            "{var} {env}: {}",
            describe(&out)
        );
        assert!(stderr(&out).contains("//pkg:a"), "{}", describe(&out));
    }
}

/// Runs `fleet run --action plan` on `fleet`'s manifest and expects exit 4
/// with every `part` in stderr and nothing run.
fn refused(fleet: &Fleet, parts: &[&str]) {
    let out = fleet.run("plan", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    let err = stderr(&out);
    for part in parts {
        assert!(err.contains(part), "{part} in {err}");
    }
    assert!(!fleet.workspace.join(".fleet").exists(), "nothing ran");
}

#[test]
fn run_dirs_in_the_fleet_roots_own_directories_are_refused() {
    for dir in [".reports", ".reports/pkg/a", ".groups/pkg/g", ".groups"] {
        let mut fleet = Fleet::new();
        fleet.add("a", &module("true"), &[]);
        fleet.instance_mut("a")["run_dir"] = json!(dir);
        fleet.write_manifest();
        refused(&fleet, &["run_dir of //pkg:a", dir]);
    }
}

#[test]
fn a_serial_group_with_a_parallelism_is_refused() {
    let mut fleet = Fleet::new();
    fleet.add("a", &module("true"), &[]);
    fleet.write_manifest();
    let mut manifest = read_json(&fleet.manifest);
    manifest["groups"] = json!([{"label": "//pkg:s", "name": "s", "mode": "serial",
        "concurrency": 2, "members": ["//pkg:a"], "on_change": null}]);
    std::fs::write(&fleet.manifest, manifest.to_string()).unwrap();
    refused(&fleet, &["group //pkg:s is serial but has parallelism 2"]);
}

#[test]
fn hooks_and_rendered_trees_outside_the_runfiles_are_refused() {
    // A real executable and a real tree outside the runfiles: found, if
    // the path were followed.
    for hook in ["/bin/true", "../../bin/true", "pkg/../../../bin/true"] {
        let mut fleet = Fleet::new();
        fleet.add("a", &module("true"), &[]);
        fleet.write_manifest();
        let mut manifest = read_json(&fleet.manifest);
        manifest["groups"] = json!([{"label": "//pkg:g", "name": "g", "mode": "parallel",
            "concurrency": 0, "members": ["//pkg:a"], "on_change": hook}]);
        std::fs::write(&fleet.manifest, manifest.to_string()).unwrap();
        refused(&fleet, &["on_change of group //pkg:g", hook]);
    }
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("main.tf"), module("true")).unwrap();
    // Enough `..` to reach `/`, then the tree: resolves to it.
    let escape = format!("{}{}", "../".repeat(16), outside.path().display()).replace("//", "/");
    for rendered in [outside.path().display().to_string(), escape] {
        let mut fleet = Fleet::new();
        fleet.add("a", &module("true"), &[]);
        fleet.instance_mut("a")["rendered"] = json!(rendered);
        fleet.write_manifest();
        refused(&fleet, &["rendered tree of //pkg:a"]);
    }
}

#[test]
fn retry_policies_the_runner_cannot_follow_are_refused_naming_the_instance() {
    let policy = |patterns: &[&str], max_attempts: u32, delay_ms: u64, max_delay_ms: u64| {
        json!({"patterns": patterns, "max_attempts": max_attempts,
               "delay_ms": delay_ms, "max_delay_ms": max_delay_ms})
    };
    let cases = [
        // Balanced and plain to Starlark's eye; only the regex engine knows.
        (
            policy(&["Throttling", "a{3,1}"], 3, 10, 20),
            "pattern \"a{3,1}\" does not compile",
        ),
        (
            policy(&[r"\p{NoSuchScript}"], 3, 10, 20),
            "does not compile",
        ),
        (policy(&["x"], 0, 10, 20), "max_attempts must be at least 1"),
        (
            policy(&["x"], 3, 20, 10),
            "max_delay (10ms) is shorter than delay (20ms)",
        ),
        (
            json!({"patterns": ["x"], "max_attempts": 3, "delay_ms": 1, "max_delay_ms": 1, "tries": 2}),
            "unknown field",
        ),
    ];
    for (retry, message) in cases {
        let mut fleet = Fleet::new();
        fleet.add("a", &module("true"), &[]);
        fleet.instance_mut("a")["retry"] = retry;
        fleet.write_manifest();
        let parts: &[&str] = if message == "unknown field" {
            &[message]
        } else {
            &["//pkg:a: retry: ", message]
        };
        refused(&fleet, parts);
    }
}
