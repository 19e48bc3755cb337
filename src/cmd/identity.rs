//! `fleet identity`: the build actions behind instance identities
//! (see [`crate::identity`]). `compute` hashes one instance's inputs;
//! `stamp` writes identities into a manifest.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::error::usage;
use crate::identity::{read_identity, split_pair, stamp, IdentityInputs};

/// `fleet identity`: compute an instance identity, or stamp a manifest.
#[derive(Args, Debug)]
pub struct IdentityArgs {
    #[command(subcommand)]
    pub command: IdentityCommand,
}

#[derive(Subcommand, Debug)]
pub enum IdentityCommand {
    /// Hash everything that decides one instance's plan into its identity.
    Compute(ComputeArgs),
    /// Write instance identities into a manifest.
    Stamp(StampArgs),
}

#[derive(Args, Debug)]
pub struct ComputeArgs {
    /// The rendered instance tree.
    #[arg(long)]
    pub rendered: PathBuf,
    /// The terraform toolchain: `<flavor> <version>`.
    #[arg(long)]
    pub terraform: String,
    /// Run-time settings as JSON (env, workspace, secret_env names, inputs_from).
    #[arg(long, default_value = "{}")]
    pub settings: String,
    /// A provider package zip (hashed); repeatable.
    #[arg(long = "provider-archive")]
    pub provider_archives: Vec<PathBuf>,
    /// LABEL=FILE: an `inputs_from` upstream and its identity file; repeatable.
    #[arg(long = "upstream")]
    pub upstreams: Vec<String>,
    /// Where to write the identity (hex and a newline).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct StampArgs {
    /// The manifest without identities.
    #[arg(long)]
    pub manifest: PathBuf,
    /// LABEL=FILE: an instance and its identity file; one per instance.
    #[arg(long = "identity")]
    pub identities: Vec<String>,
    /// The manifest to write.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &IdentityArgs) -> Result<i32> {
    match &args.command {
        IdentityCommand::Compute(a) => compute(a),
        IdentityCommand::Stamp(a) => stamp_command(a),
    }
    .map(|()| 0)
}

fn compute(args: &ComputeArgs) -> Result<()> {
    let settings = serde_json::from_str(&args.settings)
        .map_err(|e| usage(format!("--settings is not JSON: {e}")))?;
    let mut providers = Vec::new();
    for archive in &args.provider_archives {
        let digest = crate::hash::sha256_file(archive)
            .with_context(|| format!("hashing provider package {}", archive.display()))?;
        providers.push(hex::encode(digest));
    }
    let mut upstreams = BTreeMap::new();
    for pair in &args.upstreams {
        let (label, file) = split_pair(pair)?;
        upstreams.insert(label.to_string(), read_identity(file.as_ref())?);
    }
    let inputs = IdentityInputs {
        rendered: crate::tf::rundir::rendered_content_digest(&args.rendered)?,
        providers,
        terraform: args.terraform.clone(),
        settings,
        upstreams,
    };
    std::fs::write(&args.out, format!("{}\n", inputs.digest()))
        .with_context(|| format!("writing identity {}", args.out.display()))
}

fn stamp_command(args: &StampArgs) -> Result<()> {
    let mut identities = BTreeMap::new();
    for pair in &args.identities {
        let (label, file) = split_pair(pair)?;
        identities.insert(label.to_string(), read_identity(file.as_ref())?);
    }
    let text = std::fs::read(&args.manifest)
        .with_context(|| format!("reading manifest {}", args.manifest.display()))?;
    let stamped = stamp(&text, &identities)
        .with_context(|| format!("manifest {}", args.manifest.display()))?;
    std::fs::write(&args.out, stamped)
        .with_context(|| format!("writing manifest {}", args.out.display()))
}
