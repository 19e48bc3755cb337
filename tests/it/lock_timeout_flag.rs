//! One name for the lock deadline: `--lock-timeout` (env
//! `FLEET_LOCK_TIMEOUT`) on every command that waits for a lock; the old
//! `--timeout` still works, hidden, with a one-line deprecation warning.

use crate::common::*;

const DEPRECATION: &str = "--timeout is deprecated; use --lock-timeout";

fn lock_with(flag: &str, seconds: &str, lock: &std::path::Path) -> Run {
    let mut cmd = fleet_cmd(["lock", flag, seconds, "--path"]);
    cmd.arg(lock).args(["--", "true"]);
    run(cmd)
}

#[test]
fn the_deprecated_timeout_flag_is_honoured_with_one_warning_line() {
    let s = Scratch::new("lock-timeout-flag");
    let lock = s.join("state.lock");
    let holder = Holder::new(&[&lock], "");
    let old = lock_with("--timeout", "0.5", &lock);
    old.expect(3);
    assert_eq!(
        old.stderr.matches(DEPRECATION).count(),
        1,
        "{}",
        old.transcript()
    );
    let new = lock_with("--lock-timeout", "0.5", &lock);
    new.expect(3);
    assert!(!new.stderr.contains("deprecated"), "{}", new.transcript());
    assert_eq!(exit_code(holder.release()), 0);
    let free = lock_with("--timeout", "5", &lock);
    free.ok();
    assert_mentions(&free.stderr, DEPRECATION, "the deprecation warning");
}

#[test]
fn every_locking_command_takes_lock_timeout_and_hides_timeout() {
    for command in [
        &["extract"][..],
        &["verify"],
        &["tag", "write"],
        &["tag", "check"],
        &["lock"],
        &["run-locked"],
        &["tf"],
        &["run"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let help = fleet(&args);
        help.ok();
        assert_mentions(&help.stdout, "--lock-timeout", &command.join(" "));
        assert!(
            !help.stdout.contains("--timeout"),
            "fleet {} --help shows the deprecated --timeout:\n{}",
            command.join(" "),
            help.stdout
        );
    }
}

#[test]
fn the_lock_timeout_env_var_sets_the_deadline() {
    let s = Scratch::new("lock-timeout-env");
    let lock = s.join("state.lock");
    let holder = Holder::new(&[&lock], "");
    let mut cmd = fleet_cmd(["lock", "--path"]);
    cmd.arg(&lock)
        .args(["--", "true"])
        .env("FLEET_LOCK_TIMEOUT", "0.5");
    run(cmd).expect(3);
    assert_eq!(exit_code(holder.release()), 0);
}
