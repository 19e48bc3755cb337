//! A changed `backend_config` and the backend terraform saved at the last
//! init (`<TF_DATA_DIR>/terraform.tfstate`). Terraform refuses to init a
//! changed backend unless told `-reconfigure` (use the new settings as they
//! are) or `-migrate-state` (copy the state to the new place). fleet passes
//! `-reconfigure` when the state stays where it was (a region, an endpoint,
//! a `skip_*` flag changed), and refuses to guess when the state would move:
//! starting from an empty state at the new place, or copying it there, is
//! the user's decision.

use std::path::Path;

use anyhow::{bail, Result};
use serde_json::{Map, Value};

use super::Backend;

/// The settings that decide where a backend keeps an instance's state.
/// Unknown backends: every setting.
fn location_settings(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "local" => &["path", "workspace_dir"],
        "pg" => &["conn_str", "schema_name"],
        "s3" => &[
            "bucket",
            "key",
            "workspace_key_prefix",
            "endpoint",
            "endpoints",
        ],
        "gcs" => &["bucket", "prefix"],
        "azurerm" => &[
            "storage_account_name",
            "container_name",
            "key",
            "environment",
        ],
        "consul" => &["address", "path"],
        "http" => &["address"],
        "kubernetes" => &["secret_suffix", "namespace"],
        "cos" | "oss" => &["bucket", "prefix", "key"],
        _ => return None,
    })
}

/// What init must be told about the backend: nothing, or `-reconfigure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    Reconfigure,
}

/// Compares the backend saved in `data_dir` with `now` (the rendered one).
/// Fails, naming both, when the state would move to another place.
pub fn change(data_dir: &Path, now: Option<&Backend>) -> Result<Change> {
    let Some(saved) = read_saved(data_dir) else {
        return Ok(Change::None);
    };
    let local = Backend {
        kind: "local".into(),
        config: Map::new(),
    };
    let now = now.unwrap_or(&local);
    let set = |config: &Map<String, Value>| -> Map<String, Value> {
        config
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let (before, after) = (set(&saved.config), set(&now.config));
    if saved.kind == now.kind && before == after {
        return Ok(Change::None);
    }
    let same_place = saved.kind == now.kind
        && match location_settings(&now.kind) {
            Some(keys) => keys.iter().all(|k| before.get(*k) == after.get(*k)),
            None => false,
        };
    if same_place {
        return Ok(Change::Reconfigure);
    }
    bail!(
        "the backend changed from {} to {}, which moves the state: fleet does not move \
         state. Either migrate it (in {}: TF_DATA_DIR=.terraform-data terraform init \
         -migrate-state), or start from the new place's state by removing {}",
        describe(&saved.kind, &before),
        describe(&now.kind, &after),
        data_dir.parent().unwrap_or(data_dir).display(),
        data_dir.display()
    )
}

fn read_saved(data_dir: &Path) -> Option<Backend> {
    let text = std::fs::read_to_string(data_dir.join("terraform.tfstate")).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    let backend = value.get("backend")?;
    Some(Backend {
        kind: backend.get("type")?.as_str()?.to_string(),
        config: backend.get("config")?.as_object()?.clone(),
    })
}

/// `pg {"schema_name":"a"}`, with a `conn_str`'s password never shown.
fn describe(kind: &str, config: &Map<String, Value>) -> String {
    let shown: Map<String, Value> = config
        .iter()
        .map(|(k, v)| {
            let secret = ["conn_str", "password", "access_key", "secret_key", "token"]
                .iter()
                .any(|s| k.contains(s));
            (
                k.clone(),
                if secret {
                    Value::from("(set)")
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    format!("{kind} {}", Value::Object(shown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn saved(dir: &Path, kind: &str, config: Value) {
        let state = json!({"version": 3, "backend": {"type": kind, "config": config, "hash": 1}});
        std::fs::write(dir.join("terraform.tfstate"), state.to_string()).unwrap();
    }

    fn backend(kind: &str, config: Value) -> Backend {
        Backend {
            kind: kind.into(),
            config: config.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn a_setting_that_keeps_the_state_in_place_reconfigures() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(change(dir.path(), None).unwrap(), Change::None);
        saved(
            dir.path(),
            "pg",
            json!({"schema_name": "a", "conn_str": null, "skip_schema_creation": null}),
        );
        let same = backend("pg", json!({"schema_name": "a"}));
        assert_eq!(change(dir.path(), Some(&same)).unwrap(), Change::None);
        let skip = backend(
            "pg",
            json!({"schema_name": "a", "skip_schema_creation": true}),
        );
        assert_eq!(
            change(dir.path(), Some(&skip)).unwrap(),
            Change::Reconfigure
        );
    }

    #[test]
    fn a_move_of_the_state_is_refused_naming_both_places() {
        let dir = tempfile::tempdir().unwrap();
        saved(
            dir.path(),
            "pg",
            json!({"schema_name": "a", "conn_str": "postgres://u:pw@h/d"}),
        );
        let moved = backend(
            "pg",
            json!({"schema_name": "b", "conn_str": "postgres://u:pw@h/d"}),
        );
        let text = format!("{:#}", change(dir.path(), Some(&moved)).unwrap_err());
        assert!(
            text.contains(r#"pg {"conn_str":"(set)","schema_name":"a"}"#),
            "{text}"
        );
        assert!(text.contains(r#""schema_name":"b""#), "{text}");
        assert!(!text.contains("pw"), "{text}");
        let other_type = backend("s3", json!({"bucket": "b", "key": "k"}));
        assert!(change(dir.path(), Some(&other_type)).is_err());
    }
}
