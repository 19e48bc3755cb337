//! The glossary's deprecated flag aliases (docs/glossary.md): the old name
//! still works, hidden from --help, and warns exactly once per process,
//! naming the new flag.

use crate::common::runner::*;

const INSTANCE: &str = "fleet: warning: --instance is deprecated; use --only";
const TIMEOUT: &str = "fleet: warning: --timeout is deprecated; use --lock-timeout";

fn two_instances() -> Fleet {
    let mut fleet = Fleet::new();
    fleet.add("a", &module("true"), &[]);
    fleet.add("b", &module("true"), &[]);
    fleet.write_manifest();
    fleet
}

#[test]
fn fleet_tf_instance_still_picks_the_instance_and_warns_once() {
    let fleet = two_instances();
    // Two instances: without a working alias `fleet tf` would refuse (exit 2).
    let old = fleet
        .fleet("tf")
        .args(["--action", "plan", "--instance", "a", "--timeout", "30"])
        .output()
        .unwrap();
    assert!(old.status.success(), "{}", describe(&old));
    let err = stderr(&old);
    assert_eq!(err.matches("deprecated").count(), 2, "{}", describe(&old));
    assert_eq!(err.matches(INSTANCE).count(), 1, "{}", describe(&old));
    assert_eq!(err.matches(TIMEOUT).count(), 1, "{}", describe(&old));
    assert!(fleet.run_dir("a").is_dir(), "a was not planned");
    assert!(!fleet.run_dir("b").exists(), "b was planned");

    let new = fleet
        .fleet("tf")
        .args(["--action", "plan", "--only", "b"])
        .output()
        .unwrap();
    assert!(new.status.success(), "{}", describe(&new));
    assert!(!stderr(&new).contains("deprecated"), "{}", describe(&new));
}

#[test]
fn the_alias_is_hidden_and_cannot_be_combined_with_the_new_name() {
    let fleet = two_instances();
    let help = fleet.fleet("tf").arg("--help").output().unwrap();
    let text = stdout(&help);
    assert!(text.contains("--only"), "{text}");
    assert!(
        !text.contains("--instance"),
        "--help shows the alias:\n{text}"
    );
    let both = fleet
        .fleet("tf")
        .args(["--action", "plan", "--only", "a", "--instance", "b"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2), "{}", describe(&both));
}
