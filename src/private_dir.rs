//! Fresh, empty directories private to one run of a tool, named by the
//! environment variables that point at them (TMPDIR, HOME, CARGO_HOME...).
//! Build tools keep caches there; parallel variants sharing one would race.

use std::collections::BTreeSet;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::usage;
use crate::fsutil::remove_tree;

/// The directories made for one run, under one root removed afterwards.
#[derive(Debug)]
pub struct PrivateDirs {
    root: PathBuf,
    vars: Vec<(String, PathBuf)>,
}

impl PrivateDirs {
    /// Empties `root` (a leftover of a killed earlier run) and creates
    /// `root/<VAR>` (mode 0700) for each variable.
    pub fn create(root: &Path, vars: &[String]) -> Result<PrivateDirs> {
        check_vars(vars)?;
        remove_tree(root).with_context(|| format!("clearing private root {}", root.display()))?;
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true).mode(0o700);
        let root = std::path::absolute(root)
            .with_context(|| format!("making {} absolute", root.display()))?;
        let mut made = Vec::new();
        for var in vars {
            let dir = root.join(var);
            builder
                .create(&dir)
                .with_context(|| format!("creating private {var} directory {}", dir.display()))?;
            made.push((var.clone(), dir));
        }
        Ok(PrivateDirs { root, vars: made })
    }

    /// (variable, directory) pairs for the child's environment.
    pub fn vars(&self) -> &[(String, PathBuf)] {
        &self.vars
    }

    /// Removes everything the tool left there, read-only trees included.
    pub fn remove(self) -> Result<()> {
        remove_tree(&self.root)
            .with_context(|| format!("removing private directories {}", self.root.display()))
    }
}

fn check_vars(vars: &[String]) -> Result<()> {
    let mut seen = BTreeSet::new();
    for var in vars {
        let mut chars = var.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(usage(format!(
                "--private-dir {var:?} is not an environment variable name"
            )));
        }
        if !seen.insert(var) {
            return Err(usage(format!("--private-dir {var} given twice")));
        }
    }
    Ok(())
}
