//! Which variables a root module declares `sensitive = true`: read from the
//! `variable` blocks of its `.tf` (HCL) and `.tf.json` files, so a sensitive
//! upstream output is only ever passed to a variable terraform redacts.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::error::unsafe_input;

/// Variable name → declared sensitive, for the root module in `dir`.
/// `*_override.tf[.json]` files are applied last, as terraform does.
pub fn declared_sensitivity(dir: &Path) -> Result<BTreeMap<String, bool>> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let stem = name
                .strip_suffix(".tf.json")
                .or_else(|| name.strip_suffix(".tf"))?
                .to_string();
            Some((stem == "override" || stem.ends_with("_override"), name, p))
        })
        .collect();
    files.sort();
    let mut found = BTreeMap::new();
    for (_, name, path) in files {
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        if name.ends_with(".tf.json") {
            from_json(&text, &path, &mut found)?;
        } else {
            from_hcl(&text, &path, &mut found)?;
        }
    }
    Ok(found)
}

fn from_hcl(text: &str, path: &Path, found: &mut BTreeMap<String, bool>) -> Result<()> {
    let body = hcl::parse(text)
        .map_err(|e| unsafe_input(format!("{} does not parse as HCL: {e}", path.display())))?;
    for block in body.blocks().filter(|b| b.identifier() == "variable") {
        let Some(label) = block.labels().first() else {
            continue;
        };
        let sensitive = block
            .body()
            .attributes()
            .find(|a| a.key() == "sensitive")
            .map(|a| matches!(a.expr(), hcl::Expression::Bool(true)));
        merge(found, label.as_str(), sensitive);
    }
    Ok(())
}

fn from_json(text: &str, path: &Path, found: &mut BTreeMap<String, bool>) -> Result<()> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| unsafe_input(format!("{} does not parse as JSON: {e}", path.display())))?;
    let Some(variables) = doc.get("variable") else {
        return Ok(());
    };
    // `"variable": {"x": {...}}` or a list of such objects.
    let groups: Vec<&Value> = match variables {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for group in groups {
        for (name, decl) in group.as_object().into_iter().flatten() {
            let decls: Vec<&Value> = match decl {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for decl in decls {
                let sensitive = decl.get("sensitive").map(|v| v == &Value::Bool(true));
                merge(found, name, sensitive);
            }
        }
    }
    Ok(())
}

/// A declaration without `sensitive` keeps what an earlier one said.
fn merge(found: &mut BTreeMap<String, bool>, name: &str, sensitive: Option<bool>) {
    let entry = found.entry(name.to_string()).or_insert(false);
    if let Some(s) = sensitive {
        *entry = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hcl_json_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("main.tf"),
            "variable \"pw\" {\n  type = string\n  sensitive = true\n}\nvariable \"plain\" {}\n\
             # variable \"fake\" { sensitive = true }\nlocals {\n  t = <<EOT\nvariable \"h\" { sensitive = true }\nEOT\n}\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("more.tf.json"),
            r#"{"variable": {"token": {"sensitive": true}, "name": {"type": "string"}}}"#,
        )
        .unwrap();
        fs::write(
            dir.path().join("x_override.tf"),
            "variable \"plain\" { sensitive = true }\n",
        )
        .unwrap();
        let found = declared_sensitivity(dir.path()).unwrap();
        let expect: BTreeMap<String, bool> = [
            ("name", false),
            ("plain", true),
            ("pw", true),
            ("token", true),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(found, expect);
    }
}
