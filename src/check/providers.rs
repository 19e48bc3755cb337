//! Which provider configurations a module tree uses, so that the check can
//! mock every one of them: local names (from `required_providers`, provider
//! blocks and the implied prefix of resource and data types) and the root
//! module's aliased configurations. The files are read by [`crate::module_files`].

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::module_files::ModuleConfig;

/// The provider configurations to mock: `(local name, alias)`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ProviderUse {
    pub names: BTreeSet<String>,
    pub aliases: BTreeSet<(String, String)>,
}

impl ProviderUse {
    /// Adds the module in `root_dir` and every directory below it (local
    /// child modules), except those named in `skip`. A file that does not
    /// parse is left out: terraform, which runs next, reports it in its own words.
    pub fn add_tree(&mut self, root_dir: &Path, skip: &str) -> Result<()> {
        self.add_dirs(root_dir, skip, true)
    }

    fn add_dirs(&mut self, dir: &Path, skip: &str, root: bool) -> Result<()> {
        let (config, _left_to_terraform) = ModuleConfig::read_parseable(dir)?;
        self.add_module(&config, root);
        let mut subdirs = Vec::new();
        for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            // Links are followed: the check's copy of a module is a tree of links.
            if entry.file_name() != skip && entry.path().is_dir() {
                subdirs.push(entry.path());
            }
        }
        subdirs.sort();
        for sub in subdirs {
            self.add_dirs(&sub, skip, false)?;
        }
        Ok(())
    }

    /// Adds what one module declares; `root` says whether its provider blocks
    /// are the root module's (only those can be replaced by mocks).
    pub fn add_module(&mut self, config: &ModuleConfig, root: bool) {
        for resource_type in &config.resource_types {
            self.add_type(resource_type);
        }
        for name in &config.required_providers {
            self.add_provider(name, None, root);
        }
        for (name, alias) in &config.providers {
            self.add_provider(name, alias.as_deref(), root);
        }
    }

    fn add_type(&mut self, resource_type: &str) {
        let prefix = resource_type.split('_').next().unwrap_or(resource_type);
        // The builtin provider (terraform_data, terraform_remote_state) needs no mock.
        if !prefix.is_empty() && prefix != "terraform" {
            self.names.insert(prefix.to_string());
        }
    }

    fn add_provider(&mut self, name: &str, alias: Option<&str>, root: bool) {
        if name == "terraform" {
            return;
        }
        self.names.insert(name.to_string());
        if let (Some(alias), true) = (alias, root) {
            self.aliases.insert((name.to_string(), alias.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    fn scan(dir: &Path) -> ProviderUse {
        let mut found = ProviderUse::default();
        found.add_tree(dir, ".fleet-check").unwrap();
        found
    }

    #[test]
    fn finds_names_aliases_and_implied_providers() {
        let dir = tree(&[(
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
resource "random_id" "r" {
  description = <<-EOT
    provider "heredoc" {
  EOT
}
data "google_project" "p" {}
resource "terraform_data" "t" {}
provider "terraform" {}
"#,
        )]);
        let found = scan(dir.path());
        let names: Vec<&str> = found.names.iter().map(String::as_str).collect();
        assert_eq!(names, ["aws", "google", "random"]);
        assert_eq!(
            found.aliases.into_iter().collect::<Vec<_>>(),
            [("aws".to_string(), "east".to_string())]
        );
    }

    #[test]
    fn child_module_aliases_are_not_mockable_but_names_count() {
        let dir = tree(&[
            (
                "main.tf",
                "module \"child\" {\n  source = \"./modules/child\"\n}\n",
            ),
            (
                "modules/child/main.tf",
                "provider \"aws\" {\n alias = \"west\"\n}\n",
            ),
            (
                "modules/child/x.tf.json",
                r#"{"data": {"google_y": {"d": {}}}}"#,
            ),
            (".fleet-check/mock.tf", "provider \"skipped\" {}\n"),
        ]);
        let found = scan(dir.path());
        assert!(found.aliases.is_empty());
        let names: Vec<&str> = found.names.iter().map(String::as_str).collect();
        assert_eq!(names, ["aws", "google"]);
    }

    #[test]
    fn json_configuration_and_override_files() {
        let dir = tree(&[
            (
                "main.tf.json",
                r#"{"provider": {"aws": [{"alias": "east"}, {}]},
                "resource": {"google_x": {}}, "terraform": {"required_providers": {"fleettest": {}}}}"#,
            ),
            (
                "main_override.tf",
                "provider \"aws\" {\n  alias = \"west\"\n}\n",
            ),
        ]);
        let found = scan(dir.path());
        assert_eq!(found.names.len(), 3);
        assert!(found.aliases.contains(&("aws".into(), "east".into())));
        assert!(found.aliases.contains(&("aws".into(), "west".into())));
    }

    #[test]
    fn an_unparseable_file_is_left_to_terraform() {
        let dir = tree(&[
            ("broken.tf", "resource \"random_id\" \"r\" {\n"),
            ("main.tf", "provider \"aws\" {}\n"),
        ]);
        let found = scan(dir.path());
        let names: Vec<&str> = found.names.iter().map(String::as_str).collect();
        assert_eq!(names, ["aws"]);
    }
}
