//! Manifest validation through the binary: nested run directories and bad
//! `secret_env` names are refused (exit 4) before anything runs.

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
            cmd.args(["--instance", "c"]);
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
