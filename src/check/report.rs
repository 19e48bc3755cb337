//! Reading terraform's JSON output into an [`Outcome`]: the diagnostics with
//! sandbox paths named as the component's sources, and, when the plan
//! succeeded, the planned resource addresses and actions. Never a value:
//! planned attributes and snippet source text stay out (they may be secret),
//! and sensitive values in terraform's messages are replaced ([`Outcome::redact`]).

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Value};

use super::workdir::TEST_DIR;
use super::CheckOptions;

/// Tree path -> the name users know it by (`infra/x/main.tf`, `//pkg:name vars`).
pub struct Origins {
    /// Longest path first, so `main.tf` never matches inside `modules/a/main.tf`.
    pairs: Vec<(String, String)>,
    /// The check's private directory: never named in messages (it differs per run).
    private_root: String,
}

impl Origins {
    pub fn new(sources: &[(String, PathBuf)]) -> Origins {
        let mut pairs: Vec<(String, String)> = sources
            .iter()
            .map(|(path, origin)| (path.clone(), origin.to_string_lossy().into_owned()))
            .collect();
        pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Origins {
            pairs,
            private_root: String::new(),
        }
    }

    /// Names paths under `root` (the check's private directory) `<check dir>`.
    pub fn hiding(mut self, root: &std::path::Path) -> Origins {
        self.private_root = root.to_string_lossy().into_owned();
        self
    }

    /// The origin of a file name terraform reported.
    fn file(&self, name: &str) -> String {
        let name = name.strip_prefix("./").unwrap_or(name);
        if name.starts_with(TEST_DIR) {
            return "(generated check)".to_string();
        }
        self.pairs
            .iter()
            .find(|(path, _)| path == name)
            .map_or_else(|| name.to_string(), |(_, origin)| origin.clone())
    }

    /// Rewrites `PATH:LINE` references inside free text.
    fn text(&self, text: &str) -> String {
        let hidden;
        let text = if self.private_root.is_empty() {
            text
        } else {
            hidden = text.replace(&self.private_root, "<check dir>");
            &hidden
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'scan: while !rest.is_empty() {
            let at_boundary = out.is_empty() || out.ends_with([' ', '(', '"', '\n', '\'']);
            if at_boundary {
                for (path, origin) in &self.pairs {
                    if let Some(after) = rest.strip_prefix(path.as_str()) {
                        if after.starts_with(':')
                            && after[1..].starts_with(|c: char| c.is_ascii_digit())
                        {
                            out.push_str(origin);
                            rest = after;
                            continue 'scan;
                        }
                    }
                }
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
        out
    }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: String,
    pub summary: String,
    pub detail: String,
    /// `FILE:LINE,COLUMN`, FILE named by its origin; empty when terraform gave none.
    pub at: String,
    /// Terraform's own description of the values involved (`var.x is 9`;
    /// a sensitive variable's is `(sensitive value)`, see [`Outcome::redact`]).
    pub values: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Change {
    pub address: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub passed: bool,
    pub terraform: String,
    pub diagnostics: Vec<Diagnostic>,
    pub resources: Vec<Change>,
    pub outputs: Vec<Change>,
}

fn str_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn diagnostic(raw: &Value, origins: &Origins) -> Diagnostic {
    let at = raw.get("range").map_or_else(String::new, |range| {
        let file = origins.file(&str_of(range, "filename"));
        // A label (`//pkg:name vars`) names generated values: no position in them means anything.
        if file.starts_with("//") || file.starts_with('@') {
            return file;
        }
        let start = &range["start"];
        let (line, column) = (
            start["line"].as_u64().unwrap_or(0),
            start["column"].as_u64().unwrap_or(0),
        );
        format!("{file}:{line},{column}")
    });
    let values = raw["snippet"]["values"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(|v| format!("{} {}", str_of(v, "traversal"), str_of(v, "statement")))
                .collect()
        })
        .unwrap_or_default();
    Diagnostic {
        severity: str_of(raw, "severity"),
        summary: origins.text(&str_of(raw, "summary")),
        detail: origins.text(&str_of(raw, "detail")),
        at,
        values,
    }
}

/// Addresses and actions of a plan (`test_plan` of `terraform test -verbose`).
fn changes(plan: &Value) -> (Vec<Change>, Vec<Change>) {
    let actions = |change: &Value| -> Vec<String> {
        change["actions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut resources: Vec<Change> = plan["resource_changes"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| Change {
                    address: str_of(r, "address"),
                    actions: actions(&r["change"]),
                })
                .collect()
        })
        .unwrap_or_default();
    resources.sort_by(|a, b| a.address.cmp(&b.address));
    let outputs = plan["output_changes"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(name, change)| Change {
                    address: format!("output.{name}"),
                    actions: actions(change),
                })
                .collect()
        })
        .unwrap_or_default();
    (resources, outputs)
}

