//! `fleet tag verify`: the `fleet_verify` action.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use crate::error::usage;
use crate::keyed_tag::{self, Verify};

#[derive(Args, Debug)]
pub struct TagVerifyArgs {
    /// The tag listing the expected digests (`fleet_verify(lock = ...)`).
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
    #[arg(long = "input", num_args = 2, value_names = ["KEY", "PATH"])]
    pub inputs: Vec<String>,
    /// Seconds to wait for the tag's lock before exiting 3.
    #[arg(long, env = "FLEET_LOCK_TIMEOUT", default_value_t = 300.0)]
    pub timeout: f64,
}

pub fn run(args: &TagVerifyArgs) -> Result<i32> {
    keyed_tag::verify(&Verify {
        expected: args.expected.clone(),
        expected_name: args.expected_name.clone(),
        out: args.tag.clone(),
        label: args.label.clone(),
        inputs: args
            .inputs
            .chunks(2)
            .map(|i| (i[0].clone(), PathBuf::from(&i[1])))
            .collect(),
        timeout: Duration::try_from_secs_f64(args.timeout).map_err(|_| {
            usage(format!(
                "--timeout {} is not a number of seconds",
                args.timeout
            ))
        })?,
    })?;
    Ok(0)
}
