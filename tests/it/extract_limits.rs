//! Caps on what one archive may unpack (issue 9, item 3): total bytes and
//! entry count, counted as written (a zip's declared sizes may lie). The
//! bombs run under a file-size limit (`ulimit -f`) below their unpacked
//! size, so an extractor that writes them out is killed by SIGXFSZ instead
//! of quietly filling the disk.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::*;

const BOMB_BYTES: u64 = 512 << 20;
const CAP: &str = "67108864";

/// `fleet ARGS` under `ulimit -f 262144` (128 MiB in dash's 512-byte
/// blocks, 256 MiB in bash's 1 KiB ones: below the bombs either way).
fn fleet_under_file_limit<I, S>(args: I, env: &[(&str, &str)]) -> Run
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
        .env_remove("FLEET_MAX_UNPACKED_BYTES")
        .env_remove("FLEET_MAX_ENTRIES");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd)
}

fn assert_refused_with_cap(r: &Run, archive: &Path, cap: &str) {
    r.expect(4);
    assert_mentions(
        &r.stderr,
        &archive.display().to_string(),
        "names the archive",
    );
    assert_mentions(&r.stderr, cap, "names the cap");
}

#[test]
fn a_gzip_bomb_past_the_byte_cap_exits_4_in_both_modes() {
    let s = Scratch::new("bomb");
    let bomb = s.join("bomb.tar.gz");
    write_zero_bomb_tar_gz(&bomb, "zeros.bin", BOMB_BYTES);
    let size = fs::metadata(&bomb).expect("stat bomb").len();
    assert!(size < 1 << 20, "the bomb is {size} bytes");

    let store = s.join("store");
    let r = fleet_under_file_limit(
        [
            "extract".as_ref(),
            "--archive".as_ref(),
            bomb.as_os_str(),
            "--store".as_ref(),
            store.as_os_str(),
        ],
        &[("FLEET_MAX_UNPACKED_BYTES", CAP)],
    );
    assert_refused_with_cap(&r, &bomb, CAP);
    assert_store_clean(&store, &[]);

    let out = s.join("out");
    let r = fleet_under_file_limit(
        [
            "extract".as_ref(),
            "--archive".as_ref(),
            bomb.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--max-unpacked-bytes".as_ref(),
            CAP.as_ref(),
        ],
        &[],
    );
    assert_refused_with_cap(&r, &bomb, CAP);
    assert!(
        fs::read_dir(&out).map_or(true, |mut d| d.next().is_none()),
        "--out DIR was not left empty"
    );
}

#[test]
fn a_zip_whose_declared_sizes_lie_is_capped_by_the_bytes_it_writes() {
    let s = Scratch::new("zip-bomb");
    // The zip reader itself stops an entry at its declared size, so the
    // lie that matters is a declared size past the cap but below the truth.
    let entry = zero_entry("zeros.bin", 192 << 20);
    let bomb = s.write("bomb.zip", zip_declaring(&[entry], &[100 << 20]));
    let store = s.join("store");
    let r = fleet_under_file_limit(
        [
            "extract".as_ref(),
            "--archive".as_ref(),
            bomb.as_os_str(),
            "--store".as_ref(),
            store.as_os_str(),
        ],
        &[("FLEET_MAX_UNPACKED_BYTES", CAP)],
    );
    assert_refused_with_cap(&r, &bomb, CAP);
    assert_store_clean(&store, &[]);
}

fn small_tree(files: usize) -> Vec<u8> {
    let mut t = Tar::new();
    for i in 0..files {
        t.file(format!("f{i:03}"), &[b'x'; 100]);
    }
    t.finish()
}

#[test]
fn the_caps_are_exact_limits_and_flags_override_the_environment() {
    let s = Scratch::new("caps");
    let archive = s.write("ten.tar", small_tree(10));
    let extract = |out: &str, env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec![
            "extract".to_string(),
            "--archive".into(),
            archive.display().to_string(),
            "--out".into(),
            s.join(out).display().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        fleet_under_file_limit(args, env)
    };
    extract("bytes-exact", &[("FLEET_MAX_UNPACKED_BYTES", "1000")], &[]).ok();
    assert_refused_with_cap(
        &extract("bytes-over", &[("FLEET_MAX_UNPACKED_BYTES", "999")], &[]),
        &archive,
        "999",
    );
    extract("entries-exact", &[("FLEET_MAX_ENTRIES", "10")], &[]).ok();
    assert_refused_with_cap(
        &extract("entries-over", &[("FLEET_MAX_ENTRIES", "9")], &[]),
        &archive,
        "9",
    );
    // The flag wins over the environment.
    extract(
        "flag-wins",
        &[("FLEET_MAX_ENTRIES", "9")],
        &["--max-entries", "10"],
    )
    .ok();
    assert_refused_with_cap(
        &extract("flag-refuses", &[], &["--max-entries", "9"]),
        &archive,
        "9",
    );
}
