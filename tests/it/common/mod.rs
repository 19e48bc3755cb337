//! Shared harness of the integration tests: scratch directories, running the
//! real `fleet` binary, deterministic content, raw (hostile) tar/zip builders,
//! an independent Go dirhash Hash1, filesystem snapshots, process helpers and
//! ([`runner`]) fleets of instances for the `fleet run` / `fleet tf` tests.
//!
//! Everything here is written from the command-line contract only; nothing
//! calls into the `fleet` library, so the tests stay independent of it.

pub mod archive;
pub mod proc;
pub mod runner;
pub mod store;
pub mod terraform;
pub mod tree;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub use archive::*;
pub use proc::*;
pub use store::*;
pub use terraform::terraform;
pub use tree::*;

/// Rounds of a stress test: `full`, or a quarter of it (at least 2) under
/// `FLEET_TEST_QUICK=1`, the inner loop of `./tools/test quick`. The full
/// suite (`./tools/test`, CI) always runs every round.
pub fn stress_rounds(full: usize) -> usize {
    match std::env::var("FLEET_TEST_QUICK") {
        Ok(v) if v == "1" => (full / 4).max(2),
        _ => full,
    }
}

/// The binary under test.
pub fn fleet_bin() -> &'static str {
    env!("CARGO_BIN_EXE_fleet")
}

/// A `Command` for `fleet ARGS` with a predictable environment: no inherited
/// lock timeout, and Terraform pointed away from the user's CLI config.
pub fn fleet_cmd<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(fleet_bin());
    cmd.args(args)
        .env_remove("FLEET_LOCK_TIMEOUT")
        .stdin(Stdio::null());
    cmd
}

/// The outcome of one finished process.
#[derive(Debug, Clone)]
pub struct Run {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn from_output(what: String, out: Output, elapsed: Duration) -> Run {
        Run {
            what,
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed,
        }
    }

    /// The exit code, or 128 + signal for a process killed by a signal.
    pub fn code(&self) -> i32 {
        exit_code(self.status)
    }

    /// Panics with the whole transcript unless the exit code is `code`.
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code\n{}",
            self.transcript()
        );
        self
    }

    pub fn ok(&self) -> &Run {
        self.expect(0)
    }

    /// The first stdout line, trimmed.
    pub fn line(&self) -> String {
        self.stdout.lines().next().unwrap_or("").trim().to_string()
    }

    /// stdout parsed as one JSON value.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.transcript()))
    }

    pub fn transcript(&self) -> String {
        format!(
            "$ {}\nexit: {} after {:?}\n--- stdout\n{}--- stderr\n{}---",
            self.what,
            self.code(),
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }
}

pub fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Runs `fleet ARGS` to completion.
pub fn fleet<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(fleet_cmd(args))
}

/// Runs any command to completion, capturing its output.
pub fn run(mut cmd: Command) -> Run {
    let what = describe(&cmd);
    let start = Instant::now();
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    Run::from_output(what, out, start.elapsed())
}

pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// A scratch directory removed on drop, even when tests left read-only trees
/// in it (published store versions are read-only by contract).
pub struct Scratch {
    dir: Option<tempfile::TempDir>,
}

impl Scratch {
    pub fn new(label: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("fleet-{label}-"))
            .tempdir()
            .expect("create scratch dir");
        Scratch { dir: Some(dir) }
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("scratch dir").path()
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path().join(rel)
    }

    /// Creates (and returns) a subdirectory.
    pub fn mkdir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let p = self.join(rel);
        fs::create_dir_all(&p).expect("mkdir");
        p
    }

    /// Writes a file (creating parents) and returns its path.
    pub fn write(&self, rel: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("mkdir parent");
        }
        fs::write(&p, bytes).expect("write file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            make_writable(dir.path());
            let _ = dir.close();
        }
    }
}

/// Adds owner write (and search) permission to every directory below `root`
/// so the tree can be removed by a non-root user.
pub fn make_writable(root: &Path) {
    let Ok(meta) = fs::symlink_metadata(root) else {
        return;
    };
    if meta.is_dir() {
        let mode = meta.permissions().mode();
        let _ = fs::set_permissions(root, fs::Permissions::from_mode(mode | 0o700));
        if let Ok(entries) = fs::read_dir(root) {
            for e in entries.flatten() {
                make_writable(&e.path());
            }
        }
    }
}

/// Removes a directory tree that may be read-only.
pub fn remove_tree(root: &Path) {
    make_writable(root);
    fs::remove_dir_all(root).unwrap_or_else(|e| panic!("remove {}: {e}", root.display()));
}

/// A deterministic, fast pseudo-random generator (SplitMix64).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Seeded from the clock; the seed is printed so a failure can be replayed
    /// with `FLEET_TEST_SEED`.
    pub fn from_env_or_clock(label: &str) -> Rng {
        let seed = std::env::var("FLEET_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        eprintln!("{label}: FLEET_TEST_SEED={seed}");
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&last[..n]);
    }
}

/// Panics unless `haystack` mentions `needle`, showing both.
pub fn assert_mentions(haystack: &str, needle: &str, what: &str) {
    assert!(
        haystack.contains(needle),
        "{what}: expected to find {needle:?} in:\n{haystack}"
    );
}

/// Panics unless `text` contains `pid` as a whole number (not as part of a
/// longer number).
pub fn assert_mentions_pid(text: &str, pid: u32, what: &str) {
    let p = pid.to_string();
    let found = text.match_indices(&p).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + p.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    });
    assert!(found, "{what}: expected pid {pid} in:\n{text}");
}

/// `fleet extract --archive A --store S --json [extra...]`, expecting exit 0;
/// returns the parsed JSON object.
pub fn extract_json(archive: &Path, store: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<&OsStr> = vec![
        "extract".as_ref(),
        "--archive".as_ref(),
        archive.as_ref(),
        "--store".as_ref(),
        store.as_ref(),
        "--json".as_ref(),
    ];
    args.extend(extra.iter().map(|s| OsStr::new(*s)));
    fleet(args).ok().json()
}

/// The `path` of an extraction result, without a trailing slash.
pub fn json_path(v: &serde_json::Value) -> PathBuf {
    let s = v["path"]
        .as_str()
        .unwrap_or_else(|| panic!("no path in {v}"));
    PathBuf::from(s.trim_end_matches('/'))
}
