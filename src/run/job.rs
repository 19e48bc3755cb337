//! One instance's run inside `fleet run`: take the run-directory lock,
//! prepare the directory, run terraform's steps with their output captured
//! to `logs/<action>.log` (and shown grouped or streamed), save outputs.

use std::borrow::Cow;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;

use super::sealed::PlanSetRun;
use crate::backend::failure::BackendFailure;
use crate::backend::serial::Backoff;
use crate::error::{exit_code_of, ExitCode};
use crate::lock::Lock;
use crate::manifest::Instance;
use crate::plugin_dir::PluginDir;
use crate::process::exit_status_code;
use crate::process::Children;
use crate::redact::Secrets;
use crate::report::console::{Console, OutputMode};
use crate::report::steps::StepTiming;
use crate::report::Status;
use crate::retry::{self, Attempt, Policy, StepKind};
use crate::tf::init_gate::InitGate;
use crate::tf::inputs;
use crate::tf::locate::Located;
use crate::tf::outputs::{self, OutputsToSave};
use crate::tf::plan_changes::PlanChanges;
use crate::tf::plan_show;
use crate::tf::resources::{self, Resources};
use crate::tf::rundir::RunDir;
use crate::tf::single::prepare;
use crate::tf::terraform::{self, Mode, Step, Terraform};
use crate::tf::Action;

mod plan_set;
mod step_retry;

/// What every job of a run shares.
pub struct JobEnv {
    pub located: Located,
    pub action: Action,
    pub from_plan: bool,
    /// `--plan-set`: the set written (plan) or applied (apply).
    pub plan_set: Option<Arc<PlanSetRun>>,
    pub lock_timeout: Duration,
    /// Run `terraform init` even when its record says nothing changed.
    pub reinit: bool,
    /// plan: read each saved plan's resource changes (`terraform show -json`).
    pub read_plan_changes: bool,
    /// Go GC settings for terraform, sized for the run's concurrency ([`crate::go_runtime`]).
    pub go_runtime: Vec<(OsString, OsString)>,
    pub children: Arc<Children>,
    pub console: Arc<Console>,
    /// The run's `secret_env` values, hidden in the hooks' output too.
    pub secrets: Secrets,
    /// `--max-attempts`: overrides every instance's `retry.max_attempts`.
    pub max_attempts: Option<u32>,
}

/// How one instance's run ended.
#[derive(Debug)]
pub struct JobResult {
    pub status: Status,
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    pub resources: Option<Resources>,
    pub lock_wait: Option<Duration>,
    pub log: Option<PathBuf>,
    pub plan_file: Option<PathBuf>,
    pub outputs_file: Option<PathBuf>,
    /// The instance digest of this run (known once its directory is prepared).
    pub digest: Option<String>,
    /// plan: the saved plan's changes (`terraform show -json`).
    pub plan_changes: Option<PlanChanges>,
    /// What grouped output shows for this instance.
    pub shown: Vec<u8>,
    /// The steps it took, with their times (terraform processes and fleet's own).
    pub steps: Vec<StepTiming>,
    /// Whether init was skipped (its record matched); `None` before the decision.
    pub init_skipped: Option<bool>,
    /// The attempts of steps that failed at least once (instances with a retry policy).
    pub attempts: Vec<Attempt>,
    /// `--plan-set`: the plan put into the set, or the set's plan applied.
    pub plan_entry: Option<crate::plan_set::Entry>,
    pub ended: SystemTime,
}

impl JobResult {
    pub fn failed_to_start(reason: String) -> JobResult {
        JobResult::new(Status::Failed, Some(reason))
    }

    fn new(status: Status, reason: Option<String>) -> JobResult {
        JobResult {
            status,
            reason,
            exit_code: None,
            resources: None,
            lock_wait: None,
            log: None,
            plan_file: None,
            outputs_file: None,
            digest: None,
            plan_changes: None,
            shown: Vec::new(),
            steps: Vec::new(),
            init_skipped: None,
            attempts: Vec::new(),
            plan_entry: None,
            ended: SystemTime::now(),
        }
    }
}

