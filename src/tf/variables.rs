//! Which variables a root module declares `sensitive = true`, so a secret
//! (a sensitive upstream output, a `secret_env` value) is only ever passed to
//! a variable terraform redacts.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::error::unsafe_input;
use crate::manifest::Instance;
use crate::module_files::ModuleConfig;

/// Variable name → declared sensitive, for the root module in `dir` (override
/// files applied last). A file that does not parse is unsafe input (exit 4).
pub fn declared_sensitivity(dir: &Path) -> Result<BTreeMap<String, bool>> {
    Ok(ModuleConfig::read(dir)?.variables)
}

/// Like [`declared_sensitivity`], but `None` when a file does not parse.
pub fn declared_sensitivity_if_parseable(dir: &Path) -> Result<Option<BTreeMap<String, bool>>> {
    let (config, skipped) = ModuleConfig::read_parseable(dir)?;
    Ok(skipped.is_empty().then_some(config.variables))
}

/// Refuses (exit 4) a `secret_env` entry whose variable the root module in
/// `dir` does not declare `sensitive = true`: terraform would show the value
/// in clear (plans, errors, logs, the summary).
pub fn check_secret_env(inst: &Instance, dir: &Path) -> Result<()> {
    if inst.secret_env.is_empty() {
        return Ok(());
    }
    let declared = declared_sensitivity(dir)?;
    for (var, env) in &inst.secret_env {
        let what = match declared.get(var) {
            Some(true) => continue,
            Some(false) => "does not declare it `sensitive = true`: terraform would show the \
                            value in clear in plans, errors, logs and the summary"
                .to_string(),
            None => "declares no such variable (terraform would ignore the value)".to_string(),
        };
        return Err(unsafe_input(format!(
            "{}: secret_env gives variable {var} the value of ${env}, but the root module \
             {what}. Declare it in the component: variable \"{var}\" {{ sensitive = true }}",
            inst.label
        )));
    }
    Ok(())
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
