//! Terraform's dependency lock file (`.terraform.lock.hcl`): the one reader
//! (hcl-rs) every part of rules_fleet uses — run targets verifying provider
//! packages, `fleet lock-file regenerate|check`, and `tf_provider_mirror`
//! (through `fleet lock-file list --json`) — and the one writer of the `zh:`
//! hashes `<component>.lock` adds.

pub mod check;
mod edit;
pub mod mirror;
pub mod regenerate;
mod terraform;

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::error::unsafe_input;

pub use edit::with_hashes;

/// One `provider "<source>" { ... }` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedProvider {
    /// `<host>/<namespace>/<type>`.
    pub source: String,
    /// The selected version ("" when the block has none).
    pub version: String,
    /// The `constraints` string when present.
    pub constraints: Option<String>,
    /// Every hash, in file order (`h1:...`, `zh:...`).
    pub hashes: Vec<String>,
}

impl LockedProvider {
    /// The hashes with one scheme prefix, e.g. `"h1:"`.
    pub fn hashes_with(&self, scheme: &str) -> Vec<String> {
        self.hashes
            .iter()
            .filter(|h| h.starts_with(scheme))
            .cloned()
            .collect()
    }
}

/// The provider blocks of a lock file's text, in file order. `what` names
/// the file in errors (exit 4: a lock file that does not parse).
pub fn parse(text: &str, what: &str) -> Result<Vec<LockedProvider>> {
    let body = hcl::parse(text)
        .map_err(|e| unsafe_input(format!("lock file {what} does not parse: {e}")))?;
    let mut providers = Vec::new();
    for block in body.blocks().filter(|b| b.identifier() == "provider") {
        let source = match block.labels() {
            [label] => label.as_str().to_string(),
            _ => {
                return Err(unsafe_input(format!(
                "lock file {what}: a provider block needs exactly one label (its source address)"
            )))
            }
        };
        let mut provider = LockedProvider {
            source,
            version: String::new(),
            constraints: None,
            hashes: Vec::new(),
        };
        for attribute in block.body().attributes() {
            let field = format!(
                "lock file {what}: provider {:?} {}",
                provider.source,
                attribute.key()
            );
            match attribute.key() {
                "version" => provider.version = string_of(attribute.expr(), &field)?,
                "constraints" => provider.constraints = Some(string_of(attribute.expr(), &field)?),
                "hashes" => provider.hashes = strings_of(attribute.expr(), &field)?,
                _ => {}
            }
        }
        providers.push(provider);
    }
    Ok(providers)
}

/// [`parse`] of the file at `path`.
pub fn read(path: &Path) -> Result<Vec<LockedProvider>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading lock file {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// The block of `source`, if the lock file has one.
pub fn find<'a>(providers: &'a [LockedProvider], source: &str) -> Option<&'a LockedProvider> {
    providers.iter().find(|p| p.source == source)
}

fn string_of(expr: &hcl::Expression, field: &str) -> Result<String> {
    match expr {
        hcl::Expression::String(s) => Ok(s.clone()),
        _ => Err(unsafe_input(format!("{field} must be a string"))),
    }
}

fn strings_of(expr: &hcl::Expression, field: &str) -> Result<Vec<String>> {
    match expr {
        hcl::Expression::Array(items) => items.iter().map(|e| string_of(e, field)).collect(),
        _ => Err(unsafe_input(format!("{field} must be a list of strings"))),
    }
}

#[cfg(test)]
mod tests;
