//! `fleet run`: an action on many instances.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{one_of, LocationArgs};
use crate::run::output::OutputMode;
use crate::run::{run_command, RunOptions};
use crate::tf::Action;

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub locations: LocationArgs,
    /// plan, apply or destroy (destroy walks the graph in reverse).
    #[arg(long, value_parser = one_of::<Action>(&Action::NAMES))]
    pub action: Action,
    /// At most this many instances at once; 0 = the manifest's value, else 10.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub parallelism: i64,
    /// Run only these instances (label or unique short name); repeatable.
    #[arg(long = "only")]
    pub only: Vec<String>,
    /// On the first failure start nothing new and interrupt running instances.
    #[arg(long, conflicts_with = "keep_going")]
    pub fail_fast: bool,
    /// On a failure skip its dependents and run everything else (default).
    #[arg(long)]
    pub keep_going: bool,
    /// grouped: each instance's output as a block when it finishes; stream: every line as it comes, prefixed.
    #[arg(long, value_parser = one_of::<OutputMode>(&OutputMode::NAMES), default_value = "grouped")]
    pub output: OutputMode,
    /// Run only what the last report does not show as succeeded with the
    /// same digest (rendered tree, inputs, secret_env names, terraform).
    #[arg(long)]
    pub resume: bool,
    /// Also write the JSON report here (and resume from it with --resume).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// apply: apply each instance's saved plan (from the plan action).
    #[arg(long)]
    pub from_plan: bool,
}

pub fn run(args: RunArgs) -> Result<i32> {
    run_command(&RunOptions {
        locations: args.locations.into_locations()?,
        action: args.action,
        parallelism: args.parallelism,
        only: args.only,
        fail_fast: args.fail_fast,
        output: args.output,
        resume: args.resume,
        report: args.report,
        from_plan: args.from_plan,
    })
}
