//! `inputs_from`: variables whose values are upstream instances' outputs.
//! After an apply the runner saves `terraform output -json` as the instance's
//! `outputs.json`; a dependent gets the values in its run directory's
//! `fleet.inputs.auto.tfvars.json`, which terraform loads by itself. Values
//! stay JSON, so lists, maps, numbers and bools keep their types.

use std::collections::BTreeMap;
use std::fs;

use anyhow::{anyhow, Context, Result};
use serde_json::{Map, Value};

use super::locate::Located;
use super::rundir::RunDir;
use super::variables;
use crate::error::unsafe_input;
use crate::fsutil::private;
use crate::manifest::Instance;
use crate::redact::Secrets;

/// What to do when an upstream has no outputs yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// plan / apply: fail, naming the upstream.
    Fail,
    /// destroy: keep the values written by the last plan/apply (the
    /// upstream may already be gone).
    KeepPrevious,
}

/// An instance's inputs file as written.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Its text (empty without `inputs_from`): part of the instance digest.
    pub text: String,
    /// Its values for variables declared sensitive (every sensitive
    /// upstream output among them): hidden in terraform's output.
    pub secrets: Secrets,
}

/// Writes (or removes) the instance's inputs file.
pub fn write_inputs(
    located: &Located,
    inst: &Instance,
    run: &RunDir,
    missing: Missing,
) -> Result<Inputs> {
    let path = run.inputs_file();
    if inst.inputs_from.is_empty() {
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing stale {}", path.display()))
            }
            _ => return Ok(Inputs::default()),
        }
    }
    let values = match collect(located, inst, run) {
        Ok(values) => values,
        Err(_) if missing == Missing::KeepPrevious && path.exists() => return previous_inputs(run),
        Err(e) => return Err(e),
    };
    let text = inputs_text(values)?;
    if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        private::write_file(&path, text.as_bytes(), false)?;
    }
    Ok(Inputs {
        secrets: sensitive_values(run, &text)?,
        text,
    })
}

/// The inputs file the last plan or apply wrote (none: empty).
pub fn previous_inputs(run: &RunDir) -> Result<Inputs> {
    let path = run.inputs_file();
    let text = match fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Inputs::default()),
        read => read.with_context(|| format!("reading {}", path.display()))?,
    };
    Ok(Inputs {
        secrets: sensitive_values(run, &text)?,
        text,
    })
}

/// The values of an inputs file's text that go to variables the module in
/// `run` declares sensitive; all of them when a file of the module does not
/// parse here (terraform will say why; nothing leaks meanwhile).
fn sensitive_values(run: &RunDir, text: &str) -> Result<Secrets> {
    let mut secrets = Secrets::new();
    let Ok(Value::Object(values)) = serde_json::from_str::<Value>(text) else {
        return Ok(secrets);
    };
    let declared = variables::declared_sensitivity_if_parseable(&run.path)?;
    for (var, value) in &values {
        if declared.as_ref().is_none_or(|d| d.get(var) == Some(&true)) {
            secrets.add_json(value);
        }
    }
    Ok(secrets)
}

/// The inputs file's text for these values.
pub fn inputs_text(values: Map<String, Value>) -> Result<String> {
    let mut text = serde_json::to_string_pretty(&Value::Object(values))?;
    text.push('\n');
    Ok(text)
}

