//! Verification tags: untouched when their content would not change,
//! replaced atomically when it does, always parseable under 32 racing writers.

use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crate::common::*;

fn tag_args(action: &str, tag: &Path, inputs: &[&Path], sets: &[&str]) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["tag".into(), action.into(), "--tag".into(), tag.into()];
    for i in inputs {
        a.push("--input".into());
        a.push(i.into());
    }
    for s in sets {
        a.push("--set".into());
        a.push(s.into());
    }
    a
}

fn tag(action: &str, tag: &Path, inputs: &[&Path], sets: &[&str]) -> Run {
    fleet(tag_args(action, tag, inputs, sets))
}

/// Sets a file's access and modification time to a fixed instant long ago.
fn set_old_mtime(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).expect("path");
    let t = libc::timespec {
        tv_sec: 978_307_200,
        tv_nsec: 123_456_789,
    };
    // SAFETY: valid C string and two timespecs.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), [t, t].as_ptr(), 0) };
    assert_eq!(rc, 0, "utimensat: {}", std::io::Error::last_os_error());
}

#[derive(Debug, PartialEq)]
struct Identity {
    ino: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    bytes: Vec<u8>,
}

fn identity(path: &Path) -> Identity {
    let m = fs::metadata(path).expect("stat tag");
    Identity {
        ino: m.ino(),
        mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        ctime_ns: m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128,
        bytes: fs::read(path).expect("read tag"),
    }
}

struct Inputs {
    s: Scratch,
    file: PathBuf,
    dir: PathBuf,
    tag: PathBuf,
}

fn inputs(label: &str) -> Inputs {
    let s = Scratch::new(label);
    let file = s.write("in/Twoliter.lock", b"schema-version = 1\n");
    s.write("in/tools/bin/tool", b"#!/bin/sh\n");
    s.write("in/tools/Makefile.toml", b"[env]\n");
    let dir = s.join("in/tools");
    let tag = s.join("build/external-kits/.sdk-verified");
    Inputs { s, file, dir, tag }
}

#[test]
fn identical_content_keeps_inode_mtime_and_ctime() {
    let t = inputs("tag-same");
    let (f, d) = (t.file.as_path(), t.dir.as_path());
    assert_eq!(
        tag("write", &t.tag, &[f, d], &["sdk=v0.50.1", "arch=x86_64"])
            .ok()
            .line(),
        "updated"
    );

    // The tag records what it claims: the file's sha256, the directory's h1, the values.
    let text = fs::read_to_string(&t.tag).expect("read tag");
    let json: serde_json::Value = serde_json::from_str(&text).expect("tag is JSON");
    assert_mentions(
        &text,
        &sha256_hex(&fs::read(f).expect("read input")),
        "file digest",
    );
    assert_mentions(&text, &h1_of_dir(d), "directory h1");
    assert_mentions(&text, "v0.50.1", "value");
    assert!(json.is_object());

    // An old mtime makes any rewrite visible, even within one clock tick.
    set_old_mtime(&t.tag);
    let before = identity(&t.tag);
    // Same inputs, values given in another order: same canonical bytes.
    assert_eq!(
        tag("write", &t.tag, &[f, d], &["arch=x86_64", "sdk=v0.50.1"])
            .ok()
            .line(),
        "unchanged"
    );
    assert_eq!(
        identity(&t.tag),
        before,
        "an unchanged tag must not be touched"
    );
    tag("check", &t.tag, &[f, d], &["sdk=v0.50.1", "arch=x86_64"]).ok();
    assert_eq!(identity(&t.tag), before, "check must not touch the tag");
}

#[test]
fn a_changed_input_updates_the_tag_and_check_names_what_changed() {
    let t = inputs("tag-changed");
    let (f, d) = (t.file.as_path(), t.dir.as_path());
    let sets = ["sdk=v0.50.1"];
    tag("write", &t.tag, &[f, d], &sets).ok();
    tag("check", &t.tag, &[f, d], &sets).ok();

    fs::write(f, b"schema-version = 2\n").expect("change file input");
    let r = tag("check", &t.tag, &[f, d], &sets);
    r.expect(5);
    assert_mentions(
        &r.stderr,
        &f.display().to_string(),
        "check names the changed file",
    );

    set_old_mtime(&t.tag);
    let before = identity(&t.tag);
    assert_eq!(tag("write", &t.tag, &[f, d], &sets).ok().line(), "updated");
    let after = identity(&t.tag);
    assert_ne!(after.bytes, before.bytes);
    assert_ne!(after.mtime_ns, before.mtime_ns);
    tag("check", &t.tag, &[f, d], &sets).ok();

    t.s.write("in/tools/bin/new-tool", b"new\n");
    let r = tag("check", &t.tag, &[f, d], &sets);
    r.expect(5);
    assert_mentions(
        &r.stderr,
        &d.display().to_string(),
        "check names the changed directory",
    );

    tag("write", &t.tag, &[f, d], &sets).ok();
    let r = tag("check", &t.tag, &[f, d], &["sdk=v0.51.0"]);
    r.expect(5);
    assert_mentions(&r.stderr, "sdk", "check names the changed value");
}

