//! Instance identity: one digest of everything that decides an instance's
//! plan — its rendered tree (module files, vars, var_files, backend, lock
//! file), its provider packages, the terraform version, this helper's
//! version, its run-time settings (env, workspace, secret_env names,
//! inputs_from) and the identities of the instances it reads inputs from.
//! Computed by a build action, from content only: the same commit at another
//! path gives the same identities. CI compares identities between two
//! builds to know exactly which instances a change affects.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{unsafe_input, usage};

/// The helper's version, part of every identity: a new helper may plan differently.
pub const HELPER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What an identity is computed from.
#[derive(Debug, Clone, Default)]
pub struct IdentityInputs {
    /// Digest of the rendered tree's paths and bytes (`tf::rundir::rendered_content_digest`).
    pub rendered: String,
    /// sha256 of each provider package (order does not matter).
    pub providers: Vec<String>,
    /// `<flavor> <version>` of the terraform toolchain.
    pub terraform: String,
    /// Run-time settings as JSON (object keys are hashed in sorted order).
    pub settings: Value,
    /// Upstream label → its identity, for every `inputs_from` upstream.
    pub upstreams: BTreeMap<String, String>,
}

impl IdentityInputs {
    /// The identity: a sha256 in hex over length-prefixed fields.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |name: &str, value: &str| {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((value.len() as u64).to_le_bytes());
            h.update(value.as_bytes());
        };
        field("schema", "1");
        field("helper", HELPER_VERSION);
        field("terraform", &self.terraform);
        field("rendered", &self.rendered);
        let mut providers = self.providers.clone();
        providers.sort();
        providers.dedup();
        for p in &providers {
            field("provider", p);
        }
        // serde_json's maps are sorted: equal settings give equal text.
        field("settings", &self.settings.to_string());
        for (label, identity) in &self.upstreams {
            field("upstream", label);
            field("upstream_identity", identity);
        }
        hex::encode(h.finalize())
    }
}

/// Reads an identity file written by `fleet identity compute` (hex, newline).
pub fn read_identity(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading identity file {}", path.display()))?;
    let id = text.trim();
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unsafe_input(format!(
            "identity file {} does not hold a sha256 in hex",
            path.display()
        )));
    }
    Ok(id.to_string())
}

/// Parses `KEY=VALUE` as given on the command line.
pub fn split_pair(arg: &str) -> Result<(&str, &str)> {
    arg.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| usage(format!("{arg:?} is not KEY=VALUE")))
}

/// Writes `identity` into each instance of a manifest's JSON: every instance
/// must have one (a missing identity would make it look always changed).
pub fn stamp(manifest: &[u8], identities: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let mut json: Value = serde_json::from_slice(manifest)
        .map_err(|e| unsafe_input(format!("the manifest does not parse: {e}")))?;
    let instances = json
        .get_mut("instances")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| unsafe_input("the manifest has no instances list"))?;
    for inst in instances {
        let label = inst
            .get("label")
            .and_then(Value::as_str)
            .ok_or_else(|| unsafe_input("a manifest instance has no label"))?
            .to_string();
        let identity = identities
            .get(&label)
            .ok_or_else(|| usage(format!("no identity given for instance {label}")))?;
        if let Some(object) = inst.as_object_mut() {
            object.insert("identity".into(), Value::String(identity.clone()));
        }
    }
    // Compact with sorted keys, as the rules' json.encode writes manifests.
    Ok(serde_json::to_vec(&json)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs() -> IdentityInputs {
        IdentityInputs {
            rendered: "r1".into(),
            providers: vec!["b".into(), "a".into()],
            terraform: "terraform 1.11.4".into(),
            settings: json!({"env": {"A": "1"}, "workspace": null}),
            upstreams: BTreeMap::from([("//n:net".to_string(), "u1".to_string())]),
        }
    }

    #[test]
    fn every_input_changes_the_identity_and_order_does_not() {
        let base = inputs().digest();
        assert_eq!(base.len(), 64);
        let mut reordered = inputs();
        reordered.providers.reverse();
        reordered.settings = json!({"workspace": null, "env": {"A": "1"}});
        assert_eq!(reordered.digest(), base);
        let edits: Vec<fn(&mut IdentityInputs)> = vec![
            |i| i.rendered = "r2".into(),
            |i| i.providers.push("c".into()),
            |i| i.terraform = "terraform 1.11.5".into(),
            |i| i.settings = json!({"env": {"A": "2"}, "workspace": null}),
            |i| {
                i.upstreams.insert("//n:net".into(), "u2".into());
            },
            |i| {
                i.upstreams.clear();
            },
        ];
        for (n, edit) in edits.iter().enumerate() {
            let mut changed = inputs();
            edit(&mut changed);
            assert_ne!(changed.digest(), base, "edit {n} kept the identity");
        }
    }

    #[test]
    fn stamp_writes_every_identity_and_refuses_a_missing_one() {
        let manifest = br#"{"schema": 1, "instances": [{"label": "//a:x"}, {"label": "//a:y"}]}"#;
        let ids = BTreeMap::from([
            ("//a:x".to_string(), "1".repeat(64)),
            ("//a:y".to_string(), "2".repeat(64)),
        ]);
        let out: Value = serde_json::from_slice(&stamp(manifest, &ids).unwrap()).unwrap();
        assert_eq!(out["instances"][1]["identity"], json!("2".repeat(64)));
        let partial = BTreeMap::from([("//a:x".to_string(), "1".repeat(64))]);
        let err = stamp(manifest, &partial).unwrap_err();
        assert!(format!("{err:#}").contains("//a:y"));
    }

    #[test]
    fn identity_files_must_hold_a_digest() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        std::fs::write(&good, format!("{}\n", "a".repeat(64))).unwrap();
        assert_eq!(read_identity(&good).unwrap(), "a".repeat(64));
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "../etc\n").unwrap();
        assert!(read_identity(&bad).is_err());
    }
}
