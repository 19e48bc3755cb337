//! Checking published versions against their recorded listings.

use std::fs;
use std::io;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{Store, VersionManifest};
use crate::archive::model::Model;

impl Store {
    /// How the published tree of `digest` differs from its record (empty:
    /// it matches). Re-hashes every file: on demand only (`--verify`,
    /// `fleet verify`). Versions published before listings were recorded
    /// are checked by their h1 alone.
    pub fn verify_version(&self, digest: &str, manifest: &VersionManifest) -> Result<Vec<String>> {
        let found = Model::read_dir(&self.version_path(digest))?;
        let mut problems = match fs::read(self.listing_path(digest)) {
            Ok(bytes) => match serde_json::from_slice::<Model>(&bytes) {
                Ok(recorded) => recorded.differences(&found),
                Err(e) => vec![format!("its listing does not parse ({e})")],
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                let listing = self.listing_path(digest);
                return Err(e).with_context(|| format!("reading {}", listing.display()));
            }
        };
        match found.h1() {
            Ok(h1) if h1 == manifest.h1 => {}
            Ok(h1) => problems.push(format!("h1 is {h1}, recorded {}", manifest.h1)),
            Err(e) => problems.push(format!("{e:#}")),
        }
        Ok(problems)
    }

    /// Checks every complete version; returns (digest, problems) for each.
    pub fn verify_all(&self, timeout: Duration) -> Result<Vec<(String, Vec<String>)>> {
        let mut results = Vec::new();
        let mut digests = self.version_digests()?;
        digests.sort();
        for digest in digests {
            // Pinned, so gc does not remove it while it is read.
            let _pin = self.pin(&digest, timeout)?;
            if let Some(manifest) = self.complete(&digest)? {
                let problems = self.verify_version(&digest, &manifest)?;
                results.push((digest, problems));
            }
        }
        Ok(results)
    }
}
