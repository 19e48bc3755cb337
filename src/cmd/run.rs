//! `fleet run`: an action on many instances.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{one_of, LocationArgs};
use crate::report::console::OutputMode;
use crate::run::ci::CiOptions;
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
    /// same digest (rendered tree, inputs, env, workspace, secret_env names,
    /// terraform, action, applied plan), and the on_change hooks it owes.
    #[arg(long)]
    pub resume: bool,
    /// Also write the JSON report here (and resume from it with --resume).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// apply: apply each instance's saved plan (from the plan action).
    #[arg(long)]
    pub from_plan: bool,
    /// plan: also write a sealed plan set into DIR (new or empty); apply:
    /// apply exactly DIR's plans, refusing each one that no longer matches
    /// what it was made from (`stale_plan`). Seal: sha256, or HMAC-SHA256
    /// with FLEET_PLAN_SET_KEY.
    #[arg(long, value_name = "DIR")]
    pub plan_set: Option<PathBuf>,
    /// apply --plan-set: refuse the set's plans when the set is older than
    /// this (seconds, or with a unit: 90s, 30m, 12h, 2d).
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub max_plan_age: Option<std::time::Duration>,
    /// Run only the instances a change since REV (git) affects: changed,
    /// added and their dependents. Builds the fleet at REV in a temporary
    /// worktree; instances gone since REV are listed, never destroyed.
    #[arg(long, value_name = "REV", conflicts_with = "affected_base_manifest")]
    pub affected_since: Option<String>,
    /// Like --affected-since, comparing with a fleet manifest kept from the base build.
    #[arg(long, value_name = "FILE")]
    pub affected_base_manifest: Option<PathBuf>,
    /// The bazel that builds the fleet at REV for --affected-since.
    #[arg(long, value_name = "PATH", default_value = "bazel")]
    pub bazel: String,
    /// One more option for that `bazel build` (e.g. --disk_cache=PATH); repeatable.
    #[arg(
        long = "affected-bazel-arg",
        value_name = "OPTION",
        allow_hyphen_values = true
    )]
    pub affected_bazel_args: Vec<String>,
    /// Also write a Markdown summary (for a pull-request comment) here.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// plan: exit 0 when no planned instance has changes, 2 when some has
    /// and none failed, 1 on any failure (drift detection).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Run `terraform init` for every instance even when nothing it used
    /// changed since its last init (by default such instances skip it).
    #[arg(long, env = "FLEET_REINIT")]
    pub reinit: bool,
    /// Run each step of an instance with a `retry` policy at most N times
    /// (the first included), whatever its max_attempts says; 1 turns retries off.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: Option<u32>,
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
        plan_set: args.plan_set,
        max_plan_age: args.max_plan_age,
        ci: CiOptions {
            affected_since: args.affected_since,
            affected_base_manifest: args.affected_base_manifest,
            bazel: args.bazel,
            affected_bazel_args: args.affected_bazel_args,
            summary: args.summary,
            detailed_exitcode: args.detailed_exitcode,
        },
        reinit: args.reinit,
        max_attempts: args.max_attempts,
    })
}

/// `--max-plan-age`: seconds, or a number with `s`, `m`, `h` or `d`.
fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("{text}: the unit is s, m, h or d")),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text}: not a whole number of seconds, minutes, hours or days"))?;
    n.checked_mul(scale)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{text}: too large"))
}
