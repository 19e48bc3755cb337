//! `fleet variant-build`: the action of one `variant_build` target.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::args::LockTimeoutArg;
use crate::error::usage;
use crate::variant_action::{self, ExpectedTag, Tools, VariantAction};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ToolsMode {
    /// The tree `fleet_tools` extracted in this build (hermetic).
    Tree,
    /// The machine-wide store (no sandbox).
    Shared,
}

#[derive(Args, Debug)]
pub struct VariantBuildArgs {
    /// How the tools are provided.
    #[arg(long, value_enum)]
    pub mode: ToolsMode,
    /// `tree`: the extracted tree; `shared`: the archive.
    #[arg(long)]
    pub tools: PathBuf,
    /// `shared`: the file holding the archive's sha256.
    #[arg(long)]
    pub digest: Option<PathBuf>,
    /// `shared`: the store (default: FLEET_STORE, else
    /// $XDG_CACHE_HOME/rules_fleet/store, else ~/.cache/rules_fleet/store).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Where the tool finds its tools (a symlink, replaced atomically).
    #[arg(long)]
    pub link: Option<PathBuf>,
    /// `shared`: where to write the extraction record (JSON).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// The variant's name (`$FLEET_VARIANT`).
    #[arg(long)]
    pub variant: String,
    /// KEY=VALUE for the tool's environment.
    #[arg(long = "env", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// A verification tag the tool expects at DEST (see --tag-input).
    #[arg(long = "tag", value_name = "DEST")]
    pub tags: Vec<PathBuf>,
    /// DEST KEY PATH: record PATH's digest as KEY in the tag at DEST.
    #[arg(long = "tag-input", num_args = 3, value_names = ["DEST", "KEY", "PATH"], allow_hyphen_values = true)]
    pub tag_inputs: Vec<String>,
    /// A named machine-wide lock (`<store>/.locks/<NAME>.lock`) held by the tool.
    #[arg(long = "lock", value_name = "NAME")]
    pub locks: Vec<String>,
    /// An environment variable set to a fresh directory of this action.
    #[arg(long = "private-dir", value_name = "VAR")]
    pub private_dirs: Vec<String>,
    /// Where the private directories are made.
    #[arg(long)]
    pub private_root: Option<PathBuf>,
    #[command(flatten)]
    pub lock_timeout: LockTimeoutArg,
    /// The tool and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

pub fn run(args: VariantBuildArgs) -> Result<i32> {
    variant_action::run(&action(&args)?)
}

fn action(args: &VariantBuildArgs) -> Result<VariantAction> {
    let tools = match args.mode {
        ToolsMode::Tree => Tools::Tree {
            tree: args.tools.clone(),
            link: args.link.clone(),
        },
        ToolsMode::Shared => Tools::Shared {
            archive: args.tools.clone(),
            digest_file: required(&args.digest, "--digest")?,
            store: args.store.clone(),
            link: required(&args.link, "--link")?,
            record: required(&args.record, "--record")?,
        },
    };
    let mut tags: Vec<ExpectedTag> = args
        .tags
        .iter()
        .map(|dest| ExpectedTag {
            dest: dest.clone(),
            inputs: Vec::new(),
        })
        .collect();
    for input in args.tag_inputs.chunks(3) {
        let tag = tags
            .iter_mut()
            .find(|t| t.dest.as_os_str() == input[0].as_str())
            .ok_or_else(|| usage(format!("--tag-input {}: no --tag {}", input[0], input[0])))?;
        tag.inputs
            .push((input[1].clone(), PathBuf::from(&input[2])));
    }
    Ok(VariantAction {
        tools,
        variant: args.variant.clone(),
        env: args.env.clone(),
        tags,
        locks: args.locks.clone(),
        private_dirs: args.private_dirs.clone(),
        private_root: args.private_root.clone(),
        command: args.command.clone(),
        timeout: args.lock_timeout.duration()?,
    })
}

fn required(value: &Option<PathBuf>, flag: &str) -> Result<PathBuf> {
    value
        .clone()
        .ok_or_else(|| usage(format!("--mode shared needs {flag}")))
}

fn parse_env(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}
