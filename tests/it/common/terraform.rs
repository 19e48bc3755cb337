//! The terraform the tests run: `$TERRAFORM`, else the first `terraform` on PATH.

use std::path::PathBuf;

pub fn terraform() -> PathBuf {
    if let Some(path) = std::env::var_os("TERRAFORM").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("terraform"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("terraform is needed: set TERRAFORM or put it on PATH"))
}
