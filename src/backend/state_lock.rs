//! The message of a state-lock timeout: which lock, for how long, and who
//! holds it — from terraform's lock info where the backend stores one (s3,
//! gcs, azurerm, consul, http, ...), from the server's sessions for `pg`,
//! whose lock info terraform cannot read (see [`super::pg::holder`]).

use std::time::Duration;

use super::failure::LockInfo;
use super::pg::holder;
use super::{Backend, Env};

/// What a state-lock timeout is about.
pub struct StateLockTimeout<'a> {
    /// The terraform step that gave up (`apply`).
    pub step: &'a str,
    /// `-lock-timeout`.
    pub timeout: Duration,
    pub info: &'a LockInfo,
    pub backend: Option<&'a Backend>,
    /// The instance's workspace (`default` when none).
    pub workspace: &'a str,
}

impl StateLockTimeout<'_> {
    /// `terraform apply: timed out after 5s waiting for the state lock of
    /// pg 127.0.0.1:5432/fleet schema "fleet", workspace "cluster-01"; held by
    /// Who: ..., Operation: ..., Created: ..., ID: ...`.
    pub fn describe(&self, env: Env) -> String {
        let mut text = format!(
            "terraform {}: timed out after {}s waiting for the state lock of {}; held by {}",
            self.step,
            self.timeout.as_secs(),
            self.what(env),
            self.holder(env)
        );
        if let Some(message) = &self.info.error_message {
            text.push_str(&format!(" (terraform: {message})"));
        }
        text
    }

    fn what(&self, env: Env) -> String {
        let workspace = self.workspace;
        match self.backend.and_then(|b| b.pg(env)) {
            Some(pg) => {
                let database = pg
                    .conn
                    .as_ref()
                    .map_or_else(|_| "?".to_string(), |c| c.database_name());
                format!(
                    "pg {database} schema {:?}, workspace {workspace:?}",
                    pg.schema
                )
            }
            None => {
                let kind = self.backend.map_or("local", |b| b.kind.as_str());
                format!("the {kind} backend, workspace {workspace:?}")
            }
        }
    }

    fn holder(&self, env: Env) -> String {
        let Some(pg) = self.backend.and_then(|b| b.pg(env)) else {
            let known = self.info.describe();
            return if known.is_empty() {
                "an unknown holder (terraform printed no lock info)".into()
            } else {
                known
            };
        };
        let conn = match &pg.conn {
            Ok(conn) => conn,
            Err(e) => return format!("an unknown holder (fleet cannot ask the server: {e:#})"),
        };
        match holder::holders(conn, &pg.schema, self.workspace) {
            Ok(found) if found.is_empty() => {
                "no session any more (it was released after terraform gave up)".into()
            }
            Ok(found) => found
                .iter()
                .map(holder::PgHolder::describe)
                .collect::<Vec<_>>()
                .join("; "),
            Err(e) => format!(
                "an unknown holder (terraform's pg backend keeps no lock info and fleet could not \
                 ask the server: {e:#})"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn other_backends_name_the_holder_from_terraforms_lock_info() {
        let info = LockInfo {
            error_message: Some("ConditionalCheckFailedException".into()),
            fields: vec![
                ("ID".into(), "0b5e".into()),
                ("Operation".into(), "OperationTypeApply".into()),
                ("Who".into(), "ci@runner-1".into()),
                ("Created".into(), "2025-01-31 12:00:00 UTC".into()),
            ],
        };
        let backend = Backend {
            kind: "s3".into(),
            config: json!({"bucket": "b"}).as_object().unwrap().clone(),
        };
        let timeout = StateLockTimeout {
            step: "apply",
            timeout: Duration::from_secs(5),
            info: &info,
            backend: Some(&backend),
            workspace: "cluster-01",
        };
        let none = |_: &str| None;
        assert_eq!(
            timeout.describe(&none),
            "terraform apply: timed out after 5s waiting for the state lock of the s3 backend, \
             workspace \"cluster-01\"; held by Who: ci@runner-1, Operation: OperationTypeApply, \
             Created: 2025-01-31 12:00:00 UTC, ID: 0b5e (terraform: ConditionalCheckFailedException)"
        );
    }

    #[test]
    fn pg_without_a_reachable_server_says_why_the_holder_is_unknown() {
        let info = LockInfo::default();
        let backend = Backend {
            kind: "pg".into(),
            config: json!({"schema_name": "s", "conn_str": "postgres://u@127.0.0.1:1/db?sslmode=disable"})
                .as_object()
                .unwrap()
                .clone(),
        };
        let timeout = StateLockTimeout {
            step: "plan",
            timeout: Duration::from_secs(1),
            info: &info,
            backend: Some(&backend),
            workspace: "w",
        };
        let none = |_: &str| None;
        let text = timeout.describe(&none);
        assert!(
            text.contains("pg 127.0.0.1:1/db schema \"s\", workspace \"w\""),
            "{text}"
        );
        assert!(text.contains("fleet could not ask the server"), "{text}");
    }
}
