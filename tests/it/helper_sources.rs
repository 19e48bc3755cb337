//! The from-source helper repository (`rules/private/fleet_helper_repository.bzl`)
//! re-runs `cargo build` when a file it resolved through a label changes. It
//! resolves every file of `HELPER_SOURCES` in `rules/private/helper_sources.bzl`,
//! so that list must name every file `cargo build --release` of the helper reads:
//! all of `src/`, the manifest and lock file, and cargo/rustup settings if any.
//! This test fails when the list and the tree differ; regenerate the list with
//! `UPDATE_HELPER_SOURCES=1 cargo test --test it helper_sources`.

use std::fs;
use std::path::{Path, PathBuf};

const LIST: &str = "rules/private/helper_sources.bzl";
const ROOT_FILES: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "build.rs",
    ".cargo/config.toml",
    ".cargo/config",
    "rust-toolchain.toml",
    "rust-toolchain",
];

fn files_under(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(root, &path, found);
        } else {
            let relative = path.strip_prefix(root).expect("under the root");
            found.push(relative.to_string_lossy().into_owned());
        }
    }
}

fn expected_list(root: &Path) -> String {
    let mut files: Vec<String> = ROOT_FILES
        .iter()
        .filter(|name| root.join(name).is_file())
        .map(|name| name.to_string())
        .collect();
    files_under(root, &root.join("src"), &mut files);
    files.sort();
    let mut text = String::from(
        "\"\"\"Every file `cargo build` of the fleet helper reads: the from-source helper repository\n\
         resolves each, so editing one re-runs the build. Generated; tests/it/helper_sources.rs checks it\n\
         (`UPDATE_HELPER_SOURCES=1 cargo test --test it helper_sources` rewrites it).\"\"\"\n\n\
         HELPER_SOURCES = [\n",
    );
    for file in files {
        text.push_str(&format!("    Label(\"//:{file}\"),\n"));
    }
    text.push_str("]\n");
    text
}

#[test]
fn helper_sources_list_names_every_file_cargo_reads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let expected = expected_list(root);
    let list = root.join(LIST);
    if std::env::var_os("UPDATE_HELPER_SOURCES").is_some() {
        fs::write(&list, &expected).expect("writing the list");
    }
    let actual = fs::read_to_string(&list).unwrap_or_default();
    assert!(
        actual == expected,
        "{LIST} is out of date with src/ (a file was added, moved or removed): \
         run `UPDATE_HELPER_SOURCES=1 cargo test --test it helper_sources` and commit it.\n\
         expected:\n{expected}\nfound:\n{actual}"
    );
}

#[test]
fn helper_sources_list_is_read_by_the_repository_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rule = fs::read_to_string(root.join("rules/private/fleet_helper_repository.bzl"))
        .expect("reading the repository rule");
    assert!(
        rule.contains("load(\":helper_sources.bzl\", \"HELPER_SOURCES\")")
            && rule.contains("for source in HELPER_SOURCES"),
        "fleet_helper_repository.bzl no longer resolves HELPER_SOURCES: editing src/ would not rebuild the helper"
    );
}
