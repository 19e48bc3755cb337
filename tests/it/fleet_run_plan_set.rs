//! Sealed plan sets against the real terraform: a set planned in one copy
//! of a workspace applies from another copy (another path, another fleet
//! root, the same state — a local backend at a shared absolute path stands
//! in for a remote one), exactly its instances with changes; each instance
//! whose plan no longer matches what it was made from is refused
//! (`stale_plan`, nothing of it applied) and the whole set is refused
//! (exit 4) when its seal does not verify.
//!
//! On code without plan sets every test here fails: `--plan-set` is not a
//! flag (exit 2), and each refusal test asserts the `stale_plan` status, its
//! reason code and that the refused instance's provisioner never ran.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::runner::*;
use serde_json::{json, Value};

/// Two copies of one workspace sharing states and apply records in `shared`.
struct Copies {
    shared: tempfile::TempDir,
    x: Fleet,
    y: Fleet,
}

/// `a`, `b` independent; `c` reads `a#value` into `upstream`.
fn copies(values: [&str; 3]) -> Copies {
    let shared = tempfile::Builder::new()
        .prefix("fleet-plan-set-shared")
        .tempdir()
        .expect("temp dir");
    let make = || {
        let mut fleet = Fleet::new();
        for (name, value) in ["a", "b", "c"].iter().zip(values) {
            let deps: &[&str] = if *name == "c" { &["a"] } else { &[] };
            fleet.add(name, &module_of(shared.path(), name, value), deps);
            shared_backend(&fleet, shared.path(), name);
        }
        fleet.input_from("c", "upstream", "a", "value");
        fleet.write_manifest();
        fleet
    };
    let (x, y) = (make(), make());
    Copies { shared, x, y }
}

fn module_of(shared: &Path, name: &str, value: &str) -> String {
    let applies = shared.join(format!("{name}.applies"));
    format!(
        r#"
variable "value" {{
  type    = string
  default = "{value}"
}}
variable "upstream" {{
  type    = string
  default = ""
}}
resource "terraform_data" "r" {{
  input = "${{var.value}}${{var.upstream}}"
  # Replaced on every change, so the provisioner counts each apply.
  triggers_replace = "${{var.value}}${{var.upstream}}"
  provisioner "local-exec" {{
    command = "echo applied >> {applies}"
  }}
}}
output "value" {{
  value = terraform_data.r.output
}}
"#,
        applies = applies.display()
    )
}

/// The state at an absolute path outside either copy: what a remote backend is.
fn shared_backend(fleet: &Fleet, shared: &Path, name: &str) {
    let path = shared.join(format!("{name}.tfstate"));
    let backend = json!({"terraform": {"backend": {"local": {"path": path}}}});
    fs::write(
        fleet.rendered(name).join("backend.tf.json"),
        backend.to_string(),
    )
    .expect("backend");
}

/// A new commit changes `name`'s value in this copy.
fn change(fleet: &Fleet, shared: &Path, name: &str, value: &str) {
    fleet.render(name, &module_of(shared, name, value));
    shared_backend(fleet, shared, name);
}

impl Copies {
    fn applies(&self, name: &str) -> usize {
        fs::read_to_string(self.shared.path().join(format!("{name}.applies")))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    fn set_dir(&self, name: &str) -> PathBuf {
        self.shared.path().join(name)
    }
}

fn plan_set(fleet: &Fleet, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--plan-set", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    fleet.run("plan", &args)
}

fn apply_set(fleet: &Fleet, dir: &Path, extra: &[&str]) -> (Output, Value) {
    let report = fleet.report_path();
    let _ = fs::remove_file(&report);
    let mut args = vec![
        "--plan-set",
        dir.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = fleet.run("apply", &args);
    let report = if report.exists() {
        fleet.report()
    } else {
        Value::Null
    };
    (out, report)
}

fn index(dir: &Path) -> Value {
    read_json(&dir.join("plan-set.json"))
}

fn status<'r>(report: &'r Value, name: &str) -> &'r str {
    entry(report, name)["status"].as_str().unwrap_or("")
}

