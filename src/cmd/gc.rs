//! `fleet gc`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::args::DEFAULT_LOCK_TIMEOUT_SECS;
use crate::store::Store;

#[derive(Args, Debug)]
pub struct GcArgs {
    /// The store directory.
    #[arg(long)]
    pub store: PathBuf,
    /// How many of the most recently used versions to keep (linked and in-use ones are always kept).
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
}

pub fn run(args: GcArgs) -> Result<()> {
    let store = Store::open(&args.store)?;
    let report = store.gc(
        args.keep,
        Duration::from_secs_f64(DEFAULT_LOCK_TIMEOUT_SECS),
    )?;
    println!(
        "removed {} version(s), kept {}, removed {} incomplete, swept {} staging dir(s), skipped {} in use",
        report.removed,
        report.kept,
        report.incomplete_removed,
        report.staging_swept,
        report.in_use.len()
    );
    Ok(())
}
