//! Hostile and broken archives are refused with exit 4 and change nothing:
//! not the canary beside the store, not the store, not anything around it.
//! Also: dropped mode bits, read-only trees, digest checks, gzip by magic.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::*;

/// The scene: `outer/canary/` (must stay untouched), `outer/archives/`,
/// `outer/l1/l2/store/` (deep, so `..` chains of any plausible depth land in
/// `outer`), seeded with one valid version.
struct Scene {
    _scratch: Scratch,
    outer: PathBuf,
    canary: PathBuf,
    store: PathBuf,
    valid_sha: String,
}

impl Scene {
    fn new(label: &str) -> Scene {
        let scratch = Scratch::new(label);
        let outer = scratch.mkdir("outer");
        let canary = outer.join("canary");
        fs::create_dir_all(canary.join("sub")).expect("mkdir canary");
        fs::write(canary.join("secret.txt"), b"do not touch\n").expect("write canary");
        fs::write(canary.join("sub/x"), b"x\n").expect("write canary");
        fs::create_dir_all(outer.join("archives")).expect("mkdir archives");
        let store = outer.join("l1/l2/store");
        let valid = write_fixture(&outer.join("archives/valid.tar.gz"), 7, 12, 40_000, 50);
        let v = extract_json(&valid.path, &store, &[]);
        assert_eq!(v["h1"], valid.h1.as_str());
        Scene {
            _scratch: scratch,
            outer,
            canary,
            store,
            valid_sha: valid.sha256,
        }
    }

    fn archive(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.outer.join("archives").join(name);
        fs::write(&p, bytes).expect("write archive");
        p
    }
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
}

fn case(name: &'static str, bytes: Vec<u8>) -> Case {
    Case { name, bytes }
}

fn tar(build: impl FnOnce(&mut Tar)) -> Vec<u8> {
    let mut t = Tar::new();
    build(&mut t);
    t.finish()
}

fn valid_tar() -> Tar {
    let mut t = Tar::new();
    t.dir("bin/");
    t.file_mode("bin/tool", &vec![b'#'; 3000], 0o755);
    t.file("README", b"readme\n");
    t.file("data.bin", &vec![7u8; 20_000]);
    t
}

