use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// The shape `terraform providers lock` writes.
const LOCK: &str = r#"# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "fleet.test/rules-fleet/other" {
  version = "1.0.0"
  hashes = [
    "h1:other=",
  ]
}

provider "fleet.test/rules-fleet/fleettest" {
  version     = "0.1.0"
  constraints = "0.1.0"
  hashes = [
    "h1:8wPxA7FX82JUwuMERzcyX2/pcloFa+3YEDFFAojcgFc=",
    "zh:047a94ffa1aa50597b79e6954f41d547c7f1ea072d2459236a7061b2abd96dd7",
  ]
}
"#;

#[test]
fn reads_every_block_in_file_order() {
    let providers = parse(LOCK, "test").unwrap();
    assert_eq!(providers.len(), 2);
    assert_eq!(providers[0].source, "fleet.test/rules-fleet/other");
    assert_eq!(providers[0].hashes, ["h1:other="]);
    let test = find(&providers, "fleet.test/rules-fleet/fleettest").unwrap();
    assert_eq!(test.version, "0.1.0");
    assert_eq!(test.constraints.as_deref(), Some("0.1.0"));
    assert_eq!(
        test.hashes_with("zh:"),
        ["zh:047a94ffa1aa50597b79e6954f41d547c7f1ea072d2459236a7061b2abd96dd7"]
    );
    assert!(find(&providers, "fleet.test/rules-fleet/absent").is_none());
}

#[test]
fn formatting_terraform_does_not_write_is_still_read() {
    let text = "provider \"a/b/c\" {\n  hashes = [\"h1:x=\", \"zh:00\"]  # one line\n  version = \"2.0.0\"\n}\n";
    let providers = parse(text, "test").unwrap();
    assert_eq!(providers[0].version, "2.0.0");
    assert_eq!(providers[0].hashes, ["h1:x=", "zh:00"]);
}

#[test]
fn a_broken_lock_file_is_refused_as_corrupt_input() {
    for text in [
        "provider \"a/b/c\" {\n  version = \"1\"\n",
        "provider \"a/b/c\" {\n  version = 1\n}\n",
    ] {
        let err = parse(text, "x.hcl").unwrap_err();
        assert_eq!(
            crate::error::exit_code_of(&err),
            crate::error::ExitCode::Unsafe,
            "{text}"
        );
        assert!(format!("{err:#}").contains("x.hcl"), "{err:#}");
    }
}

fn extra(source: &str, hashes: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    BTreeMap::from([(
        source.to_string(),
        hashes.iter().map(|h| h.to_string()).collect(),
    )])
}

#[test]
fn added_hashes_are_merged_sorted_and_nothing_else_changes() {
    let out = with_hashes(
        LOCK,
        &extra(
            "fleet.test/rules-fleet/fleettest",
            &["zh:00aa", "h1:8wPxA7FX82JUwuMERzcyX2/pcloFa+3YEDFFAojcgFc="],
        ),
    );
    let want = LOCK.replace(
        "    \"zh:047a94ffa1aa50597b79e6954f41d547c7f1ea072d2459236a7061b2abd96dd7\",\n",
        "    \"zh:00aa\",\n    \"zh:047a94ffa1aa50597b79e6954f41d547c7f1ea072d2459236a7061b2abd96dd7\",\n",
    );
    assert_eq!(out, want);
    assert_eq!(
        with_hashes(LOCK, &extra("no/such/provider", &["zh:1"])),
        LOCK
    );
    assert_eq!(with_hashes(LOCK, &BTreeMap::new()), LOCK);
}

#[test]
fn a_one_line_list_becomes_terraforms_layout() {
    let text = "provider \"a/b/c\" {\n  version = \"1\"\n  hashes = [\"zh:b\"]\n}\n";
    assert_eq!(
        with_hashes(text, &extra("a/b/c", &["zh:a"])),
        "provider \"a/b/c\" {\n  version = \"1\"\n  hashes = [\n    \"zh:a\",\n    \"zh:b\",\n  ]\n}\n"
    );
}
