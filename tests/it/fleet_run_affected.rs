//! The `--affected-since` base build's temporary worktree against real git
//! and real processes: Ctrl-C / SIGTERM during the build stop it at once and
//! remove the worktree, its directory and its Bazel server; after a SIGKILL
//! of the runner the next base build sweeps what it left (never a live
//! run's directory, never through a link); and no git hook runs, neither the
//! repository's `post-checkout` nor one a relative `core.hooksPath` finds in
//! REV's tree.
//!
//! Bazel itself is played by a script (`--bazel`), which is what the runner
//! is given: it starts a "server" (a process of its own session whose
//! command line names the output base, its pid in
//! `<output_base>/server/server.pid.txt`, as Bazel's), writes the manifest,
//! answers `info bazel-bin` and `shutdown`, and with `<markers>/block`
//! blocks the build until it is interrupted. e2e/ci does the same with the
//! real Bazel.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::proc::{signal, wait_or_kill};
use crate::common::runner::*;

const FAKE_BAZEL: &str = r#"#!/bin/sh
ob=""
cmd=""
for a in "$@"; do
  case "$a" in
    --output_base=*) ob="${a#--output_base=}" ;;
    --*) ;;
    *) [ -z "$cmd" ] && cmd="$a" ;;
  esac
done
case "$cmd" in
  build)
    mkdir -p "$ob/server" "$ob/bin/pkg"
    setsid python3 -c 'import time; time.sleep(600)' "--output_base=$ob" </dev/null >/dev/null 2>&1 &
    echo $! > "$ob/server/server.pid.txt"
    echo $! > "$MARKERS/server.pid"
    cp "$FAKE_MANIFEST" "$ob/bin/pkg/fleet.manifest.json"
    echo $$ > "$MARKERS/client.pid"
    echo "$ob" > "$MARKERS/output_base"
    if [ -e "$MARKERS/block" ]; then
      touch "$MARKERS/building"
      exec sleep 600
    fi
    ;;
  info) echo "$ob/bin" ;;
  shutdown)
    pid=$(cat "$ob/server/server.pid.txt" 2>/dev/null) && kill "$pid" 2>/dev/null
    exit 0 ;;
esac
"#;

struct Repo {
    fleet: Fleet,
    tmpdir: PathBuf,
    bazel: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.email=t@example.invalid", "-c", "user.name=t"])
        .args(args)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn repo() -> Repo {
    let mut fleet = Fleet::new();
    fleet.add("a", &module("true"), &[]);
    fleet.write_manifest();
    let ws = fleet.workspace.clone();
    fs::write(ws.join("README"), "x\n").unwrap();
    fs::write(ws.join(".gitignore"), ".fleet/\n").unwrap();
    git(&ws, &["init", "-q", "-b", "main"]);
    git(&ws, &["add", "-A"]);
    git(&ws, &["commit", "-qm", "base"]);
    let tmpdir = fleet.root().join("tmp");
    fs::create_dir(&tmpdir).unwrap();
    let bazel = fleet.root().join("fake-bazel");
    fs::write(&bazel, FAKE_BAZEL).unwrap();
    fs::set_permissions(&bazel, fs::Permissions::from_mode(0o755)).unwrap();
    Repo {
        fleet,
        tmpdir,
        bazel,
    }
}

impl Repo {
    fn command(&self) -> Command {
        let mut cmd = self.fleet.fleet("run");
        cmd.args(["--action", "plan", "--affected-since", "HEAD", "--bazel"])
            .arg(&self.bazel)
            .env("BUILD_WORKSPACE_DIRECTORY", &self.fleet.workspace)
            .env("TMPDIR", &self.tmpdir)
            .env("MARKERS", &self.fleet.markers)
            .env("FAKE_MANIFEST", &self.fleet.manifest);
        cmd
    }

    fn spawn(&self) -> Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("fleet run")
    }

    fn run(&self) -> std::process::Output {
        self.command().output().expect("fleet run")
    }

    fn scratch_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = fs::read_dir(&self.tmpdir)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("fleet-affected-")
            })
            .map(|e| e.path())
            .collect();
        dirs.sort();
        dirs
    }

    fn worktrees(&self) -> usize {
        git(&self.fleet.workspace, &["worktree", "list", "--porcelain"])
            .lines()
            .filter(|l| l.starts_with("worktree "))
            .count()
    }

    fn marker_pid(&self, name: &str) -> u32 {
        read_pid(&self.fleet.marker(name))
    }

    /// Starts a blocking base build and waits until it builds.
    fn start_blocked(&self) -> (Child, PathBuf) {
        fs::write(self.fleet.marker("block"), "").unwrap();
        let _ = fs::remove_file(self.fleet.marker("building"));
        let child = self.spawn();
        wait_for_file(&self.fleet.marker("building"), Duration::from_secs(60));
        fs::remove_file(self.fleet.marker("block")).unwrap();
        let output_base = fs::read_to_string(self.fleet.marker("output_base")).unwrap();
        (child, PathBuf::from(output_base.trim()))
    }
}

fn read_pid(path: &Path) -> u32 {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

/// Alive and not a zombie.
fn running(pid: u32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_string));
    matches!(state.as_deref(), Some(s) if s != "Z" && s != "X")
}

fn start_time(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    after.split_whitespace().nth(19).unwrap().parse().unwrap()
}

