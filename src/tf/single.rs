//! `fleet tf`: one instance at a terminal. Terraform's output goes straight
//! to the terminal and the exit code is terraform's.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use super::digest;
use super::init_gate::InitGate;
use super::inputs::{self, Inputs, Missing};
use super::locate::{pick_instance, Located};
use super::outputs::{self, OutputsToSave};
use super::rundir::{self, RunDir};
use super::terraform::{self, Mode, Step, Terraform};
use super::variables;
use super::{Action, TfOptions};
use crate::backend::failure::BackendFailure;
use crate::backend::serial::Backoff;
use crate::error::ExitCode;
use crate::lock::Lock;
use crate::manifest::Instance;
use crate::plugin_dir::{self, PluginDir};
use crate::process::exit_status_code;
use crate::process::signals;
use crate::process::Children;
use crate::redact::Secrets;

pub fn tf_command(args: &TfOptions) -> Result<i32> {
    let located = Located::new(&args.locations)?;
    let inst = pick_instance(&located.manifest, args.instance.as_deref())?.clone();
    let timeout = args.locations.lock_timeout;

    // At a terminal terraform stays in our process group (it may prompt), so
    // a Ctrl-C reaches it directly and only a kill(2) aimed at us is
    // forwarded. Otherwise it leads its own group, and every signal is
    // forwarded to the whole group (provisioner shells included).
    let at_terminal = std::io::stdin().is_terminal();
    let children = Arc::new(Children::new(!at_terminal));
    let forward = Arc::clone(&children);
    signals::install(move |received| {
        if forward.running() == 0 {
            std::process::exit(128 + received.signal);
        }
        if !(at_terminal && received.from_terminal) {
            forward.interrupt_all();
        }
    })?;

    let run = RunDir::new(located.run_dir(&inst));
    run.create()?;
    let purpose = format!("fleet tf --action {} {}", args.action.as_str(), inst.label);
    let lock = Lock::acquire(&run.lock_path(), timeout, &purpose)?;
    run.narrow_lock_files();
    // Keeps the plugin directory's store versions pinned until terraform is done.
    let kind = digest::RunKind {
        action: args.action,
        from_plan: false,
    };
    let prepared = prepare(&located, &inst, &run, kind)?;

    let tf = Terraform::new(&located.terraform, &run, &inst, &lock)?
        .with_go_runtime(&crate::go_runtime::settings(1))
        .with_secrets(&prepared.secrets);
    let steps = terraform::prepare_steps(&inst, &run, Mode::Interactive)
        .with_context(|| inst.label.clone())?;
    let gate = InitGate::new(&run, &inst, &located.terraform, &prepared.rendered, &steps);
    let init = args.reinit || !gate.is_current();
    if init {
        gate.begin()?;
    }
    let first_use = tf.first_use(&located.fleet_root);
    for step in steps.iter().filter(|_| init) {
        let _serialised = match &first_use {
            Some(first) => first.hold_for(step.name, timeout, &purpose)?,
            None => None,
        };
        let code = prepare_step(&children, &tf, step, timeout)?;
        if code != 0 {
            eprintln!(
                "fleet: terraform {} failed for {} (exit {code})",
                step.name, inst.label
            );
            return Ok(code);
        }
    }
    if init {
        if let Some(first) = &first_use {
            first.initialised()?;
        }
        gate.succeeded()?;
    }

    let step = terraform::action_step(
        args.action,
        Mode::Interactive,
        timeout,
        &args.terraform_args,
    );
    let Some((status, errors)) = tf.run_for_user(&children, &step)? else {
        return Ok(130);
    };
    let code = exit_status_code(status);
    if code == 0 {
        finish(&children, &tf, &inst, &run, args.action)?;
        return Ok(0);
    }
    Ok(state_lock_timeout(&tf, &inst, &step, timeout, &errors).unwrap_or(code))
}

/// When a failed step gave up waiting for the backend's state lock: says
/// so, naming the holder as `fleet run` does, and returns the lock-timeout
/// exit code (3).
fn state_lock_timeout(
    tf: &Terraform,
    inst: &Instance,
    step: &Step,
    timeout: Duration,
    output: &[u8],
) -> Option<i32> {
    let Some(BackendFailure::StateLock(info)) = tf.backend_failure(output) else {
        return None;
    };
    let workspace = inst.workspace.as_deref();
    let reason = tf.state_lock_timeout(step.name, timeout, &info, workspace);
    eprintln!("fleet: {}: {reason}", inst.label);
    Some(ExitCode::LockTimeout as i32)
}

