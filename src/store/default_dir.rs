//! Where the machine-wide store lives when no `--store` is given: one answer
//! for provider packages and tool bundles alike, so both share one store.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;

/// `$FLEET_STORE`, else `$XDG_CACHE_HOME/rules_fleet/store`, else
/// `~/.cache/rules_fleet/store` (the home directory from the password
/// database when the caller, e.g. a Bazel action, gives no `HOME`).
pub fn default_dir() -> Result<PathBuf> {
    if let Some(store) = non_empty("FLEET_STORE") {
        return Ok(PathBuf::from(store));
    }
    let cache = non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .or_else(|| home_from_passwd().map(|h| h.join(".cache")))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot place the fleet store: no FLEET_STORE, XDG_CACHE_HOME or HOME, \
                 and no home directory for this user"
            )
        })?;
    Ok(cache.join("rules_fleet").join("store"))
}

fn non_empty(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

fn home_from_passwd() -> Option<PathBuf> {
    crate::account::by_uid(unsafe { libc::geteuid() }).and_then(|account| account.home)
}