/// Runs instance `index` (a manifest index) and returns its result.
/// Runs one instance; `on_running` is called once it holds its lock.
pub fn run_job(env: &JobEnv, index: usize, display: &str, on_running: &dyn Fn()) -> JobResult {
    let inst = &env.located.manifest.instances[index];
    let run = RunDir::new(env.located.run_dir(inst));
    if let Err(e) = run.create() {
        return done(JobResult::new(Status::Failed, Some(format!("{e:#}"))));
    }
    let purpose = format!("fleet run --action {} {}", env.action.as_str(), inst.label);
    let lock = match Lock::acquire(&run.lock_path(), env.lock_timeout, &purpose) {
        Ok(lock) => lock,
        Err(e) => {
            let code = exit_code_of(&e);
            let status = match code {
                ExitCode::LockTimeout => Status::LockTimeout,
                _ => Status::Failed,
            };
            let mut result = JobResult::new(status, Some(format!("{e:#}")));
            result.exit_code = Some(code as i32);
            return done(result);
        }
    };
    let lock_wait = lock.waited();
    run.narrow_lock_files();
    if env.children.is_stopping() {
        let mut result = JobResult::new(
            Status::Cancelled,
            Some("not started: the run was stopping".into()),
        );
        result.lock_wait = Some(lock_wait);
        return done(result);
    }
    on_running();
    let mut job = Job::new(env, inst, display, &run, &lock);
    let mut result = job.run();
    result.lock_wait = Some(lock_wait);
    drop(lock);
    done(result)
}

fn done(mut result: JobResult) -> JobResult {
    result.ended = SystemTime::now();
    result
}

struct Job<'a> {
    env: &'a JobEnv,
    lock: &'a Lock,
    inst: &'a Instance,
    display: &'a str,
    run: &'a RunDir,
    log: Option<BufWriter<File>>,
    shown: Vec<u8>,
    resources: Option<Resources>,
    digest: Option<String>,
    plan_changes: Option<PlanChanges>,
    /// The rendered tree's digest (known once the directory is prepared).
    rendered: String,
    /// The inputs file's text (known once the directory is prepared).
    inputs: String,
    /// `--plan-set`: the set's entry of this instance.
    plan_entry: Option<crate::plan_set::Entry>,
    /// apply --plan-set: the set's plan has no changes (not applied).
    no_changes: bool,
    steps: Vec<StepTiming>,
    init_skipped: Option<bool>,
    /// Held while terraform runs: keeps the provider packages pinned.
    plugin_dir: Option<PluginDir>,
    /// The first-use race the last failed step lost, if any.
    race: Option<String>,
    /// The secret values terraform is given: hidden in fleet's own messages
    /// too (terraform's output is scrubbed as it is captured).
    secrets: Secrets,
    /// The saved plan named secrets not known while terraform ran: the log
    /// and what is shown are scrubbed again at the end.
    secrets_learnt: bool,
    /// The instance's retry policy for this run.
    policy: Policy,
    attempts: Vec<Attempt>,
    /// The captured output of the attempt that just failed.
    failed_output: Option<Vec<u8>>,
    /// The attempt that just ran (apply, destroy) had started changing a resource.
    changed: bool,
}

