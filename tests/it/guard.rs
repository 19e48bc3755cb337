//! Terraform runs under its guard (`fleet __guard`, src/process/guard/):
//! the guard starts it, exits as it did, passes on only the interrupts
//! terraform did not already get, and starts nothing without the runner's
//! orders.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::runner::*;

const SLOW: Duration = Duration::from_secs(60);

/// A module whose apply says it started, then blocks until `gate` exists
/// (bounded), then says it ended.
fn blocking(fleet: &Fleet, name: &str) -> String {
    let m = fleet.markers.display();
    module(&format!(
        "touch {m}/{name}.started\n\
         timeout --foreground 120 sh -c 'until [ -e {m}/gate ]; do sleep 0.05; done'\n\
         touch {m}/{name}.ended"
    ))
}

/// A pseudo-terminal: (controller, terminal side).
fn pty() -> (OwnedFd, OwnedFd) {
    let (mut controller, mut terminal) = (0, 0);
    // SAFETY: openpty writes two new descriptors; no name, termios or size.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and ours.
    unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    }
}

/// `fleet tf --action apply` of `only` with a terminal as stdin, in a
/// session of its own whose controlling terminal that is (so the terminal's
/// Ctrl-C reaches its foreground group, as a user's would); stdout and
/// stderr to one pipe, whose read end is returned.
fn fleet_tf_at_a_terminal(fleet: &Fleet, terminal: &OwnedFd) -> (Child, std::io::PipeReader) {
    let (output, writer) = std::io::pipe().expect("pipe");
    let mut cmd = fleet.fleet("tf");
    cmd.args(["--action", "apply", "--", "-auto-approve"])
        .stdin(Stdio::from(terminal.try_clone().expect("dup terminal")))
        .stdout(writer.try_clone().expect("dup pipe"))
        .stderr(writer);
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("fleet tf");
    drop(cmd); // our copies of the write end: EOF once fleet's processes are gone
    (child, output)
}

/// What was printed, once every process holding the pipe is gone.
fn printed(mut output: std::io::PipeReader) -> String {
    let mut text = String::new();
    let _ = output.read_to_string(&mut text);
    text
}

/// At a terminal terraform shares fleet's process group: a kill(2) of
/// fleet reaches terraform through its guard, which it would not if the
/// guard kept what it took for itself.
#[test]
fn at_a_terminal_a_kill_of_fleet_tf_reaches_terraform_through_its_guard() {
    let mut fleet = Fleet::new();
    let tf = blocking(&fleet, "only");
    fleet.add("only", &tf, &[]);
    fleet.write_manifest();
    let (_controller, terminal) = pty();
    let (mut child, output) = fleet_tf_at_a_terminal(&fleet, &terminal);
    wait_for_file(&fleet.marker("only.started"), SLOW);
    // SAFETY: kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = wait_exit(&mut child, SLOW);
    let err = printed(output);
    assert!(!status.success(), "{err}");
    assert!(
        !fleet.marker("only.ended").exists(),
        "terraform applied to its end: the interrupt never reached it\n{err}"
    );
    assert_eq!(fleet.live_processes(), vec![]);
}

/// A terminal's Ctrl-C reaches every process of the foreground group:
/// terraform gets it from the terminal and stops gracefully. Neither fleet
/// nor the guard passes on another (a second one makes terraform exit at
/// once, "data loss may have occurred"); the check below catches a second
/// one that comes late, not one sent at the same instant, which the kernel
/// merges with the first.
#[test]
fn at_a_terminal_ctrl_c_stops_terraform_gracefully() {
    let mut fleet = Fleet::new();
    let tf = blocking(&fleet, "only");
    fleet.add("only", &tf, &[]);
    fleet.write_manifest();
    let (controller, terminal) = pty();
    let (mut child, output) = fleet_tf_at_a_terminal(&fleet, &terminal);
    wait_for_file(&fleet.marker("only.started"), SLOW);
    let mut keyboard = fs::File::from(controller.try_clone().expect("dup controller"));
    keyboard.write_all(&[0x03]).expect("Ctrl-C");
    let status = wait_exit(&mut child, SLOW);
    let err = printed(output);
    assert!(!status.success(), "{err}");
    assert!(
        err.contains("Interrupt received"),
        "terraform never got the Ctrl-C:\n{err}"
    );
    assert!(
        !err.contains("Two interrupts received"),
        "terraform got the Ctrl-C twice:\n{err}"
    );
    assert!(!fleet.marker("only.ended").exists(), "{err}");
    assert_eq!(fleet.live_processes(), vec![]);
}

