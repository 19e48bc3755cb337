//! The first use of a `pg` backend races (see [`super::failure`]): on one
//! machine fleet serialises exactly the steps that race, and across machines
//! (where no local lock reaches) it runs a raced step again.
//!
//! - **One machine.** A flock per database under the fleet root,
//!   `<fleet root>/.backends/<database key>.lock`, is held around an
//!   instance's `terraform init` until an init from this fleet root has
//!   created the schema's objects (then `<database key>-<schema key>.ready`
//!   exists, waiters stop waiting and later inits run in parallel). Plans,
//!   applies and destroys never take it.
//! - **Everywhere.** A step that failed with a first-use race changed
//!   nothing; it runs again after a short, jittered backoff ([`Backoff`]),
//!   for as long as `--lock-timeout` allows. This is the answer across
//!   machines, where no local lock reaches, and for workspace creation,
//!   whose try-lock also collides with any other terraform of the database
//!   taking a state lock at that moment: a lock around `workspace select
//!   -or-create` would make every first run of a fleet wait for its
//!   instances one by one (12 instances: 6.1-8.5 s against 3.7-5.4 s with
//!   retries alone, measured on a fresh database).

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::{Backend, Env};
use crate::lock::Lock;

/// Where the locks and markers live, under the fleet root.
pub const BACKENDS_DIR: &str = ".backends";

/// The serialisation of one instance's first use of its backend.
#[derive(Debug, Clone)]
pub struct FirstUse {
    dir: PathBuf,
    database_key: String,
    schema_key: String,
    /// `pg host:port/db schema "s"` (no secrets), for messages and markers.
    what: String,
}

impl FirstUse {
    /// For a backend whose first use races (pg); `None` for the others.
    pub fn new(fleet_root: &Path, backend: &Backend, env: Env) -> Option<FirstUse> {
        let pg = backend.pg(env)?;
        let database = match &pg.conn {
            Ok(conn) => format!("{}@{}", conn.user(), conn.database_name()),
            // Terraform will fail to connect; serialise the attempts anyway.
            Err(_) => "unresolved".to_string(),
        };
        let key = |text: &str| hex::encode(Sha256::digest(text.as_bytes()))[..16].to_string();
        Some(FirstUse {
            dir: fleet_root.join(BACKENDS_DIR),
            database_key: key(&format!("pg\0{database}")),
            schema_key: key(&pg.schema),
            what: format!("pg {database} schema {:?}", pg.schema),
        })
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.database_key))
    }

    fn ready_path(&self) -> PathBuf {
        self.dir
            .join(format!("{}-{}.ready", self.database_key, self.schema_key))
    }

    /// Takes the database's lock when `step` races here: `init`, until
    /// the schema is known to exist.
    pub fn hold_for(&self, step: &str, timeout: Duration, purpose: &str) -> Result<Option<Lock>> {
        let ready = self.ready_path();
        if step != "init" || ready.exists() {
            return Ok(None);
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let purpose = format!("{purpose}: terraform {step} on {}", self.what);
        // An init waiting for another init is done waiting once that one
        // created the schema's objects.
        Lock::acquire_unless(&self.lock_path(), timeout, &purpose, || Ok(ready.exists()))
    }

    /// After an init succeeded: the schema's objects exist.
    pub fn initialised(&self) -> Result<()> {
        if self.ready_path().exists() {
            return Ok(());
        }
        crate::fsutil::write_atomic(&self.ready_path(), format!("{}\n", self.what).as_bytes())
    }
}

/// Waits between runs of a raced step: 0.2 s doubling to 3 s, jittered,
/// until the budget is spent (or 30 attempts).
#[derive(Debug)]
pub struct Backoff {
    deadline: Instant,
    next: Duration,
    attempts: u32,
}

impl Backoff {
    pub fn new(budget: Duration) -> Backoff {
        Backoff {
            deadline: Instant::now() + budget,
            next: Duration::from_millis(200),
            attempts: 0,
        }
    }

    /// How long to wait before the next attempt; `None` when out of budget.
    pub fn next_wait(&mut self) -> Option<Duration> {
        self.attempts += 1;
        // Jitter from the clock's nanoseconds: runners that raced once must
        // not race again in lockstep.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let jitter = 0.5 + f64::from(nanos % 1000) / 1000.0;
        let wait = self.next.mul_f64(jitter);
        self.next = (self.next * 2).min(Duration::from_secs(3));
        (self.attempts <= 30 && Instant::now() + wait < self.deadline).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pg(schema: &str) -> Backend {
        Backend {
            kind: "pg".into(),
            config: json!({"schema_name": schema}).as_object().unwrap().clone(),
        }
    }

    #[test]
    fn init_is_serialised_until_the_schema_exists() {
        let root = tempfile::tempdir().unwrap();
        let env =
            |name: &str| (name == "PG_CONN_STR").then(|| "postgres://u:secret@db/x".to_string());
        let first = FirstUse::new(root.path(), &pg("a"), &env).unwrap();
        let timeout = Duration::from_secs(1);
        assert!(first.hold_for("init", timeout, "t").unwrap().is_some());
        assert!(first.hold_for("apply", timeout, "t").unwrap().is_none());
        first.initialised().unwrap();
        assert!(first.hold_for("init", timeout, "t").unwrap().is_none());
        assert!(first.hold_for("workspace", timeout, "t").unwrap().is_none());
        // Another schema of the same database: its own marker, the same lock.
        let other = FirstUse::new(root.path(), &pg("b"), &env).unwrap();
        assert!(other.hold_for("init", timeout, "t").unwrap().is_some());
        assert_eq!(other.lock_path(), first.lock_path());
        // No secret in a file name or a marker.
        for entry in fs::read_dir(root.path().join(BACKENDS_DIR)).unwrap() {
            let path = entry.unwrap().path();
            assert!(!path.to_string_lossy().contains("secret"));
            assert!(!fs::read_to_string(&path)
                .unwrap_or_default()
                .contains("secret"));
        }
        let local = Backend {
            kind: "local".into(),
            config: Default::default(),
        };
        assert!(FirstUse::new(root.path(), &local, &env).is_none());
    }

    #[test]
    fn backoff_ends_with_its_budget() {
        let mut none = Backoff::new(Duration::ZERO);
        assert_eq!(none.next_wait(), None);
        let mut some = Backoff::new(Duration::from_secs(60));
        let first = some.next_wait().unwrap();
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(300));
    }
}
