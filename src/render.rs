//! `fleet render`: an instance tree, the output of a build action: each
//! `(path, file)` pair copied (links followed) to `<out>/<path>`, mode 0644;
//! a later pair for the same path replaces an earlier one.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::usage;

/// Rendered files are data, never executables, whatever their source's mode.
pub const RENDERED_MODE: u32 = 0o644;

/// Renders the tree; `out` is created (Bazel hands an action an empty directory).
pub fn render(out: &Path, files: &[(String, PathBuf)]) -> Result<()> {
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (path, file) in files {
        let rel = Path::new(path);
        if path.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(usage(format!(
                "rendered path {path:?} must be relative, without `.` or `..`"
            )));
        }
        let dest = out.join(rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        if fs::symlink_metadata(&dest).is_ok() {
            fs::remove_file(&dest).with_context(|| format!("replacing {}", dest.display()))?;
        }
        fs::write(&dest, bytes).with_context(|| format!("writing {}", dest.display()))?;
        fs::set_permissions(&dest, fs::Permissions::from_mode(RENDERED_MODE))
            .with_context(|| format!("setting the mode of {}", dest.display()))?;
    }
    Ok(())
}

/// `PATH FILE PATH FILE ...` as pairs.
pub fn pairs(words: &[String]) -> Result<Vec<(String, PathBuf)>> {
    if !words.len().is_multiple_of(2) {
        return Err(usage(format!(
            "render takes PATH FILE pairs; {} word(s) given",
            words.len()
        )));
    }
    Ok(words
        .chunks(2)
        .map(|pair| (pair[0].clone(), PathBuf::from(&pair[1])))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_through_links_with_a_fixed_mode_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("main.tf");
        fs::write(&src, "x").unwrap();
        fs::set_permissions(&src, fs::Permissions::from_mode(0o555)).unwrap();
        let link = dir.path().join("link.tf");
        std::os::unix::fs::symlink(&src, &link).unwrap();
        let out = dir.path().join("out");
        let files = pairs(&[
            "main.tf".into(),
            link.display().to_string(),
            "m/a.tf".into(),
            src.display().to_string(),
        ])
        .unwrap();
        render(&out, &files).unwrap();
        for rel in ["main.tf", "m/a.tf"] {
            let meta = fs::symlink_metadata(out.join(rel)).unwrap();
            assert!(meta.is_file(), "{rel} is a copy, not a link");
            assert_eq!(meta.permissions().mode() & 0o7777, RENDERED_MODE);
        }
        for bad in ["../x", "/abs", "a/../../b", ""] {
            assert!(
                render(&out, &[(bad.to_string(), src.clone())]).is_err(),
                "{bad}"
            );
        }
        assert!(pairs(&["odd".into()]).is_err());
    }
}
