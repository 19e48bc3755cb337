//! `fleet tf`: one terraform action on one instance.

use anyhow::Result;
use clap::Args;

use super::args::{one_of, warn_deprecated, LocationArgs};
use crate::tf::{tf_command, Action, TfOptions};

#[derive(Args, Debug)]
pub struct TfArgs {
    #[command(flatten)]
    pub locations: LocationArgs,
    /// plan, apply, destroy or output.
    #[arg(long, value_parser = one_of::<Action>(&Action::NAMES))]
    pub action: Action,
    /// The instance (label or unique short name); optional when the manifest has one.
    #[arg(long, value_name = "INSTANCE")]
    pub only: Option<String>,
    /// Deprecated spelling of --only.
    #[arg(long = "instance", hide = true, conflicts_with = "only")]
    pub deprecated_instance: Option<String>,
    /// Run `terraform init` even when nothing it used changed since the
    /// last one (by default an unchanged instance skips it).
    #[arg(long, env = "FLEET_REINIT")]
    pub reinit: bool,
    /// Extra arguments for terraform, after `--`.
    #[arg(last = true)]
    pub terraform_args: Vec<String>,
}

pub fn run(args: TfArgs) -> Result<i32> {
    if args.deprecated_instance.is_some() {
        warn_deprecated("--instance", "--only");
    }
    tf_command(&TfOptions {
        locations: args.locations.into_locations()?,
        action: args.action,
        instance: args.only.or(args.deprecated_instance),
        reinit: args.reinit,
        terraform_args: args.terraform_args,
    })
}
