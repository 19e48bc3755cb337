//! Whether an instance run needs `terraform init` (and workspace selection)
//! or can go straight to its action: the run directory's init record (see
//! [`init_record`](super::init_record)) against what init would be made from now.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::init_record::{self, InitInputs, InitRecord};
use super::rundir::RunDir;
use super::terraform::{self, Step};
use crate::manifest::Instance;

/// The init inputs of one instance run.
pub struct InitGate {
    run_dir: PathBuf,
    data_dir: PathBuf,
    rendered: String,
    terraform: PathBuf,
    /// The preparation steps' names and arguments, in order.
    args: Vec<String>,
    workspace: Option<String>,
    env: BTreeMap<String, String>,
}

impl InitGate {
    /// `rendered` is the rendered tree's digest; `steps` the preparation
    /// steps (init, workspace) the run would take.
    pub fn new(
        run: &RunDir,
        inst: &Instance,
        terraform: &Path,
        rendered: &str,
        steps: &[Step],
    ) -> InitGate {
        // Colour is presentation: `fleet tf` and `fleet run` share one init;
        // -reconfigure follows from a changed backend file, itself an input.
        let args = steps
            .iter()
            .flat_map(|s| std::iter::once(s.name.to_string()).chain(s.args.iter().cloned()))
            .filter(|arg| arg != "-no-color" && arg != terraform::RECONFIGURE)
            .collect();
        InitGate {
            run_dir: run.path.clone(),
            data_dir: run.data_dir(),
            rendered: rendered.to_string(),
            terraform: terraform.to_path_buf(),
            args,
            workspace: inst.workspace.clone(),
            env: inst.env.clone(),
        }
    }

    fn inputs(&self) -> InitInputs<'_> {
        InitInputs {
            rendered: &self.rendered,
            terraform: &self.terraform,
            init_args: &self.args,
            workspace: self.workspace.as_deref(),
            env: &self.env,
        }
    }

    /// Whether the last successful init still holds. Anything unreadable
    /// counts as changed: init again rather than guess.
    pub fn is_current(&self) -> bool {
        init_record::is_current(&self.run_dir, &self.data_dir, &self.inputs()).unwrap_or(false)
    }

    /// Before init: forget the record, so a failed or killed init re-inits.
    pub fn begin(&self) -> Result<()> {
        init_record::forget(&self.run_dir)
    }

    /// After init (and workspace selection) succeeded: record what it used.
    pub fn succeeded(&self) -> Result<()> {
        let record = InitRecord::observe(&self.run_dir, &self.data_dir, &self.inputs())?;
        init_record::save(&self.run_dir, &record)
    }
}
