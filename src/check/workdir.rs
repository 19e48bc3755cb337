//! The check's private working directory: a link tree of the module (the
//! inputs are never written to), a private data dir, CLI config and home, the
//! read-only plugin directory, the generated test file and mock files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};

use super::providers::ProviderUse;
use super::CheckOptions;
use crate::error::usage;
use crate::plugin_dir::Slot;
use crate::tf_env::{self, Scope};

/// Name of the generated test directory inside the module copy.
pub const TEST_DIR: &str = ".fleet-check";
/// The generated run block's name.
pub const RUN_NAME: &str = "fleet_check";

pub struct Workdir {
    root: PathBuf,
    module: PathBuf,
    plugin_slots: Vec<String>,
    /// What the instance's run gives the plan: `TF_VAR_*`, `TF_WORKSPACE`.
    plan_env: Vec<(String, String)>,
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = crate::fsutil::remove_tree(&self.root);
    }
}

impl Workdir {
    /// The private directory (removed when the Workdir is dropped).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The module's copy (terraform's working directory).
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// Creates the private directory and links the module's files into it;
    /// `plan_env` is set for the plan (`terraform test`) alone.
    pub fn create(args: &CheckOptions, plan_env: Vec<(String, String)>) -> Result<Workdir> {
        let tmp = std::env::var_os("TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let root = absolute(&tmp)?.join(format!("fleet-check.{}", crate::fsutil::unique_suffix()));
        fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
        let work = Workdir {
            module: root.join("module"),
            plugin_slots: args.plugins.iter().map(|(slot, _)| slot.clone()).collect(),
            plan_env,
            root,
        };
        for dir in ["module", "home", "data", "plugins"] {
            fs::create_dir(work.root.join(dir))
                .with_context(|| format!("creating {}", work.root.join(dir).display()))?;
        }
        fs::write(work.root.join("terraformrc"), "disable_checkpoint = true\n")
            .context("writing the check's CLI configuration")?;
        if let Some(tree) = &args.tree {
            link_tree(tree, &work.module, true)?;
        }
        for (path, file) in &args.files {
            link_file(&work.module, path, file)?;
        }
        for (slot, dir) in &args.plugins {
            Slot::parse(slot)?.link(&work.root.join("plugins"), &absolute(dir)?)?;
        }
        Ok(work)
    }

    fn terraform(&self, terraform: &Path) -> Result<Command> {
        let mut command = Command::new(absolute(terraform)?);
        // The hermetic policy: nothing of the caller's but TMPDIR (no
        // TF_CLI_ARGS*, TF_LOG, TF_WORKSPACE, plugin cache, user
        // configuration or credentials), then the check's own directories.
        tf_env::sanitize_from_process(&mut command, Scope::Hermetic);
        command
            .current_dir(&self.module)
            .envs(crate::go_runtime::settings(crate::go_runtime::local_jobs()))
            .envs(tf_env::fleet_settings(Scope::Hermetic))
            .env("TF_CLI_CONFIG_FILE", self.root.join("terraformrc"))
            .env("TF_DATA_DIR", self.root.join("data"))
            .env("HOME", self.root.join("home"));
        Ok(command)
    }

    fn run(&self, terraform: &Path, args: &[&str]) -> Result<Output> {
        self.run_with(terraform, args, &[])
    }

    fn run_with(
        &self,
        terraform: &Path,
        args: &[&str],
        env: &[(String, String)],
    ) -> Result<Output> {
        let mut command = self.terraform(terraform)?;
        command.args(args).envs(env.iter().map(|(k, v)| (k, v)));
        command
            .output()
            .with_context(|| format!("running {} {}", terraform.display(), args.join(" ")))
    }

    /// `terraform init`; `Ok(Err(log))` when terraform refused.
    pub fn init(&self, terraform: &Path) -> Result<std::result::Result<(), String>> {
        let plugin_dir = format!("-plugin-dir={}", self.root.join("plugins").display());
        let mut args = vec![
            "init",
            "-backend=false",
            "-input=false",
            "-lockfile=readonly",
            "-no-color",
        ];
        if !self.plugin_slots.is_empty() {
            args.push(&plugin_dir);
        }
        let output = self.run(terraform, &args)?;
        if output.status.success() {
            return Ok(Ok(()));
        }
        let mut log = String::from_utf8_lossy(&output.stdout).into_owned();
        log.push_str(&String::from_utf8_lossy(&output.stderr));
        Ok(Err(log))
    }

    /// `terraform test -json` of the generated run block: (stdout, stderr).
    pub fn test(&self, terraform: &Path) -> Result<(String, String)> {
        let dir = format!("-test-directory={TEST_DIR}");
        // TF_WORKSPACE names the workspace without a state to select it in
        // (no backend); terraform test reads TF_VAR_* below the values files, as a run does.
        let args = ["test", "-json", "-verbose", "-no-color", &dir];
        let output = self.run_with(terraform, &args, &self.plan_env)?;
        Ok(text_of(&output))
    }

    /// `terraform validate -json`: (stdout, stderr).
    pub fn validate(&self, terraform: &Path) -> Result<(String, String)> {
        let output = self.run(terraform, &["validate", "-json", "-no-color"])?;
        Ok(text_of(&output))
    }

    /// Writes the test file: one mock per provider configuration the module
    /// uses (mock files by provider name), one run block planning the instance
    /// with the values of its tfvars files.
    pub fn write_test_file(&self, mocks: &[(String, PathBuf)]) -> Result<()> {
        let used = self.provider_use()?;
        let test_dir = self.module.join(TEST_DIR);
        let mut text = String::from(
            "# Generated by `fleet check`: plans the instance against mock providers.\n",
        );
        for (index, (name, file)) in mocks.iter().enumerate() {
            if !used.names.contains(name) {
                bail!(usage(format!(
                    "mocks: {} is for provider {name:?}, which the module does not use (it uses: {})",
                    file.display(),
                    used.names.iter().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            let base = file
                .file_name()
                .map_or_else(|| "mock".into(), |n| n.to_string_lossy().into_owned());
            let name_in_dir = format!("{index:03}-{}", base.trim_end_matches(".tfmock.hcl"));
            link_file(
                &test_dir,
                &format!("mocks/{name}/{name_in_dir}.tfmock.hcl"),
                file,
            )?;
        }
        let with_mocks: std::collections::BTreeSet<&String> =
            mocks.iter().map(|(n, _)| n).collect();
        let configs = used
            .names
            .iter()
            .map(|n| (n, None))
            .chain(used.aliases.iter().map(|(n, a)| (n, Some(a))));
        for (name, alias) in configs {
            text.push_str(&format!("mock_provider \"{name}\" {{\n"));
            if let Some(alias) = alias {
                text.push_str(&format!("  alias = \"{alias}\"\n"));
            }
            if with_mocks.contains(name) {
                text.push_str(&format!("  source = \"./{TEST_DIR}/mocks/{name}\"\n"));
            }
            text.push_str("}\n");
        }
        text.push_str(&format!("run \"{RUN_NAME}\" {{\n  command = plan\n}}\n"));
        fs::create_dir_all(&test_dir)
            .with_context(|| format!("creating {}", test_dir.display()))?;
        fs::write(test_dir.join("instance.tftest.hcl"), text)
            .context("writing the check's test file")
    }

    /// Providers of every module in the tree, and the plugin directory's.
    fn provider_use(&self) -> Result<ProviderUse> {
        let mut used = ProviderUse::default();
        for slot in &self.plugin_slots {
            used.names.insert(Slot::parse(slot)?.kind().to_string());
        }
        used.add_tree(&self.module, TEST_DIR)?;
        Ok(used)
    }
}

fn text_of(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("reading the working directory")?
        .join(path))
}

/// Links `source` at `dir/relative` (parents created). `relative` must stay inside `dir`.
fn link_file(dir: &Path, relative: &str, source: &Path) -> Result<()> {
    let rel = Path::new(relative);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        bail!(usage(format!(
            "{relative:?} must be a relative path without `..`"
        )));
    }
    let target = dir.join(rel);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::os::unix::fs::symlink(absolute(source)?, &target)
        .with_context(|| format!("linking {} at {}", source.display(), target.display()))
}

/// Mirrors `tree` into `dest` as directories and file links. At the top, the
/// module's own tests (`*.tftest.hcl`/`.json`) and the check's directory name
/// are left out: the check runs only its own run block.
fn link_tree(tree: &Path, dest: &Path, top: bool) -> Result<()> {
    let entries =
        fs::read_dir(tree).with_context(|| format!("reading the tree {}", tree.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading the tree {}", tree.display()))?;
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if top
            && (text.ends_with(".tftest.hcl") || text.ends_with(".tftest.json") || text == TEST_DIR)
        {
            continue;
        }
        let path = entry.path();
        let meta = fs::metadata(&path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            fs::create_dir(dest.join(&name))
                .with_context(|| format!("creating {}", dest.join(&name).display()))?;
            link_tree(&path, &dest.join(&name), false)?;
        } else {
            std::os::unix::fs::symlink(absolute(&path)?, dest.join(&name))
                .with_context(|| format!("linking {}", path.display()))?;
        }
    }
    Ok(())
}
