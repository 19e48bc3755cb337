//! Terraform's command lines for an instance run. Every invocation runs in
//! the run directory with its private environment (see [`RunDir::terraform_env`]).

use crate::process::GuardedCommand;
use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::rundir::{RunDir, PLAN_FILE, PLUGINS_DIR};
use super::Action;
use crate::backend::failure::{self, BackendFailure, LockInfo};
use crate::backend::pg::holder::application_name;
use crate::backend::serial::FirstUse;
use crate::backend::state_lock::StateLockTimeout;
use crate::backend::{self, saved, Backend};
use crate::lock::Lock;
use crate::manifest::Instance;
use crate::redact::Secrets;
use crate::tf_env::{self, Scope};

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

/// A terraform binary bound to one run directory and its held lock.
#[derive(Debug)]
pub struct Terraform<'l> {
    pub binary: PathBuf,
    pub run: RunDir,
    pub env: Vec<(OsString, OsString)>,
    /// The instance's backend (the rendered `backend.tf.json`).
    pub backend: Option<Backend>,
    /// The secret values this terraform is given: hidden in everything
    /// captured of it (see [`super::capture`]).
    pub(super) secrets: Secrets,
    /// The instance lock, inherited by every terraform (see [`Terraform::command`]).
    lock: &'l Lock,
}

impl<'l> Terraform<'l> {
    /// Fails, naming the instance, variable and environment variable, when
    /// a `secret_env` variable is not set in our environment.
    pub fn new(binary: &Path, run: &RunDir, inst: &Instance, lock: &'l Lock) -> Result<Self> {
        let mut env = run.terraform_env(inst);
        let secret = secret_env(inst)?;
        let mut secrets = Secrets::new();
        for (_, value) in &secret {
            secrets.add(value.as_encoded_bytes());
        }
        env.extend(secret);
        Ok(Terraform {
            binary: binary.to_path_buf(),
            run: run.clone(),
            env,
            backend: Backend::read(&run.path)?,
            secrets,
            lock,
        })
    }

    /// Adds secret values terraform gets another way (sensitive inputs).
    pub fn with_secrets(mut self, more: &Secrets) -> Self {
        self.add_secrets(more);
        self
    }

    /// Adds secret values learnt while running (a saved plan's sensitive values).
    pub fn add_secrets(&mut self, more: &Secrets) {
        self.secrets.extend(more);
    }

    /// Every secret value hidden in what is captured of this terraform.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Puts the Go GC `settings` ([`crate::go_runtime`]) first: the
    /// instance's `env` and fleet's own variables still win over them.
    pub fn with_go_runtime(mut self, settings: &[(OsString, OsString)]) -> Self {
        let mut env = settings.to_vec();
        env.append(&mut self.env);
        self.env = env;
        self
    }

    /// A command for `step` in the run directory, its environment by the
    /// one policy ([`crate::tf_env`], run-target scope: the caller's
    /// `TF_*` settings, `TF_WORKSPACE` and the plugin cache among them,
    /// never reach terraform), then the instance's own variables.
    ///
    /// Terraform inherits the instance lock's descriptor, as under
    /// util-linux `flock(1)`: the lock is free only once terraform (and
    /// whatever it started) has exited, even if the runner was killed. It
    /// runs with umask 077, so state, plans and backups it writes are private.
    ///
    /// Private to `tf`: every run goes through [`super::capture`], which
    /// hides the secrets in what terraform prints.
    pub(super) fn command(&self, step: &Step) -> GuardedCommand {
        let mut cmd = GuardedCommand::new(&self.binary);
        tf_env::sanitize_from_process(&mut cmd, Scope::Run);
        if self.is_pg() {
            // Names the session holding a state lock (src/backend/pg/holder.rs);
            // an instance's own `env` may still set it.
            let name = application_name(operation(step.name), &backend::who(), std::process::id());
            cmd.env("PGAPPNAME", name);
        }
        cmd.args(&step.args)
            .current_dir(&self.run.path)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            // Terraform copies even -plugin-dir packages into a plugin cache,
            // which is not safe for concurrent use: none, not even from `env`.
            .env_remove("TF_PLUGIN_CACHE_DIR");
        cmd.keep_fd(self.lock.as_raw_fd()).umask(0o077);
        cmd
    }
}