/// The corpus: every entry is refused by a safe extractor.
fn corpus(outer: &Path) -> Vec<Case> {
    let canary = outer.join("canary");
    let abs = |rel: &str| format!("{}/{rel}", canary.display()).into_bytes();
    let valid_gz = gzip(&valid_tar().finish());

    let mut bad_checksum = valid_tar();
    let first_checksum = 148..156;
    bad_checksum.bytes[first_checksum].copy_from_slice(b"0000000\0");
    let mut bad_crc = valid_gz.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0x55;
    let mut bad_data = valid_gz.clone();
    let mid = bad_data.len() / 2;
    bad_data[mid] ^= 0xff;
    bad_data[mid + 1] ^= 0xa5;
    let mut mid_entry = valid_tar();
    let cut = 512 + 512 + 1500; // dir header, tool header, half of tool's data
    mid_entry.bytes.truncate(cut);
    let mut garbage = vec![0u8; 10_000];
    Rng::new(99).fill(&mut garbage);
    garbage[0] = b'G';

    vec![
        case(
            "dotdot.tar",
            tar(|t| {
                for depth in 1..=6 {
                    t.file(format!("{}pwned-{depth}", "../".repeat(depth)), b"pwned\n");
                }
            }),
        ),
        case(
            "dotdot.tar.gz",
            gzip(&tar(|t| {
                t.file("ok.txt", b"fine\n");
                t.file("../../../../canary/pwned-gz", b"pwned\n");
            })),
        ),
        case(
            "dot-slash-dotdot.tar",
            tar(|t| {
                t.file("./../pwned", b"pwned\n");
            }),
        ),
        case(
            "absolute.tar",
            tar(|t| {
                t.file(abs("abs-pwned"), b"pwned\n");
            }),
        ),
        case(
            "inner-dotdot.tar",
            tar(|t| {
                t.dir("a/");
                t.file("a/../../x", b"pwned\n");
                t.file("a/../../../../canary/pwned", b"pwned\n");
            }),
        ),
        case(
            "symlink-absolute.tar",
            tar(|t| {
                t.symlink("evil", abs(""));
            }),
        ),
        case(
            "symlink-dotdot.tar",
            tar(|t| {
                t.dir("sub/");
                t.symlink("sub/evil", "../../..");
            }),
        ),
        case(
            "symlink-dir-then-file.tar",
            tar(|t| {
                t.dir("sub/");
                t.symlink("link", "sub");
                t.file("link/pwned", b"written through a symlink\n");
            }),
        ),
        case(
            "symlink-chain-escape.tar",
            tar(|t| {
                t.symlink("a", ".");
                t.symlink("a/b", "..");
                t.file("a/b/pwned", b"pwned\n");
            }),
        ),
        case(
            "symlink-absolute-then-file.tar",
            tar(|t| {
                t.symlink("out", abs(""));
                t.file("out/pwned-through-link", b"pwned\n");
            }),
        ),
        // Links that stay inside the tree as text but leave it on disk,
        // because the path they go through is itself a link (issue 9).
        case(
            "symlink-chain-dot-passwd.tar",
            tar(|t| {
                t.symlink("l", ".");
                let up = format!("{}{}etc/passwd", "l/".repeat(12), "../".repeat(12));
                t.symlink("passwd", up);
            }),
        ),
        case(
            "symlink-chain-dir-link-up.tar",
            tar(|t| {
                t.dir("d/");
                t.symlink("d/l", "..");
                t.symlink("up", "d/l/..");
            }),
        ),
        case(
            "symlink-chain-sibling-dot.tar",
            tar(|t| {
                t.dir("x/");
                t.symlink("x/b", ".");
                t.symlink("x/a", "b/../..");
            }),
        ),
        case(
            "symlink-chain-top-dot.tar",
            tar(|t| {
                t.symlink("b", ".");
                t.symlink("a", "b/../..");
            }),
        ),
        case(
            "symlink-through-link-created-later.tar",
            tar(|t| {
                t.dir("d/");
                t.symlink("d/up", "x/../..");
                t.file("d/ok.txt", b"fine\n");
                t.symlink("d/x", ".");
            }),
        ),
        case(
            "symlink-later-link-under-earlier-target.tar",
            tar(|t| {
                t.symlink("up", "d/l/../../canary");
                t.dir("d/");
                t.symlink("d/l", "..");
            }),
        ),
        case(
            "symlink-chain-two-hops.tar",
            tar(|t| {
                t.dir("a/b/");
                t.symlink("a/b/top", "../..");
                t.symlink("a/t", "b/top");
                t.symlink("esc", "a/t/..");
            }),
        ),
        case(
            "symlink-loop.tar",
            tar(|t| {
                t.symlink("a", "b");
                t.symlink("b", "a");
            }),
        ),
        case(
            "symlink-replaced-by-later-entry.tar",
            tar(|t| {
                t.dir("sub/");
                t.symlink("l", "sub");
                t.symlink("l", "../../../../canary");
            }),
        ),
        case(
            "hardlink-to-symlink.tar",
            tar(|t| {
                t.file("README", b"readme\n");
                t.symlink("l", "README");
                t.hardlink("h", "l");
            }),
        ),
        case(
            "hardlink-through-dir-link.tar",
            tar(|t| {
                t.file("f", b"file\n");
                t.symlink("a", ".");
                t.hardlink("h", "a/f");
            }),
        ),
        case(
            "file-through-inner-dir-link.tar",
            tar(|t| {
                t.dir("d/e/");
                t.symlink("d/e/up", "..");
                t.file("d/e/up/pwned", b"written through a symlink\n");
            }),
        ),
        case(
            "hardlink-dotdot.tar",
            tar(|t| {
                t.file("ok.txt", b"fine\n");
                t.hardlink("h", "../../../../canary/secret.txt");
            }),
        ),
        case(
            "hardlink-absolute.tar",
            tar(|t| {
                t.hardlink("h", abs("secret.txt"));
            }),
        ),
        case(
            "char-device.tar",
            tar(|t| {
                t.special("null", kind::CHAR_DEVICE, 1, 3);
            }),
        ),
        case(
            "block-device.tar",
            tar(|t| {
                t.special("disk", kind::BLOCK_DEVICE, 8, 0);
            }),
        ),
        case(
            "fifo.tar",
            tar(|t| {
                t.special("pipe", kind::FIFO, 0, 0);
            }),
        ),
        case(
            "duplicate.tar",
            tar(|t| {
                t.file("a.txt", b"first\n");
                t.file("a.txt", b"second\n");
            }),
        ),
        case(
            "duplicate-file-then-dir.tar",
            tar(|t| {
                t.file("x", b"file\n");
                t.dir("x/");
                t.file("x/y", b"below\n");
            }),
        ),
        case(
            "gnu-longname-dotdot.tar",
            tar(|t| {
                let name = format!("{}/../../../../../canary/pwned-long", "a".repeat(120));
                t.gnu_long_name(name.as_bytes(), b"pwned\n");
            }),
        ),
        case(
            "pax-path-dotdot.tar",
            tar(|t| {
                t.pax_path(b"../../../../canary/pwned-pax", b"pwned\n");
            }),
        ),
        case("truncated.tar.gz", valid_gz[..valid_gz.len() / 2].to_vec()),
        case("bad-crc.tar.gz", bad_crc),
        case("corrupt-data.tar.gz", bad_data),
        case("truncated-mid-entry.tar", mid_entry.bytes),
        case("no-end-marker.tar", valid_tar().unterminated()),
        case("bad-header-checksum.tar", bad_checksum.finish()),
        case("garbage.bin", garbage),
        case(
            "zip-slip.zip",
            zip(&[ZipEntry {
                name: "../../../../canary/zip-pwned".into(),
                data: b"pwned\n".to_vec(),
                mode: 0o644,
                deflate: false,
            }]),
        ),
        case(
            "zip-absolute.zip",
            zip(&[ZipEntry {
                name: String::from_utf8(abs("zip-abs")).expect("utf-8"),
                data: b"pwned\n".to_vec(),
                mode: 0o644,
                deflate: true,
            }]),
        ),
    ]
}