/// Reads the line stream of `terraform test -json -verbose`.
pub fn parse_test_stream(
    (stream, stderr): &(String, String),
    origins: &Origins,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut summary = None;
    for line in stream.lines().filter(|l| l.starts_with('{')) {
        let message: Value = serde_json::from_str(line)
            .with_context(|| format!("terraform test printed a line that is not JSON: {line}"))?;
        match message["type"].as_str().unwrap_or_default() {
            "version" => outcome.terraform = str_of(&message, "terraform"),
            "diagnostic" => outcome
                .diagnostics
                .push(diagnostic(&message["diagnostic"], origins)),
            "test_plan" => (outcome.resources, outcome.outputs) = changes(&message["test_plan"]),
            "test_summary" => summary = Some(str_of(&message["test_summary"], "status")),
            _ => {}
        }
    }
    let has_errors = outcome.diagnostics.iter().any(|d| d.severity == "error");
    // Errors before any run (a lock file that does not match the providers) come without a summary.
    if summary.is_none() && !has_errors {
        anyhow::bail!(
            "terraform test printed no summary and no error (is it terraform >= 1.7 / tofu >= 1.8?); it said:\n{stderr}"
        );
    }
    outcome.passed = summary.as_deref() == Some("pass") && !has_errors;
    Ok(outcome)
}

/// Reads `terraform validate -json`.
pub fn parse_validate((stdout, stderr): &(String, String), origins: &Origins) -> Result<Outcome> {
    let result: Value = serde_json::from_str(stdout).with_context(|| {
        format!("terraform validate -json printed something that is not JSON: {stdout}{stderr}")
    })?;
    Ok(Outcome {
        passed: result["valid"].as_bool().unwrap_or(false),
        terraform: String::new(),
        diagnostics: result["diagnostics"]
            .as_array()
            .map(|list| list.iter().map(|d| diagnostic(d, origins)).collect())
            .unwrap_or_default(),
        resources: Vec::new(),
        outputs: Vec::new(),
    })
}

impl Outcome {
    /// Replaces the sensitive values in terraform's words (`terraform test`
    /// prints them): summaries, details and value lines.
    pub fn redact(&mut self, sensitive: &super::sensitive::Sensitive) {
        for d in &mut self.diagnostics {
            d.summary = sensitive.scrub(&d.summary);
            d.detail = sensitive.scrub(&d.detail);
            d.values = d.values.iter().map(|v| sensitive.value_line(v)).collect();
        }
    }

    /// The check's result file: same instance, same bytes, on any machine and path.
    pub fn to_json(&self, args: &CheckOptions) -> String {
        let mut value = json!({
            "label": args.label,
            "component": args.component,
            "check": args.mode.name(),
            "result": if self.passed { "pass" } else { "fail" },
            "diagnostics": self.diagnostics,
        });
        if !self.terraform.is_empty() {
            value["terraform"] = json!(self.terraform);
        }
        if args.mode == super::Mode::Plan && self.passed {
            value["resources"] = json!(self.resources);
            value["outputs"] = json!(self.outputs);
        }
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    }

    /// `rules_fleet: //pkg:name does not fit //pkg:component:` and the errors.
    pub fn failure_text(&self, args: &CheckOptions) -> String {
        let mut text = match (args.mode, args.component.is_empty()) {
            (super::Mode::Plan, false) => format!(
                "rules_fleet: {} does not fit {}:\n",
                args.label, args.component
            ),
            _ => format!(
                "rules_fleet: {}: terraform validate found errors:\n",
                args.label
            ),
        };
        for d in self.diagnostics.iter().filter(|d| d.severity == "error") {
            text.push_str(&format!("  Error: {}\n", d.summary));
            if !d.at.is_empty() {
                text.push_str(&format!("    at {}\n", d.at));
            }
            for line in d.detail.lines() {
                let indent = if line.is_empty() { "" } else { "    " };
                text.push_str(&format!("{indent}{line}\n"));
            }
            for value in &d.values {
                text.push_str(&format!("    ({value})\n"));
            }
        }
        if self.diagnostics.is_empty() {
            text.push_str("  terraform reported a failure without diagnostics\n");
        }
        text
    }
}

