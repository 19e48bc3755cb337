use super::*;
use crate::error::{exit_code_of, ExitCode};

fn module(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn names(set: &BTreeSet<String>) -> Vec<&str> {
    set.iter().map(String::as_str).collect()
}

#[test]
fn variables_from_hcl_json_and_overrides() {
    let dir = module(&[
        (
            "main.tf",
            "variable \"pw\" {\n  type = string\n  sensitive = true\n}\nvariable \"plain\" {}\n\
             # variable \"fake\" { sensitive = true }\nlocals {\n  t = <<EOT\nvariable \"h\" { sensitive = true }\nEOT\n}\n",
        ),
        (
            "more.tf.json",
            r#"{"variable": {"token": {"sensitive": true}, "name": {"type": "string"}, "//": "a comment"}}"#,
        ),
        // Sorts before main.tf but applies after it.
        ("a_override.tf", "variable \"plain\" { sensitive = true }\n"),
        ("z_override.tf.json", r#"{"variable": [{"pw": {"sensitive": false}}]}"#),
    ]);
    let found = ModuleConfig::read(dir.path()).unwrap().variables;
    let expect: BTreeMap<String, bool> = [
        ("name", false),
        ("plain", true),
        ("pw", false),
        ("token", true),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(found, expect);
}

#[test]
fn providers_aliases_required_providers_and_types_from_hcl() {
    let dir = module(&[(
        "main.tf",
        r#"
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" } # "google" in a comment
  }
}
/* provider "fake" { alias = "x" } */
provider "aws" {
  alias  = "east"
  region = "us-east-1"
  tags   = { a = "${var.x}-{" }
}
provider "aws" {}
resource "random_id" "r" {
  description = <<-EOT
    provider "heredoc" {
  EOT
}
data "google_project" "p" {}
resource "terraform_data" "t" {}
locals {
  nested = { provider = "inner", resource = { x = "}" } }
}
"#,
    )]);
    let config = ModuleConfig::read(dir.path()).unwrap();
    assert_eq!(names(&config.required_providers), ["aws"]);
    assert_eq!(
        config.providers.into_iter().collect::<Vec<_>>(),
        [
            ("aws".to_string(), None),
            ("aws".to_string(), Some("east".to_string()))
        ]
    );
    assert_eq!(
        names(&config.resource_types),
        ["google_project", "random_id", "terraform_data"]
    );
}

#[test]
fn providers_and_types_from_json() {
    let dir = module(&[(
        "main.tf.json",
        r#"{"provider": {"aws": [{"alias": "east"}, {}]},
            "resource": {"google_x": {"a": {}}}, "data": [{"random_y": {"b": {}}}],
            "terraform": [{"required_providers": {"fleettest": {"source": "x/fleettest"}}}]}"#,
    )]);
    let config = ModuleConfig::read(dir.path()).unwrap();
    assert_eq!(names(&config.required_providers), ["fleettest"]);
    assert!(config
        .providers
        .contains(&("aws".into(), Some("east".into()))));
    assert!(config.providers.contains(&("aws".into(), None)));
    assert_eq!(names(&config.resource_types), ["google_x", "random_y"]);
}

#[test]
fn files_in_terraform_order_overrides_last_ignored_files_skipped() {
    let dir = module(&[
        ("b.tf", ""),
        ("override.tf", ""),
        ("a_override.tf.json", "{}"),
        ("c.tf.json", "{}"),
        (".hidden.tf", "not hcl {"),
        ("#draft.tf#", "not hcl {"),
        ("main.tf~", "not hcl {"),
        ("notes.txt", ""),
        ("vars.tfvars", "x = 1"),
    ]);
    fs::create_dir(dir.path().join("sub.tf")).unwrap();
    let files: Vec<String> = config_files(dir.path())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        ["b.tf", "c.tf.json", "a_override.tf.json", "override.tf"]
    );
}

#[test]
fn unparseable_files_are_unsafe_input_naming_the_file() {
    for (name, text) in [
        ("main.tf", "resource \"x\" {\n"),
        ("main.tf.json", "{\"variable\": "),
    ] {
        let dir = module(&[(name, text)]);
        let err = ModuleConfig::read(dir.path()).unwrap_err();
        assert_eq!(exit_code_of(&err), ExitCode::Unsafe, "{name}: {err:#}");
        assert!(format!("{err:#}").contains(name), "{err:#}");
    }
}

#[test]
fn read_parseable_skips_and_returns_unparseable_files() {
    let dir = module(&[
        ("bad.tf", "provider \"broken\" {\n"),
        ("good.tf", "provider \"aws\" {}\n"),
    ]);
    let (config, skipped) = ModuleConfig::read_parseable(dir.path()).unwrap();
    assert_eq!(config.providers.len(), 1);
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].path.ends_with("bad.tf"));
}

#[test]
fn deeply_nested_input_is_refused_without_crashing() {
    let depth = 100_000;
    let text = format!("x = {}{}\n", "[".repeat(depth), "]".repeat(depth));
    for (name, text) in [("deep.tf", text.as_str()), ("deep.tf.json", &text[4..])] {
        let dir = module(&[(name, text)]);
        let err = ModuleConfig::read(dir.path()).unwrap_err();
        assert_eq!(exit_code_of(&err), ExitCode::Unsafe, "{name}: {err:#}");
        assert!(format!("{err:#}").contains(name), "{err:#}");
    }
}
