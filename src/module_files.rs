//! Reading a Terraform module's configuration files: the `.tf` files (parsed
//! by `hcl-rs`) and `.tf.json` files (serde_json) of one directory, in
//! terraform's order (override files last). Nothing is evaluated; this only
//! learns what the callers need: which variables are declared (and sensitive,
//! and their literal defaults), which provider
//! configurations the module names, which resource and data types it uses.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use crate::error::unsafe_input;

/// What a module's configuration files declare.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ModuleConfig {
    /// Variable name → declared `sensitive = true` (after override files).
    pub variables: BTreeMap<String, bool>,
    /// Variable name → its `default`, where that is a literal (after override files).
    pub defaults: BTreeMap<String, Value>,
    /// `provider "NAME" { alias = "ALIAS" }` blocks: (NAME, ALIAS if any).
    pub providers: BTreeSet<(String, Option<String>)>,
    /// Local names under `terraform { required_providers { ... } }`.
    pub required_providers: BTreeSet<String>,
    /// The types of `resource` and `data` blocks.
    pub resource_types: BTreeSet<String>,
}

/// A configuration file that does not parse, as its own error so that a
/// caller may leave the diagnosis to terraform.
#[derive(Debug, thiserror::Error)]
#[error("{} does not parse as {format}: {reason}", path.display())]
pub struct Unparseable {
    pub path: PathBuf,
    pub format: &'static str,
    pub reason: String,
}

impl ModuleConfig {
    /// Reads every configuration file of the module in `dir`; a file that does
    /// not parse is unsafe input (exit 4), named.
    pub fn read(dir: &Path) -> Result<ModuleConfig> {
        let mut config = ModuleConfig::default();
        for path in config_files(dir)? {
            config
                .add_file(&path)?
                .map_err(|bad| unsafe_input(bad.to_string()))?;
        }
        Ok(config)
    }

    /// Like [`ModuleConfig::read`], but files that do not parse are skipped
    /// and returned, for a caller whose next step (terraform) reports them.
    pub fn read_parseable(dir: &Path) -> Result<(ModuleConfig, Vec<Unparseable>)> {
        let mut config = ModuleConfig::default();
        let mut skipped = Vec::new();
        for path in config_files(dir)? {
            if let Err(bad) = config.add_file(&path)? {
                skipped.push(bad);
            }
        }
        Ok((config, skipped))
    }

    /// Adds one file: `Err` when reading fails, `Ok(Err)` when it does not parse.
    fn add_file(&mut self, path: &Path) -> Result<std::result::Result<(), Unparseable>> {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let unparseable = |format, reason: String| Unparseable {
            path: path.to_path_buf(),
            format,
            reason,
        };
        if path.to_string_lossy().ends_with(".tf.json") {
            match serde_json::from_str::<Value>(&text) {
                Ok(doc) => self.add_json(&doc),
                Err(e) => return Ok(Err(unparseable("JSON", e.to_string()))),
            }
        } else {
            match hcl::parse(&text) {
                Ok(body) => self.add_hcl(&body),
                Err(e) => return Ok(Err(unparseable("HCL", e.to_string()))),
            }
        }
        Ok(Ok(()))
    }

    fn add_hcl(&mut self, body: &hcl::Body) {
        for block in body.blocks() {
            let label = block.labels().first().map(hcl::BlockLabel::as_str);
            let mut attrs = block.body().attributes();
            match (block.identifier(), label) {
                ("variable", Some(name)) => {
                    let sensitive = block
                        .body()
                        .attributes()
                        .find(|a| a.key() == "sensitive")
                        .map(|a| matches!(a.expr(), hcl::Expression::Bool(true)));
                    let default = attrs
                        .find(|a| a.key() == "default")
                        .and_then(|a| literal(a.expr()));
                    self.add_variable(name, sensitive, default);
                }
                ("provider", Some(name)) => {
                    let alias = attrs
                        .filter(|a| a.key() == "alias")
                        .find_map(|a| match a.expr() {
                            hcl::Expression::String(s) => Some(s.clone()),
                            _ => None,
                        });
                    self.providers.insert((name.to_string(), alias));
                }
                ("resource" | "data", Some(kind)) => {
                    self.resource_types.insert(kind.to_string());
                }
                ("terraform", _) => {
                    let required = block.body().blocks();
                    for inner in required.filter(|b| b.identifier() == "required_providers") {
                        let names = inner.body().attributes().map(|a| a.key().to_string());
                        self.required_providers.extend(names);
                    }
                }
                _ => {}
            }
        }
    }

