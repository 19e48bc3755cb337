//! Kernel locks: waiting with a deadline and a message naming the holder,
//! passing exit statuses through, dying with the holder, and the store's
//! extraction lock (including the fast path that takes none).

mod common;

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

fn lock_cmd(lock: &Path, timeout: &str, command: &[&str]) -> std::process::Command {
    let mut cmd = fleet_cmd(["lock", "--path"]);
    cmd.arg(lock)
        .args(["--timeout", timeout, "--"])
        .args(command);
    cmd
}

/// Asserts a lock timeout: exit 3 after about `timeout` (no later than one
/// second past it), naming the lock and the holder's pid, announcing the
/// wait once rather than once per retry.
fn assert_timed_out(r: &Run, timeout: f64, lock: &Path, holder: u32) {
    r.expect(3);
    let secs = r.elapsed.as_secs_f64();
    assert!(
        secs >= timeout * 0.95,
        "gave up after {secs:.2}s, before its {timeout}s timeout\n{}",
        r.transcript()
    );
    assert!(
        secs <= timeout + 1.0,
        "took {secs:.2}s for a {timeout}s timeout\n{}",
        r.transcript()
    );
    assert_mentions(
        &r.stderr,
        &lock.display().to_string(),
        "the timeout message names the lock",
    );
    assert_mentions_pid(&r.stderr, holder, "the timeout message names the holder");
    let noisy = r
        .stderr
        .lines()
        .filter(|l| l.contains(&holder.to_string()))
        .count();
    assert!(
        noisy <= 2,
        "the wait is announced once, not per retry:\n{}",
        r.stderr
    );
}

#[test]
fn a_waiter_times_out_with_exit_3_naming_the_lock_and_a_stopped_holder() {
    let s = Scratch::new("lock-timeout");
    let lock = s.join("state.lock");
    let holder = Holder::new(&[&lock], "");
    holder.stop();
    let r = run(lock_cmd(&lock, "1", &["true"]));
    assert_timed_out(&r, 1.0, &lock, holder.pid());
    assert_eq!(exit_code(holder.release()), 0);
    // Free again: no stale state left behind by the timed-out waiter.
    run(lock_cmd(&lock, "1", &["true"])).ok();
}

