//! Reading a failed terraform step's output for the two backend failures
//! fleet handles itself:
//!
//! - **a state-lock timeout**: terraform waited `-lock-timeout` for the
//!   state lock and gave up (`Error acquiring the state lock`), printing the
//!   lock info it has;
//! - **a first-use race**: terraform's `pg` backend creates its schema,
//!   sequence, table and index with `CREATE ... IF NOT EXISTS`, which fails
//!   when another terraform creates the same object at the same moment
//!   (`duplicate key value violates unique constraint "pg_namespace_nspname_index"`),
//!   and creates a workspace under a try-lock that fails at once while any
//!   other terraform of the database holds it (`failed to lock state in
//!   Postgres: Already locked for workspace creation`). The s3 backend
//!   (`use_lockfile`) creates a workspace under its lock file the same way
//!   (`failed to lock s3 state: ... PreconditionFailed` when two runners
//!   create one workspace), and gives up at once, whatever `-lock-timeout`
//!   says, when the lock it met was released before it could read who held
//!   it. All of these happen before anything is read or written, so the
//!   step can simply run again.

/// A backend failure fleet recognises in terraform's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendFailure {
    /// Terraform gave up waiting for the state lock.
    StateLock(LockInfo),
    /// A race of the backend's first use; the line that shows it.
    Race(String),
}

/// What terraform printed about the lock it could not take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockInfo {
    /// `Error message:` (e.g. `Workspace is already locked: cluster-01`).
    pub error_message: Option<String>,
    /// The `Lock Info:` fields in order: ID, Path, Operation, Who, Version,
    /// Created, Info.
    pub fields: Vec<(String, String)>,
}

