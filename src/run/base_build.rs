//! The base of `--affected-since REV`: the same fleet target built at REV in
//! a temporary `git worktree` with its own Bazel output base (so it neither
//! waits for nor disturbs the caller's), then its manifest's identities.
//! A disk cache configured in a `.bazelrc` is shared by itself (the worktree
//! reads the same rc files); `--affected-bazel-arg` adds any other option.
//! The worktree, its output base and its Bazel server are removed afterwards,
//! whatever happened.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::error::{unsafe_input, usage};
use crate::label::Label;

/// How to run Bazel for the base build.
pub struct BazelCommand {
    /// The `bazel` executable (or a wrapper taking bazel's arguments).
    pub program: String,
    /// More options for `bazel build` (e.g. `--disk_cache=PATH`).
    pub build_args: Vec<String>,
}

/// Reads label → identity from a manifest of any rules version (an older
/// manifest without identities gives `None`s: every instance then counts as
/// changed).
pub fn manifest_identities(path: &Path) -> Result<BTreeMap<String, Option<String>>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading base manifest {}", path.display()))?;
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| {
        unsafe_input(format!(
            "base manifest {} does not parse: {e}",
            path.display()
        ))
    })?;
    let instances = json
        .get("instances")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            unsafe_input(format!("base manifest {} has no instances", path.display()))
        })?;
    let mut identities = BTreeMap::new();
    for inst in instances {
        let label = inst.get("label").and_then(Value::as_str).ok_or_else(|| {
            unsafe_input(format!(
                "base manifest {}: an instance has no label",
                path.display()
            ))
        })?;
        let identity = inst
            .get("identity")
            .and_then(Value::as_str)
            .map(str::to_string);
        identities.insert(label.to_string(), identity);
    }
    Ok(identities)
}

/// Builds `target` at `rev` and returns its manifest's identities.
pub fn identities_at(
    rev: &str,
    target: &str,
    bazel: &BazelCommand,
) -> Result<BTreeMap<String, Option<String>>> {
    let workspace = workspace_dir()?;
    let top = git(&workspace, ["rev-parse", "--show-toplevel"])?;
    let prefix = git(&workspace, ["rev-parse", "--show-prefix"])?;
    let commit = git(
        &workspace,
        [
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|_| usage(format!("--affected-since {rev}: no such commit in {}", top)))?;
    let (package, name) = split_label(target)?;
    let mut scratch = Scratch::create(Path::new(&top), &bazel.program)?;
    let tree = scratch.tree.to_string_lossy().into_owned();
    git(
        Path::new(&top),
        ["worktree", "add", "--detach", "--quiet", &tree, &commit],
    )?;
    scratch.registered = true;
    let dir = scratch.tree.join(prefix.trim_end_matches('/'));
    eprintln!(
        "fleet: --affected-since {rev}: building {target} at {} in a temporary worktree",
        &commit[..commit.len().min(12)]
    );
    // max_idle_secs: the server goes away by itself should the shutdown below be missed.
    let startup = [
        format!("--output_base={}", scratch.output_base.display()),
        "--max_idle_secs=60".to_string(),
    ];
    let mut build = bazel_command(bazel, &dir, &startup);
    build
        .arg("build")
        .arg("--output_groups=manifest")
        .args(&bazel.build_args)
        .arg(format!("//{package}:{name}"));
    run_bazel(build, &format!("building {target} at {rev}"))?;
    let bin = bazel_output(bazel, &dir, &startup, &["info", "bazel-bin"])?;
    let manifest = Path::new(bin.trim())
        .join(&package)
        .join(format!("{name}.manifest.json"));
    manifest_identities(&manifest).with_context(|| format!("the manifest of {target} at {rev}"))
}

/// The main repository's directory: `bazel run` says where it is.
fn workspace_dir() -> Result<PathBuf> {
    match std::env::var_os("BUILD_WORKSPACE_DIRECTORY") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => std::env::current_dir().context("finding the current directory"),
    }
}

/// A label of the main repository (`//pkg:name`, `@//…`, `@@//…`) → (`pkg`, `name`).
fn split_label(target: &str) -> Result<(String, String)> {
    let label = Label::parse(target)
        .map_err(|e| unsafe_input(format!("manifest target {target} is not a full label: {e}")))?;
    if !label.is_main() {
        return Err(usage(format!(
            "--affected-since needs a fleet of the main repository, not {target}"
        )));
    }
    Ok((label.package, label.name))
}

