//! Who holds a `pg` backend's state lock. Terraform's pg backend locks a
//! workspace with a session-level advisory lock on its row id (and briefly
//! the database-wide workspace-creation lock, -1) and records no lock info:
//! the "Lock Info" terraform prints when it gives up is the waiter's own.
//! The server knows the holder's session (`pg_locks`, `pg_stat_activity`);
//! every terraform fleet starts names itself there through `PGAPPNAME`
//! ([`application_name`]), so the session says who, what and since when.

use anyhow::Result;

use super::conn::ConnParams;
use super::wire::{identifier, literal, Session};

/// One session holding the workspace's lock or the creation lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgHolder {
    /// Whether it holds the database-wide workspace-creation lock (-1)
    /// rather than the workspace's own.
    pub creation_lock: bool,
    /// The server process of the session.
    pub session_pid: String,
    pub application_name: String,
    /// The client's address, or "a local socket".
    pub client: String,
    /// When the session connected (UTC): terraform connects as it starts.
    pub since: String,
}

/// The `application_name` of a terraform fleet starts:
/// `fleet <operation> <user@host> pid <fleet pid>`, with terraform's own
/// operation names (`OperationTypeApply`). PostgreSQL keeps 63 bytes of it.
pub fn application_name(operation: &str, who: &str, pid: u32) -> String {
    format!("fleet {operation} {who} pid {pid}")
}

/// The sessions holding `workspace`'s lock in `schema`, or the creation lock.
pub fn holders(conn: &ConnParams, schema: &str, workspace: &str) -> Result<Vec<PgHolder>> {
    let mut session = Session::connect(conn, "fleet (state lock lookup)")?;
    // An advisory lock on a bigint key shows as classid (high 32 bits) and
    // objid (low 32 bits) with objsubid 1.
    let sql = format!(
        "SELECT (l.classid::bigint = 4294967295 AND l.objid::bigint = 4294967295)::text, \
                a.pid::text, coalesce(a.application_name, ''), \
                coalesce(host(a.client_addr), 'a local socket'), \
                to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         LEFT JOIN {schema}.states s ON s.id = ((l.classid::bigint << 32) | l.objid::bigint) \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND (s.name = {workspace} \
                OR (l.classid::bigint = 4294967295 AND l.objid::bigint = 4294967295)) \
         ORDER BY 1, a.backend_start",
        schema = identifier(schema),
        workspace = literal(workspace),
    );
    let rows = session.query(&sql)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            PgHolder {
                creation_lock: text(0) == "true",
                session_pid: text(1),
                application_name: text(2),
                client: text(3),
                since: text(4),
            }
        })
        .collect())
}

impl PgHolder {
    /// `Who: ..., Operation: ..., Created: ..., ID: ...` in terraform's
    /// words, from the session (and its application name when fleet set it).
    pub fn describe(&self) -> String {
        let words: Vec<&str> = self.application_name.split(' ').collect();
        let (who, operation, runner) = match words.as_slice() {
            ["fleet", operation, who, "pid", pid, ..] => (
                who.to_string(),
                operation.to_string(),
                format!(", fleet pid {pid}"),
            ),
            _ if self.application_name.is_empty() => (
                "unknown (a session without an application name: not started by fleet)".into(),
                "unknown".into(),
                String::new(),
            ),
            _ => (
                format!("unknown (application name {:?})", self.application_name),
                "unknown".into(),
                String::new(),
            ),
        };
        let lock = if self.creation_lock {
            "the pg backend's workspace-creation lock"
        } else {
            "the workspace's lock"
        };
        format!(
            "Who: {who}, Operation: {operation}, Created: {}, ID: pg session {} from {}{runner} (holds {lock})",
            self.since, self.session_pid, self.client
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(name: &str) -> PgHolder {
        PgHolder {
            creation_lock: false,
            session_pid: "4711".into(),
            application_name: name.into(),
            client: "10.0.0.7".into(),
            since: "2025-01-31 12:00:00 UTC".into(),
        }
    }

    #[test]
    fn a_fleet_session_names_who_and_what() {
        let name = application_name("OperationTypeApply", "ci@runner-2", 4242);
        let text = holder(&name).describe();
        assert_eq!(
            text,
            "Who: ci@runner-2, Operation: OperationTypeApply, Created: 2025-01-31 12:00:00 UTC, \
             ID: pg session 4711 from 10.0.0.7, fleet pid 4242 (holds the workspace's lock)"
        );
    }

    #[test]
    fn another_session_is_named_by_what_the_server_knows() {
        let text = holder("psql").describe();
        assert!(
            text.starts_with("Who: unknown (application name \"psql\")"),
            "{text}"
        );
        assert!(text.contains("pg session 4711 from 10.0.0.7"), "{text}");
        assert!(holder("").describe().contains("not started by fleet"));
    }
}
