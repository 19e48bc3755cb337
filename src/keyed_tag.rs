//! Tags whose inputs are recorded under a chosen key rather than the path
//! they are read from: a tag's bytes then depend on the keys and digests
//! only, never on where Bazel placed the files. `fleet_verify` and
//! `variant_build(verified = ...)` write these.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::error::{exit_code_of, usage, ExitCode};
use crate::tag::{self, Tag, TAG_SCHEMA};

/// The tag of `inputs` (`KEY`, the file or directory it reads).
pub fn compute_keyed(inputs: &[(String, PathBuf)]) -> Result<Tag> {
    let mut tag = Tag {
        inputs: BTreeMap::new(),
        schema: TAG_SCHEMA,
        values: BTreeMap::new(),
    };
    for (key, path) in inputs {
        let digest = tag::digest_of(path)?;
        if tag.inputs.insert(key.clone(), digest).is_some() {
            return Err(usage(format!("input {key} is given twice")));
        }
    }
    Ok(tag)
}

/// Writes the tag of `inputs` to `dest`, untouched when its bytes would not change.
pub fn write_keyed(dest: &Path, inputs: &[(String, PathBuf)], timeout: Duration) -> Result<()> {
    let tag = compute_keyed(inputs)?;
    tag::write(dest, &tag::encode(&tag)?, timeout)?;
    Ok(())
}

/// What `fleet_verify` checks and writes.
#[derive(Debug, Clone)]
pub struct Verify {
    /// The expected digests: a tag (`fleet tag write` format) in the package.
    pub expected: PathBuf,
    /// Its name relative to the package, for the fix-it command.
    pub expected_name: String,
    /// The tag to write when every input matches.
    pub out: PathBuf,
    /// The `fleet_verify` target, for messages.
    pub label: String,
    pub inputs: Vec<(String, PathBuf)>,
    pub timeout: Duration,
}

/// Exit 5, naming each difference and the command that accepts them, when an
/// input differs from `expected`; otherwise writes `out`.
pub fn verify(req: &Verify) -> Result<()> {
    let now = compute_keyed(&req.inputs)?;
    if let Err(err) = tag::check(&req.expected, &now) {
        if exit_code_of(&err) != ExitCode::Mismatch {
            return Err(err);
        }
        let keys: Vec<String> = req
            .inputs
            .iter()
            .map(|(k, _)| format!("--input {k}"))
            .collect();
        return Err(err).with_context(|| {
            format!(
                "fleet_verify {}: the inputs do not match {}. If the change is intended, update it from the package directory:\n  fleet tag write --tag {} {}",
                req.label,
                req.expected_name,
                req.expected_name,
                keys.join(" ")
            )
        });
    }
    tag::write(&req.out, &tag::encode(&now)?, req.timeout)?;
    Ok(())
}