#[test]
fn a_tag_that_does_not_parse_fails_check_with_4_and_is_rewritten_by_write() {
    let t = inputs("tag-garbage");
    let f = t.file.as_path();
    tag("write", &t.tag, &[f], &["k=v"]).ok();
    let good = fs::read(&t.tag).expect("read tag");
    for bad in [
        b"{not json".to_vec(),
        good[..good.len() / 2].to_vec(),
        Vec::new(),
        b"[1, 2, 3]\n".to_vec(),
    ] {
        fs::write(&t.tag, &bad).expect("corrupt tag");
        let r = tag("check", &t.tag, &[f], &["k=v"]);
        r.expect(4);
        assert_mentions(&r.stderr, &t.tag.display().to_string(), "names the tag");
    }
    assert_eq!(tag("write", &t.tag, &[f], &["k=v"]).ok().line(), "updated");
    assert_eq!(fs::read(&t.tag).expect("read tag"), good);
    tag("check", &t.tag, &[f], &["k=v"]).ok();
}

const WRITERS: usize = 32;
const ROUNDS: usize = 4;

#[test]
fn thirty_two_concurrent_writers_leave_one_whole_tag() {
    let t = inputs("tag-race");
    let f = t.file.as_path();
    let sets: Vec<String> = (0..WRITERS).map(|i| format!("v={i}")).collect();

    // What each writer alone would produce, from the same arguments.
    let mut expected: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for (i, set) in sets.iter().enumerate() {
        let alone = t.s.join(format!("alone/{i}/.sdk-verified"));
        tag("write", &alone, &[f], &[set]).ok();
        expected.insert(fs::read(&alone).expect("read"), i);
    }
    assert_eq!(
        expected.len(),
        WRITERS,
        "every writer's content is distinct"
    );
    let initial_set = "v=initial";
    tag("write", &t.tag, &[f], &[initial_set]).ok();
    let initial = fs::read(&t.tag).expect("read");
    let allowed: Arc<BTreeMap<Vec<u8>, usize>> = Arc::new(expected.clone());

    for round in 0..ROUNDS {
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (path, done, allowed, initial) = (
                t.tag.clone(),
                done.clone(),
                allowed.clone(),
                initial.clone(),
            );
            thread::spawn(move || {
                let mut reads = 0u64;
                // At least one read even if the writers are done first.
                while reads == 0 || !done.load(Ordering::SeqCst) {
                    let bytes = fs::read(&path)
                        .unwrap_or_else(|e| panic!("read {} failed: {e}", path.display()));
                    serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_else(|e| {
                        panic!(
                            "tag does not parse ({e}): {:?}",
                            String::from_utf8_lossy(&bytes)
                        )
                    });
                    assert!(
                        bytes == initial || allowed.contains_key(&bytes),
                        "tag holds content no writer wrote: {:?}",
                        String::from_utf8_lossy(&bytes)
                    );
                    reads += 1;
                }
                reads
            })
        };
        let children: Vec<Child> = sets
            .iter()
            .map(|set| {
                fleet_cmd(tag_args("write", &t.tag, &[f], &[set]))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn writer")
            })
            .collect();
        for (i, c) in children.into_iter().enumerate() {
            let r = Run::from_output(
                format!("writer {i}"),
                c.wait_with_output().expect("wait"),
                Default::default(),
            );
            r.ok();
            assert!(
                ["updated", "unchanged"].contains(&r.line().as_str()),
                "{}",
                r.transcript()
            );
        }
        done.store(true, Ordering::SeqCst);
        let reads = reader.join().expect("reader saw a torn or foreign tag");
        let bytes = fs::read(&t.tag).expect("read");
        let winner = *expected.get(&bytes).unwrap_or_else(|| {
            panic!(
                "round {round}: final tag is nobody's: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        eprintln!("round {round}: writer {winner} won; {reads} reads during the race");
        tag("check", &t.tag, &[f], &[&sets[winner]]).ok();
        assert_eq!(
            tag("write", &t.tag, &[f], &[initial_set]).ok().line(),
            "updated"
        );
    }
    let leftovers: Vec<_> = fs::read_dir(t.tag.parent().expect("parent"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files left beside the tag: {leftovers:?}"
    );
}
