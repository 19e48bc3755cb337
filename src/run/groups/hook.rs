//! A run group's `on_change` hook: run once after the group's instances, with
//! `FLEET_GROUP`, `FLEET_ACTION` and `FLEET_GROUP_REPORT` (the members'
//! report entries) in its environment, its output captured to
//! `<fleet root>/.groups/<package>/<name>/<action>.hook.log` and shown like
//! an instance's.

use std::io::{BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::error::unsafe_input;
use crate::fsutil::private;
use crate::label::Label;
use crate::process::exit_status_code;
use crate::report::console::OutputMode;
use crate::report::groups::HookResult;
use crate::report::{InstanceReport, Status};
use crate::run::job::JobEnv;
use crate::tf::locate::resolve_runfile;

/// What the hook needs to know of its group.
pub struct HookCall {
    /// The group's label (`FLEET_GROUP`).
    pub label: String,
    /// Display name, for prefixes.
    pub name: String,
    /// Runfiles path of the executable.
    pub executable: String,
    /// The members' entries of the run report.
    pub members: Vec<InstanceReport>,
}

#[derive(Serialize)]
struct GroupReportFile<'a> {
    group: &'a str,
    action: &'a str,
    instances: &'a [InstanceReport],
}

/// Runs the hook and says how it went; never panics on the hook's doing.
pub fn run_hook(env: &JobEnv, call: &HookCall) -> HookResult {
    let started = SystemTime::now();
    let mut result = HookResult {
        status: Status::Failed,
        reason: None,
        exit_code: None,
        log: None,
        started,
        ended: started,
        shown: Vec::new(),
    };
    if let Err(e) = run(env, call, &mut result) {
        let message = format!("fleet: on_change of {}: {e:#}", call.label);
        result.shown.extend_from_slice(message.as_bytes());
        result.shown.push(b'\n');
        result.status = Status::Failed;
        result.reason = Some(format!("{e:#}"));
    }
    result.ended = SystemTime::now();
    result
}

fn run(env: &JobEnv, call: &HookCall, result: &mut HookResult) -> Result<()> {
    let action = env.action.as_str();
    let dir = env
        .located
        .fleet_root
        .join(crate::manifest::GROUPS_DIR)
        .join(label_dir(&call.label)?);
    create_dirs(&env.located.fleet_root, &dir)?;
    let report_path = dir.join(format!("{action}.report.json"));
    let report = GroupReportFile {
        group: &call.label,
        action,
        instances: &call.members,
    };
    let mut text = serde_json::to_vec_pretty(&report)?;
    text.push(b'\n');
    private::write_file(&report_path, &text, false)
        .with_context(|| format!("writing {}", report_path.display()))?;
    let log_path = dir.join(format!("{action}.hook.log"));
    let mut log = BufWriter::new(private::create_file(&log_path)?);
    result.log = Some(log_path.clone());
    let executable = resolve_runfile(&env.located.runfiles, &call.executable)
        .with_context(|| format!("finding the on_change hook of {}", call.label))?;
    let mut cmd = crate::process::GuardedCommand::new(&executable);
    cmd.env("FLEET_GROUP", &call.label)
        .env("FLEET_ACTION", action)
        .env("FLEET_GROUP_REPORT", &report_path);
    if let Some(root) = env.located.runfiles.parent() {
        cmd.env("RUNFILES_DIR", root);
    }
    if let Some(dir) = std::env::var_os("BUILD_WORKSPACE_DIRECTORY").filter(|d| !d.is_empty()) {
        cmd.current_dir(dir);
    }
    let _ = writeln!(log, "$ {}", executable.display());
    let stream = env.console.mode == OutputMode::Stream;
    let shown = &mut result.shown;
    let mut on_line = |line: &[u8]| {
        let _ = log.write_all(line);
        let _ = log.write_all(b"\n");
        shown.extend_from_slice(line);
        shown.push(b'\n');
        if stream {
            env.console.stream_line(&call.name, line);
        }
    };
    let mut lines = crate::redact::Lines::new(&env.secrets);
    let status =
        crate::process::run_merged(&env.children, cmd, |line| lines.push(line, &mut on_line));
    lines.finish(&mut on_line);
    let status = status.with_context(|| format!("running {}", executable.display()))?;
    let _ = log.flush();
    match status {
        None => {
            result.status = Status::Cancelled;
            result.reason = Some("not started: the run was stopping".into());
        }
        Some(status) => {
            let code = exit_status_code(status);
            result.exit_code = Some(code);
            if code == 0 {
                result.status = Status::Succeeded;
            } else if env.children.is_stopping() {
                result.status = Status::Interrupted;
                result.reason = Some(format!("the on_change hook was interrupted ({code})"));
            } else {
                result.status = Status::Failed;
                result.reason = Some(format!("the on_change hook exited with {code}"));
            }
        }
    }
    Ok(())
}

/// `//infra/cache:all` → `infra/cache/all`; `@repo//p:g` → `@repo/p/g`, the
/// repository by its apparent name (`@@repo~//p:g` too: one directory whichever
/// Bazel wrote the manifest). A label that would leave `.groups/` is refused
/// (the manifest is input).
pub fn label_dir(label: &str) -> Result<PathBuf> {
    let refuse = || {
        unsafe_input(format!(
            "group label {label:?} does not name a directory inside the fleet root"
        ))
    };
    let parsed = Label::parse(label).map_err(|_| refuse())?;
    let mut path = PathBuf::new();
    if !parsed.is_main() {
        path.push(format!("@{}", parsed.repo));
    }
    for part in parsed.package.split('/').chain(parsed.name.split('/')) {
        if !part.is_empty() {
            path.push(part);
        }
    }
    let normal = path.components().all(|c| matches!(c, Component::Normal(_)));
    if !normal || path.as_os_str().is_empty() {
        return Err(refuse());
    }
    Ok(path)
}

/// Creates `dir` and its missing parents below `root`, private (0700).
fn create_dirs(root: &Path, dir: &Path) -> Result<()> {
    let mut at = root.to_path_buf();
    if !at.is_dir() {
        private::create_dir(&at)?;
    }
    for part in dir.strip_prefix(root).unwrap_or(dir).components() {
        at.push(part);
        if !at.is_dir() {
            private::create_dir(&at)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::label_dir;

    #[test]
    fn label_dirs_stay_inside() {
        assert_eq!(
            label_dir("//infra/cache:all").unwrap().to_str(),
            Some("infra/cache/all")
        );
        assert_eq!(label_dir("@r//p:g").unwrap().to_str(), Some("@r/p/g"));
        assert_eq!(label_dir("@@r~//p:g").unwrap().to_str(), Some("@r/p/g"));
        assert_eq!(label_dir("@@r+//p:g").unwrap().to_str(), Some("@r/p/g"));
        assert!(label_dir("//..:x").is_err());
        assert!(label_dir("//a/../../b:x").is_err());
    }
}
