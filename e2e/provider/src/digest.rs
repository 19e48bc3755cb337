//! Content digests and record ids.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A fresh id for a created record: unique across processes and calls.
pub fn new_record_id(name: &str) -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let seed = format!(
        "{name}\0{}\0{nanos}\0{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    );
    format!("rec-{}", &sha256_hex(seed.as_bytes())[..16])
}
