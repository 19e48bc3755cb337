//! An instance run's identity: what decides its plan besides remote state.
//! Recorded per instance in the run report; `fleet run --resume` reuses an
//! earlier success only while it is unchanged.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

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

/// The instance digest from the rendered tree's digest and the input values
/// (the JSON terraform reads, empty without `inputs_from`). Terraform is
/// identified by path, size and mtime: hashing its ~100 MB on every run
/// would cost more than the runs it saves.
pub fn instance_digest(inst: &Instance, rendered: &str, inputs: &str, terraform: &Path) -> String {
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        h.update(name.as_bytes());
        h.update((value.len() as u64).to_le_bytes());
        h.update(value);
    };
    field("rendered", rendered.as_bytes());
    field("inputs", inputs.as_bytes());
    for (var, env) in &inst.secret_env {
        field("secret_env", format!("{var}={env}").as_bytes());
    }
    let binary = match std::fs::metadata(terraform) {
        Ok(m) => format!(
            "{}:{}:{}",
            terraform.display(),
            m.len(),
            m.mtime_nsec() + m.mtime() * 1_000_000_000
        ),
        Err(_) => terraform.display().to_string(),
    };
    field("terraform", binary.as_bytes());
    hex::encode(h.finalize())
}
