//! A store shared by two users: a second user (nobody) reuses what root
//! published and publishes new versions, in a setgid group-writable store
//! and in a world-writable sticky one; tags one user wrote read for the other.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;

use crate::common::*;

const NOBODY: u32 = 65534;

/// `fleet ARGS` run as uid/gid nobody, no supplementary groups.
fn fleet_as_nobody<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = fleet_cmd(args);
    cmd.uid(NOBODY).gid(NOBODY);
    run(cmd)
}

fn extract_args<'a>(archive: &'a Path, store: &'a Path) -> Vec<&'a OsStr> {
    vec![
        "extract".as_ref(),
        "--archive".as_ref(),
        archive.as_os_str(),
        "--store".as_ref(),
        store.as_os_str(),
        "--json".as_ref(),
        "--lock-timeout".as_ref(),
        "10".as_ref(),
    ]
}

/// A scratch directory nobody can traverse, with two archives in it.
fn setup(label: &str) -> (Scratch, Fixture, Fixture) {
    let s = Scratch::new(label);
    fs::set_permissions(s.path(), fs::Permissions::from_mode(0o755)).expect("chmod scratch");
    let a = write_fixture(&s.join("a.tar.gz"), 0x5A, 20, 100_000, 50);
    let b = write_fixture(&s.join("b.tar.gz"), 0x5B, 20, 100_000, 50);
    (s, a, b)
}

/// Root fills the store with `a`; nobody reuses `a` and publishes `b`;
/// root then reuses `b`.
fn two_users_share(store: &Path, a: &Fixture, b: &Fixture) {
    assert_eq!(
        fleet(extract_args(&a.path, store)).ok().json()["extracted"],
        true
    );
    let r = fleet_as_nobody(extract_args(&a.path, store));
    assert_eq!(r.ok().json()["extracted"], false, "{}", r.transcript());
    assert_eq!(r.json()["h1"], a.h1.as_str());
    let r = fleet_as_nobody(extract_args(&b.path, store));
    assert_eq!(r.ok().json()["extracted"], true, "{}", r.transcript());
    let r = fleet(extract_args(&b.path, store));
    assert_eq!(r.ok().json()["extracted"], false, "{}", r.transcript());
    assert_eq!(r.json()["h1"], b.h1.as_str());
    // With --sha256 (no digest index involved) too.
    let mut args = extract_args(&a.path, store);
    args.extend(["--sha256".as_ref(), OsStr::new(a.sha256.as_str())]);
    fleet_as_nobody(args).ok();
}

#[test]
fn a_setgid_group_writable_store_serves_a_second_user() {
    let (s, a, b) = setup("shared-setgid");
    let store = s.join("store");
    fs::create_dir(&store).expect("mkdir store");
    chown(&store, Some(0), Some(NOBODY)).expect("chgrp store");
    fs::set_permissions(&store, fs::Permissions::from_mode(0o2775)).expect("chmod store");
    two_users_share(&store, &a, &b);
}

#[test]
fn a_sticky_world_writable_store_serves_a_second_user() {
    let (s, a, b) = setup("shared-sticky");
    let store = s.join("store");
    fs::create_dir(&store).expect("mkdir store");
    fs::set_permissions(&store, fs::Permissions::from_mode(0o1777)).expect("chmod store");
    two_users_share(&store, &a, &b);
}

#[test]
fn a_tag_written_by_one_user_is_checked_and_kept_by_another() {
    let (s, a, _) = setup("shared-tag");
    let dir = s.join("tags");
    fs::create_dir(&dir).expect("mkdir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).expect("chmod");
    let tag = dir.join("t.json");
    let args = |action: &str| -> Vec<std::ffi::OsString> {
        vec![
            "tag".into(),
            action.into(),
            "--tag".into(),
            tag.clone().into(),
            "--input".into(),
            a.path.clone().into(),
            "--set".into(),
            "k=v".into(),
        ]
    };
    assert_eq!(fleet(args("write")).ok().line(), "updated");
    fleet_as_nobody(args("check")).ok();
    assert_eq!(fleet_as_nobody(args("write")).ok().line(), "unchanged");
}
