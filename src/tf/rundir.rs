//! An instance's run directory: `<fleet root>/<package>/<name>/`, terraform's
//! working directory. Holds the rendered files (kept in sync with the rendered
//! tree), the private `TF_DATA_DIR`, local state, the instance lock, logs, the
//! plan file, the outputs of the last apply and a generated CLI config.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::digest::TreeHasher;
use crate::error::unsafe_input;
use crate::fsutil::private;
use crate::manifest::Instance;

/// Names the runner owns at the top of a run directory; a rendered tree may
/// not contain them.
pub const RESERVED: &[&str] = &[
    LOCK_FILE,
    LOCK_HOLDER,
    DATA_DIR,
    CLI_CONFIG,
    RENDERED_LIST,
    INPUTS_FILE,
    OUTPUTS_FILE,
    PLAN_FILE,
    LOGS_DIR,
    PLUGINS_DIR,
    super::init_record::INIT_RECORD,
    ".terraform",
    "terraform.tfstate",
    "terraform.tfstate.backup",
    "terraform.tfstate.d",
    ".terraform.tfstate.lock.info",
];

pub const LOCK_FILE: &str = ".fleet.lock";
/// Where the lock module records the lock's holder.
pub const LOCK_HOLDER: &str = ".fleet.lock.holder";
pub const DATA_DIR: &str = ".terraform-data";
pub const CLI_CONFIG: &str = ".terraformrc";
/// The files the last sync copied, so files no longer rendered can be removed.
pub const RENDERED_LIST: &str = ".fleet-rendered";
pub const INPUTS_FILE: &str = "fleet.inputs.auto.tfvars.json";
pub const OUTPUTS_FILE: &str = "outputs.json";
pub const PLAN_FILE: &str = "plan.tfplan";
pub const LOGS_DIR: &str = "logs";
/// The read-only plugin directory: symlinks into the provider store (src/providers.rs).
pub const PLUGINS_DIR: &str = ".plugins";

/// Environment variable naming the run directory in every terraform the
/// runner starts (lets tools find a run's processes).
pub const RUN_DIR_ENV: &str = "FLEET_RUN_DIR";

#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    pub fn new(path: PathBuf) -> RunDir {
        RunDir { path }
    }

    pub fn lock_path(&self) -> PathBuf {
        self.path.join(LOCK_FILE)
    }
    pub fn data_dir(&self) -> PathBuf {
        self.path.join(DATA_DIR)
    }
    pub fn cli_config(&self) -> PathBuf {
        self.path.join(CLI_CONFIG)
    }
    pub fn inputs_file(&self) -> PathBuf {
        self.path.join(INPUTS_FILE)
    }
    pub fn outputs_file(&self) -> PathBuf {
        self.path.join(OUTPUTS_FILE)
    }
    pub fn plan_file(&self) -> PathBuf {
        self.path.join(PLAN_FILE)
    }
    pub fn log_file(&self, action: &str) -> PathBuf {
        self.path.join(LOGS_DIR).join(format!("{action}.log"))
    }

    /// Creates the directory (and its `logs/`), both 0700.
    pub fn create(&self) -> Result<()> {
        private::create_dir(&self.path)
            .with_context(|| format!("creating run directory {}", self.path.display()))?;
        private::create_dir(&self.path.join(LOGS_DIR))
    }

    /// Makes the run directory's rendered files equal to `rendered`'s: copies
    /// new and changed files, removes files an earlier sync copied that are no
    /// longer rendered. State, data dir, logs and plans are left alone.
    /// Returns the rendered tree's digest (see [`TreeHasher`]).
    pub fn sync_rendered(&self, rendered: &Path) -> Result<String> {
        let files = rendered_files(rendered)?;
        let mut hasher = TreeHasher::default();
        for rel in &files {
            let from = rendered.join(rel);
            let bytes = fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
            let exec = fs::metadata(&from).map(|m| m.permissions().mode() & 0o111 != 0)?;
            hasher.file(rel, exec, &bytes);
            copy_if_changed(&bytes, exec, &self.path.join(rel))?;
        }
        let now: BTreeSet<String> = files
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
        let list_path = self.path.join(RENDERED_LIST);
        let before = fs::read_to_string(&list_path).unwrap_or_default();
        for stale in before
            .lines()
            .filter(|l| !l.is_empty() && !now.contains(*l))
        {
            let rel = Path::new(stale);
            let safe = rel
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if safe {
                let _ = fs::remove_file(self.path.join(rel));
                remove_empty_parents(&self.path, rel);
            }
        }
        let listing: String = now.iter().map(|f| format!("{f}\n")).collect();
        if listing != before {
            private::write_file(&list_path, listing.as_bytes(), false)?;
        }
        Ok(hasher.finish())
    }

    /// Writes the run directory's own CLI config (the caller's
    /// `TF_CLI_CONFIG_FILE` may point anywhere, even at a missing file).
    pub fn write_cli_config(&self) -> Result<()> {
        let text = "# Written by fleet for this run directory.\ndisable_checkpoint = true\n";
        let path = self.cli_config();
        if fs::read_to_string(&path).ok().as_deref() != Some(text) {
            private::write_file(&path, text.as_bytes(), false)?;
        }
        Ok(())
    }

    /// Narrows the lock file and its holder record (created by the lock
    /// module with the caller's umask) to 0600 like everything else here.
    pub fn narrow_lock_files(&self) {
        for name in [LOCK_FILE, LOCK_HOLDER] {
            let _ = private::set_mode(&self.path.join(name), private::FILE_MODE);
        }
    }

    /// Terraform's environment: the instance's `env`, then the variables that
    /// keep this run private to its directory (they win).
    pub fn terraform_env(&self, inst: &Instance) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> =
            inst.env.iter().map(|(k, v)| (k.into(), v.into())).collect();
        let fixed = [
            ("TF_DATA_DIR", self.data_dir().into_os_string()),
            ("TF_CLI_CONFIG_FILE", self.cli_config().into_os_string()),
            (RUN_DIR_ENV, self.path.clone().into_os_string()),
            ("FLEET_INSTANCE", inst.label.clone().into()),
        ];
        env.extend(fixed.into_iter().map(|(k, v)| (OsString::from(k), v)));
        let settings = crate::tf_env::fleet_settings(crate::tf_env::Scope::Run);
        env.extend(settings.into_iter().map(|(k, v)| (k.into(), v.into())));
        env
    }
}