    fn add_json(&mut self, doc: &Value) {
        for top in objects(doc) {
            for (kind, value) in top {
                match kind.as_str() {
                    "variable" => self.add_json_variables(value),
                    "provider" => self.add_json_providers(value),
                    "resource" | "data" => {
                        let types = objects(value).flat_map(Map::keys);
                        self.resource_types
                            .extend(types.filter(|k| !is_comment(k)).cloned());
                    }
                    "terraform" => {
                        let blocks = objects(value).filter_map(|b| b.get("required_providers"));
                        let names = blocks.flat_map(objects).flat_map(Map::keys);
                        self.required_providers
                            .extend(names.filter(|k| !is_comment(k)).cloned());
                    }
                    _ => {}
                }
            }
        }
    }

    fn add_json_variables(&mut self, value: &Value) {
        for (name, decl) in objects(value).flatten() {
            for decl in objects(decl).filter(|_| !is_comment(name)) {
                let sensitive = decl.get("sensitive").map(|v| v == &Value::Bool(true));
                self.add_variable(name, sensitive, decl.get("default").cloned());
            }
        }
    }

    fn add_json_providers(&mut self, value: &Value) {
        for (name, configs) in objects(value).flatten() {
            for config in objects(configs).filter(|_| !is_comment(name)) {
                let alias = config.get("alias").and_then(Value::as_str);
                self.providers
                    .insert((name.clone(), alias.map(str::to_string)));
            }
        }
    }

    /// A declaration without `sensitive` (or `default`) keeps what an earlier one said.
    fn add_variable(&mut self, name: &str, sensitive: Option<bool>, default: Option<Value>) {
        let entry = self.variables.entry(name.to_string()).or_insert(false);
        if let Some(s) = sensitive {
            *entry = s;
        }
        if let Some(value) = default {
            self.defaults.insert(name.to_string(), value);
        }
    }
}

/// The module's configuration files in the order terraform loads them: the
/// primary files by name, then the override files (`override.tf[.json]`,
/// `*_override.tf[.json]`) by name. Editor and hidden files are ignored, as
/// terraform ignores them.
pub fn config_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let entries = fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some(stem) = name
            .strip_suffix(".tf.json")
            .or_else(|| name.strip_suffix(".tf"))
        else {
            continue;
        };
        let ignored = name.starts_with('.') || (name.starts_with('#') && name.ends_with('#'));
        // Links are followed: the check's copy of a module is a tree of links.
        if ignored || !path.is_file() {
            continue;
        }
        let is_override = stem == "override" || stem.ends_with("_override");
        files.push((is_override, name, path));
    }
    files.sort();
    Ok(files.into_iter().map(|(_, _, path)| path).collect())
}

/// The value of an HCL expression that is a literal (strings, numbers, bools,
/// lists and objects of them); `None` for anything terraform would evaluate.
pub fn literal(expr: &hcl::Expression) -> Option<Value> {
    use hcl::Expression as E;
    match expr {
        E::Null | E::Bool(_) | E::Number(_) | E::String(_) => {
            serde_json::to_value(hcl::Value::from(expr.clone())).ok()
        }
        E::Array(items) => items
            .iter()
            .map(literal)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        E::Object(object) => object
            .iter()
            .map(|(key, value)| {
                let key = match key {
                    hcl::ObjectKey::Identifier(id) => id.to_string(),
                    hcl::ObjectKey::Expression(E::String(s)) => s.clone(),
                    _ => return None,
                };
                literal(value).map(|v| (key, v))
            })
            .collect::<Option<Map<_, _>>>()
            .map(Value::Object),
        E::Parenthesis(inner) => literal(inner),
        _ => None,
    }
}

/// In terraform's JSON syntax a block value is an object or an array of objects.
fn objects(value: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        other => std::slice::from_ref(other),
    };
    items.iter().filter_map(Value::as_object)
}

/// `"//"` keys are comments in terraform's JSON syntax.
fn is_comment(key: &str) -> bool {
    key == "//"
}

#[cfg(test)]
mod tests;