#[test]
fn sigterm_and_sigint_during_the_base_build_remove_everything_at_once() {
    let repo = repo();
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let (mut child, output_base) = repo.start_blocked();
        let server = read_pid(&output_base.join("server/server.pid.txt"));
        let client = repo.marker_pid("client.pid");
        assert!(running(server) && running(client));
        assert_eq!(repo.scratch_dirs().len(), 1);
        assert_eq!(repo.worktrees(), 2, "the base worktree is registered");
        signal(child.id(), sig);
        let status = wait_or_kill(&mut child, Duration::from_secs(60), "fleet run");
        // A bazel left running would hold the output pipes open.
        let client_left = running(client);
        if client_left {
            signal(client, libc::SIGKILL);
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(exit_code(status), 128 + sig, "{}", describe(&out));
        assert!(
            stderr(&out).contains("during the --affected-since base build"),
            "{}",
            describe(&out)
        );
        assert_eq!(repo.scratch_dirs(), Vec::<PathBuf>::new(), "directory left");
        assert_eq!(repo.worktrees(), 1, "worktree left registered");
        assert!(!running(server), "the base build's Bazel server still runs");
        assert!(!client_left, "the interrupted bazel still ran");
        assert!(!repo.fleet.run_dir("a").exists(), "nothing ran");
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

#[test]
fn a_sigkilled_base_build_is_swept_by_the_next_and_live_ones_are_kept() {
    let repo = repo();
    let (mut child, output_base) = repo.start_blocked();
    let server = read_pid(&output_base.join("server/server.pid.txt"));
    let client = repo.marker_pid("client.pid");
    child.kill().unwrap();
    child.wait().unwrap();
    // The bazel client is the runner's child, not part of what is swept.
    signal(client, libc::SIGKILL);
    let stale = repo.scratch_dirs();
    assert_eq!(stale.len(), 1, "the killed run left its directory");
    assert_eq!(repo.worktrees(), 2);
    assert!(running(server));

    // Beside it: a live run's directory (this test process), one whose pid
    // was reused (another start time), an older fleet's name of a dead pid,
    // and a link (to a directory that must survive).
    let me = std::process::id();
    let started = start_time(me);
    let live = repo
        .tmpdir
        .join(format!("fleet-affected-{me}-{started}-live"));
    let reused = repo
        .tmpdir
        .join(format!("fleet-affected-{me}-{}-reused", started + 1));
    let old = repo.tmpdir.join("fleet-affected-999999999.1.0.ff");
    let target = repo.fleet.root().join("keep");
    for dir in [&live, &reused, &old, &target] {
        fs::create_dir_all(dir.join("tree")).unwrap();
        fs::write(dir.join("tree/file"), "x").unwrap();
    }
    let link = repo.tmpdir.join("fleet-affected-1-1-link");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    let out = repo.run();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains(&format!("removing {}", stale[0].display())),
        "{}",
        describe(&out)
    );
    assert!(!stale[0].exists(), "the stale directory is gone");
    assert!(
        !reused.exists() && !old.exists(),
        "dead owners' directories are gone"
    );
    assert!(
        live.join("tree/file").exists(),
        "a live run's directory is kept"
    );
    assert!(
        target.join("tree/file").exists() && link.exists(),
        "a link is not followed"
    );
    assert_eq!(repo.worktrees(), 1, "its worktree is unregistered");
    assert!(!running(server), "its Bazel server is stopped");
    let new_server = repo.marker_pid("server.pid");
    assert_ne!(new_server, server);
    assert!(!running(new_server), "this run's own server is shut down");
    let mut left = repo.scratch_dirs();
    left.retain(|d| d != &live && d != &link);
    assert_eq!(
        left,
        Vec::<PathBuf>::new(),
        "this run's own directory is gone"
    );
}

#[test]
fn no_git_hook_runs_for_the_base_worktree() {
    let repo = repo();
    let ws = &repo.fleet.workspace;
    let marker = repo.fleet.marker("hook-ran");
    let hook = format!("#!/bin/sh\necho \"$0 $*\" >> {}\n", marker.display());
    // The repository's own post-checkout hook.
    let hooks = ws.join(".git/hooks");
    fs::create_dir_all(&hooks).unwrap();
    fs::write(hooks.join("post-checkout"), &hook).unwrap();
    fs::set_permissions(
        hooks.join("post-checkout"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let out = repo.run();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        !marker.exists(),
        "the repository's post-checkout ran: {}",
        fs::read_to_string(&marker).unwrap_or_default()
    );

    // A relative core.hooksPath: the hook comes from REV's own tree.
    fs::remove_file(hooks.join("post-checkout")).unwrap();
    fs::create_dir_all(ws.join("githooks")).unwrap();
    fs::write(ws.join("githooks/post-checkout"), &hook).unwrap();
    fs::set_permissions(
        ws.join("githooks/post-checkout"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    git(ws, &["add", "-A"]);
    git(ws, &["commit", "-qm", "hooks in the tree"]);
    git(ws, &["config", "core.hooksPath", "githooks"]);
    let out = repo.run();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        !marker.exists(),
        "a post-checkout from REV's tree ran: {}",
        fs::read_to_string(&marker).unwrap_or_default()
    );
    assert_eq!(repo.worktrees(), 1);
}
