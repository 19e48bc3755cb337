//! Saving an instance's outputs after a successful apply: the one code path
//! used by `fleet tf` and by every job of `fleet run`.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use super::inputs;
use super::rundir::RunDir;
use super::terraform::{self, Terraform};
use crate::process::exit_status_code;
use crate::process::Children;

/// What saving the outputs needs to know about one applied instance.
pub struct OutputsToSave<'a> {
    pub children: &'a Children,
    pub tf: &'a Terraform<'a>,
    pub run: &'a RunDir,
    /// The instance's terraform workspace (where a local state lives).
    pub workspace: Option<&'a str>,
    /// Whether anything reads the outputs; when not, and the state is not
    /// local, terraform is not started only to save them.
    pub wanted: bool,
}

/// How saving went: how long `terraform output -json` ran (if it was
/// started at all) and whether the outputs file is now right.
pub struct OutputsSaved {
    pub terraform_took: Option<Duration>,
    pub result: Result<()>,
}

/// Saves the outputs of a successful apply: from the local state when there
/// is one, else from `terraform output -json`; when nothing wants them and
/// the backend is not local, forgets the old ones instead (they must not
/// outlive the apply that changed them). `log` receives one note per
/// decision and terraform's stderr.
pub fn save_after_apply(job: &OutputsToSave, log: &mut dyn FnMut(&[u8])) -> OutputsSaved {
    let target = job.run.outputs_file();
    let done = |result| OutputsSaved {
        terraform_took: None,
        result,
    };
    if let Some(outputs) = inputs::outputs_from_local_state(job.run, job.workspace) {
        let note = format!(
            "(outputs read from the local state, saved to {})",
            target.display()
        );
        log(note.as_bytes());
        return done(inputs::save_outputs(job.run, &outputs));
    }
    if !job.wanted {
        log(b"(outputs not saved: the backend is not local and no instance of this fleet reads them)");
        return done(inputs::forget_outputs(job.run));
    }
    let step = terraform::outputs_step();
    let note = format!(
        "$ terraform {}   (saved to {})",
        step.args.join(" "),
        target.display()
    );
    log(note.as_bytes());
    let mut errors = Vec::new();
    let started = Instant::now();
    let captured = job.tf.run_stdout(job.children, &step, |line| {
        log(line);
        errors.extend_from_slice(line);
        errors.push(b'\n');
    });
    let took = started.elapsed();
    let (terraform_took, result) = match captured {
        Err(e) => (None, Err(e)),
        Ok(None) => (
            None,
            Err(anyhow!("outputs not saved: the run was stopping")),
        ),
        Ok(Some((status, stdout))) => (
            Some(took),
            if status.success() {
                inputs::save_outputs(job.run, &stdout)
            } else {
                Err(anyhow!(
                    "terraform output -json exited with {}: {}",
                    exit_status_code(status),
                    String::from_utf8_lossy(&errors).trim()
                ))
            },
        ),
    };
    OutputsSaved {
        terraform_took,
        result,
    }
}
