//! Terraform's command lines for an instance run. Every invocation runs in
//! the run directory with its private environment (see [`RunDir::terraform_env`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::rundir::{RunDir, PLAN_FILE, PLUGINS_DIR};
use super::Action;
use crate::manifest::Instance;

/// How the run is driven: one instance at a terminal, or many unattended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `fleet tf`: terraform talks to the terminal (colours, approval prompt);
    /// the user's extra arguments are appended.
    Interactive,
    /// `fleet run`: no input, no colour, auto-approve (the run command is the
    /// approval), plans saved to `plan.tfplan`.
    Unattended { from_plan: bool },
}

/// One terraform invocation.
#[derive(Debug, Clone)]
pub struct Step {
    /// Short name for logs and messages: `init`, `workspace`, `apply`, ...
    pub name: &'static str,
    pub args: Vec<String>,
}

/// A terraform binary bound to one run directory.
#[derive(Debug, Clone)]
pub struct Terraform {
    pub binary: PathBuf,
    pub run: RunDir,
    pub env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
}

impl Terraform {
    pub fn new(binary: &Path, run: &RunDir, inst: &Instance) -> Terraform {
        Terraform {
            binary: binary.to_path_buf(),
            run: run.clone(),
            env: run.terraform_env(inst),
        }
    }

    /// A command for `step` in the run directory. The caller's
    /// `TF_WORKSPACE` is dropped: the instance decides its workspace.
    pub fn command(&self, step: &Step) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.args(&step.args)
            .current_dir(&self.run.path)
            .env_remove("TF_WORKSPACE")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            // Terraform copies even -plugin-dir packages into a plugin cache,
            // which is not safe for concurrent use: none, from anywhere.
            .env_remove("TF_PLUGIN_CACHE_DIR");
        cmd
    }
}

/// The read-only provider directory of an instance with provider packages,
/// relative to the run directory (terraform's cwd), filled from the store by
/// `single::prepare`; without packages terraform installs providers as configured.
pub fn plugin_dir(inst: &Instance) -> Option<PathBuf> {
    (!inst.providers.is_empty()).then(|| PathBuf::from(PLUGINS_DIR))
}

/// `init` and, for a non-default workspace, `workspace select -or-create`.
pub fn prepare_steps(inst: &Instance, mode: Mode) -> Vec<Step> {
    let mut init = vec!["init".to_string(), "-input=false".to_string()];
    if mode != Mode::Interactive {
        init.push("-no-color".into());
    }
    if let Some(dir) = plugin_dir(inst) {
        init.push(format!("-plugin-dir={}", dir.display()));
        init.push("-lockfile=readonly".into());
    }
    let mut steps = vec![Step {
        name: "init",
        args: init,
    }];
    if let Some(ws) = inst
        .workspace
        .as_deref()
        .filter(|w| !w.is_empty() && *w != "default")
    {
        let mut args: Vec<String> = vec![
            "workspace".into(),
            "select".into(),
            "-or-create=true".into(),
        ];
        if mode != Mode::Interactive {
            args.push("-no-color".into());
        }
        args.push(ws.to_string());
        steps.push(Step {
            name: "workspace",
            args,
        });
    }
    steps
}

/// The action itself.
pub fn action_step(action: Action, mode: Mode, extra: &[String]) -> Step {
    let mut args = vec![action.as_str().to_string()];
    if let Mode::Unattended { from_plan } = mode {
        args.extend(["-input=false".to_string(), "-no-color".to_string()]);
        match action {
            Action::Plan => args.push(format!("-out={PLAN_FILE}")),
            Action::Apply | Action::Destroy => args.push("-auto-approve".into()),
            Action::Output => args.push("-json".into()),
        }
        if from_plan && action == Action::Apply {
            args.push(PLAN_FILE.into());
        }
    }
    args.extend(extra.iter().cloned());
    let name = action.as_str();
    Step { name, args }
}

/// `terraform output -json`, saved as `outputs.json` after an apply.
pub fn outputs_step() -> Step {
    Step {
        name: "output",
        args: vec!["output".into(), "-json".into(), "-no-color".into()],
    }
}