impl Terraform<'_> {
    fn is_pg(&self) -> bool {
        self.backend.as_ref().is_some_and(|b| b.kind == "pg")
    }

    /// The serialisation of the backend's first use, for backends whose
    /// first use races (see [`crate::backend::serial`]).
    pub fn first_use(&self, fleet_root: &Path) -> Option<FirstUse> {
        let env = backend::env_lookup(&self.env);
        FirstUse::new(fleet_root, self.backend.as_ref()?, &env)
    }

    /// A backend failure in a failed step's output: a state-lock timeout
    /// (any backend), a race to run again (pg, s3).
    pub fn backend_failure(&self, output: &[u8]) -> Option<BackendFailure> {
        let kind = self.backend.as_ref().map(|b| b.kind.as_str());
        match failure::classify(output)? {
            BackendFailure::Race(_) if !matches!(kind, Some("pg" | "s3")) => None,
            found => Some(found),
        }
    }

    /// The message of a state-lock timeout of `step`, naming the holder.
    pub fn state_lock_timeout(
        &self,
        step: &str,
        timeout: Duration,
        info: &LockInfo,
        workspace: Option<&str>,
    ) -> String {
        let env = backend::env_lookup(&self.env);
        StateLockTimeout {
            step,
            timeout,
            info,
            backend: self.backend.as_ref(),
            workspace: workspace.unwrap_or("default"),
        }
        .describe(&env)
    }
}

/// Terraform's name of the operation a step locks the state for.
fn operation(step: &str) -> &str {
    match step {
        "plan" => "OperationTypePlan",
        "apply" | "destroy" => "OperationTypeApply",
        "init" | "workspace" => "init",
        other => other,
    }
}

/// The `secret_env` values of `inst` that are set in our environment (the
/// values a fleet run's hooks could print too).
pub fn secret_env_values(inst: &Instance) -> Secrets {
    let mut secrets = Secrets::new();
    for name in inst.secret_env.values() {
        if let Some(value) = std::env::var_os(name) {
            secrets.add(value.as_encoded_bytes());
        }
    }
    secrets
}

/// `TF_VAR_<variable>` for each `secret_env` entry, read from our environment.
fn secret_env(inst: &Instance) -> Result<Vec<(OsString, OsString)>> {
    inst.secret_env
        .iter()
        .map(|(var, name)| match std::env::var_os(name) {
            Some(value) => Ok((OsString::from(format!("TF_VAR_{var}")), value)),
            None => Err(anyhow::anyhow!(
                "{}: secret variable {var} needs environment variable {name}, which is not set",
                inst.label
            )),
        })
        .collect()
}

/// The read-only provider directory of an instance with provider packages,
/// relative to the run directory (terraform's cwd), filled from the store by
/// `single::prepare`; without packages terraform installs providers as configured.
pub fn plugin_dir(inst: &Instance) -> Option<PathBuf> {
    (!inst.providers.is_empty()).then(|| PathBuf::from(PLUGINS_DIR))
}

/// The dependency lock file terraform reads in the run directory.
pub const LOCK_FILE_NAME: &str = ".terraform.lock.hcl";

/// `init` and, for a non-default workspace, `workspace select -or-create`.
/// A rendered lock file is authoritative: `init` may not add providers or
/// hashes to it (`-lockfile=readonly`), with or without provider packages.
/// A backend changed in place since the last init adds `-reconfigure`; one
/// that moves the state fails, naming both (see [`crate::backend::saved`]).
pub fn prepare_steps(inst: &Instance, run: &RunDir, mode: Mode) -> Result<Vec<Step>> {
    let mut init = vec!["init".to_string(), "-input=false".to_string()];
    let backend = Backend::read(&run.path)?;
    let change = saved::change(&run.data_dir(), backend.as_ref()).context("terraform init")?;
    if change == saved::Change::Reconfigure {
        init.push(RECONFIGURE.into());
    }
    if mode != Mode::Interactive {
        init.push("-no-color".into());
    }
    if let Some(dir) = plugin_dir(inst) {
        init.push(format!("-plugin-dir={}", dir.display()));
    }
    if plugin_dir(inst).is_some() || run.path.join(LOCK_FILE_NAME).is_file() {
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
    Ok(steps)
}

/// Init's flag for a backend changed in place: not an input of init (the
/// rendered backend file is), so the init record leaves it out.
pub const RECONFIGURE: &str = "-reconfigure";

/// The action itself. Plan, apply and destroy wait up to `lock_timeout`
/// for the state lock (`-lock-timeout`; arguments in `extra` come later and win).
pub fn action_step(action: Action, mode: Mode, lock_timeout: Duration, extra: &[String]) -> Step {
    let mut args = vec![action.as_str().to_string()];
    if action != Action::Output {
        args.push(format!("-lock-timeout={}", go_duration(lock_timeout)));
    }
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

/// A duration as Go's `time.ParseDuration` reads it: `300s`, `1500ms`.
fn go_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `terraform output -json`, saved as `outputs.json` after an apply.
pub fn outputs_step() -> Step {
    Step {
        name: "output",
        args: vec!["output".into(), "-json".into(), "-no-color".into()],
    }
}
