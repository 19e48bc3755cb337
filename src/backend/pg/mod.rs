//! Terraform's `pg` backend, as far as fleet needs to know it: where it
//! connects ([`conn`]), a small client ([`wire`]) and who holds a
//! workspace's lock ([`holder`]).

pub mod conn;
pub mod holder;
mod wire;

use anyhow::Result;

use self::conn::ConnParams;

/// Terraform's default `schema_name`.
pub const DEFAULT_SCHEMA: &str = "terraform_remote_state";

/// Where an instance's pg state lives.
#[derive(Debug)]
pub struct PgLocation {
    /// The connection, unless its string is missing or does not parse.
    pub conn: Result<ConnParams>,
    pub schema: String,
}
