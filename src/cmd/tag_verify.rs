//! `fleet tag verify`: the `fleet_verify` action.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::LockTimeoutArg;
use crate::keyed_tag::{self, Verify};

#[derive(Args, Debug)]
pub struct TagVerifyArgs {
    /// The tag listing the expected digests (`fleet_verify(expected = ...)`).
    #[arg(long)]
    pub expected: PathBuf,
    /// Its path relative to the package, for the fix-it command.
    #[arg(long)]
    pub expected_name: String,
    /// The tag to write when every input matches.
    #[arg(long)]
    pub tag: PathBuf,
    /// The target, for messages.
    #[arg(long)]
    pub label: String,
    /// KEY PATH: PATH's digest must be the expected one for KEY.
    #[arg(long = "input", num_args = 2, value_names = ["KEY", "PATH"], allow_hyphen_values = true)]
    pub inputs: Vec<String>,
    #[command(flatten)]
    pub lock_timeout: LockTimeoutArg,
}

pub fn run(args: TagVerifyArgs) -> Result<()> {
    let inputs = args
        .inputs
        .chunks(2)
        .map(|i| (i[0].clone(), PathBuf::from(&i[1])))
        .collect();
    keyed_tag::verify(&Verify {
        expected: args.expected,
        expected_name: args.expected_name,
        out: args.tag,
        label: args.label,
        inputs,
        timeout: args.lock_timeout.duration()?,
    })
}
