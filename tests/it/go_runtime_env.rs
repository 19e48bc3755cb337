//! The Go GC settings terraform gets in run targets (`fleet::go_runtime`):
//! `GOGC=400` with a `GOMEMLIMIT` share sized by how many terraform processes
//! run at once, the caller's own `GOGC`/`GOMEMLIMIT` and an instance's `env`
//! winning. Seen from inside terraform: a provisioner records its environment.

use std::fs;

use crate::common::runner::*;
use serde_json::json;

/// The provisioner's view of the two variables, `unset` when absent.
const RECORD: &str = r#"printf '%s %s' "$${GOGC-unset}" "$${GOMEMLIMIT-unset}" > go-env.txt"#;

fn fleet_of(names: &[&str]) -> Fleet {
    let mut fleet = Fleet::new();
    for name in names {
        fleet.add(name, &module(RECORD), &[]);
    }
    fleet.write_manifest();
    fleet
}

fn recorded(fleet: &Fleet, name: &str) -> (String, String) {
    let text = fs::read_to_string(fleet.run_dir(name).join("go-env.txt"))
        .unwrap_or_else(|e| panic!("{name}: the provisioner left no record: {e}"));
    let (gogc, limit) = text.split_once(' ').expect("two fields");
    (gogc.to_string(), limit.to_string())
}

/// What fleet should set for `concurrent` terraform processes on this machine.
fn expected_limit(concurrent: u64) -> String {
    let memory = fleet::go_runtime::machine_memory().expect("memory of this machine");
    (memory / (2 * concurrent)).to_string()
}

fn apply(fleet: &Fleet, parallelism: &str, caller: &[(&str, &str)]) {
    let mut cmd = fleet.fleet("run");
    cmd.args(["--action", "apply", "--parallelism", parallelism])
        .env_remove("GOGC")
        .env_remove("GOMEMLIMIT");
    for (k, v) in caller {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("running fleet");
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn fleet_run_sizes_the_memory_share_by_the_terraforms_running_at_once() {
    let names = ["a", "b", "c", "d"];
    let fleet = fleet_of(&names);
    apply(&fleet, "2", &[]);
    for name in names {
        assert_eq!(
            recorded(&fleet, name),
            ("400".to_string(), expected_limit(2)),
            "{name}"
        );
    }
}

#[test]
fn fleet_tf_gives_its_one_terraform_the_whole_share() {
    let fleet = fleet_of(&["one"]);
    let out = fleet
        .fleet("tf")
        .args(["--action", "apply", "--", "-auto-approve"])
        .env_remove("GOGC")
        .env_remove("GOMEMLIMIT")
        .output()
        .expect("running fleet");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        recorded(&fleet, "one"),
        ("400".to_string(), expected_limit(1))
    );
}

#[test]
fn the_callers_gogc_or_gomemlimit_turns_the_tuning_off() {
    // Two fleets: a provisioner runs only when its resource is created.
    let gogc = fleet_of(&["one"]);
    apply(&gogc, "1", &[("GOGC", "100")]);
    assert_eq!(recorded(&gogc, "one"), ("100".into(), "unset".into()));
    let limit = fleet_of(&["one"]);
    apply(&limit, "1", &[("GOMEMLIMIT", "1GiB")]);
    assert_eq!(recorded(&limit, "one"), ("unset".into(), "1GiB".into()));
}

#[test]
fn an_instances_env_wins_over_fleets_setting() {
    let mut fleet = fleet_of(&["one"]);
    fleet.instance_mut("one")["env"] = json!({"GOGC": "150"});
    fleet.write_manifest();
    apply(&fleet, "1", &[]);
    assert_eq!(recorded(&fleet, "one"), ("150".into(), expected_limit(1)));
}
