//! Reads a saved plan's changes with `terraform show -json`, in the run
//! directory and under its lock like every other terraform step.

use anyhow::{anyhow, Result};
use serde_json::Value;

use crate::process::exit_status_code;
use crate::process::Children;
use crate::redact::Secrets;
use crate::tf::plan_changes::PlanChanges;
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

/// What fleet takes from a saved plan.
pub struct PlanRead {
    pub changes: PlanChanges,
    /// The values terraform marks sensitive in it, to hide from then on.
    pub secrets: Secrets,
}

/// The saved plan's changes; `None` when the run was stopping.
pub fn read_plan_changes(
    children: &Children,
    tf: &Terraform,
    on_stderr: impl FnMut(&[u8]),
) -> Result<Option<PlanRead>> {
    let Some((status, stdout)) = tf.run_stdout(children, &show_step(), on_stderr)? else {
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
    let secrets = serde_json::from_slice::<Value>(&stdout)
        .map(|plan| sensitive_values(&plan))
        .unwrap_or_default();
    Ok(Some(PlanRead { changes, secrets }))
}

/// The values a plan's JSON marks sensitive: resource and output changes
/// (`before`/`after` under their `*_sensitive` masks) and the root
/// module's variables declared sensitive.
pub fn sensitive_values(plan: &Value) -> Secrets {
    let mut secrets = Secrets::new();
    let changes = plan["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| &r["change"])
        .chain(
            plan["output_changes"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, c)| c),
        );
    for change in changes {
        masked(&change["before"], &change["before_sensitive"], &mut secrets);
        masked(&change["after"], &change["after_sensitive"], &mut secrets);
    }
    let declared = &plan["configuration"]["root_module"]["variables"];
    for (name, variable) in plan["variables"].as_object().into_iter().flatten() {
        if declared[name]["sensitive"] == Value::Bool(true) {
            secrets.add_json(&variable["value"]);
        }
    }
    secrets
}

/// Adds the parts of `value` that `mask` (terraform's `*_sensitive`
/// shape: `true` for a sensitive subtree) marks.
fn masked(value: &Value, mask: &Value, secrets: &mut Secrets) {
    match (mask, value) {
        (Value::Bool(true), _) => secrets.add_json(value),
        (Value::Object(masks), Value::Object(values)) => {
            for (key, mask) in masks {
                if let Some(value) = values.get(key) {
                    masked(value, mask, secrets);
                }
            }
        }
        (Value::Array(masks), Value::Array(values)) => {
            for (value, mask) in values.iter().zip(masks) {
                masked(value, mask, secrets);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_values_follow_the_masks_and_declarations() {
        let plan = serde_json::json!({
            "variables": {"pw": {"value": "variable-s3cret"}, "name": {"value": "plain-name"}},
            "configuration": {"root_module": {"variables": {
                "pw": {"sensitive": true}, "name": {}
            }}},
            "resource_changes": [{"change": {
                "before": {"a": "old-s3cret", "b": "old-plain"},
                "before_sensitive": {"a": true},
                "after": {"a": "new-plain", "list": ["item-plain", "item-s3cret"]},
                "after_sensitive": {"list": [false, true]}
            }}],
            "output_changes": {"o": {"after": "output-s3cret", "after_sensitive": true}}
        });
        let secrets = sensitive_values(&plan);
        let text = "variable-s3cret old-s3cret item-s3cret output-s3cret \
                    plain-name old-plain new-plain item-plain";
        assert_eq!(
            secrets.scrub_str(text),
            "(sensitive value) (sensitive value) (sensitive value) (sensitive value) \
             plain-name old-plain new-plain item-plain"
        );
    }
}
