//! `fleet check`: the build-time check of one instance (or one component).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{one_of, parse_path_pair};
use crate::check::{check_command, CheckOptions, Mode};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The terraform (or tofu) executable.
    #[arg(long)]
    pub terraform: PathBuf,
    /// The rendered tree to check (copied; never written to).
    #[arg(long)]
    pub tree: Option<PathBuf>,
    /// PATH=FILE: put FILE at PATH in the copy (after --tree).
    #[arg(long = "file", value_parser = parse_path_pair)]
    pub files: Vec<(String, PathBuf)>,
    /// Label of what is checked (an instance, or the component for `validate`).
    #[arg(long)]
    pub label: String,
    /// Label of the component, for the failure message.
    #[arg(long, default_value = "")]
    pub component: String,
    /// Where to write the JSON result.
    #[arg(long)]
    pub out: PathBuf,
    /// plan (mock providers) or validate.
    #[arg(long, value_parser = one_of::<Mode>(&Mode::NAMES), default_value = "plan")]
    pub mode: Mode,
    /// SLOT=DIR: a provider package `<host>/<namespace>/<type>/<version>/<os>_<arch>` unpacked in DIR.
    #[arg(long = "plugin", value_parser = parse_path_pair)]
    pub plugins: Vec<(String, PathBuf)>,
    /// NAME=FILE: a `.tfmock.hcl` file for the mock of provider NAME (every alias).
    #[arg(long = "mocks", value_parser = parse_path_pair)]
    pub mocks: Vec<(String, PathBuf)>,
    /// PATH=ORIGIN: name the tree's PATH as ORIGIN in messages and the result.
    #[arg(long = "source", value_parser = parse_path_pair)]
    pub sources: Vec<(String, PathBuf)>,
    /// Label of the component's `.lock` target, named when the lock file falls short.
    #[arg(long, default_value = "")]
    pub lock_target: String,
    /// The instance's workspace: `terraform.workspace` in the plan.
    #[arg(long)]
    pub workspace: Option<String>,
    /// A JSON object of the instance's `TF_VAR_*` environment, given to the plan.
    #[arg(long)]
    pub env_file: Option<PathBuf>,
}

pub fn run(args: CheckArgs) -> Result<i32> {
    check_command(&CheckOptions {
        terraform: args.terraform,
        tree: args.tree,
        files: args.files,
        label: args.label,
        component: args.component,
        out: args.out,
        mode: args.mode,
        plugins: args.plugins,
        mocks: args.mocks,
        sources: args.sources,
        lock_file_target: args.lock_target,
        workspace: args.workspace,
        env_file: args.env_file,
    })
}
