//! The `variant_build` action (`fleet variant-build`): makes the tools
//! bundle available (the per-build tree, or the machine-wide store's
//! extraction behind a link), writes the verification tags the tool expects,
//! then becomes the tool — through `fleet run-locked` when it needs named
//! locks or private directories.

use std::ffi::OsString;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::error::usage;
use crate::fsutil;
use crate::keyed_tag;
use crate::store::Store;

/// Where the tools come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tools {
    /// The tree `fleet_tools` extracted in this build; `link` optional.
    Tree {
        tree: PathBuf,
        link: Option<PathBuf>,
    },
    /// The archive, extracted once per machine into the store, linked at `link`.
    Shared {
        archive: PathBuf,
        digest_file: PathBuf,
        store: Option<PathBuf>,
        link: PathBuf,
        record: PathBuf,
    },
}

/// A tag the tool expects: written at `dest` from keyed inputs.
#[derive(Debug, Clone)]
pub struct ExpectedTag {
    pub dest: PathBuf,
    pub inputs: Vec<(String, PathBuf)>,
}

#[derive(Debug, Clone)]
pub struct VariantAction {
    pub tools: Tools,
    pub variant: String,
    pub env: Vec<(String, String)>,
    pub tags: Vec<ExpectedTag>,
    pub locks: Vec<String>,
    pub private_dirs: Vec<String>,
    pub private_root: Option<PathBuf>,
    /// The tool and its arguments.
    pub command: Vec<String>,
    pub timeout: Duration,
}

/// Prepares everything and replaces this process with the tool (returns only on error).
pub fn run(action: &VariantAction) -> Result<i32> {
    let root = std::env::current_dir().context("reading the working directory")?;
    let (store, tools_dir) = tools_dir(&action.tools, &root, action.timeout)?;
    for tag in &action.tags {
        keyed_tag::write_keyed(&root.join(&tag.dest), &tag.inputs, action.timeout)?;
    }
    let (program, args) = action
        .command
        .split_first()
        .ok_or_else(|| usage("variant-build needs the tool after --"))?;
    let mut cmd = if action.locks.is_empty() && action.private_dirs.is_empty() {
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    } else {
        run_locked(action, store, &root)?
    };
    cmd.envs(action.env.iter().map(|(k, v)| (k, v)))
        .env("FLEET_TOOLS_DIR", &tools_dir)
        .env("FLEET_VARIANT", &action.variant);
    let err = cmd.exec();
    Err(err).with_context(|| format!("running {program}"))
}

/// `fleet run-locked [--locks-dir <store>/.locks --lock N...] [--private-root R --private-dir V...] -- tool...`
fn run_locked(action: &VariantAction, store: Option<PathBuf>, root: &Path) -> Result<Command> {
    let fleet = std::env::current_exe().context("locating the fleet executable")?;
    let mut cmd = Command::new(fleet);
    let mut args: Vec<OsString> = vec!["run-locked".into()];
    if !action.locks.is_empty() {
        let store = match store {
            Some(store) => store,
            None => default_store()?,
        };
        args.extend(["--locks-dir".into(), store.join(".locks").into_os_string()]);
        for name in &action.locks {
            args.extend(["--lock".into(), name.into()]);
        }
    }
    if !action.private_dirs.is_empty() {
        let private_root = action
            .private_root
            .as_ref()
            .ok_or_else(|| usage("--private-dir needs --private-root"))?;
        args.extend([
            "--private-root".into(),
            root.join(private_root).into_os_string(),
        ]);
        for var in &action.private_dirs {
            args.extend(["--private-dir".into(), var.into()]);
        }
    }
    args.push("--".into());
    args.extend(action.command.iter().map(OsString::from));
    cmd.args(args);
    Ok(cmd)
}

/// The store used (shared mode) and `$FLEET_TOOLS_DIR`.
fn tools_dir(tools: &Tools, root: &Path, timeout: Duration) -> Result<(Option<PathBuf>, PathBuf)> {
    match tools {
        Tools::Tree { tree, link: None } => Ok((None, root.join(tree))),
        Tools::Tree {
            tree,
            link: Some(link),
        } => {
            // Inside the sandbox this path is private to the action; replace it atomically anyway.
            replace_link(&root.join(link), &root.join(tree))?;
            Ok((None, root.join(link)))
        }
        Tools::Shared {
            archive,
            digest_file,
            store,
            link,
            record,
        } => {
            let store_dir = match store {
                Some(store) => store.clone(),
                None => default_store()?,
            };
            fs::create_dir_all(&store_dir)
                .with_context(|| format!("creating the tools store {}", store_dir.display()))?;
            let digest = fs::read_to_string(digest_file)
                .with_context(|| format!("reading {}", digest_file.display()))?;
            // Many variants, builds and output bases race here: the store
            // extracts each digest once under a lock and swaps the link atomically.
            let store = Store::open(&store_dir)?;
            let (extraction, _pin) =
                store.extract_checked(archive, Some(digest.trim()), timeout, false)?;
            store.link(link, &extraction.path)?;
            let json =
                serde_json::to_string(&extraction).context("encoding the extraction record")?;
            fs::write(record, format!("{json}\n"))
                .with_context(|| format!("writing {}", record.display()))?;
            Ok((Some(store_dir), root.join(link)))
        }
    }
}

/// Points `link` at `target` (parents created), replaced atomically.
fn replace_link(link: &Path, target: &Path) -> Result<()> {
    if let Some(parent) = link.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fsutil::replace_symlink(link, target)
}

/// The default store ([`crate::store::default_dir`]), with a hint for the
/// Bazel action that has no environment to place it from.
fn default_store() -> Result<PathBuf> {
    crate::store::default_dir().map_err(|e| {
        usage(format!(
            "variant_build: {e:#}; set --action_env=FLEET_STORE=/abs/dir"
        ))
    })
}
