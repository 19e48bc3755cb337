//! The values of the root module's `sensitive = true` variables that the
//! check hands terraform: from the values files it loads (the instance's
//! `vars` and `var_files`, the module's own), from the `TF_VAR_*` the check
//! sets, and literal defaults. `terraform test` prints variable values (and
//! error messages built from them) unredacted; the check removes these from
//! everything it writes (see [`super::scrub`]).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use super::scrub::{scrub, REPLACEMENT};
use super::tfvars;
use crate::module_files::{literal, ModuleConfig};

/// The sensitive variables of a root module and the values they get.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sensitive {
    /// Names of the variables declared `sensitive = true`.
    pub names: BTreeSet<String>,
    /// Their values as text: every string, number and bool inside them.
    pub values: Vec<String>,
}

impl Sensitive {
    /// Reads the root module in `dir`; `env` is the `TF_VAR_*` environment
    /// the check gives terraform.
    pub fn read(dir: &Path, env: &[(String, String)]) -> Result<Sensitive> {
        let (config, _left_to_terraform) = ModuleConfig::read_parseable(dir)?;
        let names: BTreeSet<String> = config
            .variables
            .iter()
            .filter(|(_, sensitive)| **sensitive)
            .map(|(name, _)| name.clone())
            .collect();
        let mut values = Vec::new();
        for name in &names {
            if let Some(default) = config.defaults.get(name) {
                leaves(default, &mut values);
            }
        }
        for path in tfvars::loaded_files(dir)? {
            for (name, value) in tfvars::read(&path)?.unwrap_or_default() {
                if names.contains(&name) {
                    leaves(&value, &mut values);
                }
            }
        }
        for (key, text) in env {
            let Some(name) = key.strip_prefix("TF_VAR_") else {
                continue;
            };
            if names.contains(name) {
                values.push(text.clone());
                // A complex value is given as an HCL expression.
                if let Some(value) = text
                    .parse::<hcl::Expression>()
                    .ok()
                    .as_ref()
                    .and_then(literal)
                {
                    leaves(&value, &mut values);
                }
            }
        }
        values.sort();
        values.dedup();
        Ok(Sensitive { names, values })
    }

    /// `text` without any of the values.
    pub fn scrub(&self, text: &str) -> String {
        scrub(&self.values, text)
    }

    /// One of terraform's `TRAVERSAL STATEMENT` value lines (`var.pw is
    /// "x"`): a line about a sensitive variable says only that; others are
    /// scrubbed.
    pub fn value_line(&self, line: &str) -> String {
        let traversal = line.split(' ').next().unwrap_or_default();
        let variable = traversal
            .strip_prefix("var.")
            .map(|rest| rest.split(['.', '[']).next().unwrap_or_default());
        match variable {
            Some(name) if self.names.contains(name) => format!("{traversal} is {REPLACEMENT}"),
            _ => self.scrub(line),
        }
    }
}

/// Every string, number and bool inside `value`, as text.
fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Null => {}
        Value::String(text) => out.push(text.clone()),
        Value::Bool(_) | Value::Number(_) => out.push(value.to_string()),
        Value::Array(items) => items.iter().for_each(|item| leaves(item, out)),
        Value::Object(map) => map.values().for_each(|item| leaves(item, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn collects_values_of_sensitive_variables_only() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| fs::write(dir.path().join(name), text).unwrap();
        write(
            "main.tf",
            "variable \"pw\" {\n  sensitive = true\n  default = \"changeme\"\n}\n\
             variable \"keys\" { sensitive = true }\nvariable \"pin\" { sensitive = true }\n\
             variable \"env_pw\" { sensitive = true }\nvariable \"plain\" {}\n",
        );
        write(
            "terraform.tfvars.json",
            r#"{"pw": "hunter2", "plain": "visible"}"#,
        );
        write(
            "fleet-001-k.auto.tfvars",
            "keys = { a = \"k-one\", b = [\"k-two\", 7] }\n",
        );
        let env = [
            ("TF_VAR_env_pw".to_string(), "from-env".to_string()),
            ("TF_VAR_pin".to_string(), "[\"p1\", \"p2\"]".to_string()),
            ("TF_VAR_plain".to_string(), "also-visible".to_string()),
        ];
        let found = Sensitive::read(dir.path(), &env).unwrap();
        assert_eq!(
            found.names.iter().map(String::as_str).collect::<Vec<_>>(),
            ["env_pw", "keys", "pin", "pw"]
        );
        for value in [
            "changeme", "hunter2", "k-one", "k-two", "7", "from-env", "p1", "p2",
        ] {
            assert!(
                found.values.contains(&value.to_string()),
                "{value} in {:?}",
                found.values
            );
        }
        for value in ["visible", "also-visible"] {
            assert!(!found.values.contains(&value.to_string()), "{value}");
        }
        assert_eq!(
            found.value_line("var.pw is \"hunter2\""),
            "var.pw is (sensitive value)"
        );
        assert_eq!(
            found.value_line("var.keys.a is \"k-one\""),
            "var.keys.a is (sensitive value)"
        );
        assert_eq!(
            found.value_line("local.x is \"hunter2!\""),
            "local.x is \"(sensitive value)!\""
        );
        assert_eq!(
            found.value_line("var.plain is \"visible\""),
            "var.plain is \"visible\""
        );
    }
}
