//! Where `fleet run` writes its report and summary: an existing path that is
//! not a regular file (fifo, directory, socket, device node) is refused with
//! exit 4 before anything runs, never replaced; a symlink there is replaced
//! itself, its target never written; a report that is a fifo is refused, not
//! waited on. Default report names are one per fleet label (`//infra/a:all`
//! and `//infra:a_all` keep separate reports), and `--resume` refuses the
//! report of another fleet.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::runner::*;
use serde_json::json;

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// A character device with /dev/null's numbers, made in a temp dir (root only).
fn mknod_null(path: &Path) -> bool {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; makedev has no preconditions.
    unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) == 0 }
}

fn kind(path: &Path) -> &'static str {
    match fs::symlink_metadata(path) {
        Err(_) => "missing",
        Ok(m) if m.file_type().is_symlink() => "symlink",
        Ok(m) if m.is_file() => "file",
        Ok(m) if m.is_dir() => "directory",
        Ok(m) if m.file_type().is_fifo() => "fifo",
        Ok(m) if m.file_type().is_socket() => "socket",
        Ok(m) if m.file_type().is_char_device() => "char device",
        Ok(_) => "other",
    }
}

fn one_instance() -> Fleet {
    let mut fleet = Fleet::new();
    fleet.add("a", &module("true"), &[]);
    fleet.write_manifest();
    fleet
}

/// `fleet run --action plan ARGS`, killed (and the test failed) if it is
/// still running after a minute: a runner blocked on a fifo must not hang
/// the suite.
fn plan_with_deadline(fleet: &Fleet, args: &[&str]) -> std::process::Output {
    let mut child = fleet
        .fleet("run")
        .args(["--action", "plan"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fleet run");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("fleet run hung (blocked on a fifo?)\n{}", describe(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn report_and_summary_refuse_what_is_not_a_regular_file() {
    let fleet = one_instance();
    let specials = fleet.root().join("specials");
    fs::create_dir(&specials).unwrap();
    let mut paths: Vec<(PathBuf, &str)> = vec![];
    let fifo = specials.join("fifo");
    mkfifo(&fifo);
    paths.push((fifo, "fifo"));
    let dir = specials.join("dir");
    fs::create_dir(&dir).unwrap();
    paths.push((dir, "directory"));
    let socket = specials.join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    paths.push((socket, "socket"));
    let device = specials.join("null");
    if mknod_null(&device) {
        paths.push((device, "char device"));
    } else {
        eprintln!("not root: no device node test");
    }
    for (path, was) in &paths {
        for flag in ["--report", "--summary"] {
            let out = plan_with_deadline(&fleet, &[flag, path.to_str().unwrap()]);
            assert_eq!(
                out.status.code(),
                Some(4),
                "{flag} {was}: {}",
                describe(&out)
            );
            let err = stderr(&out);
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert_eq!(kind(path), *was, "{flag} {was} was replaced");
            assert!(!fleet.run_dir("a").exists(), "{flag} {was}: something ran");
        }
    }
}

#[test]
fn a_symlink_at_the_report_path_is_replaced_never_its_target() {
    let fleet = one_instance();
    let fifo = fleet.root().join("fifo");
    mkfifo(&fifo);
    let link = fleet.root().join("report-link.json");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    // --resume through the link: the fifo is refused, not waited on.
    let out = plan_with_deadline(&fleet, &["--resume", "--report", link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", describe(&out));
    assert!(stderr(&out).contains("is a fifo"), "{}", describe(&out));
    assert_eq!(kind(&fifo), "fifo");

    let summary_link = fleet.root().join("summary-link.md");
    std::os::unix::fs::symlink(&fifo, &summary_link).unwrap();
    let out = plan_with_deadline(
        &fleet,
        &[
            "--report",
            link.to_str().unwrap(),
            "--summary",
            summary_link.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(kind(&link), "file", "the link itself is replaced");
    assert_eq!(kind(&summary_link), "file");
    assert_eq!(kind(&fifo), "fifo", "the link's target is untouched");
    assert_eq!(read_json(&link)["target"], "//pkg:fleet");
}

fn set_target(fleet: &Fleet, target: &str) {
    let mut manifest = read_json(&fleet.manifest);
    manifest["target"] = json!(target);
    fs::write(&fleet.manifest, manifest.to_string()).unwrap();
}

#[test]
fn two_fleets_whose_labels_flatten_alike_keep_separate_reports() {
    let fleet = one_instance();
    let reports = fleet.workspace.join(".fleet/.reports");
    for target in ["//infra/a:all", "//infra:a_all"] {
        set_target(&fleet, target);
        let out = fleet.run("plan", &[]);
        assert!(out.status.success(), "{target}: {}", describe(&out));
    }
    let mut names: Vec<String> = fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["infra%2Fa%3Aall.plan.json", "infra%3Aa_all.plan.json"],
        "one report per fleet"
    );
    assert_eq!(
        read_json(&reports.join("infra%2Fa%3Aall.plan.json"))["target"],
        "//infra/a:all"
    );
    // Each resumes from its own report: everything reused.
    let out = fleet.run("plan", &["--resume"]);
    assert!(out.status.success(), "{}", describe(&out));
    let own = read_json(&reports.join("infra%3Aa_all.plan.json"));
    assert_eq!(own["target"], "//infra:a_all");
    assert_eq!(entry(&own, "a")["reused"], true, "{own:#}");
}

#[test]
fn resume_refuses_the_report_of_another_fleet() {
    let fleet = one_instance();
    let report = fleet.report_path();
    set_target(&fleet, "//infra:one");
    let out = fleet.run("plan", &["--report", report.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    set_target(&fleet, "//infra:two");
    let out = fleet.run("plan", &["--resume", "--report", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = stderr(&out);
    for part in ["//infra:one", "//infra:two", report.to_str().unwrap()] {
        assert!(err.contains(part), "{part} in {err}");
    }
    assert_eq!(read_json(&report)["target"], "//infra:one", "left alone");
}
