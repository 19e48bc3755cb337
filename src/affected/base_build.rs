//! The base of `--affected-since REV`: the same fleet target built at REV in
//! a temporary `git worktree` with its own Bazel output base (so it neither
//! waits for nor disturbs the caller's), then its manifest's identities.
//! A disk cache configured in a `.bazelrc` is shared by itself (the worktree
//! reads the same rc files); `--affected-bazel-arg` adds any other option.
//! The worktree, its output base and its Bazel server are removed afterwards,
//! whatever happened — a signal included; a runner killed outright leaves
//! them to the next base build's sweep ([`super::worktree`]). No
//! git hook runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::worktree::{git_command, run_git, sweep_stale, Scratch};
use crate::error::{unsafe_input, usage};
use crate::label::Label;
use crate::process::interruptible::Interrupt;

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

/// Builds `target` at `rev` and returns its manifest's identities. A signal
/// (recorded by `interrupt`) stops it at once; its directory goes either way.
pub fn identities_at(
    rev: &str,
    target: &str,
    bazel: &BazelCommand,
    interrupt: &Interrupt,
) -> Result<BTreeMap<String, Option<String>>> {
    let workspace = workspace_dir()?;
    let top = git(&workspace, &["rev-parse", "--show-toplevel"], interrupt)?;
    let prefix = git(&workspace, &["rev-parse", "--show-prefix"], interrupt)?;
    let commit = git(
        &workspace,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
        interrupt,
    )
    .map_err(|e| match interrupt.signal() {
        Some(_) => e,
        None => usage(format!("--affected-since {rev}: no such commit in {top}")),
    })?;
    let (package, name) = split_label(target)?;
    sweep_stale(&std::env::temp_dir(), Path::new(&top));
    let mut scratch = Scratch::create(Path::new(&top), &bazel.program)?;
    scratch.add_worktree(&commit, interrupt)?;
    let dir = scratch.tree.join(prefix.trim_end_matches('/'));
    scratch.build_dir = Some(dir.clone());
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
    run_bazel(build, &format!("building {target} at {rev}"), interrupt)?;
    let bin = bazel_output(bazel, &dir, &startup, &["info", "bazel-bin"], interrupt)?;
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

fn git(dir: &Path, args: &[&str], interrupt: &Interrupt) -> Result<String> {
    run_git(&mut git_command(dir, None, args), args, dir, interrupt)
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

fn run_bazel(mut cmd: Command, what: &str, interrupt: &Interrupt) -> Result<()> {
    // Bazel's progress goes to our stderr; its stdout too (stdout is ours).
    cmd.stdout(Stdio::from(std::io::stderr().as_fd_owned()?));
    let status = interrupt.status(&mut cmd, what)?;
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
    interrupt: &Interrupt,
) -> Result<String> {
    let mut cmd = bazel_command(bazel, dir, startup);
    cmd.args(args);
    let out = interrupt.output(&mut cmd, &format!("running bazel {}", args.join(" ")))?;
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
