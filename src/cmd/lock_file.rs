//! `fleet lock-file`: the `<component>.lock` (regenerate) and
//! `<component>.lock_test` (check) targets, and `list` for
//! `tf_provider_mirror`, all on the one lock-file reader.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use super::args::warn_deprecated;
use crate::lock_file::{check, mirror::PackageArg, regenerate};

#[derive(Subcommand, Debug)]
pub enum LockFileCommand {
    /// Regenerate a component's lock file in the source tree (`bazel run <component>.lock`).
    Regenerate(RegenerateArgs),
    /// Check a component's lock file covers its module, packages and platforms (`<component>.lock_test`).
    Check(CheckArgs),
    /// Print the lock file's provider blocks (source, version, constraints, hashes).
    List(ListArgs),
}

/// What both `regenerate` and `check` take from the rule.
#[derive(Args, Debug)]
pub struct ComponentArgs {
    /// The target, for messages.
    #[arg(long)]
    pub label: String,
    /// The terraform executable.
    #[arg(long)]
    pub terraform: PathBuf,
    /// A platform (`<os>_<arch>`) the lock file must cover.
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// A provider package: SOURCE VERSION PLATFORM ZIP.
    #[arg(long = "package", num_args = 4, value_names = ["SOURCE", "VERSION", "PLATFORM", "ZIP"], allow_hyphen_values = true)]
    pub packages: Vec<String>,
    /// A module file: PATH (in the module) FILE.
    #[arg(long = "module", num_args = 2, value_names = ["PATH", "FILE"], allow_hyphen_values = true)]
    pub modules: Vec<String>,
}

impl ComponentArgs {
    fn packages(&self) -> Vec<PackageArg> {
        self.packages
            .chunks(4)
            .map(|p| PackageArg {
                source: p[0].clone(),
                version: p[1].clone(),
                platform: p[2].clone(),
                zip: PathBuf::from(&p[3]),
            })
            .collect()
    }

    fn modules(&self) -> Vec<(String, PathBuf)> {
        self.modules
            .chunks(2)
            .map(|m| (m[0].clone(), PathBuf::from(&m[1])))
            .collect()
    }
}

#[derive(Args, Debug)]
pub struct RegenerateArgs {
    #[command(flatten)]
    pub component: ComponentArgs,
    /// The lock file, relative to the workspace root.
    #[arg(long)]
    pub dest: String,
    /// A packed filesystem mirror directory: absolute, `file://`, or workspace-relative.
    #[arg(long = "mirror")]
    pub mirrors: Vec<String>,
    /// The user's arguments (`bazel run <component>.lock -- ...`): `--platform`, `--fresh`.
    #[arg(last = true)]
    pub user: Vec<String>,
}

/// What a user may add after `--`.
#[derive(Parser, Debug)]
#[command(name = "bazel run <component>.lock --", no_binary_name = true)]
pub struct UserArgs {
    /// Also lock for this `<os>_<arch>`.
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// Start from an empty lock file instead of the current one.
    #[arg(long)]
    pub fresh: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub component: ComponentArgs,
    /// The lock file (unset: the component has none yet).
    #[arg(long, conflicts_with = "deprecated_lock")]
    pub lock_file: Option<PathBuf>,
    /// Deprecated spelling of --lock-file ("lock" is a flock).
    #[arg(long = "lock", hide = true)]
    pub deprecated_lock: Option<PathBuf>,
    /// Its path in the workspace, for messages.
    #[arg(long, default_value = ".terraform.lock.hcl")]
    pub lock_file_path: String,
    /// Deprecated spelling of --lock-file-path.
    #[arg(long = "lock-path", hide = true, conflicts_with = "lock_file_path")]
    pub deprecated_lock_path: Option<String>,
    /// The `.lock` target, named in messages.
    #[arg(long)]
    pub lock_target: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// The lock file.
    pub lock: PathBuf,
    /// Print JSON (an array of {source, version, constraints, hashes}).
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: LockFileCommand) -> Result<i32> {
    match command {
        LockFileCommand::Regenerate(args) => regenerate_command(&args),
        LockFileCommand::Check(args) => {
            if args.deprecated_lock.is_some() {
                warn_deprecated("--lock", "--lock-file");
            }
            if args.deprecated_lock_path.is_some() {
                warn_deprecated("--lock-path", "--lock-file-path");
            }
            let c = &args.component;
            check::check(&check::Check {
                label: c.label.clone(),
                terraform: c.terraform.clone(),
                platforms: c.platforms.clone(),
                packages: c.packages(),
                modules: c.modules(),
                lock: args.lock_file.clone().or(args.deprecated_lock.clone()),
                lock_path: (args.deprecated_lock_path.clone())
                    .unwrap_or(args.lock_file_path.clone()),
                lock_target: args.lock_target.clone(),
            })?;
            Ok(0)
        }
        LockFileCommand::List(args) => list_command(&args),
    }
}

fn regenerate_command(args: &RegenerateArgs) -> Result<i32> {
    let user =
        UserArgs::try_parse_from(&args.user).map_err(|e| crate::error::usage(e.to_string()))?;
    let c = &args.component;
    let mut platforms = c.platforms.clone();
    platforms.extend(user.platforms);
    regenerate::regenerate(&regenerate::Regenerate {
        label: c.label.clone(),
        terraform: c.terraform.clone(),
        platforms,
        packages: c.packages(),
        modules: c.modules(),
        dest: args.dest.clone(),
        mirrors: args.mirrors.clone(),
        fresh: user.fresh,
        workspace: std::env::var_os("BUILD_WORKSPACE_DIRECTORY")
            .filter(|w| !w.is_empty())
            .map(PathBuf::from),
    })?;
    Ok(0)
}

fn list_command(args: &ListArgs) -> Result<i32> {
    let providers = crate::lock_file::read(&args.lock)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&providers).context("encoding the provider list")?
        );
        return Ok(0);
    }
    for p in &providers {
        println!("{} {} {}", p.source, p.version, p.hashes.join(" "));
    }
    Ok(0)
}
