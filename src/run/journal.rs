//! The run's durable progress record: an append-only journal beside each
//! report (`<report>.journal`). Its first line is the report as the run
//! began (every selected instance `not_run`, reused ones as reused); each
//! later line is one event — an instance started terraform, an instance
//! ended, a group's hook ended — written (one `write`, no buffering) before
//! the runner acts on the event. So a runner killed at any point leaves a
//! journal whose replay is the report as of its last event; a torn last line
//! (the kill landed inside the write) is the event that was not recorded.
//! The finished run writes the report and removes the journal; `--resume`
//! replays a journal when one is left (it is newer than the report).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::unsafe_input;
use crate::fsutil;
use crate::fsutil::private;
use crate::report::{InstanceReport, Report, Status};

/// One line of the journal after the first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    /// The instance at position `k` of the report's instances started terraform.
    Running {
        k: usize,
        started_at: String,
        started_unix_ms: f64,
    },
    /// The instance at position `k` ended; `owes` are the hooks it made owed.
    Finished {
        k: usize,
        entry: Box<InstanceReport>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        owes: Vec<String>,
    },
    /// A group's `on_change` hook ended.
    Hook { group: String, ok: bool },
}

/// What a journal entry does to the report (the same live and on replay).
pub fn apply(report: &mut Report, entry: &Entry) -> Result<()> {
    let slot = |report: &mut Report, k: usize| -> Result<usize> {
        if k < report.instances.len() {
            Ok(k)
        } else {
            Err(unsafe_input(format!(
                "journal names instance {k} of {}",
                report.instances.len()
            )))
        }
    };
    match entry {
        Entry::Running {
            k,
            started_at,
            started_unix_ms,
        } => {
            let k = slot(report, *k)?;
            let e = &mut report.instances[k];
            e.status = Status::Interrupted;
            e.reason = Some("running: the runner ended before it finished".into());
            e.started_at = Some(started_at.clone());
            e.started_unix_ms = Some(*started_unix_ms);
        }
        Entry::Finished { k, entry, owes } => {
            let k = slot(report, *k)?;
            report.instances[k] = (**entry).clone();
            if !owes.is_empty() {
                let pending = &mut report.pending_hooks;
                pending.extend(owes.iter().cloned());
                pending.sort();
                pending.dedup();
            }
        }
        Entry::Hook { group, ok } => {
            if *ok {
                report.pending_hooks.retain(|g| g != group);
            }
        }
    }
    Ok(())
}

/// Where the journal of the report at `report` is kept.
pub fn path_of(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// An open journal, appended to.
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Starts the journal of `report_path` with `start` as its first line
    /// (written whole and renamed into place: a reader never sees half of it).
    pub fn create(report_path: &Path, start: &Report) -> Result<Journal> {
        let path = path_of(report_path);
        fsutil::check_replaceable(&path, "report journal")?;
        let mut text = serde_json::to_vec(start)?;
        text.push(b'\n');
        private::write_file(&path, &text, false)
            .with_context(|| format!("writing report journal {}", path.display()))?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("opening report journal {}", path.display()))?;
        Ok(Journal { path, file })
    }

    /// Appends one event line (one write: a kill leaves it whole or torn at
    /// the end, never interleaved). Returns the bytes written.
    pub fn append(&mut self, line: &[u8]) -> Result<usize> {
        self.file
            .write_all(line)
            .with_context(|| format!("appending to report journal {}", self.path.display()))?;
        Ok(line.len())
    }

    /// The run ended and its report is written: the journal goes.
    pub fn remove(self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", self.path.display())),
        }
    }
}

/// One event as a journal line.
pub fn line(entry: &Entry) -> Result<Vec<u8>> {
    let mut text = serde_json::to_vec(entry)?;
    text.push(b'\n');
    Ok(text)
}

/// The report a journal records: its first line with every complete event
/// line applied (a last line without its newline was torn by a kill and is
/// not an event). Corrupt content is exit 4.
pub fn replay(path: &Path) -> Result<Report> {
    let bytes = fsutil::read_regular(path, "report journal")?;
    let corrupt = |what: String| unsafe_input(format!("report journal {}: {what}", path.display()));
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => &bytes[..=end],
        None => return Err(corrupt("no complete first line".into())),
    };
    let mut lines = complete.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let first = lines.next().ok_or_else(|| corrupt("empty".into()))?;
    let mut report: Report = serde_json::from_slice(first)
        .map_err(|e| corrupt(format!("the first line does not parse: {e}")))?;
    if report.schema != crate::report::SCHEMA {
        return Err(corrupt(format!("schema {}", report.schema)));
    }
    for (n, text) in lines.enumerate() {
        let entry: Entry = serde_json::from_slice(text)
            .map_err(|e| corrupt(format!("line {} does not parse: {e}", n + 2)))?;
        apply(&mut report, &entry).map_err(|e| corrupt(format!("line {}: {e:#}", n + 2)))?;
    }
    report.counts = Report::count(&report.instances);
    Ok(report)
}

/// The latest record of the report at `path`: its journal when the run that
/// wrote it did not finish, else the report itself.
pub fn load_latest(path: &Path) -> Result<Report> {
    let journal = path_of(path);
    if journal.symlink_metadata().is_ok() {
        return replay(&journal);
    }
    Report::load(path)
}
