//! Planted symlinks where fleet writes its own files (lock, holder record,
//! tag, tag lock, temp names): refused with exit 4 or replaced atomically,
//! and the file they point at is never written, truncated or chmod-ed.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::common::*;

/// A file outside the paths fleet is told about, with an old mtime and an
/// unusual mode, so any write, truncation or chmod through a link shows.
struct Victim {
    path: PathBuf,
    bytes: Vec<u8>,
    mtime: (i64, i64),
    mode: u32,
}

impl Victim {
    fn new(s: &Scratch) -> Victim {
        let path = s.write("outside/victim", b"precious bytes\n");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        let c = CString::new(path.as_os_str().as_bytes()).expect("path");
        let t = libc::timespec {
            tv_sec: 978_307_200,
            tv_nsec: 5,
        };
        // SAFETY: a valid C string and two timespecs.
        let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), [t, t].as_ptr(), 0) };
        assert_eq!(rc, 0);
        let m = fs::metadata(&path).expect("stat");
        Victim {
            bytes: fs::read(&path).expect("read"),
            mtime: (m.mtime(), m.mtime_nsec()),
            mode: m.mode(),
            path,
        }
    }

    fn assert_untouched(&self, what: &str) {
        let m = fs::metadata(&self.path).expect("stat victim");
        assert_eq!(
            fs::read(&self.path).expect("read victim"),
            self.bytes,
            "{what}: victim's bytes changed"
        );
        assert_eq!((m.mtime(), m.mtime_nsec()), self.mtime, "{what}: mtime");
        assert_eq!(m.mode(), self.mode, "{what}: mode");
    }
}

fn lock_true(lock: &Path) -> Run {
    let mut cmd = fleet_cmd(["lock", "--lock-timeout", "5", "--path"]);
    cmd.arg(lock).args(["--", "true"]);
    run(cmd)
}

fn tag_write(tag: &Path) -> Run {
    let mut cmd = fleet_cmd([
        "tag",
        "write",
        "--lock-timeout",
        "5",
        "--set",
        "k=v",
        "--tag",
    ]);
    cmd.arg(tag);
    run(cmd)
}

#[test]
fn a_symlink_at_the_lock_path_is_refused_with_exit_4() {
    let s = Scratch::new("link-lock");
    let victim = Victim::new(&s);
    let lock = s.join("work/l");
    fs::create_dir_all(s.join("work")).expect("mkdir");
    symlink(&victim.path, &lock).expect("plant");
    let r = lock_true(&lock);
    r.expect(4);
    assert_mentions(&r.stderr, &lock.display().to_string(), "names the lock");
    victim.assert_untouched("lock path");
}

#[test]
fn a_symlink_at_the_holder_path_is_replaced_not_followed() {
    let s = Scratch::new("link-holder");
    let victim = Victim::new(&s);
    fs::create_dir_all(s.join("work")).expect("mkdir");
    let lock = s.join("work/l");
    let holder = s.join("work/l.holder");
    symlink(&victim.path, &holder).expect("plant");
    let r = lock_true(&lock);
    assert!(
        [0, 4].contains(&r.code()),
        "either refused or replaced\n{}",
        r.transcript()
    );
    victim.assert_untouched("holder path");
}

#[test]
fn store_holder_records_planted_as_links_leave_their_target_alone() {
    let s = Scratch::new("link-store-holder");
    let victim = Victim::new(&s);
    let fx = write_fixture(&s.join("tools.tar.gz"), 0x11AC, 20, 100_000, 50);
    let store = s.join("store");
    fs::create_dir_all(store.join(".locks")).expect("mkdir");
    for kind in ["lock", "use"] {
        let holder = store.join(format!(".locks/{}.{kind}.holder", fx.sha256));
        symlink(Path::new("../../outside/victim"), &holder).expect("plant");
    }
    let v = extract_json(&fx.path, &store, &["--sha256", &fx.sha256]);
    assert_eq!(v["extracted"], true);
    victim.assert_untouched("store holder records");
}

#[test]
fn a_symlink_at_the_tag_or_its_lock_is_refused_with_exit_4() {
    let s = Scratch::new("link-tag");
    let victim = Victim::new(&s);
    fs::create_dir_all(s.join("work")).expect("mkdir");
    let tag = s.join("work/t.json");
    symlink(&victim.path, &tag).expect("plant");
    let r = tag_write(&tag);
    r.expect(4);
    assert_mentions(&r.stderr, &tag.display().to_string(), "names the tag");
    victim.assert_untouched("tag path");

    let tag = s.join("work/u.json");
    let lock = s.join("work/u.json.lock");
    symlink(&victim.path, &lock).expect("plant");
    let r = tag_write(&tag);
    r.expect(4);
    assert_mentions(&r.stderr, &lock.display().to_string(), "names the tag lock");
    victim.assert_untouched("tag lock path");
    assert!(!tag.exists(), "nothing written when the lock is refused");
}

#[test]
fn symlinks_at_temp_names_are_never_written_through() {
    let s = Scratch::new("link-temp");
    let victim = Victim::new(&s);
    fs::create_dir_all(s.join("work")).expect("mkdir");
    let tag = s.join("work/t.json");
    // Names of the temp pattern: a dead writer's (swept) and a live one's.
    let planted = [
        s.join("work/.t.json.tmp.999999999.1.0"),
        s.join(format!("work/.t.json.tmp.{}.1.0", std::process::id())),
    ];
    for p in &planted {
        symlink(&victim.path, p).expect("plant");
    }
    tag_write(&tag).ok();
    assert!(fs::symlink_metadata(&tag).expect("tag").is_file());
    victim.assert_untouched("temp names");
    tag_write(&tag).ok();
    victim.assert_untouched("temp names, second write");
}
