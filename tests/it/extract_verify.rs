//! A published tree is re-checked on demand (issue 9, item 4): tampering
//! with it (as someone with write access would: chmod u+w, then edit) is
//! found by `fleet verify --store` (exit 5, naming the version and the file)
//! and repaired by `fleet extract --verify` (a fresh extraction swapped in).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::*;

/// A file of the fixture that has content (generate_files: i % 10 >= 2).
const VICTIM: &str = "d02/s2/f0002.bin";

struct Published {
    scratch: Scratch,
    fx: Fixture,
    store: PathBuf,
    tree: PathBuf,
}

fn publish(label: &str) -> Published {
    let scratch = Scratch::new(label);
    let fx = write_fixture(&scratch.join("tools.tar.gz"), 21, 40, 200_000, 50);
    let store = scratch.join("store");
    let v = extract_json(&fx.path, &store, &[]);
    let tree = json_path(&v);
    Published {
        scratch,
        fx,
        store,
        tree,
    }
}

fn add_owner_write(path: &Path) {
    let mode = fs::symlink_metadata(path)
        .expect("stat")
        .permissions()
        .mode();
    fs::set_permissions(path, fs::Permissions::from_mode(mode | 0o200)).expect("chmod u+w");
}

fn verify_store(store: &Path) -> Run {
    fleet(["verify".as_ref(), "--store".as_ref(), store.as_os_str()])
}

/// `fleet verify` finds the tampering, `extract --verify` repairs it, and
/// afterwards the tree is whole again and `fleet verify` passes.
fn detect_and_repair(p: &Published, what: &str, names: &str) {
    let r = verify_store(&p.store);
    assert_eq!(r.code(), 5, "{what}: fleet verify\n{}", r.transcript());
    let said = format!("{}{}", r.stdout, r.stderr);
    assert_mentions(
        &said,
        &p.tree.display().to_string(),
        "names the version dir",
    );
    assert_mentions(&said, names, "names the file");

    let v = extract_json(&p.fx.path, &p.store, &["--verify"]);
    assert_eq!(v["repaired"], true, "{what}: {v}");
    assert_eq!(v["h1"], p.fx.h1.as_str());
    assert_eq!(json_path(&v), p.tree);
    assert_eq!(h1_of_dir(&p.tree), p.fx.h1, "{what}: repaired tree");
    for (path, (mode, kind)) in modes(&p.tree) {
        assert_eq!(
            mode & 0o222,
            0,
            "{what}: {kind} {path:?} writable after repair"
        );
    }
    verify_store(&p.store).ok();
    let v = extract_json(&p.fx.path, &p.store, &["--verify"]);
    assert_eq!(v["repaired"], false, "{what}: second --verify: {v}");
    assert_store_clean(&p.store, &[&p.fx.sha256]);
}

#[test]
fn an_untouched_store_verifies() {
    let p = publish("verify-ok");
    let r = verify_store(&p.store);
    r.ok();
    assert_mentions(&r.stdout, &p.fx.sha256, "reports each version");
    let v = extract_json(
        &p.fx.path,
        &p.store,
        &["--verify", "--sha256", &p.fx.sha256],
    );
    assert_eq!(v["repaired"], false);
    assert_eq!(v["extracted"], false);
}

#[test]
fn an_edited_file_is_detected_and_repaired() {
    let p = publish("verify-edit");
    let victim = p.tree.join(VICTIM);
    add_owner_write(&victim);
    let mut bytes = fs::read(&victim).expect("read victim");
    bytes[0] ^= 0x20;
    fs::write(&victim, bytes).expect("edit victim");
    detect_and_repair(&p, "edited file", VICTIM);
}

#[test]
fn an_added_file_is_detected_and_repaired() {
    let p = publish("verify-add");
    let dir = p.tree.join("d02");
    add_owner_write(&dir);
    fs::write(dir.join("planted.sh"), b"#!/bin/sh\necho owned\n").expect("plant");
    detect_and_repair(&p, "added file", "d02/planted.sh");
    assert!(!dir.join("planted.sh").exists());
}

#[test]
fn a_file_replaced_by_a_symlink_to_the_same_bytes_is_detected_and_repaired() {
    let p = publish("verify-symlink");
    let victim = p.tree.join(VICTIM);
    // Same bytes, so the h1 alone does not change: only the tree's shape does.
    let outside = p
        .scratch
        .write("outside-copy", fs::read(&victim).expect("read victim"));
    add_owner_write(victim.parent().expect("parent"));
    fs::remove_file(&victim).expect("remove victim");
    std::os::unix::fs::symlink(&outside, &victim).expect("plant symlink");
    assert_eq!(h1_of_dir(&p.tree), p.fx.h1, "the h1 cannot see this one");
    detect_and_repair(&p, "file replaced by a symlink", VICTIM);
    assert!(fs::symlink_metadata(&victim).expect("stat").is_file());
}