/// Pids of the guards of `fleet`'s instances (`fleet __guard`, which
/// carries terraform's environment).
fn guards_of(fleet: &Fleet) -> Vec<i32> {
    fleet
        .live_processes()
        .into_iter()
        .filter(|(_, cmd)| cmd.split(' ').nth(1) == Some("__guard"))
        .map(|(pid, _)| pid as i32)
        .collect()
}

/// A guard killed on its own (SIGKILL, nothing else of the run touched):
/// its terraform is not left running unwatched; it gets SIGINT, stops
/// gracefully, and the instance fails; what its provisioner started is
/// stopped too.
#[test]
fn a_guard_killed_alone_stops_its_terraform_gracefully() {
    let mut fleet = Fleet::new();
    let tf = blocking(&fleet, "only");
    fleet.add("only", &tf, &[]);
    fleet.write_manifest();
    let mut child = fleet
        .fleet("run")
        .args(["--action", "apply"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fleet run");
    wait_for_file(&fleet.marker("only.started"), SLOW);
    let guards = guards_of(&fleet);
    assert_eq!(guards.len(), 1, "{:?}", fleet.live_processes());
    // SAFETY: kill(2) of the guard found above, a process of this test's run.
    assert_eq!(unsafe { libc::kill(guards[0], libc::SIGKILL) }, 0);
    let status = wait_exit(&mut child, SLOW);
    assert!(!status.success());
    assert!(
        !fleet.marker("only.ended").exists(),
        "terraform applied to its end after its guard was killed"
    );
    let start = Instant::now();
    while !fleet.live_processes().is_empty() {
        if start.elapsed() > Duration::from_secs(10) {
            fs::write(fleet.marker("gate"), "").expect("gate");
            panic!("still running: {:?}", fleet.live_processes());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A terraform killed by a signal: the guard ends by the same signal, so
/// the instance's exit code is what a shell would say (128 + 15).
#[test]
fn a_terraform_killed_by_a_signal_is_reported_as_killed() {
    let mut fleet = Fleet::new();
    let wrapper = fleet.root().join("terraform-killed-at-plan");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1\" = plan ]; then kill -TERM $$; fi\nexec {} \"$@\"\n",
            terraform().display()
        ),
    )
    .expect("wrapper");
    fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    fleet.terraform = wrapper;
    fleet.add("only", &module("true"), &[]);
    fleet.write_manifest();
    let out = fleet.run("plan", &["--report", fleet.report_path().to_str().unwrap()]);
    assert!(!out.status.success(), "{}", describe(&out));
    let report = fleet.report();
    let e = entry(&report, "only");
    assert_eq!(e["status"], "failed", "{e:#}");
    assert_eq!(e["exit_code"], 143, "{e:#}");
}

/// A terraform that cannot be started (its interpreter is missing, so exec
/// fails): the instance fails naming the program and why, and nothing is
/// left running.
#[test]
fn a_terraform_that_cannot_start_fails_naming_it() {
    let mut fleet = Fleet::new();
    let broken = fleet.root().join("terraform-without-interpreter");
    fs::write(&broken, "#!/no/such/interpreter\n").expect("broken terraform");
    fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    fleet.terraform = broken;
    fleet.add("only", &module("true"), &[]);
    fleet.write_manifest();
    let out = fleet.run("plan", &["--report", fleet.report_path().to_str().unwrap()]);
    assert!(!out.status.success(), "{}", describe(&out));
    let text = format!("{}{}", describe(&out), fleet.report());
    assert!(text.contains("terraform-without-interpreter"), "{text}");
    assert!(text.contains("No such file or directory"), "{text}");
    assert_eq!(fleet.live_processes(), vec![]);
}

/// The hidden subcommand run by hand (no runner, no orders on its stdin)
/// refuses, and starts nothing unguarded.
#[test]
fn a_guard_without_orders_starts_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("ran");
    for stdin in [Stdio::null(), Stdio::piped()] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fleet"))
            .args(["__guard", "--", "touch"])
            .arg(&marker)
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("fleet __guard");
        if let Some(mut input) = child.stdin.take() {
            // Orders on a pipe, not a socket: the guard may have refused and
            // exited before this write (then it fails with EPIPE: fine).
            let _ = input.write_all(b"group=0\nkeeps=0\n");
        }
        let out = child.wait_with_output().expect("wait");
        assert!(!out.status.success(), "{}", describe(&out));
        assert!(!marker.exists(), "the guard ran its program without orders");
    }
}
