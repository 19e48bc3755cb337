//! Terraform for the lock-file commands: a scratch copy of the module, a
//! private CLI config, data dir and home, and the hermetic environment.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::error::usage;
use crate::scratch_dir::ScratchDir;
use crate::tf_env::{self, Scope};

use super::mirror::absolute;

/// The module's files copied into a scratch directory.
pub struct ModuleCopy {
    pub scratch: ScratchDir,
    pub module: PathBuf,
}

impl ModuleCopy {
    /// Copies each `(path in module, file)` pair (links followed).
    pub fn create(prefix: &str, files: &[(String, PathBuf)]) -> Result<ModuleCopy> {
        let scratch = ScratchDir::create(prefix)?;
        let module = scratch.subdir("module")?;
        for (path, file) in files {
            let rel = Path::new(path);
            if rel.is_absolute()
                || rel
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(usage(format!(
                    "module path {path:?} must be relative, without `..`"
                )));
            }
            let target = module.join(rel);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            copy_content(file, &target)?;
        }
        fs::write(
            scratch.path().join("terraformrc"),
            "disable_checkpoint = true\n",
        )
        .context("writing the scratch CLI configuration")?;
        scratch.subdir("home")?;
        Ok(ModuleCopy { scratch, module })
    }

    /// `terraform <args>` in the module copy, nothing of the caller's settings.
    pub fn terraform(&self, terraform: &Path, args: &[String]) -> Result<Command> {
        let mut command = Command::new(absolute(terraform)?);
        tf_env::sanitize_from_process(&mut command, Scope::Hermetic);
        command
            .envs(crate::go_runtime::settings(crate::go_runtime::local_jobs()))
            .envs(tf_env::fleet_settings(Scope::Hermetic))
            .env(
                "TF_CLI_CONFIG_FILE",
                self.scratch.path().join("terraformrc"),
            )
            .env("TF_DATA_DIR", self.scratch.path().join("data"))
            .env("HOME", self.scratch.path().join("home"))
            .args(args)
            .current_dir(&self.module);
        Ok(command)
    }
}

/// Copies the bytes only: Bazel's inputs are read-only, the copy must not be.
pub fn copy_content(from: &Path, to: &Path) -> Result<()> {
    let bytes = fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    fs::write(to, bytes).with_context(|| format!("writing {}", to.display()))
}
