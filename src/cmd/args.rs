//! Arguments shared by several commands, and parsers from the command line
//! into the library's plain types.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::Result;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;

use crate::error::usage;

/// Default lock deadline, overridable with `--lock-timeout` or `FLEET_LOCK_TIMEOUT`.
pub const DEFAULT_LOCK_TIMEOUT_SECS: f64 = 300.0;

/// How long to wait for a lock.
#[derive(Args, Debug, Clone)]
pub struct LockTimeoutArg {
    /// Seconds to wait for a lock before giving up (exit 3).
    #[arg(long, env = "FLEET_LOCK_TIMEOUT", default_value_t = DEFAULT_LOCK_TIMEOUT_SECS)]
    pub lock_timeout: f64,
    /// Deprecated spelling of --lock-timeout.
    #[arg(long = "timeout", hide = true)]
    pub deprecated_timeout: Option<f64>,
}

impl LockTimeoutArg {
    /// The deadline; `--timeout` (deprecated) still wins, with a warning.
    pub fn duration(&self) -> Result<Duration> {
        let seconds = match self.deprecated_timeout {
            Some(seconds) => {
                warn_deprecated("--timeout", "--lock-timeout");
                seconds
            }
            None => self.lock_timeout,
        };
        Duration::try_from_secs_f64(seconds).map_err(|_| {
            usage(format!(
                "--lock-timeout {seconds} is not a valid number of seconds"
            ))
        })
    }
}

/// Warns once per process that flag `old` is a deprecated alias of `new`
/// (the glossary's synonyms, docs/glossary.md): a launcher or script written
/// for an older release keeps working and says what to write instead.
pub fn warn_deprecated(old: &'static str, new: &'static str) {
    static WARNED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(PoisonError::into_inner);
    if !warned.contains(&old) {
        warned.push(old);
        eprintln!("fleet: warning: {old} is deprecated; use {new}");
    }
}

/// Where the manifest's files are and where run directories go; shared by
/// `fleet tf` and `fleet run`.
#[derive(Args, Debug, Clone)]
pub struct LocationArgs {
    /// The instance manifest written by the Starlark rules.
    #[arg(long)]
    pub manifest: PathBuf,
    /// Directory that runfiles paths in the manifest are relative to
    /// (default: $RUNFILES_DIR, else the current directory).
    #[arg(long)]
    pub runfiles: Option<PathBuf>,
    /// The workspace root (default: $BUILD_WORKSPACE_DIRECTORY, set by `bazel run`).
    #[arg(long)]
    pub workspace_root: Option<PathBuf>,
    /// Root of the run directories (default: <workspace root>/<manifest fleet_root>).
    #[arg(long)]
    pub fleet_root: Option<PathBuf>,
    #[command(flatten)]
    pub lock_timeout: LockTimeoutArg,
    /// The machine-wide store provider packages are unpacked into, once
    /// (default: $FLEET_STORE, else $XDG_CACHE_HOME/rules_fleet/store, else
    /// ~/.cache/rules_fleet/store).
    #[arg(long)]
    pub store: Option<PathBuf>,
}

impl LocationArgs {
    pub fn into_locations(self) -> Result<crate::tf::Locations> {
        Ok(crate::tf::Locations {
            lock_timeout: self.lock_timeout.duration()?,
            manifest: self.manifest,
            runfiles: self.runfiles,
            workspace_root: self.workspace_root,
            fleet_root: self.fleet_root,
            store: self.store,
        })
    }
}

/// A parser for a library enum: its names as clap's possible values, parsed
/// with its `FromStr`.
pub fn one_of<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: FromStr<Err = String> + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(names).try_map(|name| name.parse::<T>())
}

pub fn parse_key_value(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

pub fn parse_path_pair(s: &str) -> std::result::Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), PathBuf::from(v))),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}