impl<'a> Job<'a> {
    fn new(
        env: &'a JobEnv,
        inst: &'a Instance,
        display: &'a str,
        run: &'a RunDir,
        lock: &'a Lock,
    ) -> Job<'a> {
        Job {
            env,
            lock,
            inst,
            display,
            run,
            log: None,
            shown: Vec::new(),
            resources: None,
            digest: None,
            plan_changes: None,
            rendered: String::new(),
            inputs: String::new(),
            plan_entry: None,
            no_changes: false,
            steps: Vec::new(),
            init_skipped: None,
            plugin_dir: None,
            race: None,
            secrets: Secrets::new(),
            secrets_learnt: false,
            policy: Policy::none(),
            attempts: Vec::new(),
            failed_output: None,
            changed: false,
        }
    }

    fn run(&mut self) -> JobResult {
        let log_path = self.run.log_file(self.env.action.as_str());
        match crate::fsutil::private::create_file(&log_path) {
            Ok(file) => self.log = Some(BufWriter::new(file)),
            Err(e) => {
                return JobResult::new(
                    Status::Failed,
                    Some(format!("creating log {}: {e:#}", log_path.display())),
                )
            }
        }
        let mut result = match Policy::new(self.inst.retry.as_ref(), self.env.max_attempts) {
            Ok(policy) => {
                self.policy = policy;
                self.steps()
            }
            Err(e) => self.fail(format!("{e:#}"), Some(ExitCode::Unsafe as i32)),
        };
        result.attempts = std::mem::take(&mut self.attempts);
        if let Some(mut log) = self.log.take() {
            let _ = log.flush();
        }
        if self.secrets_learnt {
            self.scrub_again(&log_path);
        }
        result.log = Some(log_path);
        result.resources = self.resources;
        result.digest = self.digest.take();
        result.plan_changes = self.plan_changes.take();
        result.steps = std::mem::take(&mut self.steps);
        result.init_skipped = self.init_skipped;
        result.plan_entry = self.plan_entry.take();
        result.shown = std::mem::take(&mut self.shown);
        if result.status == Status::Succeeded {
            match self.env.action {
                Action::Plan => result.plan_file = Some(self.run.plan_file()),
                Action::Apply => result.outputs_file = Some(self.run.outputs_file()),
                _ => {}
            }
        }
        result
    }

    fn steps(&mut self) -> JobResult {
        let env = self.env;
        let action = env.action;
        if let Some(ended) = self.plan_set_gate() {
            return ended;
        }
        if let Err(e) = self.before_terraform() {
            return self.fail(format!("{e:#}"), None);
        }
        if let Some(ended) = self.plan_set_made_from() {
            return ended;
        }
        if self.no_changes && !self.outputs_owed() {
            return self.unchanged();
        }
        let mut tf = match Terraform::new(&env.located.terraform, self.run, self.inst, self.lock)
            .map(|tf| {
                tf.with_go_runtime(&env.go_runtime)
                    .with_secrets(&self.secrets)
            }) {
            Ok(tf) => tf,
            Err(e) => return self.fail(format!("{e:#}"), None),
        };
        self.secrets = tf.secrets().clone();
        let mode = Mode::Unattended {
            from_plan: env.from_plan,
        };
        if let Some(ended) = self.init(&tf, mode) {
            return ended;
        }
        if self.no_changes {
            return match self.save_outputs(&tf) {
                Ok(()) => self.unchanged(),
                Err(e) => self.fail(format!("{e:#}"), None),
            };
        }
        if let Some(ended) = self.plan_set_state(&tf) {
            return ended;
        }
        let action_step = terraform::action_step(action, mode, env.lock_timeout, &[]);
        if let Some(ended) = self.step(&tf, &action_step, true) {
            return ended;
        }
        if action == Action::Plan && self.env.read_plan_changes {
            self.read_plan_changes(&mut tf);
        }
        if let Err(e) = self.plan_set_record() {
            return self.fail(format!("adding the plan to the plan set: {e:#}"), None);
        }
        let after = match action {
            Action::Apply => self.save_outputs(&tf),
            Action::Destroy => inputs::forget_outputs(self.run),
            Action::Plan | Action::Output => Ok(()),
        };
        match after {
            Ok(()) => {
                let mut ok = JobResult::new(Status::Succeeded, None);
                ok.exit_code = Some(0);
                ok
            }
            Err(e) if env.children.is_stopping() => {
                JobResult::new(Status::Interrupted, Some(format!("{e:#}")))
            }
            Err(e) => self.fail(format!("{e:#}"), None),
        }
    }

    /// Syncs the run directory and checks what the action needs.
    fn before_terraform(&mut self) -> Result<()> {
        let env = self.env;
        let plan = self.run.plan_file();
        match env.action {
            // A failed plan must not leave an older plan for `--from-plan`.
            Action::Plan if plan.exists() => {
                std::fs::remove_file(&plan)
                    .map_err(|e| anyhow::anyhow!("removing old plan {}: {e}", plan.display()))?;
            }
            Action::Apply if env.from_plan && !plan.exists() => {
                anyhow::bail!(
                    "no saved plan {} (run the plan action first)",
                    plan.display()
                );
            }
            _ => {}
        }
        let started = Instant::now();
        let kind = crate::tf::digest::RunKind {
            action: env.action,
            from_plan: env.from_plan,
        };
        let prepared = prepare(&env.located, self.inst, self.run, kind)?;
        self.steps
            .push(StepTiming::new("prepare", started.elapsed(), false));
        self.digest = Some(prepared.digest);
        self.rendered = prepared.rendered;
        self.inputs = prepared.inputs;
        self.plugin_dir = prepared.plugin_dir;
        self.secrets = prepared.secrets;
        Ok(())
    }

    /// Runs init (and workspace selection) unless the run directory's init
    /// record shows nothing it used changed; `Some(result)` when the run ends.
    fn init(&mut self, tf: &Terraform, mode: Mode) -> Option<JobResult> {
        let steps = match terraform::prepare_steps(self.inst, self.run, mode) {
            Ok(steps) => steps,
            Err(e) => return Some(self.fail(format!("{e:#}"), None)),
        };
        let terraform = &self.env.located.terraform;
        let gate = InitGate::new(self.run, self.inst, terraform, &self.rendered, &steps);
        let skip = !self.env.reinit && gate.is_current();
        self.init_skipped = Some(skip);
        if skip {
            self.log_line(b"(init skipped: nothing it used changed since the last init)");
            return None;
        }
        if let Err(e) = gate.begin() {
            return Some(self.fail(format!("{e:#}"), None));
        }
        let first_use = tf.first_use(&self.env.located.fleet_root);
        let purpose = format!(
            "fleet run --action {} {}",
            self.env.action.as_str(),
            self.inst.label
        );
        for step in &steps {
            let held = first_use
                .as_ref()
                .map(|f| f.hold_for(step.name, self.env.lock_timeout, &purpose));
            // Held until the step is done.
            let _serialised = match held.transpose() {
                Ok(lock) => lock,
                Err(e) => {
                    let code = exit_code_of(&e) as i32;
                    return Some(self.fail(format!("{e:#}"), Some(code)));
                }
            };
            if let Some(ended) = self.step(tf, step, false) {
                return Some(ended);
            }
        }
        let recorded = first_use.map_or(Ok(()), |f| f.initialised());
        recorded
            .and_then(|()| gate.succeeded())
            .err()
            .map(|e| self.fail(format!("{e:#}"), None))
    }

    /// Runs one step; `Some(result)` when the run ends here. A step that
    /// lost a first-use race of the backend (changing nothing) runs again
    /// after a backoff, within `--lock-timeout` ([`crate::backend::serial`]);
    /// one whose failure the retry policy calls transient runs again after
    /// its backoff ([`crate::retry`]).
    fn step(&mut self, tf: &Terraform, step: &Step, main: bool) -> Option<JobResult> {
        let mut backoff = Backoff::new(self.env.lock_timeout);
        let mut attempt = 1;
        loop {
            let shown = self.shown.len();
            let Some(mut ended) = self.attempt(tf, step, main) else {
                if attempt > 1 {
                    self.attempts
                        .push(Attempt::new(step.name, attempt, "succeeded", Some(0)));
                }
                return None;
            };
            if let Some(race) = self.race.take() {
                let wait = match backoff.next_wait() {
                    Some(wait) if !self.env.children.is_stopping() => wait,
                    _ => return Some(ended),
                };
                self.shown.truncate(shown);
                let note = format!(
                    "fleet: {}: terraform {} raced another terraform on the backend ({race}); \
                     nothing changed, running it again in {:.1}s",
                    self.inst.label,
                    step.name,
                    wait.as_secs_f64()
                );
                self.log_line(note.as_bytes());
                if !self.env.children.sleep(wait) {
                    return Some(ended);
                }
                continue;
            }
            if !self.retry_after(step, attempt, shown, &mut ended) {
                return Some(ended);
            }
            attempt += 1;
        }
    }

    /// Runs one step once; `Some(result)` when the run ends here.
    fn attempt(&mut self, tf: &Terraform, step: &Step, main: bool) -> Option<JobResult> {
        let stream = self.env.console.mode == OutputMode::Stream;
        self.log_line(format!("$ terraform {}", step.args.join(" ")).as_bytes());
        let mut lines: Vec<u8> = Vec::new();
        let console = Arc::clone(&self.env.console);
        let display = self.display;
        let mut log = self.log.take();
        let mut resources = None;
        let planned = self.env.action == Action::Plan;
        let changes = matches!(StepKind::of(step.name), StepKind::Apply | StepKind::Destroy);
        let mut changed = false;
        let started = Instant::now();
        let status = tf.run_lines(&self.env.children, step, |line| {
            if changes && !changed && retry::policy::starts_a_change(line) {
                changed = true;
            }
            if let Some(log) = log.as_mut() {
                let _ = log.write_all(line);
                let _ = log.write_all(b"\n");
            }
            if main {
                if let Some(found) = resources::parse_line(&String::from_utf8_lossy(line), planned)
                {
                    resources = Some(found);
                }
                if stream {
                    console.stream_line(display, line);
                }
            }
            lines.extend_from_slice(line);
            lines.push(b'\n');
        });
        self.log = log;
        self.changed = changed;
        self.failed_output = None;
        if matches!(status, Ok(Some(_))) {
            self.steps
                .push(StepTiming::new(step.name, started.elapsed(), true));
        }
        if resources.is_some() {
            self.resources = resources;
        }
        if main {
            self.shown.extend_from_slice(&lines);
        }
        let code = match status {
            Ok(Some(status)) => exit_status_code(status),
            Ok(None) => {
                return Some(JobResult::new(
                    Status::Cancelled,
                    Some("not started: the run was stopping".into()),
                ))
            }
            Err(e) => return Some(self.fail(format!("terraform {}: {e:#}", step.name), None)),
        };
        if code == 0 {
            return None;
        }
        self.failed_output = Some(lines.clone());
        if !main {
            // Preparation output is shown only when it fails.
            self.shown.extend_from_slice(&lines);
            if stream {
                for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    self.env.console.stream_line(display, line);
                }
            }
        }
        if self.env.children.is_stopping() {
            let mut r = JobResult::new(
                Status::Interrupted,
                Some(format!("terraform {} was interrupted", step.name)),
            );
            r.exit_code = Some(code);
            return Some(r);
        }
        match tf.backend_failure(&lines) {
            Some(BackendFailure::StateLock(info)) => {
                let workspace = self.inst.workspace.as_deref();
                let timeout = self.env.lock_timeout;
                let reason = tf.state_lock_timeout(step.name, timeout, &info, workspace);
                return Some(self.fail(reason, Some(ExitCode::LockTimeout as i32)));
            }
            Some(BackendFailure::Race(line)) => self.race = Some(line),
            None => {}
        }
        Some(self.fail(
            format!("terraform {} exited with {code}", step.name),
            Some(code),
        ))
    }

    fn save_outputs(&mut self, tf: &Terraform) -> Result<()> {
        let request = OutputsToSave {
            children: &self.env.children,
            tf,
            run: self.run,
            workspace: self.inst.workspace.as_deref(),
            wanted: inputs::has_dependents(&self.env.located.manifest, &self.inst.label),
        };
        let mut log = Vec::new();
        let saved = outputs::save_after_apply(&request, &mut |line| {
            log.extend_from_slice(line);
            log.push(b'\n');
        });
        self.log_line(&log);
        if let Some(took) = saved.terraform_took {
            let step = terraform::outputs_step();
            self.steps.push(StepTiming::new(step.name, took, true));
        }
        saved.result
    }

    /// Records the saved plan's changes and learns its sensitive values; a
    /// failure to read them is logged, not fatal (the counts from
    /// terraform's `Plan:` line remain).
    fn read_plan_changes(&mut self, tf: &mut Terraform) {
        let mut errors = Vec::new();
        let read = plan_show::read_plan_changes(&self.env.children, tf, |line| {
            errors.extend_from_slice(line);
            errors.push(b'\n');
        });
        if !errors.is_empty() {
            self.log_line(&errors);
        }
        match read {
            Ok(None) => {}
            Ok(Some(read)) => {
                self.plan_changes = Some(read.changes);
                if !read.secrets.is_empty() {
                    tf.add_secrets(&read.secrets);
                    self.secrets.extend(&read.secrets);
                    self.secrets_learnt = true;
                }
            }
            Err(e) => self.log_line(format!("fleet: {}: {e:#}", self.inst.label).as_bytes()),
        }
    }

    /// Scrubs the finished log and what is shown with every secret known
    /// now (a saved plan's sensitive values come after terraform printed).
    fn scrub_again(&mut self, log: &Path) {
        self.shown = self.secrets.scrub(&self.shown).into_owned();
        if let Ok(text) = std::fs::read(log) {
            if let Cow::Owned(clean) = self.secrets.scrub(&text) {
                if let Err(e) = crate::fsutil::private::write_file(log, &clean, false) {
                    self.shown.extend_from_slice(
                        format!("fleet: scrubbing {}: {e:#}\n", log.display()).as_bytes(),
                    );
                }
            }
        }
    }

    fn log_line(&mut self, text: &[u8]) {
        if let Some(log) = self.log.as_mut() {
            let _ = log.write_all(text);
            if !text.ends_with(b"\n") {
                let _ = log.write_all(b"\n");
            }
        }
    }

    fn fail(&mut self, reason: String, code: Option<i32>) -> JobResult {
        let reason = self.secrets.scrub_str(&reason);
        let message = format!("fleet: {}: {reason}", self.inst.label);
        self.log_line(message.as_bytes());
        self.shown.extend_from_slice(message.as_bytes());
        self.shown.push(b'\n');
        if self.env.console.mode == OutputMode::Stream {
            self.env
                .console
                .stream_line(self.display, message.as_bytes());
        }
        let lock_timeout = code == Some(ExitCode::LockTimeout as i32);
        let status = if lock_timeout {
            Status::LockTimeout
        } else {
            Status::Failed
        };
        let mut result = JobResult::new(status, Some(reason));
        result.exit_code = code.or(Some(ExitCode::Other as i32));
        result
    }
}
