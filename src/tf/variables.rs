//! Which variables a root module declares `sensitive = true`, so a sensitive
//! upstream output is only ever passed to a variable terraform redacts.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::module_files::ModuleConfig;

/// Variable name → declared sensitive, for the root module in `dir` (override
/// files applied last). A file that does not parse is unsafe input (exit 4).
pub fn declared_sensitivity(dir: &Path) -> Result<BTreeMap<String, bool>> {
    Ok(ModuleConfig::read(dir)?.variables)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_the_modules_variables_with_overrides() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("main.tf"),
            "variable \"pw\" {\n  sensitive = true\n}\nvariable \"plain\" {}\n\
             # variable \"fake\" { sensitive = true }\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("more.tf.json"),
            r#"{"variable": {"token": {"sensitive": true}}}"#,
        )
        .unwrap();
        fs::write(
            dir.path().join("x_override.tf"),
            "variable \"plain\" { sensitive = true }\n",
        )
        .unwrap();
        let found = declared_sensitivity(dir.path()).unwrap();
        let expect: BTreeMap<String, bool> = [("plain", true), ("pw", true), ("token", true)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(found, expect);
    }
}