impl LockInfo {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// `Who: ..., Operation: ..., Created: ..., ID: ...`.
    pub fn describe(&self) -> String {
        ["Who", "Operation", "Created", "ID", "Path", "Info"]
            .iter()
            .filter_map(|name| self.field(name).map(|v| format!("{name}: {v}")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const STATE_LOCK: &str = "Error acquiring the state lock";

/// Lines of a first-use race (pg) or of a workspace creation (pg, s3).
const RACES: &[&str] = &[
    // CREATE SCHEMA / SEQUENCE / TABLE / INDEX IF NOT EXISTS at once: a
    // unique index of the system catalog (schemas, types, relations).
    "duplicate key value violates unique constraint \"pg_namespace_nspname_index\"",
    "duplicate key value violates unique constraint \"pg_type_typname_nsp_index\"",
    "duplicate key value violates unique constraint \"pg_class_relname_nsp_index\"",
    // Workspace creation takes the state lock once, without waiting,
    // whatever -lock-timeout says: pg's creation try-lock, s3's lock file
    // while another runner creates the same workspace.
    "failed to lock state in Postgres",
    "failed to lock s3 state:",
];

/// s3 with `use_lockfile`: the conditional write of the lock file failed
/// (412) and the lock was gone when terraform read who held it (404); with
/// no lock info terraform gives up at once instead of waiting.
const S3_LOCK_RELEASED: [&str; 2] = ["unable to retrieve file from S3 bucket", ".tflock"];

/// Classifies a failed step's output.
pub fn classify(output: &[u8]) -> Option<BackendFailure> {
    let text = plain(&String::from_utf8_lossy(output));
    if text.contains(STATE_LOCK) {
        let info = lock_info(&text);
        let released = S3_LOCK_RELEASED.iter().all(|part| text.contains(part))
            && (text.contains("StatusCode: 404") || text.contains("NoSuchKey"));
        if info.fields.is_empty() && released {
            return Some(BackendFailure::Race(
                "the s3 lock file was released while terraform read who held it".into(),
            ));
        }
        return Some(BackendFailure::StateLock(info));
    }
    text.lines()
        .find(|line| RACES.iter().any(|race| line.contains(race)))
        .map(|line| BackendFailure::Race(line.trim().trim_start_matches("Error: ").to_string()))
}

/// Terraform's diagnostics as plain text: colour codes (`ESC [ ... m`)
/// removed, and the box it draws around a diagnostic without `-no-color`
/// (`╷`, `│ `, `╵`) taken away.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for end in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&end) {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    let lines: Vec<&str> = out
        .lines()
        .filter(|line| !matches!(line.trim(), "╷" | "╵"))
        .map(|line| {
            line.strip_prefix("│ ")
                .or_else(|| line.strip_prefix('│'))
                .unwrap_or(line)
        })
        .collect();
    lines.join("\n")
}

fn lock_info(text: &str) -> LockInfo {
    let mut info = LockInfo::default();
    let mut in_block = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(message) = trimmed.strip_prefix("Error message:") {
            info.error_message = Some(message.trim().to_string());
        } else if trimmed == "Lock Info:" {
            in_block = true;
        } else if in_block {
            match trimmed.split_once(':') {
                Some((key, value)) if line.starts_with(' ') && !key.contains(' ') => {
                    info.fields
                        .push((key.to_string(), value.trim().to_string()));
                }
                _ => in_block = false,
            }
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: &str = "Acquiring state lock. This may take a few moments...

Error: Error acquiring the state lock

Error message: Workspace is already locked: cluster-01
Lock Info:
  ID:        3b758270-cba6-1373-a4ac-68542f1b2132
  Path:      
  Operation: OperationTypeApply
  Who:       root@vm
  Version:   1.11.4
  Created:   2026-12-06 21:57:15.367705547 +0000 UTC
  Info:      


Terraform acquires a state lock to protect the state from being written
by multiple users at the same time.";

    #[test]
    fn a_state_lock_timeout_with_its_lock_info() {
        let Some(BackendFailure::StateLock(info)) = classify(TIMEOUT.as_bytes()) else {
            panic!("not a state lock failure");
        };
        assert_eq!(
            info.error_message.as_deref(),
            Some("Workspace is already locked: cluster-01")
        );
        assert_eq!(info.field("Who"), Some("root@vm"));
        assert_eq!(info.field("Path"), None);
        assert_eq!(
            info.describe(),
            "Who: root@vm, Operation: OperationTypeApply, \
             Created: 2026-12-06 21:57:15.367705547 +0000 UTC, ID: 3b758270-cba6-1373-a4ac-68542f1b2132"
        );
    }

    #[test]
    fn a_state_lock_timeout_at_a_terminal_in_colour_and_boxed() {
        let boxed: String = TIMEOUT
            .lines()
            .map(|line| match line {
                "Error: Error acquiring the state lock" => {
                    "\u{1b}[31m╷\u{1b}[0m\u{1b}[0m\n\u{1b}[31m│\u{1b}[0m \u{1b}[0m\u{1b}[1m\u{1b}[31mError: \u{1b}[0m\u{1b}[0m\u{1b}[1mError acquiring the state lock\u{1b}[0m\n".to_string()
                }
                other => format!("\u{1b}[31m│\u{1b}[0m {other}\n"),
            })
            .collect();
        let Some(BackendFailure::StateLock(info)) = classify(boxed.as_bytes()) else {
            panic!("not a state lock failure: {boxed}");
        };
        assert_eq!(info.field("Who"), Some("root@vm"));
        assert_eq!(
            info.field("ID"),
            Some("3b758270-cba6-1373-a4ac-68542f1b2132")
        );
    }

    #[test]
    fn the_first_use_races_of_the_pg_backend() {
        // Both seen when twelve terraforms init one new schema and create
        // their workspaces at once (e2e/backends `race`).
        let table = "\nError: pq: duplicate key value violates unique constraint \"pg_type_typname_nsp_index\"\n";
        assert_eq!(
            classify(table.as_bytes()),
            Some(BackendFailure::Race(
                "pq: duplicate key value violates unique constraint \"pg_type_typname_nsp_index\""
                    .into()
            ))
        );
        let workspace = "failed to lock state in Postgres: Already locked for workspace creation: cluster-05\nLock Info:\n  ID: x\n";
        assert!(matches!(
            classify(workspace.as_bytes()),
            Some(BackendFailure::Race(_))
        ));
    }

    #[test]
    fn the_workspace_creation_and_lock_release_races_of_the_s3_backend() {
        // Two runners creating one workspace at once (e2e/backends `s3`).
        let created = "failed to lock s3 state: operation error S3: PutObject, https response \
                       error StatusCode: 412, api error PreconditionFailed\nLock Info:\n  ID: x\n";
        assert!(matches!(
            classify(created.as_bytes()),
            Some(BackendFailure::Race(_))
        ));
        let released =
            "Error: Error acquiring the state lock\n\nError message: operation error S3: \
                        PutObject, https response error\nStatusCode: 412\nunable to retrieve file \
                        from S3 bucket 'b' with key 'env:/w/k.tflock': operation error S3:\n\
                        GetObject, https response error StatusCode: 404\nNoSuchKey:\n";
        assert!(matches!(
            classify(released.as_bytes()),
            Some(BackendFailure::Race(_))
        ));
    }

    #[test]
    fn other_failures_are_left_alone() {
        let user = "Error: duplicate key value violates unique constraint \"users_pkey\"";
        assert_eq!(classify(user.as_bytes()), None);
        assert_eq!(classify(b"Error: Invalid value for variable"), None);
    }
}
