//! An instance run's digest: everything that makes one run of an instance
//! differ from another besides remote state. Recorded per instance in the
//! run report; `fleet run --resume` reuses an earlier success only while it
//! is unchanged (and sealed plan sets will compare it the same way).
//! [`instance_digest`] is the one place it is computed.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::Action;
use crate::manifest::Instance;

/// Hashes a rendered tree file by file: relative path, executable bit, bytes.
#[derive(Default)]
pub struct TreeHasher(Sha256);

impl TreeHasher {
    pub fn file(&mut self, rel: &Path, executable: bool, bytes: &[u8]) {
        let rel = rel.to_string_lossy();
        self.0.update((rel.len() as u64).to_le_bytes());
        self.0.update(rel.as_bytes());
        self.0.update([u8::from(executable)]);
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// What a run does: the action, and for an apply whether it applies the
/// saved plan (`--from-plan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunKind {
    pub action: Action,
    pub from_plan: bool,
}

/// Everything the digest covers, gathered by the caller.
pub struct DigestInputs<'a> {
    pub inst: &'a Instance,
    /// The rendered tree's digest ([`TreeHasher`]): module files, variables,
    /// var_files, the generated backend configuration, the lock file.
    pub rendered: &'a str,
    /// The input values from `inputs_from` (the JSON terraform reads; empty without).
    pub inputs: &'a str,
    /// The terraform binary.
    pub terraform: &'a Path,
    pub kind: RunKind,
    /// With `--from-plan`: the saved plan file the apply applies.
    pub plan_file: Option<&'a Path>,
}

/// The instance digest: sha256 over length-prefixed fields — the rendered
/// tree (backend configuration included), the `inputs_from` values, the
/// instance's `env` (names and values), workspace, `secret_env` names (never
/// values), provider packages and build-time identity, the terraform binary
/// (path, size, mtime: hashing its ~100 MB on every run would cost more than
/// the runs it saves), this helper's version, the action, whether it applies
/// a saved plan and that plan's sha256. The caller's own environment
/// (credentials, `TF_VAR_*` it exports) is not part of it.
pub fn instance_digest(d: &DigestInputs) -> Result<String> {
    let inst = d.inst;
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((value.len() as u64).to_le_bytes());
        h.update(value);
    };
    field("schema", b"2");
    field("helper", crate::identity::HELPER_VERSION.as_bytes());
    field("rendered", d.rendered.as_bytes());
    field("inputs", d.inputs.as_bytes());
    for (name, value) in &inst.env {
        field("env", name.as_bytes());
        field("env_value", value.as_bytes());
    }
    field(
        "workspace",
        inst.workspace.as_deref().unwrap_or("default").as_bytes(),
    );
    for (var, env) in &inst.secret_env {
        field("secret_env", format!("{var}={env}").as_bytes());
    }
    for p in &inst.providers {
        let text = format!(
            "{} {} {} {} {}",
            p.source,
            p.version,
            p.platform,
            p.sha256.as_deref().unwrap_or(""),
            p.h1.join(",")
        );
        field("provider", text.as_bytes());
    }
    field(
        "identity",
        inst.identity.as_deref().unwrap_or("").as_bytes(),
    );
    field("terraform", binary_identity(d.terraform).as_bytes());
    field("action", d.kind.action.as_str().as_bytes());
    field("from_plan", &[u8::from(d.kind.from_plan)]);
    if let Some(plan) = d.plan_file.filter(|_| d.kind.from_plan) {
        let bytes = std::fs::read(plan)
            .with_context(|| format!("reading saved plan {}", plan.display()))?;
        field("plan", hex::encode(Sha256::digest(&bytes)).as_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

fn binary_identity(terraform: &Path) -> String {
    match std::fs::metadata(terraform) {
        Ok(m) => format!(
            "{}:{}:{}",
            terraform.display(),
            m.len(),
            m.mtime_nsec() + m.mtime() * 1_000_000_000
        ),
        Err(_) => terraform.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn instance() -> Instance {
        Instance {
            label: "//p:a".into(),
            name: "a".into(),
            rendered: "p/a".into(),
            run_dir: "p/a".into(),
            workspace: None,
            env: BTreeMap::new(),
            deps: vec![],
            inputs_from: BTreeMap::new(),
            providers: vec![],
            secret_env: BTreeMap::new(),
            exclusive: false,
            retry: None,
            identity: None,
        }
    }

    fn digest(inst: &Instance, kind: RunKind, plan: Option<&Path>) -> String {
        instance_digest(&DigestInputs {
            inst,
            rendered: "r",
            inputs: "",
            terraform: Path::new("/nonexistent/terraform"),
            kind,
            plan_file: plan,
        })
        .unwrap()
    }

    #[test]
    fn every_part_of_a_run_changes_the_digest() {
        let apply = RunKind {
            action: Action::Apply,
            from_plan: false,
        };
        let base = instance();
        let d0 = digest(&base, apply, None);
        let mut seen = std::collections::BTreeSet::from([d0.clone()]);
        let mut variants: Vec<Instance> = vec![];
        let mut with = |f: &dyn Fn(&mut Instance)| {
            let mut i = instance();
            f(&mut i);
            variants.push(i);
        };
        with(&|i| {
            i.env.insert("AWS_PROFILE".into(), "prod".into());
        });
        with(&|i| {
            i.env.insert("TF_VAR_region".into(), "eu".into());
        });
        with(&|i| i.workspace = Some("blue".into()));
        with(&|i| {
            i.secret_env.insert("pw".into(), "PW".into());
        });
        with(&|i| i.identity = Some("x".into()));
        for v in &variants {
            assert!(seen.insert(digest(v, apply, None)), "{v:?}");
        }
        let plan = RunKind {
            action: Action::Plan,
            from_plan: false,
        };
        let from_plan = RunKind {
            action: Action::Apply,
            from_plan: true,
        };
        assert!(seen.insert(digest(&base, plan, None)));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plan.tfplan");
        std::fs::write(&file, "one").unwrap();
        assert!(seen.insert(digest(&base, from_plan, Some(&file))));
        std::fs::write(&file, "two").unwrap();
        assert!(seen.insert(digest(&base, from_plan, Some(&file))));
        assert_eq!(digest(&base, apply, None), d0, "stable");
    }
}
