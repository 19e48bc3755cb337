//! `fleet run-locked`: several named locks taken in one global order (no
//! deadlock, never two holders), held by the tool's own process, and fresh
//! private directories for the tool's state, removed afterwards.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::common::*;

const NAMES: [&str; 6] = ["cargo-git", "go-mod", "npm", "pip", "rpm", "z"];

/// A small xorshift generator: the seed is printed, so a failure replays.
struct Random(u64);

impl Random {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }

    /// 2 to 4 distinct names, in a random order.
    fn lock_set(&mut self) -> Vec<&'static str> {
        let mut names = NAMES.to_vec();
        for i in (1..names.len()).rev() {
            names.swap(i, self.next(i + 1));
        }
        names.truncate(2 + self.next(3));
        names
    }
}

/// Claims `held-<name>` with a plain mkdir (fails if another holder has it)
/// for every lock it should hold, checks the claims stay its own, releases.
const CLAIMING_TOOL: &str = r#"
for n in $NAMES; do mkdir "$MARKS/held-$n" || { echo "overlap on $n" >&2; exit 9; }; echo $$ >"$MARKS/held-$n/pid"; done
i=0
while [ $i -lt 50 ]; do
  for n in $NAMES; do [ "$(cat "$MARKS/held-$n/pid")" = $$ ] || { echo "stolen $n" >&2; exit 9; }; done
  i=$((i + 1))
done
for n in $NAMES; do rm -rf "$MARKS/held-$n"; done
"#;

fn spawn_claimer(locks: &Path, marks: &Path, names: &[&str]) -> Child {
    let mut cmd = fleet_cmd(["run-locked", "--lock-timeout", "60", "--locks-dir"]);
    cmd.arg(locks);
    for name in names {
        cmd.args(["--lock", name]);
    }
    cmd.args(["--", "sh", "-c", CLAIMING_TOOL])
        .env("NAMES", names.join(" "))
        .env("MARKS", marks)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd.spawn().expect("spawn fleet run-locked")
}

#[test]
fn random_lock_sets_across_16_processes_never_deadlock_nor_overlap() {
    let s = Scratch::new("run-locked-sets");
    let locks = s.join(".locks");
    let marks = s.join("marks");
    fs::create_dir_all(&marks).unwrap();
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut random = Random(seed);
    for round in 0..crate::common::stress_rounds(6) {
        let sets: Vec<Vec<&str>> = (0..16).map(|_| random.lock_set()).collect();
        let mut children: Vec<Child> = sets
            .iter()
            .map(|set| spawn_claimer(&locks, &marks, set))
            .collect();
        for (child, set) in children.iter_mut().zip(&sets) {
            let mut stderr = String::new();
            let status = wait_or_kill(child, Duration::from_secs(90), "fleet run-locked");
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            assert_eq!(
                exit_code(status),
                0,
                "seed {seed} round {round}: locks {set:?} given in this order: {stderr}"
            );
        }
    }
}

#[test]
fn the_locks_stay_held_by_the_tool_when_fleet_is_killed() {
    let s = Scratch::new("run-locked-kill");
    let locks = s.join(".locks");
    let mut cmd = fleet_cmd([
        "run-locked",
        "--lock",
        "npm",
        "--lock",
        "cargo-git",
        "--locks-dir",
    ]);
    cmd.arg(&locks)
        .args(["--", "sh", "-c", "trap '' TERM; echo ready; read line || :"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut fleet = cmd.spawn().expect("spawn fleet run-locked");
    let mut out = Lines::new(fleet.stdout.take().unwrap());
    out.expect(Duration::from_secs(30), "the tool started", |l| {
        l == "ready"
    });
    let tool_input = fleet.stdin.take().unwrap();
    signal(fleet.id(), libc::SIGKILL);
    wait_or_kill(&mut fleet, Duration::from_secs(30), "killed fleet");
    for name in ["npm", "cargo-git"] {
        let mut waiter = fleet_cmd([
            "run-locked",
            "--lock-timeout",
            "0.3",
            "--lock",
            name,
            "--locks-dir",
        ]);
        waiter.arg(&locks).args(["--", "true"]);
        let r = run(waiter);
        r.expect(3);
        assert_mentions(
            &r.stderr,
            &format!("{name}.lock"),
            "the timeout names the lock",
        );
    }
    drop(tool_input);
    let mut waiter = fleet_cmd([
        "run-locked",
        "--lock-timeout",
        "30",
        "--lock",
        "npm",
        "--lock",
        "cargo-git",
    ]);
    waiter.arg("--locks-dir").arg(&locks).args(["--", "true"]);
    run(waiter).ok();
}

#[test]
fn private_dirs_are_fresh_empty_separate_and_removed_afterwards() {
    let s = Scratch::new("run-locked-private");
    let root = s.join("private");
    fs::create_dir_all(root.join("TMPDIR/.cargo/git/db/left-over")).unwrap();
    let tool = r#"
[ -z "$(ls -A "$TMPDIR")" ] && [ -z "$(ls -A "$CARGO_HOME")" ] || { echo "not empty" >&2; exit 9; }
[ "$TMPDIR" != "$CARGO_HOME" ] || exit 10
case "$TMPDIR" in /*) ;; *) exit 11 ;; esac
mkdir -p "$TMPDIR/.cargo/git/db/dep" "$CARGO_HOME/ro/sub" && echo x >"$CARGO_HOME/ro/sub/f"
chmod -R a-w "$CARGO_HOME/ro"
exit 7
"#;
    let mut cmd = fleet_cmd([
        "run-locked",
        "--private-dir",
        "TMPDIR",
        "--private-dir",
        "CARGO_HOME",
    ]);
    cmd.arg("--private-root")
        .arg(&root)
        .args(["--", "sh", "-c", tool]);
    let started = Instant::now();
    let r = run(cmd);
    r.expect(7);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        !root.exists(),
        "the private root is removed, read-only trees included"
    );
}

#[test]
fn bad_names_are_usage_errors() {
    let s = Scratch::new("run-locked-usage");
    let mut cmd = fleet_cmd(["run-locked", "--lock", "../escape", "--locks-dir"]);
    cmd.arg(s.path()).args(["--", "true"]);
    run(cmd).expect(2);
    let mut cmd = fleet_cmd(["run-locked", "--private-dir", "NOT-A-VAR", "--private-root"]);
    cmd.arg(s.join("p")).args(["--", "true"]);
    run(cmd).expect(2);
    let mut cmd = fleet_cmd(["run-locked", "--lock", "npm", "--", "true"]);
    cmd.stdin(Stdio::null());
    run(cmd).expect(2);
    let _ = std::io::stdout().flush();
}