/// The input values, by variable. A sensitive upstream output may only go
/// to a variable the dependent's module declares `sensitive = true`, or
/// terraform would print it in clear in the dependent's plan and logs.
pub fn collect(located: &Located, inst: &Instance, run: &RunDir) -> Result<Map<String, Value>> {
    let mut values = Map::new();
    let mut declared: Option<BTreeMap<String, bool>> = None;
    for (var, source) in &inst.inputs_from {
        let upstream = located
            .manifest
            .instances
            .iter()
            .find(|i| i.label == source.instance)
            .ok_or_else(|| {
                anyhow!(
                    "{}: upstream {} is not in the manifest",
                    inst.label,
                    source.instance
                )
            })?;
        let outputs = read_outputs(&RunDir::new(located.run_dir(upstream))).with_context(|| {
            format!(
                "{}: variable {var} reads {}#{}",
                inst.label, source.instance, source.output
            )
        })?;
        let value = outputs
            .get(&source.output)
            .and_then(|o| o.get("value"))
            .ok_or_else(|| {
                anyhow!(
                    "{}: variable {var}: {} has no output named {:?}",
                    inst.label,
                    source.instance,
                    source.output
                )
            })?;
        let sensitive = outputs
            .get(&source.output)
            .and_then(|o| o.get("sensitive"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if sensitive {
            let known = match declared {
                Some(ref d) => d,
                None => declared.insert(variables::declared_sensitivity(&run.path)?),
            };
            if known.get(var) != Some(&true) {
                return Err(unsafe_input(format!(
                    "{}: output {:?} of {} is sensitive, but variable {var} of {} is not \
                     declared `sensitive = true`: terraform would show the value in clear",
                    inst.label, source.output, source.instance, inst.label
                )));
            }
        }
        values.insert(var.clone(), value.clone());
    }
    Ok(values)
}

/// The outputs an instance's last apply saved (`terraform output -json`).
pub fn read_outputs(run: &RunDir) -> Result<Map<String, Value>> {
    let path = run.outputs_file();
    let bytes = fs::read(&path).with_context(|| {
        format!(
            "no outputs at {} (apply that instance first)",
            path.display()
        )
    })?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(crate::error::unsafe_input(format!(
            "{} is not a JSON object",
            path.display()
        ))),
    }
}

/// Saves `terraform output -json`'s stdout as the instance's outputs.
pub fn save_outputs(run: &RunDir, stdout: &[u8]) -> Result<()> {
    match serde_json::from_slice::<Value>(stdout) {
        Ok(Value::Object(_)) => private::write_file(&run.outputs_file(), stdout, true),
        _ => Err(anyhow!(
            "terraform output -json did not print a JSON object"
        )),
    }
}

/// Whether an instance of `manifest` reads `label`'s outputs (`inputs_from`).
pub fn has_dependents(manifest: &crate::manifest::Manifest, label: &str) -> bool {
    manifest
        .instances
        .iter()
        .any(|i| i.inputs_from.values().any(|r| r.instance == label))
}

/// After a destroy the outputs are gone too.
pub fn forget_outputs(run: &RunDir) -> Result<()> {
    match fs::remove_file(run.outputs_file()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", run.outputs_file().display()))
        }
        _ => Ok(()),
    }
}

/// The outputs as `terraform output -json` prints them, read straight from
/// the state file when the backend is local: it saves starting terraform a
/// third time per instance. `None` (ask terraform) for any other backend or
/// anything unexpected.
pub fn outputs_from_local_state(run: &RunDir, workspace: Option<&str>) -> Option<Vec<u8>> {
    let (path, workspace_dir) = match fs::read(run.data_dir().join("terraform.tfstate")) {
        // No backend record after init: the implicit local backend.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
        Err(_) => return None,
        Ok(bytes) => {
            let record: Value = serde_json::from_slice(&bytes).ok()?;
            let backend = record.get("backend")?;
            if backend.get("type")?.as_str()? != "local" {
                return None;
            }
            let config = backend.get("config")?;
            let text = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_string);
            (text("path"), text("workspace_dir"))
        }
    };
    let path = path.unwrap_or_else(|| "terraform.tfstate".into());
    let state_path = match workspace.filter(|w| !w.is_empty() && *w != "default") {
        None => run.path.join(&path),
        Some(ws) => {
            let file = std::path::Path::new(&path).file_name()?;
            run.path
                .join(workspace_dir.unwrap_or_else(|| "terraform.tfstate.d".into()))
                .join(ws)
                .join(file)
        }
    };
    let state: Value = serde_json::from_slice(&fs::read(state_path).ok()?).ok()?;
    if state.get("version")?.as_u64()? != 4 {
        return None;
    }
    let mut outputs = Map::new();
    for (name, output) in state.get("outputs")?.as_object()? {
        let sensitive = output
            .get("sensitive")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let entry = serde_json::json!({
            "sensitive": sensitive,
            "type": output.get("type")?,
            "value": output.get("value")?,
        });
        outputs.insert(name.clone(), entry);
    }
    let mut text = serde_json::to_vec_pretty(&Value::Object(outputs)).ok()?;
    text.push(b'\n');
    Some(text)
}
