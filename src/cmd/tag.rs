//! `fleet tag write`, `fleet tag check` and `fleet tag verify`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::args::{parse_key_value, LockTimeoutArg};
use crate::tag::{check, compute, encode, write, WriteOutcome};

#[derive(Subcommand, Debug)]
pub enum TagCommand {
    /// Write the tag; leave it untouched when its bytes would not change.
    Write(TagArgs),
    /// Exit 0 when the tag matches the inputs as they are now, 5 otherwise.
    Check(TagArgs),
    /// Check keyed inputs against an expected tag (exit 5), then write their tag (`fleet_verify`).
    Verify(super::tag_verify::TagVerifyArgs),
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// The tag file.
    #[arg(long)]
    pub tag: PathBuf,
    /// A file (sha256) or directory (h1) whose digest the tag records.
    #[arg(long = "input")]
    pub inputs: Vec<PathBuf>,
    /// A KEY=VALUE pair the tag records.
    #[arg(long = "set", value_parser = parse_key_value)]
    pub values: Vec<(String, String)>,
    #[command(flatten)]
    pub lock_timeout: LockTimeoutArg,
}

pub fn run(command: TagCommand) -> Result<()> {
    match command {
        TagCommand::Write(args) => {
            let tag = compute(&args.inputs, &args.values)?;
            let outcome = write(&args.tag, &encode(&tag)?, args.lock_timeout.duration()?)?;
            let word = match outcome {
                WriteOutcome::Unchanged => "unchanged",
                _ => "updated",
            };
            println!("{word}");
            Ok(())
        }
        TagCommand::Check(args) => check(&args.tag, &compute(&args.inputs, &args.values)?),
        TagCommand::Verify(args) => super::tag_verify::run(args),
    }
}
