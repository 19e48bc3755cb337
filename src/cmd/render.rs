//! `fleet render`: the `tf_instance` action that writes an instance tree.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// The tree to write (a Bazel tree artifact).
    #[arg(long)]
    pub out: PathBuf,
    /// PATH FILE pairs: FILE's bytes at OUT/PATH, mode 0644.
    #[arg(value_name = "PATH FILE", allow_hyphen_values = true)]
    pub pairs: Vec<String>,
}

pub fn run(args: RenderArgs) -> Result<i32> {
    crate::render::render(&args.out, &crate::render::pairs(&args.pairs)?)?;
    Ok(0)
}