#[test]
fn a_waiter_waits_for_the_holder_then_runs_after_it() {
    let s = Scratch::new("lock-wait");
    let lock = s.join("state.lock");
    let order = s.join("order.txt");
    let holder = Holder::new(&[&lock], &format!("echo holder >> '{}'", order.display()));
    let mut waiter = lock_cmd(
        &lock,
        "60",
        &["sh", "-c", &format!("echo waiter >> '{}'", order.display())],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn waiter");
    let mut waiter_err = Lines::new(waiter.stderr.take().expect("stderr"));
    // The waiter says it is waiting (naming lock and holder) before it gets the lock.
    let line = waiter_err.expect(Duration::from_secs(30), "the waiter's waiting line", |l| {
        l.contains(&lock.display().to_string())
    });
    assert_mentions_pid(&line, holder.pid(), "the waiting line names the holder");
    assert!(!order.exists(), "nothing ran yet");
    assert_eq!(exit_code(holder.release()), 0);
    let st = wait_or_kill(&mut waiter, Duration::from_secs(30), "waiter");
    assert_eq!(
        exit_code(st),
        0,
        "waiter stderr: {}",
        waiter_err.rest(Duration::from_secs(5))
    );
    assert_eq!(
        fs::read_to_string(&order).expect("order"),
        "holder\nwaiter\n"
    );
}

#[test]
fn lock_passes_the_commands_exit_status_and_output_through() {
    let s = Scratch::new("lock-status");
    let lock = s.join("l");
    for code in [0, 1, 7, 42, 255] {
        let r = run(lock_cmd(
            &lock,
            "5",
            &["sh", "-c", &format!("echo out-{code}; exit {code}")],
        ));
        assert_eq!(r.code(), code, "{}", r.transcript());
        assert_eq!(r.line(), format!("out-{code}"));
    }
    let r = run(lock_cmd(&lock, "5", &["sh", "-c", "kill -TERM $$"]));
    assert_eq!(
        r.code(),
        128 + libc::SIGTERM,
        "a command killed by a signal\n{}",
        r.transcript()
    );
    let r = run(lock_cmd(&lock, "5", &["/nonexistent/command"]));
    assert_ne!(r.code(), 0, "{}", r.transcript());
    assert_mentions(
        &r.stderr,
        "/nonexistent/command",
        "names the command it could not run",
    );
    // None of the above left the lock held.
    run(lock_cmd(&lock, "1", &["true"])).ok();
}

#[test]
fn the_lock_dies_with_its_holder() {
    let s = Scratch::new("lock-kill");
    let lock = s.join("l");
    let holder = Holder::new(&[&lock], "");
    let mut waiter = lock_cmd(&lock, "60", &["echo", "got it"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn waiter");
    let mut waiter_err = Lines::new(waiter.stderr.take().expect("stderr"));
    waiter_err.expect(Duration::from_secs(30), "the waiter's waiting line", |l| {
        l.contains(&lock.display().to_string())
    });
    // Kill only the fleet process; its command (the shell) lives on, and must
    // not have inherited the lock.
    signal(holder.pid(), libc::SIGKILL);
    let st = wait_or_kill(
        &mut waiter,
        Duration::from_secs(30),
        "waiter after the holder died",
    );
    assert_eq!(
        exit_code(st),
        0,
        "{}",
        waiter_err.rest(Duration::from_secs(5))
    );
    drop(holder);
}

/// Starts an extraction and stops it (SIGSTOP) while it holds an exclusive
/// lock in the store with a staging tree under way. Returns the stopped
/// child and the lock file, or `None` if the extraction was too quick.
fn stop_mid_extraction(
    archive: &Path,
    store: &Path,
) -> Option<(std::process::Child, std::path::PathBuf)> {
    let mut child = fleet_cmd(["extract", "--archive"])
        .arg(archive)
        .arg("--store")
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn extractor");
    await_exclusive_flock(&mut child, store, Duration::from_secs(60))?;
    // Wait for the staging tree, so the holder is well inside its critical section.
    while fs::read_dir(store.join(".staging"))
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
    {
        if child.try_wait().expect("try_wait").is_some() {
            return None;
        }
        std::thread::yield_now();
    }
    signal(child.id(), libc::SIGSTOP);
    // The extraction lock (`.locks/<sha256>.lock`), not the brief hashing lock.
    let extraction_lock = exclusive_flocks_below(child.id(), store)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "lock"));
    if let Some(lock) = extraction_lock {
        Some((child, lock))
    } else {
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

#[test]
fn an_extraction_waiting_on_a_stopped_extractor_times_out_naming_it() {
    let s = Scratch::new("extract-lock");
    let fx = write_fixture(&s.join("tools.tar.gz"), 0x10C4, 300, 30 << 20, 90);
    for attempt in 0..5 {
        let store = s.join(format!("store-{attempt}"));
        let Some((mut extractor, lock)) = stop_mid_extraction(&fx.path, &store) else {
            eprintln!("attempt {attempt}: the extraction finished before it could be stopped");
            continue;
        };
        let mut cmd = fleet_cmd(["extract", "--archive"]);
        cmd.arg(&fx.path).arg("--store").arg(&store).args([
            "--sha256",
            &fx.sha256,
            "--timeout",
            "1",
        ]);
        let r = run(cmd);
        assert_timed_out(&r, 1.0, &lock, extractor.id());
        assert!(
            version_dirs(&store).is_empty(),
            "nothing may be published by the waiter"
        );

        extractor.kill().expect("SIGKILL the stopped extractor");
        extractor.wait().expect("reap");
        let v = extract_json(&fx.path, &store, &["--timeout", "30"]);
        assert_eq!(v["h1"], fx.h1.as_str());
        assert_eq!(v["extracted"], true);
        assert_store_clean(&store, &[&fx.sha256]);
        return;
    }
    panic!("could not stop an extraction mid-way in 5 attempts");
}

#[test]
fn the_fast_path_takes_no_lock() {
    let s = Scratch::new("fast-path");
    let fx = write_fixture(&s.join("tools.tar.gz"), 0xFA57, 30, 300_000, 50);
    let store = s.join("store");
    extract_json(&fx.path, &store, &[]);
    fleet([
        "gc".as_ref(),
        "--store".as_ref(),
        store.as_os_str(),
        "--keep".as_ref(),
        "5".as_ref(),
    ])
    .ok();
    // Hold every exclusive lock file of the store (extraction and gc locks),
    // stopped: only the in-use locks (shared by design) stay free.
    let mut locks: Vec<_> = fs::read_dir(store.join(".locks"))
        .expect("list locks")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let n = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            !n.ends_with(".use") && !n.ends_with(".holder")
        })
        .collect();
    locks.sort();
    assert!(
        locks.contains(&store.join(".locks").join(format!("{}.lock", fx.sha256))),
        "{}",
        listing(&store)
    );
    let refs: Vec<&Path> = locks.iter().map(|p| p.as_path()).collect();
    let holder = Holder::new(&refs, "");
    holder.stop();

    let link = s.join("build/tools");
    for extra in [vec!["--sha256", fx.sha256.as_str()], vec![]] {
        let mut args = vec!["--timeout", "1", "--link", link.to_str().expect("utf-8")];
        args.extend(extra);
        let start = Instant::now();
        let v = extract_json(&fx.path, &store, &args);
        assert_eq!(v["extracted"], false);
        assert_eq!(json_path(&v), store.join(&fx.sha256));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the fast path waited: {:?}",
            start.elapsed()
        );
    }
    assert_eq!(fs::read_link(&link).expect("link"), store.join(&fx.sha256));
    assert_eq!(exit_code(holder.release()), 0);
}