/// Runs a preparation step (init, workspace) with its output captured, shown
/// only if it fails; a step that lost a first-use race of the backend runs
/// again (see [`crate::backend::serial`]). Returns terraform's exit code.
fn prepare_step(children: &Children, tf: &Terraform, step: &Step, budget: Duration) -> Result<i32> {
    let mut backoff = Backoff::new(budget);
    loop {
        let mut output = Vec::new();
        let status = tf.run_lines(children, step, |line| {
            output.extend_from_slice(line);
            output.push(b'\n');
        })?;
        let code = status.map_or(130, exit_status_code);
        if code == 0 {
            return Ok(0);
        }
        if let Some(BackendFailure::Race(race)) = tf.backend_failure(&output) {
            if let Some(wait) = backoff.next_wait().filter(|_| !children.is_stopping()) {
                eprintln!(
                    "fleet: terraform {} raced another terraform on the backend ({race}); \
                     nothing changed, running it again in {:.1}s",
                    step.name,
                    wait.as_secs_f64()
                );
                std::thread::sleep(wait);
                continue;
            }
        }
        let _ = std::io::stderr().write_all(&output);
        return Ok(code);
    }
}

/// A prepared run directory.
pub struct Prepared {
    /// The instance digest (see [`digest::instance_digest`]).
    pub digest: String,
    /// The provider packages' plugin directory: holding it keeps their store
    /// versions safe from `fleet gc` while terraform runs.
    pub plugin_dir: Option<PluginDir>,
    /// The rendered tree's digest (an input of init, see [`InitGate`]).
    pub rendered: String,
    /// Sensitive input values terraform gets (see [`Inputs`]), to hide.
    pub secrets: Secrets,
    /// The inputs file's text (empty without `inputs_from`).
    pub inputs: String,
}

/// Syncs the rendered tree, writes the CLI config, the plugin directory and
/// the inputs file. Refuses a `secret_env` variable that is not declared
/// sensitive (before any terraform runs).
pub fn prepare(
    located: &Located,
    inst: &Instance,
    run: &RunDir,
    kind: digest::RunKind,
) -> Result<Prepared> {
    let rendered = run.sync_rendered(&located.rendered(inst)?)?;
    variables::check_secret_env(inst, &run.path)?;
    run.write_cli_config()?;
    let plugin_dir = prepare_plugin_dir(located, inst, run)?;
    let inputs = match kind.action {
        Action::Plan | Action::Apply => inputs::write_inputs(located, inst, run, Missing::Fail)?,
        Action::Destroy => inputs::write_inputs(located, inst, run, Missing::KeepPrevious)?,
        // Not rewritten (and not in the digest): output reads no variable,
        // but what it prints may hold the values.
        Action::Output => Inputs {
            text: String::new(),
            secrets: inputs::previous_inputs(run)?.secrets,
        },
    };
    Ok(Prepared {
        digest: run_digest(located, inst, kind, &rendered, &inputs.text)?,
        rendered,
        plugin_dir,
        secrets: inputs.secrets,
        inputs: inputs.text,
    })
}

/// The digest `prepare` would return for this kind of run now, computed
/// without touching the run directory (for `fleet run --resume`).
pub fn current_digest(located: &Located, inst: &Instance, kind: digest::RunKind) -> Result<String> {
    let rendered = rundir::rendered_digest(&located.rendered(inst)?)?;
    let inputs = if inst.inputs_from.is_empty() {
        String::new()
    } else {
        let run = RunDir::new(located.run_dir(inst));
        inputs::inputs_text(inputs::collect(located, inst, &run)?)?
    };
    run_digest(located, inst, kind, &rendered, &inputs)
}

/// [`digest::instance_digest`] of an instance of this manifest.
fn run_digest(
    located: &Located,
    inst: &Instance,
    kind: digest::RunKind,
    rendered: &str,
    inputs: &str,
) -> Result<String> {
    let plan_file = RunDir::new(located.run_dir(inst)).plan_file();
    digest::instance_digest(&digest::DigestInputs {
        inst,
        rendered,
        inputs,
        terraform: &located.terraform,
        kind,
        plan_file: Some(&plan_file),
    })
}

/// Links the instance's provider packages from the machine-wide store into
/// `<run dir>/.plugins` (each unpacked once per machine, checked against the
/// lock file's h1: hashes), the read-only `-plugin-dir` of its `init`.
fn prepare_plugin_dir(
    located: &Located,
    inst: &Instance,
    run: &RunDir,
) -> Result<Option<PluginDir>> {
    if inst.providers.is_empty() {
        return Ok(None);
    }
    let store = match &located.store {
        Some(dir) => dir.clone(),
        None => crate::store::default_dir()?,
    };
    plugin_dir::prepare(
        &inst.providers,
        &located.runfiles,
        &run.path,
        &store,
        located.lock_timeout,
    )
    .with_context(|| format!("{}: provider packages", inst.label))
}

/// After a successful apply, saves the outputs; after a destroy, forgets them.
fn finish(
    children: &Children,
    tf: &Terraform,
    inst: &Instance,
    run: &RunDir,
    action: Action,
) -> Result<()> {
    match action {
        Action::Apply => {
            let request = OutputsToSave {
                children,
                tf,
                run,
                workspace: inst.workspace.as_deref(),
                // A single apply always leaves the outputs for whoever runs next.
                wanted: true,
            };
            outputs::save_after_apply(&request, &mut |_| {})
                .result
                .with_context(|| format!("{}: saving outputs", inst.label))
        }
        Action::Destroy => inputs::forget_outputs(run),
        Action::Plan | Action::Output => Ok(()),
    }
}
