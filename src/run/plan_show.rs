//! Reads a saved plan's changes with `terraform show -json`, in the run
//! directory and under its lock like every other terraform step.

use anyhow::{anyhow, Result};

use super::changes::PlanChanges;
use crate::lock::exit_status_code;
use crate::process::{run_stdout, Children};
use crate::tf::terraform::{Step, Terraform};

/// `terraform show -json <plan>`: the JSON holds values (sensitive ones
/// too); only addresses, actions and output names are kept from it.
pub fn show_step() -> Step {
    Step {
        name: "show",
        args: vec![
            "show".into(),
            "-json".into(),
            "-no-color".into(),
            crate::tf::rundir::PLAN_FILE.into(),
        ],
    }
}

/// The saved plan's changes; `None` when the run was stopping.
pub fn read_plan_changes(
    children: &Children,
    tf: &Terraform,
    on_stderr: impl FnMut(&[u8]),
) -> Result<Option<PlanChanges>> {
    let Some((status, stdout)) = run_stdout(children, tf.command(&show_step()), on_stderr)? else {
        return Ok(None);
    };
    if !status.success() {
        return Err(anyhow!(
            "terraform show -json of the saved plan exited with {}",
            exit_status_code(status)
        ));
    }
    let changes = PlanChanges::from_show_json(&stdout)
        .map_err(|e| anyhow!("terraform show -json of the saved plan does not parse: {e}"))?;
    Ok(Some(changes))
}
