//! `fleet hash`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::one_of;
use crate::hash::{hash_path, Format};

#[derive(Args, Debug)]
pub struct HashArgs {
    /// File or directory.
    pub path: PathBuf,
    /// h1 (default for directories and zips), sha256 (default for other files) or zh.
    #[arg(long, value_parser = one_of::<Format>(&Format::NAMES))]
    pub format: Option<Format>,
}

pub fn run(args: HashArgs) -> Result<()> {
    println!("{}", hash_path(&args.path, args.format)?);
    Ok(())
}
