//! Manifests that include their dependencies' manifests (what the rules
//! write for an instance: its own entry, `includes` naming the manifests of
//! its direct dependencies, each of those naming theirs): `fleet tf` and
//! `fleet run` see the whole chain, diamonds are read once, and an include
//! outside the runfiles or one with another entry for a known label is
//! refused (exit 4).

use std::fs;

use serde_json::{json, Value};

use crate::common::runner::*;

/// A chain a <- b <- c (c reads a value from b, b from a), written the way
/// the rules write instance manifests: one manifest per instance in the
/// runfiles, each with its own entry and `includes` of its deps'.
fn chain() -> (Fleet, Vec<Value>) {
    let mut fleet = Fleet::new();
    fleet.add("a", &module("true"), &[]);
    fleet.add("b", &module("true"), &["a"]);
    fleet.input_from("b", "value", "a", "value");
    fleet.add("c", &module("true"), &["b"]);
    fleet.input_from("c", "value", "b", "value");
    fleet.write_manifest();
    let all: Value = read_json(&fleet.manifest);
    let entries = all["instances"].as_array().unwrap().clone();
    for (k, name) in ["a", "b", "c"].iter().enumerate() {
        let mut own = all.clone();
        own["target"] = json!(format!("//pkg:{name}"));
        own["instances"] = json!([entries[k]]);
        if k > 0 {
            own["includes"] = json!([format!("pkg/{}.manifest.json", ["a", "b"][k - 1])]);
        }
        write(&fleet, name, &own);
    }
    (fleet, entries)
}

fn write(fleet: &Fleet, name: &str, manifest: &Value) {
    fs::write(
        fleet.runfiles.join(format!("pkg/{name}.manifest.json")),
        manifest.to_string(),
    )
    .unwrap();
}

/// `fleet <sub>` on the instance manifest of `name`.
fn with_manifest(fleet: &mut Fleet, name: &str, sub: &str) -> std::process::Command {
    fleet.manifest = fleet.runfiles.join(format!("pkg/{name}.manifest.json"));
    fleet.fleet(sub)
}

#[test]
fn an_instance_manifest_sees_its_whole_chain_through_includes() {
    let (mut fleet, _) = chain();
    let out = with_manifest(&mut fleet, "c", "run")
        .args(["--action", "apply"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    for name in ["a", "b", "c"] {
        assert!(fleet.state(name)["resources"].is_array(), "{name} applied");
    }
    // `fleet tf` on c reads b's outputs through the included entry.
    let out = with_manifest(&mut fleet, "c", "tf")
        .args(["--action", "plan", "--instance", "//pkg:c"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn a_diamond_is_read_once_and_bad_includes_are_refused() {
    let (mut fleet, entries) = chain();
    // d includes c and b (b reached twice): still one entry per label.
    let mut d: Value = read_json(&fleet.runfiles.join("pkg/c.manifest.json"));
    d["target"] = json!("//pkg:d");
    d["instances"] = json!([]);
    d["includes"] = json!(["pkg/c.manifest.json", "pkg/b.manifest.json"]);
    write(&fleet, "d", &d);
    let out = with_manifest(&mut fleet, "d", "run")
        .args(["--action", "apply"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stdout(&out).contains("3 succeeded"), "{}", describe(&out));

    for (include, what) in [
        ("../../../etc/passwd", "is not a path inside the runfiles"),
        ("pkg/other.manifest.json", "another entry for //pkg:a"),
        ("pkg/missing.manifest.json", "is not in the runfiles"),
    ] {
        let mut other: Value = read_json(&fleet.runfiles.join("pkg/a.manifest.json"));
        let mut changed = entries[0].clone();
        changed["run_dir"] = json!("pkg/elsewhere");
        other["instances"] = json!([changed]);
        write(&fleet, "other", &other);
        d["includes"] = json!(["pkg/c.manifest.json", include]);
        write(&fleet, "d", &d);
        let out = with_manifest(&mut fleet, "d", "run")
            .args(["--action", "plan"])
            .output()
            .unwrap();
        let code = if include.ends_with("missing.manifest.json") {
            1
        } else {
            4
        };
        assert_eq!(
            out.status.code(),
            Some(code),
            "{include}: {}",
            describe(&out)
        );
        assert!(stderr(&out).contains(what), "{include}: {}", stderr(&out));
    }
}
