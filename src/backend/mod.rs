//! What fleet knows of an instance's Terraform backend: its type and
//! settings (the rendered `backend.tf.json`), the backend failures that are
//! races to retry or state-lock timeouts to report ([`failure`]), the
//! local serialisation of a backend's first use ([`serial`]), who holds a
//! state lock ([`state_lock`], [`pg`]), a changed backend at init ([`saved`]).

pub mod failure;
pub mod pg;
pub mod saved;
pub mod serial;
pub mod state_lock;

use std::ffi::OsString;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde_json::{Map, Value};

use self::pg::conn::ConnParams;
use self::pg::PgLocation;

/// The backend file rules_fleet renders into every instance's tree.
pub const BACKEND_FILE: &str = "backend.tf.json";

/// A lookup of the environment terraform runs with.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// An instance's backend: `{"terraform": {"backend": {TYPE: CONFIG}}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub kind: String,
    pub config: Map<String, Value>,
}

impl Backend {
    /// Reads `dir/backend.tf.json`; `None` without one (the local backend).
    pub fn read(dir: &Path) -> Result<Option<Backend>> {
        let path = dir.join(BACKEND_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let backends = value
            .pointer("/terraform/backend")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("{} declares no terraform.backend", path.display()))?;
        Ok(backends.iter().next().map(|(kind, config)| Backend {
            kind: kind.clone(),
            config: config.as_object().cloned().unwrap_or_default(),
        }))
    }

    fn setting(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(Value::as_str)
    }

    /// A pg backend's connection and schema, as terraform resolves them:
    /// `conn_str` else `PG_CONN_STR`, `schema_name` else `PG_SCHEMA_NAME`.
    pub fn pg(&self, env: Env) -> Option<PgLocation> {
        if self.kind != "pg" {
            return None;
        }
        let conn_str = self
            .setting("conn_str")
            .map(str::to_string)
            .or_else(|| env("PG_CONN_STR"));
        let conn = match conn_str {
            Some(text) => ConnParams::resolve(&text, env),
            None => Err(anyhow!("no conn_str and no PG_CONN_STR")),
        };
        let schema = self
            .setting("schema_name")
            .map(str::to_string)
            .or_else(|| env("PG_SCHEMA_NAME"))
            .unwrap_or_else(|| pg::DEFAULT_SCHEMA.to_string());
        Some(PgLocation { conn, schema })
    }
}

/// A lookup of `overrides` (terraform's own variables, last one wins), then
/// this process's environment.
pub fn env_lookup(overrides: &[(OsString, OsString)]) -> impl Fn(&str) -> Option<String> + '_ {
    move |name: &str| {
        overrides
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string_lossy().into_owned())
            .or_else(|| std::env::var(name).ok())
    }
}

/// `user@host`, as terraform's lock info says who holds a lock (the
/// account's name from the password database, else `$USER`, else the uid).
pub fn who() -> String {
    let user = crate::account::by_uid(unsafe { libc::getuid() })
        .and_then(|account| account.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| format!("uid-{}", unsafe { libc::getuid() }));
    let mut name = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // within it or truncates.
    let ok = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) } == 0;
    let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
    let host = if ok {
        String::from_utf8_lossy(&name[..end]).into_owned()
    } else {
        "unknown-host".into()
    };
    // One word: it is parsed back out of a session's application name.
    format!("{user}@{host}").replace(char::is_whitespace, "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rendered_backend_and_resolves_pg() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Backend::read(dir.path()).unwrap(), None);
        std::fs::write(
            dir.path().join(BACKEND_FILE),
            r#"{"terraform":{"backend":{"pg":{"schema_name":"fleet"}}}}"#,
        )
        .unwrap();
        let backend = Backend::read(dir.path()).unwrap().unwrap();
        assert_eq!(backend.kind, "pg");
        let env = |name: &str| {
            (name == "PG_CONN_STR").then(|| "postgres://u:pw@db:5433/states".to_string())
        };
        let pg = backend.pg(&env).unwrap();
        assert_eq!(pg.schema, "fleet");
        assert_eq!(pg.conn.unwrap().database_name(), "db:5433/states");
        let none = |_: &str| None;
        assert!(backend.pg(&none).unwrap().conn.is_err());
    }

    #[test]
    fn who_is_one_word_with_user_and_host() {
        let who = who();
        let (user, host) = who.split_once('@').unwrap();
        assert!(!user.is_empty() && !host.is_empty(), "{who}");
        assert!(!who.contains(char::is_whitespace), "{who}");
    }
}
