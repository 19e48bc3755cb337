//! Resolves the command line and the manifest into absolute paths: the
//! runfiles directory, the workspace root, the fleet root, terraform itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::Locations;
use crate::error::{unsafe_input, usage};
use crate::manifest::{Instance, Manifest};

/// A loaded manifest and every directory an instance run needs.
#[derive(Debug, Clone)]
pub struct Located {
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
    pub runfiles: PathBuf,
    /// `--workspace-root`, else `$BUILD_WORKSPACE_DIRECTORY`.
    pub workspace_root: PathBuf,
    pub fleet_root: PathBuf,
    pub terraform: PathBuf,
    /// `--store`, when given; otherwise provider packages use `store::default_dir()`.
    pub store: Option<PathBuf>,
    /// How long to wait for a store lock (the run-directory lock's deadline).
    pub lock_timeout: Duration,
}

impl Located {
    pub fn new(loc: &Locations) -> Result<Located> {
        let cwd = std::env::current_dir().context("reading the current directory")?;
        let manifest_path = cwd.join(&loc.manifest);
        let mut manifest = Manifest::read(&manifest_path)?;
        let runfiles = match &loc.runfiles {
            Some(dir) => cwd.join(dir),
            None => std::env::var_os("RUNFILES_DIR").map_or_else(|| cwd.clone(), |d| cwd.join(d)),
        };
        super::includes::resolve(&mut manifest, &manifest_path, |p| {
            resolve_runfile(&runfiles, p)
        })?;
        let workspace_root = match &loc.workspace_root {
            Some(dir) => cwd.join(dir),
            None => match std::env::var_os("BUILD_WORKSPACE_DIRECTORY") {
                Some(dir) if !dir.is_empty() => cwd.join(dir),
                _ => {
                    return Err(usage(
                        "no workspace root: pass --workspace-root or run through `bazel run` \
                         (which sets BUILD_WORKSPACE_DIRECTORY)",
                    ))
                }
            },
        };
        let fleet_root = match &loc.fleet_root {
            Some(dir) => cwd.join(dir),
            None => {
                let relative = Path::new(&manifest.fleet_root);
                if relative.is_absolute()
                    || relative
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    return Err(unsafe_input(format!(
                        "manifest {}: fleet_root {:?} must stay inside the workspace",
                        manifest_path.display(),
                        manifest.fleet_root
                    )));
                }
                workspace_root.join(relative)
            }
        };
        let terraform = resolve_runfile(&runfiles, &manifest.terraform).with_context(|| {
            format!("finding terraform of manifest {}", manifest_path.display())
        })?;
        let store = loc.store.as_ref().map(|dir| cwd.join(dir));
        let lock_timeout = loc.lock_timeout;
        Ok(Located {
            manifest_path,
            manifest,
            runfiles,
            workspace_root,
            fleet_root,
            terraform,
            store,
            lock_timeout,
        })
    }

    /// The run directory of an instance: `<fleet root>/<run_dir>`.
    pub fn run_dir(&self, inst: &Instance) -> PathBuf {
        self.fleet_root.join(&inst.run_dir)
    }

    /// The rendered tree of an instance, in the runfiles.
    pub fn rendered(&self, inst: &Instance) -> Result<PathBuf> {
        resolve_runfile(&self.runfiles, &inst.rendered)
            .with_context(|| format!("finding the rendered tree of {}", inst.label))
    }
}

/// Resolves a runfiles path (a Bazel `short_path`). `--runfiles` may be the
/// main repository's runfiles directory (the cwd of `bazel run`, where
/// `../repo/x` names another repository) or the runfiles root (`$RUNFILES_DIR`,
/// where main-repository files sit under `_main/`), so both are tried.
pub fn resolve_runfile(runfiles: &Path, short_path: &str) -> Result<PathBuf> {
    let mut candidates = vec![runfiles.join(short_path)];
    if let Some(external) = short_path.strip_prefix("../") {
        candidates.push(runfiles.join(external));
    } else if !Path::new(short_path).is_absolute() {
        candidates.push(runfiles.join("_main").join(short_path));
    }
    if let Some(found) = candidates.iter().find(|c| c.exists()) {
        return Ok(found.clone());
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    Err(anyhow::anyhow!(
        "{short_path} is not in the runfiles (tried {})",
        tried.join(", ")
    ))
}

/// Picks the instance `fleet tf` works on.
pub fn pick_instance<'m>(manifest: &'m Manifest, key: Option<&str>) -> Result<&'m Instance> {
    match key {
        Some(key) => manifest.find(key).ok_or_else(|| {
            usage(format!(
                "no instance {key:?} in the manifest (labels: {})",
                labels(manifest)
            ))
        }),
        None => match manifest.instances.as_slice() {
            [only] => Ok(only),
            _ => Err(usage(format!(
                "the manifest has {} instances: pick one with --only (labels: {})",
                manifest.instances.len(),
                labels(manifest)
            ))),
        },
    }
}

fn labels(manifest: &Manifest) -> String {
    let all: Vec<&str> = manifest
        .instances
        .iter()
        .map(|i| i.label.as_str())
        .collect();
    all.join(", ")
}
