//! `fleet check`: the build-time check of one instance (or one component).
//!
//! In a private copy of the tree, with a private `TF_DATA_DIR`, CLI config and
//! `HOME` and nothing else from the environment, runs `terraform init
//! -backend=false -lockfile=readonly` from a read-only plugin directory, then
//! either `terraform test` with a generated run block (`command = plan`) and a
//! `mock_provider` for every provider configuration the module uses (`plan`:
//! the instance's values against the module, no provider configured), or
//! `terraform validate` (`validate`). Writes a path-independent JSON result;
//! on failure prints terraform's diagnostics under the label, with paths
//! rewritten to the component's sources, and exits 5.

mod providers;
mod report;
mod workdir;

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::error::ExitCode;
pub use report::Outcome;

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
}

/// Runs the check; exit 0 when it passed, 5 when terraform found errors.
pub fn check_command(args: &CheckOptions) -> Result<i32> {
    let work = workdir::Workdir::create(args)?;
    let origins = report::Origins::new(&args.sources).hiding(work.root());
    let outcome = match work.init(&args.terraform)? {
        Err(log) => {
            let root = work.root().to_string_lossy();
            report::print_init_failure(args, &log.replace(root.as_ref(), "<check dir>"));
            return Ok(ExitCode::Mismatch as i32);
        }
        Ok(()) => match args.mode {
            Mode::Plan => {
                work.write_test_file(&args.mocks)?;
                report::parse_test_stream(&work.test(&args.terraform)?, &origins)?
            }
            Mode::Validate => report::parse_validate(&work.validate(&args.terraform)?, &origins)?,
        },
    };
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
