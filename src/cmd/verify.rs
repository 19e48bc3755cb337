//! `fleet verify`: re-hashes every version of a store against its record.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::LockTimeoutArg;
use crate::error::mismatch;
use crate::store::Store;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The store directory.
    #[arg(long)]
    pub store: PathBuf,
    #[command(flatten)]
    pub lock_timeout: LockTimeoutArg,
}

pub fn run(args: VerifyArgs) -> Result<()> {
    let store = Store::open(&args.store)?;
    let results = store.verify_all(args.lock_timeout.duration()?)?;
    let mut bad = Vec::new();
    for (digest, problems) in &results {
        let dir = store.version_path(digest);
        if problems.is_empty() {
            println!("ok {}", dir.display());
            continue;
        }
        println!("MISMATCH {}", dir.display());
        for problem in problems.iter().take(50) {
            println!("  {problem}");
        }
        if problems.len() > 50 {
            println!("  ... and {} more", problems.len() - 50);
        }
        bad.push(dir.display().to_string());
    }
    if bad.is_empty() {
        return Ok(());
    }
    Err(mismatch(format!(
        "{} of {} version(s) do not match their record: {}; `fleet extract --verify` re-extracts one",
        bad.len(),
        results.len(),
        bad.join(", ")
    )))
}
