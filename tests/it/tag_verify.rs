//! `fleet tag verify` (the `fleet_verify` action): inputs recorded under
//! their keys, checked against the expected tag, then written as a tag with
//! the same bytes `fleet tag write` gives for files at those keys.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::common::*;

/// Inputs at paths unlike their keys, as Bazel places them.
fn inputs(root: &Path) -> Vec<(String, std::path::PathBuf)> {
    let placed = root.join("bazel-out/k8-fastbuild/bin/pkg");
    fs::create_dir_all(placed.join("sdk/lib")).unwrap();
    fs::write(placed.join("kit.tar"), b"kit").unwrap();
    fs::write(placed.join("sdk/lib/a.so"), b"a").unwrap();
    vec![
        ("kits/kit.tar".to_string(), placed.join("kit.tar")),
        ("sdk".to_string(), placed.join("sdk")),
    ]
}

/// The expected tag as a user writes it: `fleet tag write` in the package, inputs at their keys.
fn expected_tag(root: &Path) -> std::path::PathBuf {
    let package = root.join("package");
    fs::create_dir_all(package.join("kits")).unwrap();
    fs::create_dir_all(package.join("sdk/lib")).unwrap();
    fs::write(package.join("kits/kit.tar"), b"kit").unwrap();
    fs::write(package.join("sdk/lib/a.so"), b"a").unwrap();
    let mut cmd = fleet_cmd([
        "tag",
        "write",
        "--tag",
        "sdk.lock.json",
        "--input",
        "kits/kit.tar",
        "--input",
        "sdk",
    ]);
    cmd.current_dir(&package);
    run(cmd).ok();
    package.join("sdk.lock.json")
}

fn verify(root: &Path, expected: &Path, out: &Path) -> Run {
    let mut cmd = fleet_cmd([
        "tag",
        "verify",
        "--label",
        "//pkg:sdk",
        "--expected-name",
        "sdk.lock.json",
    ]);
    cmd.arg("--expected").arg(expected).arg("--tag").arg(out);
    for (key, path) in inputs(root) {
        cmd.arg("--input").arg(key).arg(path);
    }
    run(cmd)
}

#[test]
fn the_written_tag_has_the_bytes_tag_write_gives_at_the_keys_and_keeps_its_inode() {
    let dir = tempfile::tempdir().unwrap();
    let expected = expected_tag(dir.path());
    let out = dir.path().join("out/sdk.tag.json");
    verify(dir.path(), &expected, &out).ok();
    assert_eq!(fs::read(&out).unwrap(), fs::read(&expected).unwrap());
    let first = fs::metadata(&out).unwrap();
    verify(dir.path(), &expected, &out).ok();
    let second = fs::metadata(&out).unwrap();
    assert_eq!(
        (first.ino(), first.mtime_nsec()),
        (second.ino(), second.mtime_nsec())
    );
}

#[test]
fn a_changed_input_fails_with_exit_5_naming_it_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let expected = expected_tag(dir.path());
    fs::write(dir.path().join("package/kits/kit.tar"), b"other kit").unwrap();
    let mut cmd = fleet_cmd([
        "tag",
        "write",
        "--tag",
        "sdk.lock.json",
        "--input",
        "kits/kit.tar",
        "--input",
        "sdk",
    ]);
    cmd.current_dir(dir.path().join("package"));
    run(cmd).ok();
    let out = dir.path().join("out/sdk.tag.json");
    let result = verify(dir.path(), &expected, &out);
    result.expect(5);
    assert!(
        result.stderr.contains("kits/kit.tar"),
        "{}",
        result.transcript()
    );
    assert!(
        result
            .stderr
            .contains("fleet tag write --tag sdk.lock.json --input kits/kit.tar --input sdk"),
        "{}",
        result.transcript()
    );
    assert!(
        !out.exists(),
        "no tag is written for inputs that do not match"
    );
}
