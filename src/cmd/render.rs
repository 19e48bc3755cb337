//! `fleet render`: the `tf_instance` action that writes an instance tree,
//! and checks that every variable the instance sets is declared.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::parse_key_value;
use crate::check::undeclared::{check_names, NamesCheck};
use crate::error::ExitCode;

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// The tree to write (a Bazel tree artifact).
    #[arg(long)]
    pub out: PathBuf,
    /// The instance's label: with it, every variable the instance sets must be
    /// declared by the rendered root module (exit 5 naming the first misfits).
    #[arg(long)]
    pub label: Option<String>,
    /// The component's label, for the message.
    #[arg(long, default_value = "")]
    pub component: String,
    /// PATH=SOURCE: a values file of the instance at PATH in the tree, named SOURCE in messages.
    #[arg(long = "values", value_parser = parse_key_value)]
    pub values: Vec<(String, String)>,
    /// NAME=SOURCE: a variable the instance sets another way (`secret_env`, `inputs_from`, `env`).
    #[arg(long = "sets", value_parser = parse_key_value)]
    pub sets: Vec<(String, String)>,
    /// PATH FILE pairs: FILE's bytes at OUT/PATH, mode 0644.
    #[arg(value_name = "PATH FILE", allow_hyphen_values = true)]
    pub pairs: Vec<String>,
}

pub fn run(args: RenderArgs) -> Result<i32> {
    crate::render::render(&args.out, &crate::render::pairs(&args.pairs)?)?;
    let Some(label) = &args.label else {
        return Ok(0);
    };
    let check = NamesCheck {
        tree: &args.out,
        label,
        component: &args.component,
        values: &args.values,
        sets: &args.sets,
    };
    match check_names(&check)? {
        None => Ok(0),
        Some(text) => {
            eprint!("{text}");
            Ok(ExitCode::Mismatch as i32)
        }
    }
}
