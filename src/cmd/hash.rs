//! `fleet hash`.

use std::path::PathBuf;

use anyhow::{Context, Result};
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
    /// Write the hash and a newline to this file (replaced atomically) instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: HashArgs) -> Result<()> {
    let hash = hash_path(&args.path, args.format)?;
    match &args.out {
        Some(out) => crate::fsutil::replace_file(
            out,
            format!("{hash}\n").as_bytes(),
            crate::fsutil::Replace::QUICK,
        )
        .with_context(|| format!("writing the hash to {}", out.display())),
        None => {
            println!("{hash}");
            Ok(())
        }
    }
}
