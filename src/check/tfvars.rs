//! Variable values files (`.tfvars`, `.tfvars.json`) as terraform reads
//! them: which files of a root module it loads, and the names and literal
//! values each sets. Nothing is evaluated.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::module_files::literal;

/// The values files terraform loads from the root module in `dir`, in its
/// order: `terraform.tfvars`, `terraform.tfvars.json`, then `*.auto.tfvars`
/// and `*.auto.tfvars.json` by name.
pub fn loaded_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut auto = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if name.ends_with(".auto.tfvars") || name.ends_with(".auto.tfvars.json") {
            auto.push(name);
        }
    }
    auto.sort();
    let mut files: Vec<PathBuf> = ["terraform.tfvars", "terraform.tfvars.json"]
        .iter()
        .map(|name| dir.join(name))
        .collect();
    files.extend(auto.iter().map(|name| dir.join(name)));
    // Links are followed: the check's copy of a module is a tree of links.
    Ok(files.into_iter().filter(|path| path.is_file()).collect())
}

/// Name → value of every variable the file sets (`Value::Null` where the
/// value is not a literal); JSON when the name ends in `.json`, else HCL.
/// `None` when the file does not parse: terraform reports that in its words.
pub fn read(path: &Path) -> Result<Option<BTreeMap<String, Value>>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if path.to_string_lossy().ends_with(".json") {
        return Ok(match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Some(map.into_iter().collect()),
            _ => None,
        });
    }
    Ok(hcl::parse(&text).ok().map(|body| {
        body.attributes()
            .map(|attr| {
                let value = literal(attr.expr()).unwrap_or(Value::Null);
                (attr.key().to_string(), value)
            })
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hcl_and_json_files_in_terraforms_order() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| fs::write(dir.path().join(name), text).unwrap();
        write("b.auto.tfvars.json", r#"{"size": 2, "tags": {"a": "x"}}"#);
        write(
            "a.auto.tfvars",
            "size = 1\nzones = [\"a\", \"b\"]\nref = upper(\"x\")\n",
        );
        write("terraform.tfvars.json", r#"{"pw": "hunter2"}"#);
        write("other.tfvars", "ignored = true\n");
        write("broken.auto.tfvars", "size = \n");
        let names: Vec<String> = loaded_files(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "terraform.tfvars.json",
                "a.auto.tfvars",
                "b.auto.tfvars.json",
                "broken.auto.tfvars"
            ]
        );
        let hcl = read(&dir.path().join("a.auto.tfvars")).unwrap().unwrap();
        assert_eq!(hcl["size"], serde_json::json!(1));
        assert_eq!(hcl["zones"], serde_json::json!(["a", "b"]));
        assert_eq!(hcl["ref"], Value::Null);
        let json = read(&dir.path().join("b.auto.tfvars.json"))
            .unwrap()
            .unwrap();
        assert_eq!(json["tags"], serde_json::json!({"a": "x"}));
        assert!(read(&dir.path().join("broken.auto.tfvars"))
            .unwrap()
            .is_none());
    }
}