#[test]
fn verify_checks_every_version_and_names_only_the_bad_one() {
    let p = publish("verify-many");
    let other = write_fixture(&p.scratch.join("other.tar.gz"), 22, 10, 50_000, 50);
    let good = json_path(&extract_json(&other.path, &p.store, &[]));
    let victim = p.tree.join(VICTIM);
    add_owner_write(&victim);
    fs::write(&victim, b"replaced\n").expect("edit");
    let r = verify_store(&p.store);
    assert_eq!(r.code(), 5, "{}", r.transcript());
    assert_mentions(&r.stdout, &other.sha256, "reports the good version");
    let bad_lines: Vec<&str> = r
        .stdout
        .lines()
        .chain(r.stderr.lines())
        .filter(|l| l.contains(&good.display().to_string()))
        .filter(|l| !l.starts_with("ok"))
        .collect();
    assert!(
        bad_lines.is_empty(),
        "the good version was blamed: {bad_lines:?}"
    );
    assert_mentions(
        &format!("{}{}", r.stdout, r.stderr),
        VICTIM,
        "names the file",
    );
}

#[test]
fn racing_verifiers_repair_a_tampered_tree_exactly_once() {
    const RACERS: usize = 8;
    let p = publish("verify-race");
    let victim = p.tree.join(VICTIM);
    add_owner_write(&victim);
    fs::write(&victim, b"tampered\n").expect("edit");
    let children: Vec<_> = (0..RACERS)
        .map(|_| {
            fleet_cmd([
                "extract",
                "--verify",
                "--json",
                "--lock-timeout",
                "120",
                "--archive",
            ])
            .arg(&p.fx.path)
            .arg("--store")
            .arg(&p.store)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn fleet")
        })
        .collect();
    let mut repaired = 0;
    for child in children {
        let out = child.wait_with_output().expect("wait fleet");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a racer failed: {stderr}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["h1"], p.fx.h1.as_str());
        if v["repaired"] == true {
            repaired += 1;
        }
    }
    assert_eq!(
        repaired, 1,
        "{RACERS} racers: the tree must be repaired once"
    );
    assert_eq!(h1_of_dir(&p.tree), p.fx.h1);
    verify_store(&p.store).ok();
    assert_store_clean(&p.store, &[&p.fx.sha256]);
}

/// Readers of the published path while `--verify` swaps the tree never
/// fail: the path always names a whole tree, the tampered one or the
/// repaired one (RENAME_EXCHANGE, no moment without a tree).
#[test]
fn readers_never_miss_the_tree_while_it_is_repaired() {
    const READERS: usize = 3;
    let p = publish("verify-readers");
    let victim = p.tree.join(VICTIM);
    let original = p
        .scratch
        .write("original", fs::read(&victim).expect("read"));
    add_owner_write(&victim);
    fs::write(&victim, b"tampered\n").expect("edit");
    let tampered = p.scratch.write("tampered", b"tampered\n");
    let stop = p.scratch.join("stop");
    let script = r#"
        copy="$4.copy"; n=0
        while [ ! -e "$3" ]; do
            cat "$0" > "$copy" || { echo "read failed after $n reads"; exit 1; }
            cmp -s "$copy" "$1" || cmp -s "$copy" "$2" || { echo "torn content"; exit 1; }
            n=$((n+1)); [ "$n" = 1 ] && : > "$4"
        done
        echo "$n"
    "#;
    let readers: Vec<_> = (0..READERS)
        .map(|i| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .arg(&victim)
                .arg(&original)
                .arg(&tampered)
                .arg(&stop)
                .arg(p.scratch.join(format!("started-{i}")))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("spawn reader")
        })
        .collect();
    for i in 0..READERS {
        let started = p.scratch.join(format!("started-{i}"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !started.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "reader {i} never read"
            );
            std::thread::yield_now();
        }
    }
    let v = extract_json(&p.fx.path, &p.store, &["--verify"]);
    fs::write(&stop, b"").expect("stop readers");
    assert_eq!(v["repaired"], true);
    for reader in readers {
        let out = reader.wait_with_output().expect("wait reader");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "a reader failed: {said}");
    }
    assert_eq!(
        fs::read(&victim).expect("read"),
        fs::read(&original).expect("read")
    );
}
