//! `fleet extract`: into the shared store (locked, once) or, hermetic, into
//! one directory.

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use super::args::LockTimeoutArg;
use crate::archive::{self, Limits};
use crate::hash;
use crate::store::{Extraction, Store};

#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// The archive: tar, gzip-compressed tar (detected by magic bytes) or zip.
    #[arg(long)]
    pub archive: PathBuf,
    /// Content-addressed store directory (shared, locked).
    #[arg(long, conflicts_with = "out", required_unless_present = "out")]
    pub store: Option<PathBuf>,
    /// Hermetic mode: extract into this empty or missing directory; no store, no lock.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The archive's known sha256: skips hashing on the fast path; checked
    /// before anything is unpacked (exit 5, nothing written).
    #[arg(long)]
    pub sha256: Option<String>,
    /// After success, make this path a symlink to the version (atomically replaced).
    #[arg(long, requires = "store")]
    pub link: Option<PathBuf>,
    /// Re-hash the published tree against its record; a tree that differs
    /// is replaced atomically by a fresh extraction ("repaired": true).
    #[arg(long, requires = "store")]
    pub verify: bool,
    /// Cap on the bytes the archive may unpack to, counted as written (exit 4 past it).
    #[arg(long, env = "FLEET_MAX_UNPACKED_BYTES", default_value_t = archive::DEFAULT_MAX_UNPACKED_BYTES)]
    pub max_unpacked_bytes: u64,
    /// Cap on the number of entries in the archive (exit 4 past it).
    #[arg(long, env = "FLEET_MAX_ENTRIES", default_value_t = archive::DEFAULT_MAX_ENTRIES)]
    pub max_entries: u64,
    #[command(flatten)]
    pub lock_timeout: LockTimeoutArg,
    /// Print one JSON object: path, sha256, h1, extracted, repaired, waited_ms.
    #[arg(long)]
    pub json: bool,
    /// Print nothing on success (build actions: their output is the tree).
    #[arg(long, conflicts_with = "json")]
    pub quiet: bool,
}

pub fn run(args: ExtractArgs) -> Result<()> {
    let limits = Limits {
        max_unpacked_bytes: args.max_unpacked_bytes,
        max_entries: args.max_entries,
    };
    match &args.out {
        Some(out) => extract_hermetic(&args, out, limits),
        None => extract_into_store(&args, limits),
    }
}

fn extract_hermetic(args: &ExtractArgs, out: &PathBuf, limits: Limits) -> Result<()> {
    let expected = args.sha256.as_deref().map(hash::parse_sha256).transpose()?;
    let unpacked = archive::extract_to(&args.archive, out, expected.as_ref(), limits)?;
    let path = fs::canonicalize(out).with_context(|| format!("resolving {}", out.display()))?;
    let result = Extraction {
        path,
        sha256: hex::encode(unpacked.sha256),
        h1: unpacked.h1,
        extracted: true,
        repaired: false,
        waited_ms: 0,
    };
    print_extraction(&result, args)
}

fn extract_into_store(args: &ExtractArgs, limits: Limits) -> Result<()> {
    let started = Instant::now();
    let root = args
        .store
        .as_ref()
        .ok_or_else(|| crate::error::usage("--store or --out is required"))?;
    let store = Store::open(root)?.with_limits(limits);
    let (result, _pin) = store.extract_checked(
        &args.archive,
        args.sha256.as_deref(),
        args.lock_timeout.duration()?,
        args.verify,
    )?;
    if let Some(link) = &args.link {
        store.link(link, &result.path)?;
    }
    if result.extracted && !args.json && !args.quiet {
        let verb = if result.repaired {
            "repaired"
        } else {
            "extracted"
        };
        eprintln!(
            "fleet: {verb} {} into {} in {:.2}s",
            args.archive.display(),
            result.path.display(),
            started.elapsed().as_secs_f64()
        );
    }
    print_extraction(&result, args)
}

fn print_extraction(result: &Extraction, args: &ExtractArgs) -> Result<()> {
    if args.quiet {
        return Ok(());
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string(result).context("encoding result")?
        );
    } else {
        println!("{}", result.path.display());
    }
    Ok(())
}