fn reason(report: &Value, name: &str) -> String {
    entry(report, name)["reason"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// Every copy applied once at values 1, then both at commit X (a=2, b=2).
fn applied_then_changed() -> Copies {
    let c = copies(["1", "1", "1"]);
    let out = c.x.run("apply", &[]);
    assert!(out.status.success(), "{}", describe(&out));
    for fleet in [&c.x, &c.y] {
        change(fleet, c.shared.path(), "a", "2");
        change(fleet, c.shared.path(), "b", "2");
    }
    c
}

#[test]
fn a_set_planned_in_one_copy_applies_in_another_refusing_what_changed() {
    let c = applied_then_changed();
    let set = c.set_dir("x-set");
    let out = plan_set(&c.x, &set, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(mode(&set), 0o700);
    assert_eq!(mode(&set.join("plan-set.json")), 0o600);
    let idx = index(&set);
    assert_eq!(idx["seal"]["algorithm"], "sha256", "{idx:#}");
    let entries = idx["index"]["instances"].as_array().expect("instances");
    assert_eq!(entries.len(), 3, "{idx:#}");
    for e in entries {
        assert_eq!(mode(&set.join(e["plan_file"].as_str().unwrap())), 0o600);
    }
    let by_label = |l: &str| entries.iter().find(|e| e["label"] == l).expect(l).clone();
    assert_eq!(by_label("//pkg:a")["changes"], true);
    assert_eq!(by_label("//pkg:c")["changes"], false, "{idx:#}");
    assert!(by_label("//pkg:a")["state"]["serial"].as_u64().unwrap() > 0);
    let before = (c.applies("a"), c.applies("b"), c.applies("c"));

    // Commit Y changes b in the other copy; X's set refuses b, applies a,
    // and refuses c, whose plan read a's output from before a's apply.
    change(&c.y, c.shared.path(), "b", "3");
    let (out, report) = apply_set(&c.y, &set, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(status(&report, "a"), "succeeded", "{report:#}");
    assert_eq!(status(&report, "b"), "stale_plan", "{report:#}");
    assert!(reason(&report, "b").contains("rendered:"), "{report:#}");
    assert_eq!(status(&report, "c"), "stale_plan", "{report:#}");
    assert!(
        reason(&report, "c").contains("inputs: the upstream output behind upstream"),
        "{report:#}"
    );
    assert_eq!(c.applies("a"), before.0 + 1);
    assert_eq!(c.applies("b"), before.1, "a stale plan must apply nothing");
    assert_eq!(c.applies("c"), before.2);
    assert_eq!(
        report["plan_set"]["seal"], idx["seal"]["value"],
        "{report:#}"
    );
    assert_eq!(
        entry(&report, "a")["plan"]["sha256"],
        by_label("//pkg:a")["plan_sha256"]
    );
    assert_eq!(report["counts"]["stale_plan"], 2);
    let stdout = stdout(&out);
    assert!(stdout.contains("stale_plan"), "{stdout}");

    // Re-planned at Y, the new set applies b and c; a has nothing to do.
    let set2 = c.set_dir("y-set");
    let out = plan_set(&c.y, &set2, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let (out, report) = apply_set(&c.y, &set2, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(status(&report, "a"), "no_changes", "{report:#}");
    assert_eq!(status(&report, "b"), "succeeded", "{report:#}");
    assert_eq!(status(&report, "c"), "succeeded", "{report:#}");
    assert_eq!(
        c.applies("a"),
        before.0 + 1,
        "a no_changes instance is not applied"
    );
    assert_eq!(c.applies("b"), before.1 + 1);
    assert_eq!(c.applies("c"), before.2 + 1);
    let state: Value = read_json(&c.shared.path().join("b.tfstate"));
    assert!(state.to_string().contains("\"3\""), "{state:#}");
}

#[test]
fn a_flipped_byte_in_one_plan_file_refuses_that_instance_only() {
    let c = applied_then_changed();
    let set = c.set_dir("set");
    assert!(plan_set(&c.x, &set, &[]).status.success());
    let idx = index(&set);
    let b = idx["index"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["label"] == "//pkg:b")
        .unwrap()
        .clone();
    let plan = set.join(b["plan_file"].as_str().unwrap());
    let mut bytes = fs::read(&plan).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&plan, bytes).unwrap();
    let before_b = c.applies("b");
    let (out, report) = apply_set(&c.y, &set, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(status(&report, "b"), "stale_plan", "{report:#}");
    assert!(reason(&report, "b").contains("plan_file:"), "{report:#}");
    assert_eq!(status(&report, "a"), "succeeded", "{report:#}");
    assert_eq!(c.applies("b"), before_b);
    assert!(
        !c.y.run_dir("b").join("plan.tfplan").exists(),
        "a refused plan stays out of the run dir"
    );
}

#[test]
fn an_edited_index_or_the_wrong_key_refuses_the_whole_set() {
    let c = applied_then_changed();
    let keyed = c.set_dir("keyed");
    let out =
        c.x.fleet("run")
            .args(["--action", "plan", "--plan-set", keyed.to_str().unwrap()])
            .env("FLEET_PLAN_SET_KEY", "ci-secret")
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(index(&keyed)["seal"]["algorithm"], "hmac-sha256");
    let before = (c.applies("a"), c.applies("b"));
    let apply = |dir: &Path, key: Option<&str>| {
        let mut cmd = c.y.fleet("run");
        cmd.args(["--action", "apply", "--plan-set", dir.to_str().unwrap()]);
        match key {
            Some(k) => cmd.env("FLEET_PLAN_SET_KEY", k),
            None => cmd.env_remove("FLEET_PLAN_SET_KEY"),
        };
        cmd.output().unwrap()
    };
    for (key, says) in [
        (Some("wrong"), "does not verify"),
        (None, "FLEET_PLAN_SET_KEY is not set"),
    ] {
        let out = apply(&keyed, key);
        assert_eq!(out.status.code(), Some(4), "{key:?}: {}", describe(&out));
        assert!(stderr(&out).contains(says), "{key:?}: {}", describe(&out));
    }

    // An index edited to claim b has no changes, re-sealed without the key:
    // refused where the key is set, and refused as edited where the old
    // seal is kept.
    let mut edited = index(&keyed);
    for e in edited["index"]["instances"].as_array_mut().unwrap() {
        if e["label"] == "//pkg:b" {
            e["changes"] = json!(false);
        }
    }
    fs::write(
        keyed.join("plan-set.json"),
        serde_json::to_vec_pretty(&edited).unwrap(),
    )
    .unwrap();
    let out = apply(&keyed, Some("ci-secret"));
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(
        stderr(&out).contains("does not verify"),
        "{}",
        describe(&out)
    );

    let plain = c.set_dir("plain");
    assert!(plan_set(&c.x, &plain, &[]).status.success());
    let mut edited = index(&plain);
    edited["index"]["commit"] = json!("0000000000000000000000000000000000000000");
    fs::write(
        plain.join("plan-set.json"),
        serde_json::to_vec(&edited).unwrap(),
    )
    .unwrap();
    let out = apply(&plain, None);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(
        stderr(&out).contains("the set was edited"),
        "{}",
        describe(&out)
    );
    // A set sealed without a key is refused where the key is set.
    let unkeyed = c.set_dir("unkeyed");
    assert!(plan_set(&c.x, &unkeyed, &[]).status.success());
    let out = apply(&unkeyed, Some("ci-secret"));
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert_eq!((c.applies("a"), c.applies("b")), before, "nothing applied");
}

#[test]
fn a_changed_lock_file_makes_the_plan_stale() {
    let c = applied_then_changed();
    let set = c.set_dir("set");
    assert!(plan_set(&c.x, &set, &[]).status.success());
    // The lock file is a rendered file: a new one in the other copy.
    fs::write(
        c.y.rendered("a").join(".terraform.lock.hcl"),
        "# This file is maintained automatically by \"terraform init\".\n",
    )
    .unwrap();
    let before = c.applies("a");
    let (out, report) = apply_set(&c.y, &set, &["--only", "a"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(status(&report, "a"), "stale_plan", "{report:#}");
    assert!(reason(&report, "a").contains("lock_file:"), "{report:#}");
    assert_eq!(c.applies("a"), before);
    assert_eq!(
        report["instances"].as_array().unwrap().len(),
        1,
        "--only narrows the set"
    );
}

#[test]
fn another_terraform_version_makes_the_plan_stale() {
    let c = applied_then_changed();
    let set = c.set_dir("set");
    assert!(plan_set(&c.x, &set, &[]).status.success());
    // The other copy's toolchain is a newer terraform (it says so; it runs the same one).
    let newer = c.shared.path().join("terraform-newer");
    fs::write(
        &newer,
        format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then echo '{{\"terraform_version\":\"1.99.0\"}}'; exit 0; fi\nexec {} \"$@\"\n",
            terraform().display()
        ),
    )
    .unwrap();
    fs::set_permissions(&newer, fs::Permissions::from_mode(0o755)).unwrap();
    let mut manifest = read_json(&c.y.manifest);
    manifest["terraform"] = json!(newer);
    fs::write(&c.y.manifest, manifest.to_string()).unwrap();
    let before = c.applies("a");
    let (out, report) = apply_set(&c.y, &set, &["--only", "a"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(status(&report, "a"), "stale_plan", "{report:#}");
    assert!(
        reason(&report, "a").contains("terraform_version: terraform is 1.99.0"),
        "{report:#}"
    );
    assert_eq!(c.applies("a"), before);
}

#[test]
fn another_state_in_place_of_the_planned_one_makes_the_plan_stale() {
    let c = applied_then_changed();
    let set = c.set_dir("set");
    assert!(plan_set(&c.x, &set, &[]).status.success());
    // The state the plan was made against is gone (another state, or none).
    fs::remove_file(c.shared.path().join("a.tfstate")).unwrap();
    let before = c.applies("a");
    let (out, report) = apply_set(&c.y, &set, &["--only", "a"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(status(&report, "a"), "stale_plan", "{report:#}");
    assert!(
        reason(&report, "a").contains("state_lineage:"),
        "{report:#}"
    );
    assert_eq!(c.applies("a"), before);
}

#[test]
fn the_state_moved_by_another_apply_in_between_makes_the_plan_stale() {
    let c = applied_then_changed();
    let set = c.set_dir("set");
    assert!(plan_set(&c.x, &set, &[]).status.success());
    // Someone applies a (same change) from the first copy after the plan.
    let out = c.x.run("apply", &["--only", "a"]);
    assert!(out.status.success(), "{}", describe(&out));
    let before = c.applies("a");
    let (out, report) = apply_set(&c.y, &set, &["--only", "a"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(status(&report, "a"), "stale_plan", "{report:#}");
    assert!(reason(&report, "a").contains("state_serial:"), "{report:#}");
    assert_eq!(c.applies("a"), before);
}

#[test]
fn an_old_set_is_refused_with_max_plan_age_and_a_subset_applies_only_its_subset() {
    let c = applied_then_changed();
    let set = c.set_dir("subset");
    assert!(plan_set(&c.x, &set, &["--only", "b"]).status.success());
    assert_eq!(
        index(&set)["index"]["instances"].as_array().unwrap().len(),
        1
    );
    let before = (c.applies("a"), c.applies("b"));
    let (out, report) = apply_set(&c.y, &set, &["--max-plan-age", "0s"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(status(&report, "b"), "stale_plan", "{report:#}");
    assert!(reason(&report, "b").contains("age:"), "{report:#}");
    assert_eq!(c.applies("b"), before.1);

    let (out, report) = apply_set(&c.y, &set, &["--max-plan-age", "1h"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        report["instances"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    assert_eq!(status(&report, "b"), "succeeded");
    assert_eq!((c.applies("a"), c.applies("b")), (before.0, before.1 + 1));
}

#[test]
fn a_set_is_written_only_into_a_new_or_empty_directory() {
    let c = copies(["1", "1", "1"]);
    let dir = c.set_dir("used");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("plan-set.json"), "{}").unwrap();
    let out = plan_set(&c.x, &dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(stderr(&out).contains("not empty"), "{}", describe(&out));
}