/// The digest [`RunDir::sync_rendered`] would return, without copying.
pub fn rendered_digest(rendered: &Path) -> Result<String> {
    let mut hasher = TreeHasher::default();
    for rel in rendered_files(rendered)? {
        let from = rendered.join(&rel);
        let bytes = fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        let exec = fs::metadata(&from).map(|m| m.permissions().mode() & 0o111 != 0)?;
        hasher.file(&rel, exec, &bytes);
    }
    Ok(hasher.finish())
}

/// The rendered tree's content digest: paths and bytes, not modes. `fleet render`
/// writes every file 0644; what a build system does to its outputs afterwards
/// (Bazel makes them 0555, Buck2 leaves them) says nothing about the instance,
/// so an identity that counted modes would differ between them for the same one.
pub fn rendered_content_digest(rendered: &Path) -> Result<String> {
    let mut hasher = TreeHasher::default();
    for rel in rendered_files(rendered)? {
        let from = rendered.join(&rel);
        let bytes = fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        hasher.file(&rel, false, &bytes);
    }
    Ok(hasher.finish())
}

/// The rendered tree's files, refusing names the runner owns.
fn rendered_files(rendered: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    list_files(rendered, Path::new(""), &mut files)
        .with_context(|| format!("reading rendered tree {}", rendered.display()))?;
    for rel in &files {
        let top = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        if let Some(top) = top.filter(|t| RESERVED.contains(&t.as_str())) {
            return Err(unsafe_input(format!(
                "rendered tree {} contains {top:?}, a name the runner owns in the run directory",
                rendered.display()
            )));
        }
    }
    Ok(files)
}

/// Lists regular files below `dir` (following symlinks: runfiles are links).
fn list_files(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let dir = root.join(rel);
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("listing {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let child = rel.join(entry.file_name());
        let meta = fs::metadata(entry.path())
            .with_context(|| format!("reading {}", entry.path().display()))?;
        if meta.is_dir() {
            list_files(root, &child, out)?;
        } else if meta.is_file() {
            out.push(child);
        } else {
            return Err(unsafe_input(format!(
                "rendered tree entry {} is neither a file nor a directory",
                entry.path().display()
            )));
        }
    }
    Ok(())
}

/// Copies `from` to `to` (private, writable, executable bit kept) unless `to` already
/// has the same bytes, so unchanged files keep their mtime.
fn copy_if_changed(bytes: &[u8], exec: bool, to: &Path) -> Result<()> {
    if fs::read(to).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    if let Some(parent) = to.parent() {
        private::create_dir(parent)?;
    }
    let mode = if exec {
        private::DIR_MODE
    } else {
        private::FILE_MODE
    };
    private::write_file_mode(to, bytes, mode, false)
}

fn remove_empty_parents(root: &Path, rel: &Path) {
    let mut parent = rel.parent();
    while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
        if fs::remove_dir(root.join(p)).is_err() {
            break;
        }
        parent = p.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_copies_updates_and_removes_only_rendered_files() {
        let tmp = tempfile::tempdir().unwrap();
        let rendered = tmp.path().join("r");
        fs::create_dir_all(rendered.join("modules/m")).unwrap();
        fs::write(rendered.join("main.tf"), "a").unwrap();
        fs::write(rendered.join("modules/m/x.tf"), "x").unwrap();
        let run = RunDir::new(tmp.path().join("run"));
        run.create().unwrap();
        fs::write(run.path.join("terraform.tfstate"), "state").unwrap();
        run.sync_rendered(&rendered).unwrap();
        assert_eq!(
            fs::read_to_string(run.path.join("modules/m/x.tf")).unwrap(),
            "x"
        );

        fs::remove_dir_all(rendered.join("modules")).unwrap();
        fs::write(rendered.join("main.tf"), "b").unwrap();
        run.sync_rendered(&rendered).unwrap();
        assert_eq!(fs::read_to_string(run.path.join("main.tf")).unwrap(), "b");
        assert!(
            !run.path.join("modules").exists(),
            "stale rendered files are removed"
        );
        assert!(
            run.path.join("terraform.tfstate").exists(),
            "state is not a rendered file"
        );
    }

    #[test]
    fn reserved_names_in_rendered_tree_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let rendered = tmp.path().join("r");
        fs::create_dir_all(&rendered).unwrap();
        fs::write(rendered.join("terraform.tfstate"), "{}").unwrap();
        let run = RunDir::new(tmp.path().join("run"));
        run.create().unwrap();
        let err = run.sync_rendered(&rendered).unwrap_err();
        assert_eq!(
            crate::error::exit_code_of(&err),
            crate::error::ExitCode::Unsafe
        );
    }
}