fn git<I, S>(dir: &Path, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<S> = args.into_iter().collect();
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running git {} in {}", shown.join(" "), dir.display()))?;
    if !out.status.success() {
        bail!(
            "git {} in {} failed: {}",
            shown.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Bazel in `dir` with the caller's `bazel run` environment removed (it
/// describes the outer run, not this build).
fn bazel_command(bazel: &BazelCommand, dir: &Path, startup: &[String]) -> Command {
    let mut cmd = Command::new(&bazel.program);
    cmd.current_dir(dir).args(startup).stdin(Stdio::null());
    for var in [
        "BUILD_WORKSPACE_DIRECTORY",
        "BUILD_WORKING_DIRECTORY",
        "RUNFILES_DIR",
        "RUNFILES_MANIFEST_FILE",
        "JAVA_RUNFILES",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn run_bazel(mut cmd: Command, what: &str) -> Result<()> {
    // Bazel's progress goes to our stderr; its stdout too (stdout is ours).
    let status = cmd
        .stdout(Stdio::from(std::io::stderr().as_fd_owned()?))
        .status()
        .with_context(|| format!("{what}: starting bazel"))?;
    if !status.success() {
        bail!("{what}: bazel failed ({status})");
    }
    Ok(())
}

fn bazel_output(
    bazel: &BazelCommand,
    dir: &Path,
    startup: &[String],
    args: &[&str],
) -> Result<String> {
    let out = bazel_command(bazel, dir, startup)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("running bazel {}", args.join(" ")))?;
    if !out.status.success() {
        bail!("bazel {} in {} failed", args.join(" "), dir.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Duplicates stderr so a child can write its stdout there.
trait AsFdOwned {
    fn as_fd_owned(&self) -> Result<std::os::fd::OwnedFd>;
}

impl AsFdOwned for std::io::Stderr {
    fn as_fd_owned(&self) -> Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.as_fd()
            .try_clone_to_owned()
            .context("duplicating stderr")
    }
}

/// The temporary directory: the worktree and the output base. Dropping it
/// stops that Bazel server, unregisters the worktree and deletes both.
struct Scratch {
    bazel: String,
    registered: bool,
    repo: PathBuf,
    root: PathBuf,
    tree: PathBuf,
    output_base: PathBuf,
}

impl Scratch {
    fn create(repo: &Path, bazel: &str) -> Result<Scratch> {
        let root =
            std::env::temp_dir().join(format!("fleet-affected-{}", crate::fsutil::unique_suffix()));
        crate::tf::private::create_dir(&root)
            .with_context(|| format!("creating {}", root.display()))?;
        Ok(Scratch {
            bazel: bazel.to_string(),
            registered: false,
            repo: repo.to_path_buf(),
            tree: root.join("tree"),
            output_base: root.join("output_base"),
            root,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.output_base.exists() && self.tree.exists() {
            let _ = Command::new(&self.bazel)
                .current_dir(&self.tree)
                .arg(format!("--output_base={}", self.output_base.display()))
                .arg("shutdown")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if self.registered {
            let tree = self.tree.to_string_lossy().into_owned();
            let _ = git(&self.repo, ["worktree", "remove", "--force", &tree]);
        }
        // Bazel leaves read-only directories in its output base.
        let _ = crate::fsutil::remove_tree(&self.root);
        if self.registered {
            let _ = git(&self.repo, ["worktree", "prune"]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_of_the_main_repository_split() {
        assert_eq!(
            split_label("//infra:all").unwrap(),
            ("infra".into(), "all".into())
        );
        assert_eq!(
            split_label("@@//a/b:c").unwrap(),
            ("a/b".into(), "c".into())
        );
        assert_eq!(split_label("@//:all").unwrap(), ("".into(), "all".into()));
        assert!(split_label("@other//a:b").is_err());
        assert!(split_label("@@rules_fleet~//a:b").is_err());
        assert!(split_label("infra:all").is_err());
    }

    #[test]
    fn manifests_without_identities_read_as_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        std::fs::write(
            &path,
            r#"{"schema": 1, "future_field": 3, "instances": [{"label": "//a:x", "identity": "ab"}, {"label": "//a:y"}]}"#,
        )
        .unwrap();
        let ids = manifest_identities(&path).unwrap();
        assert_eq!(ids["//a:x"].as_deref(), Some("ab"));
        assert_eq!(ids["//a:y"], None);
        std::fs::write(&path, "{").unwrap();
        assert!(manifest_identities(&path).is_err());
    }
}
