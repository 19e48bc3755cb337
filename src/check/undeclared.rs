//! Every variable an instance sets must be declared by its component.
//! Terraform only warns about an undeclared variable in a values file, and
//! ignores an undeclared `TF_VAR_*`: a misspelt key would plan with the
//! default and "succeed". The rendered tree's root module says what is
//! declared; the instance's values files (`vars`, `var_files`) and the names
//! it sets another way (`inputs_from`, `secret_env`, `env` `TF_VAR_*`) say
//! what is set.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use super::tfvars;
use crate::module_files::ModuleConfig;

/// One variable name the instance sets, and where (`vars`, `var_files
/// infra/x/prod.tfvars`, `secret_env`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub source: String,
}

/// An undeclared setting, with the declared name it most likely meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeclared {
    pub setting: Setting,
    pub suggestion: Option<String>,
}

/// What the check of one rendered instance needs.
pub struct NamesCheck<'a> {
    /// The rendered tree (its top directory is the root module).
    pub tree: &'a Path,
    /// The instance's label, for the message.
    pub label: &'a str,
    /// The component's label, for the message.
    pub component: &'a str,
    /// (PATH in the tree, SOURCE): values files the instance sets.
    pub values: &'a [(String, String)],
    /// (NAME, SOURCE): variables the instance sets another way.
    pub sets: &'a [(String, String)],
}

/// The failure text when the instance sets a variable its component does not
/// declare; `None` when all are declared, or when a configuration file does
/// not parse (terraform, which runs next, reports that in its own words).
pub fn check_names(check: &NamesCheck) -> Result<Option<String>> {
    let (config, unparseable) = ModuleConfig::read_parseable(check.tree)?;
    if !unparseable.is_empty() {
        return Ok(None);
    }
    let mut settings = Vec::new();
    for (path, source) in check.values {
        let Some(values) = tfvars::read(&check.tree.join(path))? else {
            continue;
        };
        settings.extend(values.into_keys().map(|name| Setting {
            name,
            source: source.clone(),
        }));
    }
    settings.extend(check.sets.iter().map(|(name, source)| Setting {
        name: name.clone(),
        source: source.clone(),
    }));
    let found = undeclared(&config.variables, &settings);
    Ok((!found.is_empty())
        .then(|| message(check.label, check.component, &found, &config.variables)))
}

/// The settings whose name is not declared, in the order given.
pub fn undeclared(declared: &BTreeMap<String, bool>, settings: &[Setting]) -> Vec<Undeclared> {
    settings
        .iter()
        .filter(|s| !declared.contains_key(&s.name))
        .map(|s| Undeclared {
            setting: s.clone(),
            suggestion: suggestion(&s.name, declared.keys()).map(str::to_string),
        })
        .collect()
}

/// The declared name closest to `name`, when it is close enough to be a
/// misspelling (edit distance below 3, as terraform's own suggestions).
pub fn suggestion<'a>(name: &str, declared: impl Iterator<Item = &'a String>) -> Option<&'a str> {
    declared
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, _)| *distance < 3)
        .min()
        .map(|(_, candidate)| candidate.as_str())
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// One line per undeclared name (`rules_fleet: //pkg:name sets "sizee", which
/// //pkg:component does not declare (did you mean "size"?)`), where it is set,
/// and what the component declares.
pub fn message(
    label: &str,
    component: &str,
    found: &[Undeclared],
    declared: &BTreeMap<String, bool>,
) -> String {
    let mut text = String::new();
    for item in found {
        text.push_str(&format!(
            "rules_fleet: {label} sets {:?}, which {component} does not declare",
            item.setting.name
        ));
        if let Some(suggestion) = &item.suggestion {
            text.push_str(&format!(" (did you mean {suggestion:?}?)"));
        }
        text.push_str(&format!("\n  set in {}\n", item.setting.source));
    }
    if declared.is_empty() {
        text.push_str(&format!("  {component} declares no variables\n"));
    } else {
        let names: Vec<&str> = declared.keys().map(String::as_str).collect();
        text.push_str(&format!("  {component} declares: {}\n", names.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn declared(names: &[&str]) -> BTreeMap<String, bool> {
        names.iter().map(|n| (n.to_string(), false)).collect()
    }

    #[test]
    fn suggests_the_closest_declared_name_only_when_close() {
        let names = declared(&["size", "nodes", "node_type", "password"]);
        assert_eq!(suggestion("sizee", names.keys()), Some("size"));
        assert_eq!(suggestion("pasword", names.keys()), Some("password"));
        assert_eq!(suggestion("node_typ", names.keys()), Some("node_type"));
        assert_eq!(suggestion("region", names.keys()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("größe", "grösse"), 2);
    }

    #[test]
    fn names_every_undeclared_setting_with_its_source() {
        let names = declared(&["size"]);
        let settings = [
            Setting {
                name: "size".into(),
                source: "vars".into(),
            },
            Setting {
                name: "sizee".into(),
                source: "vars".into(),
            },
            Setting {
                name: "token".into(),
                source: "secret_env".into(),
            },
        ];
        let found = undeclared(&names, &settings);
        assert_eq!(found.len(), 2);
        let text = message("//p:a", "//p:c", &found, &names);
        assert_eq!(
            text,
            "rules_fleet: //p:a sets \"sizee\", which //p:c does not declare (did you mean \"size\"?)\n  \
             set in vars\n\
             rules_fleet: //p:a sets \"token\", which //p:c does not declare\n  set in secret_env\n  \
             //p:c declares: size\n"
        );
    }

    #[test]
    fn reads_the_tree_and_leaves_unparseable_modules_to_terraform() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| fs::write(dir.path().join(name), text).unwrap();
        write("main.tf", "variable \"size\" {}\nvariable \"pw\" {}\n");
        write("terraform.tfvars.json", r#"{"size": 1, "sizee": 2}"#);
        write("fleet-001-prod.auto.tfvars", "pw = \"x\"\nzize = 3\n");
        let values = [
            ("terraform.tfvars.json".to_string(), "vars".to_string()),
            (
                "fleet-001-prod.auto.tfvars".to_string(),
                "var_files p/prod.tfvars".to_string(),
            ),
        ];
        let sets = [("pw".to_string(), "secret_env".to_string())];
        let check = NamesCheck {
            tree: dir.path(),
            label: "//p:a",
            component: "//p:c",
            values: &values,
            sets: &sets,
        };
        let text = check_names(&check).unwrap().unwrap();
        assert!(text.contains(
            "sets \"sizee\", which //p:c does not declare (did you mean \"size\"?)\n  set in vars"
        ));
        assert!(text.contains("sets \"zize\", which //p:c does not declare (did you mean \"size\"?)\n  set in var_files p/prod.tfvars"));
        assert!(!text.contains("\"pw\""), "{text}");

        write("broken.tf", "variable \"x\" {\n");
        assert_eq!(check_names(&check).unwrap(), None);
    }
}
