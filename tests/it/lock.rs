//! Kernel locks: waiting with a deadline and a message naming the holder,
//! passing exit statuses through, dying with the holder, and the store's
//! extraction lock (including the fast path that takes none).

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

fn lock_cmd(lock: &Path, timeout: &str, command: &[&str]) -> std::process::Command {
    let mut cmd = fleet_cmd(["lock", "--path"]);
    cmd.arg(lock)
        .args(["--lock-timeout", timeout, "--"])
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

/// Creates a FIFO (the tests' way to hold a command at a known point).
fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a valid C string.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

/// Opens `gate` for writing and writes a line, from a thread: the open
/// blocks until the command under test opens the FIFO for reading.
fn open_gate(gate: &Path) -> std::thread::JoinHandle<()> {
    let gate = gate.to_path_buf();
    std::thread::spawn(move || fs::write(&gate, b"go\n").expect("write gate"))
}

/// A `fleet lock` whose command traps SIGTERM: on TERM it says `term` on
/// stdout, then blocks until `gate` is written, appends `cmd-exit` to
/// `order` and exits 7. It retries the open of the gate: a SIGCHLD (its
/// killed background child) arriving during the blocking open of the FIFO
/// makes dash fail it with EINTR. Until TERM it waits in `wait` on a child
/// that is blocked opening `block` (a FIFO nobody writes). Returns after
/// `ready`.
fn trapping_holder(lock: &Path, dir: &Path) -> (std::process::Child, Lines) {
    let (gate, block, order) = (dir.join("gate"), dir.join("block"), dir.join("order"));
    for fifo in [&gate, &block] {
        if !fifo.exists() {
            mkfifo(fifo);
        }
    }
    let script = format!(
        "trap 'kill $p; echo term; until read x < \"{gate}\"; do :; done; echo cmd-exit >> \"{order}\"; exit 7' TERM; \
         cat \"{block}\" & p=$!; echo ready; wait $p",
        gate = gate.display(),
        block = block.display(),
        order = order.display()
    );
    let mut child = lock_cmd(lock, "60", &["sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn holder");
    let mut out = Lines::new(child.stdout.take().expect("stdout"));
    out.expect(Duration::from_secs(30), "the command to start", |l| {
        l == "ready"
    });
    (child, out)
}

/// Asserts the lock is held right now: a probe with a short deadline times out.
fn assert_still_held(lock: &Path, why: &str) {
    let r = run(lock_cmd(lock, "0.5", &["true"]));
    assert_eq!(r.code(), 3, "{why}: the lock was free\n{}", r.transcript());
}

/// A waiter that appends `waiter` to `order` once it holds the lock;
/// returns after it announced that it waits.
fn waiter(lock: &Path, order: &Path) -> (std::process::Child, Lines) {
    let mut child = lock_cmd(
        lock,
        "60",
        &["sh", "-c", &format!("echo waiter >> '{}'", order.display())],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn waiter");
    let mut err = Lines::new(child.stderr.take().expect("stderr"));
    err.expect(Duration::from_secs(30), "the waiter's waiting line", |l| {
        l.contains("waiting for lock")
    });
    (child, err)
}

#[test]
fn sigterm_is_forwarded_and_the_lock_held_until_the_command_exits() {
    let s = Scratch::new("lock-term");
    let lock = s.join("l");
    let order = s.join("order");
    let (mut holder, mut out) = trapping_holder(&lock, s.path());
    let (mut second, _err) = waiter(&lock, &order);
    signal(holder.id(), libc::SIGTERM);
    out.expect(Duration::from_secs(30), "the command's TERM trap", |l| {
        l == "term"
    });
    assert!(
        holder.try_wait().expect("try_wait").is_none(),
        "fleet lock exited while its command still runs"
    );
    assert_still_held(&lock, "the command is still in its TERM trap");
    let gate = open_gate(&s.join("gate"));
    let st = wait_or_kill(&mut holder, Duration::from_secs(30), "fleet lock");
    gate.join().expect("gate writer");
    assert_eq!(
        exit_code(st),
        7,
        "fleet lock exits with its command's status"
    );
    let st = wait_or_kill(&mut second, Duration::from_secs(30), "waiter");
    assert_eq!(exit_code(st), 0);
    assert_eq!(
        fs::read_to_string(&order).expect("order"),
        "cmd-exit\nwaiter\n"
    );
}

#[test]
fn sigkill_of_fleet_lock_terminates_the_command_which_keeps_the_lock_until_it_exits() {
    let s = Scratch::new("lock-kill");
    let lock = s.join("l");
    let order = s.join("order");
    for round in 0..5 {
        let _ = fs::remove_file(&order);
        let (mut holder, mut out) = trapping_holder(&lock, s.path());
        let (mut second, _err) = waiter(&lock, &order);
        signal(holder.id(), libc::SIGKILL);
        wait_or_kill(&mut holder, Duration::from_secs(30), "killed fleet lock");
        // The command got SIGTERM from its parent's death and runs its trap.
        out.expect(
            Duration::from_secs(30),
            "the command's TERM trap after its parent died",
            |l| l == "term",
        );
        assert_still_held(
            &lock,
            &format!("round {round}: the orphaned command still runs"),
        );
        assert!(
            second.try_wait().expect("try_wait").is_none(),
            "round {round}: the waiter got the lock while the command ran"
        );
        let gate = open_gate(&s.join("gate"));
        let st = wait_or_kill(
            &mut second,
            Duration::from_secs(60),
            &format!("round {round}: the waiter, after the command was let go"),
        );
        gate.join().expect("gate writer");
        assert_eq!(exit_code(st), 0);
        assert_eq!(
            fs::read_to_string(&order).expect("order"),
            "cmd-exit\nwaiter\n",
            "round {round}: never two holders at once"
        );
    }
}

#[test]
fn the_holder_record_and_waiters_never_show_the_commands_arguments() {
    let s = Scratch::new("lock-secret");
    let lock = s.join("state.lock");
    let mut holder = lock_cmd(
        &lock,
        "60",
        &[
            "sh",
            "-c",
            "echo ready; read x || :",
            "apply",
            "-var",
            "pw=S3cr3t",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .expect("spawn holder");
    let mut out = Lines::new(holder.stdout.take().expect("stdout"));
    out.expect(Duration::from_secs(30), "the command to start", |l| {
        l == "ready"
    });
    let record = fs::read_to_string(s.join("state.lock.holder")).expect("holder record");
    assert!(!record.contains("S3cr3t"), "holder record: {record}");
    assert!(!record.contains("-var"), "holder record: {record}");
    for field in ["pid=", "host=", "started=", "program=fleet"] {
        assert_mentions(&record, field, "the holder record");
    }
    let r = run(lock_cmd(&lock, "0.5", &["true"]));
    r.expect(3);
    assert!(!r.stderr.contains("S3cr3t"), "{}", r.transcript());
    assert_mentions_pid(&r.stderr, holder.id(), "the waiter names the holder");
    assert_mentions(&r.stderr, "(fleet", "the waiter names the program");
    drop(holder.stdin.take());
    assert_eq!(
        exit_code(wait_or_kill(&mut holder, Duration::from_secs(30), "holder")),
        0
    );
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
            "--lock-timeout",
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
        let v = extract_json(&fx.path, &store, &["--lock-timeout", "30"]);
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
        let mut args = vec![
            "--lock-timeout",
            "1",
            "--link",
            link.to_str().expect("utf-8"),
        ];
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