/// Init failed: print its log under the label, and the lock target when the
/// complaint is about the lock file.
pub fn print_init_failure(args: &CheckOptions, log: &str) {
    eprintln!("rules_fleet: {}: terraform init failed:\n{log}", args.label);
    print_lock_file_hint(args, log);
}

/// Names the `.lock` target when terraform's complaint is about the lock file
/// (init, or the provider checksums checked when the plan starts a provider).
pub fn print_lock_file_hint(args: &CheckOptions, text: &str) {
    let lower = text.to_lowercase();
    let about_lock_file = ["lock file", "checksums", "dependency changes"]
        .iter()
        .any(|k| lower.contains(k));
    if about_lock_file && !args.lock_file_target.is_empty() {
        eprintln!(
            "rules_fleet: {}: the component's lock file does not cover its providers; regenerate it: bazel run {}",
            args.label, args.lock_file_target
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_paths_at_boundaries_only() {
        let origins = Origins::new(&[
            ("main.tf".into(), "infra/x/main.tf".into()),
            (
                "modules/a/main.tf".into(),
                "infra/x/modules/a/main.tf".into(),
            ),
        ]);
        assert_eq!(
            origins.text("declared at main.tf:5,1-17 and modules/a/main.tf:2 not xmain.tf:3 or main.tf."),
            "declared at infra/x/main.tf:5,1-17 and infra/x/modules/a/main.tf:2 not xmain.tf:3 or main.tf."
        );
        assert_eq!(
            origins.file("modules/a/main.tf"),
            "infra/x/modules/a/main.tf"
        );
    }

    #[test]
    fn reads_a_failed_run_naming_generated_values_by_label() {
        let origins = Origins::new(&[
            ("main.tf".into(), "infra/x/main.tf".into()),
            ("terraform.tfvars.json".into(), "//infra/x:big vars".into()),
        ]);
        let stream = [
            r#"{"type":"version","terraform":"1.11.4"}"#,
            r#"{"type":"diagnostic","diagnostic":{"severity":"error","summary":"Invalid value for variable","detail":"too big\n\nThis was checked by the validation rule at main.tf:7,3-13.","range":{"filename":"terraform.tfvars.json","start":{"line":1,"column":11}},"snippet":{"code":"{\"secret\": \"hunter2\"}","values":[{"traversal":"var.n","statement":"is 9"}]}}}"#,
            r#"{"type":"test_summary","test_summary":{"status":"error"}}"#,
        ]
        .join("\n");
        let outcome = parse_test_stream(&(stream, String::new()), &origins).unwrap();
        assert!(!outcome.passed);
        assert_eq!(outcome.terraform, "1.11.4");
        let d = &outcome.diagnostics[0];
        assert_eq!(d.at, "//infra/x:big vars");
        assert!(d
            .detail
            .ends_with("validation rule at infra/x/main.tf:7,3-13."));
        assert_eq!(d.values, ["var.n is 9"]);
        // Snippet source text (it may hold other values) is never kept.
        assert!(!format!("{d:?}").contains("hunter2"));
    }

    #[test]
    fn errors_before_any_run_are_a_failed_check() {
        let stream = r#"{"type":"diagnostic","diagnostic":{"severity":"error","summary":"Failed to load plugin schemas","detail":"the cached package does not match any of the checksums recorded in the dependency lock file"}}"#;
        let outcome =
            parse_test_stream(&(stream.into(), String::new()), &Origins::new(&[])).unwrap();
        assert!(!outcome.passed);
        assert!(outcome.diagnostics[0]
            .detail
            .contains("dependency lock file"));
    }

    #[test]
    fn a_stream_without_summary_is_an_error_with_terraforms_words() {
        let err = parse_test_stream(
            &(String::new(), "Unsupported block type".into()),
            &Origins::new(&[]),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("Unsupported block type"));
    }
}
