//! A known digest is checked before a byte is unpacked (issue 9, item 2):
//! a wrong `--sha256` exits 5 having written nothing, not even a staging
//! directory, in both modes and for tar.gz and zip alike.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// `fleet ARGS` under a file-size limit below the bombs' unpacked size: an
/// extractor that unpacks before checking is killed by SIGXFSZ.
fn fleet_under_file_limit<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -f 262144 && exec \"$0\" \"$@\"")
        .arg(fleet_bin())
        .args(args)
        .env_remove("FLEET_LOCK_TIMEOUT")
        .env_remove("FLEET_MAX_UNPACKED_BYTES");
    run(cmd)
}

fn extract_store(archive: &Path, store: &Path, sha256: &str) -> Run {
    fleet_under_file_limit([
        "extract".as_ref(),
        "--archive".as_ref(),
        archive.as_os_str(),
        "--store".as_ref(),
        store.as_os_str(),
        "--sha256".as_ref(),
        sha256.as_ref(),
    ])
}

fn extract_out(archive: &Path, out: &Path, sha256: &str) -> Run {
    fleet_under_file_limit([
        "extract".as_ref(),
        "--archive".as_ref(),
        archive.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--sha256".as_ref(),
        sha256.as_ref(),
        "--json".as_ref(),
    ])
}

fn assert_mismatch(r: &Run, archive: &Path, wrong: &str) {
    r.expect(5);
    assert_mentions(
        &r.stderr,
        &archive.display().to_string(),
        "names the archive",
    );
    assert_mentions(&r.stderr, wrong, "names the expected digest");
}

#[test]
fn a_wrong_digest_writes_nothing_not_even_staging() {
    let s = Scratch::new("digest-first");
    let fx = write_fixture(&s.join("tools.tar.gz"), 3, 30, 300_000, 50);
    let store = s.join("store");
    // A first version makes the store exist, so its staging directory can
    // be watched: creating and removing anything in it changes its mtime.
    let other = write_fixture(&s.join("other.tar.gz"), 4, 5, 10_000, 50);
    extract_json(&other.path, &store, &[]);
    let out = s.mkdir("out");
    let watched = [store.join(".staging"), out.clone()];
    let before: Vec<_> = watched.iter().map(|d| snapshot(d, &[])).collect();
    advance_fs_clock(s.path());

    let wrong = sha256_hex(b"something else");
    assert_mismatch(&extract_store(&fx.path, &store, &wrong), &fx.path, &wrong);
    assert_mismatch(&extract_out(&fx.path, &out, &wrong), &fx.path, &wrong);
    for (dir, snap) in watched.iter().zip(&before) {
        assert_same_snapshot(snap, &snapshot(dir, &[]), &dir.display().to_string());
    }
    assert_store_clean(&store, &[&other.sha256]);

    // The right digest extracts in both modes, and reports it.
    let v = extract_out(&fx.path, &out, &fx.sha256).ok().json();
    assert_eq!(v["sha256"], fx.sha256.as_str());
    assert_eq!(v["h1"], fx.h1.as_str());
    extract_store(&fx.path, &store, &fx.sha256).ok();
    assert_store_clean(&store, &[&other.sha256, &fx.sha256]);
}

#[test]
fn a_wrong_digest_on_a_bomb_is_refused_before_unpacking() {
    let s = Scratch::new("digest-bomb");
    let bomb = s.join("bomb.tar.gz");
    write_zero_bomb_tar_gz(&bomb, "zeros.bin", 512 << 20);
    let zip_bomb = s.write("bomb.zip", zip(&[zero_entry("zeros.bin", 192 << 20)]));
    let wrong = sha256_hex(b"not the bomb");
    for archive in [&bomb, &zip_bomb] {
        let store = s.join(format!(
            "store-{}",
            archive.file_name().and_then(|n| n.to_str()).unwrap_or("x")
        ));
        assert_mismatch(&extract_store(archive, &store, &wrong), archive, &wrong);
        assert_store_clean(&store, &[]);
        let out = s.join("out-bomb");
        assert_mismatch(&extract_out(archive, &out, &wrong), archive, &wrong);
        assert!(
            fs::read_dir(&out).map_or(true, |mut d| d.next().is_none()),
            "--out DIR was written to"
        );
    }
}