#[test]
fn the_corpus_is_big_enough_and_its_valid_twin_extracts() {
    let scene = Scene::new("hostile-twin");
    assert!(corpus(&scene.outer).len() >= 12);
    // The corruptions above are applied to this archive; it must be fine itself,
    // so that each refusal is caused by the corruption.
    let twin = scene.archive("twin.tar.gz", &gzip(&valid_tar().finish()));
    let r = fleet([
        "extract".as_ref(),
        "--archive".as_ref(),
        twin.as_os_str(),
        "--store".as_ref(),
        scene.store.as_os_str(),
    ]);
    r.ok();
    let plain = scene.archive("twin.tar", &valid_tar().finish());
    fleet([
        "extract".as_ref(),
        "--archive".as_ref(),
        plain.as_os_str(),
        "--store".as_ref(),
        scene.store.as_os_str(),
    ])
    .ok();
}

#[test]
fn hostile_archives_exit_4_and_change_nothing_in_store_mode() {
    let scene = Scene::new("hostile-store");
    let cases = corpus(&scene.outer);
    for c in &cases {
        scene.archive(c.name, &c.bytes);
    }
    let outside = ignoring_dir_mtimes(snapshot(&scene.outer, &[&scene.store]));
    let canary = snapshot(&scene.canary, &[]);
    let store_before = store_contents(&scene.store);
    let mut failures = Vec::new();
    for c in &cases {
        let archive = scene.outer.join("archives").join(c.name);
        let r = fleet([
            "extract".as_ref(),
            "--archive".as_ref(),
            archive.as_os_str(),
            "--store".as_ref(),
            scene.store.as_os_str(),
            "--lock-timeout".as_ref(),
            "10".as_ref(),
        ]);
        if r.code() != 4 {
            failures.push(format!("{}: expected exit 4\n{}", c.name, r.transcript()));
        } else if !r.stderr.contains(c.name) {
            failures.push(format!(
                "{}: the error does not name the archive\n{}",
                c.name,
                r.transcript()
            ));
        }
        assert_same_snapshot(
            &canary,
            &snapshot(&scene.canary, &[]),
            &format!("{}: canary", c.name),
        );
        assert_same_snapshot(
            &outside,
            &ignoring_dir_mtimes(snapshot(&scene.outer, &[&scene.store])),
            &format!("{}: outside the store", c.name),
        );
        assert_eq!(
            store_contents(&scene.store),
            store_before,
            "{}: the store changed\n{}",
            c.name,
            listing(&scene.store)
        );
    }
    assert_store_clean(&scene.store, &[&scene.valid_sha]);
    assert!(
        failures.is_empty(),
        "{} of {} archives were not refused properly:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn hostile_archives_exit_4_and_change_nothing_outside_out_dir() {
    let scene = Scene::new("hostile-out");
    let cases = corpus(&scene.outer);
    for c in &cases {
        scene.archive(c.name, &c.bytes);
    }
    let outs: Vec<PathBuf> = cases
        .iter()
        .map(|c| scene.outer.join(format!("l1/l2/out-{}", c.name)))
        .collect();
    let skip: Vec<&Path> = outs.iter().map(PathBuf::as_path).collect();
    let outside = ignoring_dir_mtimes(snapshot(&scene.outer, &skip));
    let canary = snapshot(&scene.canary, &[]);
    let mut failures = Vec::new();
    for (c, out) in cases.iter().zip(&outs) {
        let archive = scene.outer.join("archives").join(c.name);
        let r = fleet([
            "extract".as_ref(),
            "--archive".as_ref(),
            archive.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ]);
        if r.code() != 4 {
            failures.push(format!("{}: expected exit 4\n{}", c.name, r.transcript()));
        }
        assert_same_snapshot(
            &canary,
            &snapshot(&scene.canary, &[]),
            &format!("{} (--out): canary", c.name),
        );
        assert_same_snapshot(
            &outside,
            &ignoring_dir_mtimes(snapshot(&scene.outer, &skip)),
            &format!("{} (--out): outside DIR", c.name),
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} archives were not refused properly:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn modes_archive() -> Vec<u8> {
    let mut t = Tar::new();
    t.dir_mode("d/", 0o777);
    t.file_mode("d/setuid", b"#!/bin/sh\n", 0o4755);
    t.file_mode("d/setgid", b"#!/bin/sh\n", 0o2755);
    t.file_mode("d/world-writable", b"w\n", 0o666);
    t.file_mode("d/plain", b"p\n", 0o644);
    t.file_mode("d/private-exec", b"#!/bin/sh\n", 0o700);
    t.finish()
}

#[test]
fn special_mode_bits_are_dropped_and_the_store_tree_is_read_only() {
    let s = Scratch::new("modes");
    let archive = s.write("modes.tar", modes_archive());
    let v = extract_json(&archive, &s.join("store"), &[]);
    let tree = json_path(&v);
    let got = modes(&tree);
    for (path, (mode, kind)) in &got {
        assert_eq!(
            mode & 0o6000,
            0,
            "{kind} {path:?} kept setuid/setgid: {mode:o}"
        );
        assert_eq!(
            mode & 0o222,
            0,
            "{kind} {path:?} is writable in the store: {mode:o}"
        );
    }
    // Execute permission survives for what was executable, and only for that.
    for exec in ["d/setuid", "d/setgid", "d/private-exec"] {
        assert_ne!(
            got[exec].0 & 0o100,
            0,
            "{exec} lost its owner execute bit: {:o}",
            got[exec].0
        );
    }
    for plain in ["d/plain", "d/world-writable"] {
        assert_eq!(
            got[plain].0 & 0o111,
            0,
            "{plain} became executable: {:o}",
            got[plain].0
        );
        assert_ne!(
            got[plain].0 & 0o400,
            0,
            "{plain} is not readable: {:o}",
            got[plain].0
        );
    }

    let out = s.join("out");
    fleet([
        "extract".as_ref(),
        "--archive".as_ref(),
        archive.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .ok();
    for (path, (mode, kind)) in modes(&out) {
        assert_eq!(
            mode & 0o6000,
            0,
            "--out: {kind} {path:?} kept setuid/setgid: {mode:o}"
        );
        assert_eq!(
            mode & 0o002,
            0,
            "--out: {kind} {path:?} is world-writable: {mode:o}"
        );
    }
    assert_eq!(
        h1_of_dir(&out),
        v["h1"].as_str().expect("h1"),
        "--out and the store hold the same content"
    );
}

#[test]
fn wrong_sha256_when_extracting_exits_5_and_publishes_nothing() {
    let s = Scratch::new("sha-mismatch");
    let fx = write_fixture(&s.join("tools.tar.gz"), 11, 20, 100_000, 50);
    let store = s.join("store");
    let wrong = sha256_hex(b"not the archive");
    let r = fleet([
        "extract".as_ref(),
        "--archive".as_ref(),
        fx.path.as_os_str(),
        "--store".as_ref(),
        store.as_os_str(),
        "--sha256".as_ref(),
        wrong.as_ref(),
    ]);
    r.expect(5);
    assert!(
        version_dirs(&store).is_empty(),
        "published despite the mismatch\n{}",
        listing(&store)
    );
    assert!(
        store_problems(&store).is_empty(),
        "{:?}",
        store_problems(&store)
    );
    assert!(!store.join(&wrong).exists() && !store.join(&fx.sha256).exists());

    // The right digest extracts, and is then served without hashing the archive.
    let v = extract_json(&fx.path, &store, &["--sha256", &fx.sha256]);
    assert_eq!(v["extracted"], true);
    assert_eq!(v["h1"], fx.h1.as_str());
    // Different bytes under the same name: hashing them would mean exit 5.
    fs::write(&fx.path, vec![0u8; fx.bytes as usize]).expect("overwrite archive");
    let v = extract_json(&fx.path, &store, &["--sha256", &fx.sha256]);
    assert_eq!(v["extracted"], false);
    assert_eq!(json_path(&v), store.join(&fx.sha256));
    assert_store_clean(&store, &[&fx.sha256]);
}

#[test]
fn gzip_is_detected_by_magic_not_by_name() {
    let s = Scratch::new("magic");
    let tar = valid_tar().finish();
    let gz_named_tar = s.write("really-gzip.tar", gzip(&tar));
    let tar_named_tgz = s.write("really-plain.tgz", &tar);
    let a = extract_json(&gz_named_tar, &s.join("store"), &[]);
    let b = extract_json(&tar_named_tgz, &s.join("store"), &[]);
    assert_eq!(a["h1"], b["h1"], "same content either way");
    assert_eq!(h1_of_dir(&json_path(&a)), a["h1"].as_str().expect("h1"));
    assert_eq!(h1_of_dir(&json_path(&b)), b["h1"].as_str().expect("h1"));
    let out = s.join("out");
    fleet([
        "extract".as_ref(),
        "--archive".as_ref(),
        gz_named_tar.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .ok();
    assert_eq!(h1_of_dir(&out), a["h1"].as_str().expect("h1"));
}

#[test]
fn a_published_version_is_read_only_all_the_way_down() {
    let s = Scratch::new("readonly");
    let fx = write_fixture(&s.join("t.tar.gz"), 5, 40, 200_000, 30);
    let v = extract_json(&fx.path, &s.join("store"), &[]);
    let tree = json_path(&v);
    for (path, (mode, kind)) in modes(&tree) {
        assert_eq!(mode & 0o222, 0, "{kind} {path:?}: {mode:o}");
    }
    assert_eq!(
        fs::metadata(&tree).expect("stat").permissions().mode() & 0o222,
        0
    );
}

/// Links that resolve inside the tree, through other links, are kept, and
/// the h1 counts a link to a file by its content wherever the chain leads.
#[test]
fn link_chains_inside_the_tree_extract_and_hash_through_the_chain() {
    let s = Scratch::new("inner-chains");
    let archive = s.write(
        "chains.tar",
        tar(|t| {
            t.dir("sub/");
            t.file("sub/x", b"the tool\n");
            t.symlink("bin", "sub");
            t.symlink("tool", "bin/x");
            t.symlink("self", ".");
            t.symlink("deep", "self/self/bin/../sub/x");
            t.dir("d/e/");
            t.symlink("d/e/up", "../../tool");
        }),
    );
    let x = sha256_hex(b"the tool\n");
    let expected =
        h1_of_entries(["sub/x", "tool", "deep", "d/e/up"].map(|p| (p.to_string(), x.clone())));
    let v = extract_json(&archive, &s.join("store"), &[]);
    assert_eq!(v["h1"], expected.as_str(), "{v}");
    let tree = json_path(&v);
    assert_eq!(
        fs::read(tree.join("d/e/up")).expect("read d/e/up"),
        b"the tool\n"
    );
    let out = s.join("out");
    let r = fleet([
        "extract".as_ref(),
        "--archive".as_ref(),
        archive.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--json".as_ref(),
    ]);
    assert_eq!(r.ok().json()["h1"], expected.as_str());
    assert_eq!(
        fs::read(out.join("deep")).expect("read deep"),
        b"the tool\n"
    );
}

#[test]
fn out_dir_must_be_empty_or_missing() {
    let s = Scratch::new("out-nonempty");
    let archive = s.write("t.tar", valid_tar().finish());
    let out = s.mkdir("out");
    s.write("out/precious", b"keep me\n");
    let before = snapshot(&out, &[]);
    let r = fleet([
        "extract".as_ref(),
        "--archive".as_ref(),
        archive.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_ne!(r.code(), 0, "{}", r.transcript());
    assert_mentions(&r.stderr, &out.display().to_string(), "names the directory");
    assert_same_snapshot(&before, &snapshot(&out, &[]), "a non-empty --out DIR");

    // Empty and missing directories are both fine.
    let empty = s.mkdir("empty");
    fleet([
        "extract".as_ref(),
        "--archive".as_ref(),
        archive.as_os_str(),
        "--out".as_ref(),
        empty.as_os_str(),
    ])
    .ok();
    let missing = s.join("deeper/missing");
    let r = fleet([
        "extract".as_ref(),
        "--archive".as_ref(),
        archive.as_os_str(),
        "--out".as_ref(),
        missing.as_os_str(),
        "--json".as_ref(),
    ]);
    let v = r.ok().json();
    assert_eq!(h1_of_dir(&missing), h1_of_dir(&empty));
    assert_eq!(v["h1"].as_str(), Some(h1_of_dir(&missing).as_str()));
}
