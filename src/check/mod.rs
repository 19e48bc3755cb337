//! `fleet check`: the build-time check of one instance (or one component).
//!
//! In a private copy of the tree, with a private `TF_DATA_DIR`, CLI config and
//! `HOME` and nothing else from the environment, runs `terraform init
//! -backend=false -lockfile=readonly` from a read-only plugin directory, then
//! either `terraform test` with a generated run block (`command = plan`) and a
//! `mock_provider` for every provider configuration the module uses (`plan`:
//! the instance's values against the module, no provider configured), or
//! `terraform validate` (`validate`). The plan sees what the run will: the
//! instance's `TF_VAR_*` environment and its workspace (`TF_WORKSPACE`).
//! Writes a path-independent JSON result; on failure prints terraform's
//! diagnostics under the label, with paths rewritten to the component's
//! sources and sensitive values replaced, and exits 5.
//!
//! [`undeclared`] is the check of variable names the render action runs.

mod providers;
mod report;
mod scrub;
mod sensitive;
mod tfvars;
pub mod undeclared;
mod workdir;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::{usage, ExitCode};
pub use report::Outcome;
use sensitive::Sensitive;

/// What the check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `terraform test`: plan the instance's values against mock providers.
    Plan,
    /// `terraform validate`: the configuration alone, values ignored.
    Validate,
}

impl Mode {
    pub const NAMES: [&'static str; 2] = ["plan", "validate"];
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(name: &str) -> std::result::Result<Mode, String> {
        match name {
            "plan" => Ok(Mode::Plan),
            "validate" => Ok(Mode::Validate),
            _ => Err(format!("{name:?} is not plan or validate")),
        }
    }
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plan => "plan",
            Mode::Validate => "validate",
        }
    }
}

/// What `fleet check` checks, and where it writes the result.
#[derive(Debug)]
pub struct CheckOptions {
    /// The terraform (or tofu) executable.
    pub terraform: PathBuf,
    /// The rendered tree to check (copied; never written to).
    pub tree: Option<PathBuf>,
    /// (PATH, FILE): put FILE at PATH in the copy (after `tree`).
    pub files: Vec<(String, PathBuf)>,
    /// Label of what is checked (an instance, or the component for `validate`).
    pub label: String,
    /// Label of the component, for the failure message.
    pub component: String,
    /// Where to write the JSON result.
    pub out: PathBuf,
    pub mode: Mode,
    /// (SLOT, DIR): a provider package `<host>/<namespace>/<type>/<version>/<os>_<arch>` unpacked in DIR.
    pub plugins: Vec<(String, PathBuf)>,
    /// (NAME, FILE): a `.tfmock.hcl` file for the mock of provider NAME.
    pub mocks: Vec<(String, PathBuf)>,
    /// (PATH, ORIGIN): name the tree's PATH as ORIGIN in messages and the result.
    pub sources: Vec<(String, PathBuf)>,
    /// Label of the component's `.lock` target, named when the lock file falls short.
    pub lock_file_target: String,
    /// The instance's workspace: `terraform.workspace` in the plan (`None`: `default`).
    pub workspace: Option<String>,
    /// A JSON object of the instance's `TF_VAR_*` environment, given to the plan.
    pub env_file: Option<PathBuf>,
}

/// Runs the check; exit 0 when it passed, 5 when terraform found errors.
pub fn check_command(args: &CheckOptions) -> Result<i32> {
    let env = match &args.env_file {
        Some(path) => read_env_file(path)?,
        None => Vec::new(),
    };
    let mut plan_env = env.clone();
    if let Some(workspace) = args.workspace.as_deref().filter(|w| !w.is_empty()) {
        plan_env.push(("TF_WORKSPACE".to_string(), workspace.to_string()));
    }
    let work = workdir::Workdir::create(args, plan_env)?;
    let sensitive = match args.mode {
        Mode::Plan => Sensitive::read(work.module(), &env)?,
        Mode::Validate => Sensitive::default(),
    };
    let origins = report::Origins::new(&args.sources).hiding(work.root());
    let outcome = match work.init(&args.terraform)? {
        Err(log) => {
            let root = work.root().to_string_lossy();
            let log = sensitive.scrub(&log.replace(root.as_ref(), "<check dir>"));
            report::print_init_failure(args, &log);
            return Ok(ExitCode::Mismatch as i32);
        }
        Ok(()) => match args.mode {
            Mode::Plan => {
                work.write_test_file(&args.mocks)?;
                report::parse_test_stream(&work.test(&args.terraform)?, &origins)
            }
            Mode::Validate => report::parse_validate(&work.validate(&args.terraform)?, &origins),
        },
    };
    // terraform's own words may quote a value: scrubbed before they go anywhere.
    let mut outcome =
        outcome.map_err(|err| anyhow::anyhow!(sensitive.scrub(&format!("{err:#}"))))?;
    outcome.redact(&sensitive);
    let json = outcome.to_json(args);
    crate::fsutil::replace_file(&args.out, json.as_bytes(), crate::fsutil::Replace::QUICK)
        .with_context(|| format!("writing the check result {}", args.out.display()))?;
    if outcome.passed {
        return Ok(0);
    }
    let text = outcome.failure_text(args);
    eprint!("{text}");
    report::print_lock_file_hint(args, &text);
    Ok(ExitCode::Mismatch as i32)
}

/// The `TF_VAR_*` environment the rules wrote for the plan (a JSON object of
/// strings; any other name is refused: the check's environment is hermetic).
fn read_env_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the check's environment {}", path.display()))?;
    // serde's message may quote a value: only the position is named.
    let env: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|e| {
        usage(format!(
            "{}: the check's environment must be a JSON object of strings (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        ))
    })?;
    if let Some(name) = env.keys().find(|name| !name.starts_with("TF_VAR_")) {
        return Err(usage(format!(
            "{}: {name} is not a TF_VAR_* variable; the check's environment takes only those",
            path.display()
        )));
    }
    Ok(env.into_iter().collect())
}
