//! `fleet provider-package`: the `tf_provider` action that packages a provider binary.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct ProviderPackageArgs {
    /// The provider executable.
    #[arg(long)]
    pub binary: PathBuf,
    /// Its name in the zip: `terraform-provider-<type>_v<version>`.
    #[arg(long)]
    pub entry: String,
    /// The package to write (`terraform-provider-<type>_<version>_<os>_<arch>.zip`).
    #[arg(long)]
    pub zip: PathBuf,
}

pub fn run(args: ProviderPackageArgs) -> Result<i32> {
    crate::provider_package::write_package(&args.binary, &args.entry, &args.zip)?;
    Ok(0)
}
