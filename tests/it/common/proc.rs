//! Process helpers: signals, waiting with a deadline without sleeping
//! (pidfd + poll), reading lines from a child's pipe with a deadline, and
//! the kernel's view of who holds which flock (/proc/locks).

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: plain syscall on a pid this test spawned.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert!(
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH),
        "kill({pid}, {sig}) failed"
    );
}

/// Signals a whole process group (spawned with `process_group(0)`).
pub fn signal_group(pgid: u32, sig: i32) {
    // SAFETY: plain syscall on a process group this test created.
    let rc = unsafe { libc::kill(-(pgid as libc::pid_t), sig) };
    assert!(
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH),
        "kill(-{pgid}, {sig}) failed"
    );
}

/// Waits for `child` to exit, at most `limit`. Blocks in poll(2) on a pidfd,
/// so it returns the moment the child exits. `None` on timeout.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    if let Some(st) = child.try_wait().expect("try_wait") {
        return Some(st);
    }
    // SAFETY: pidfd_open on our own unreaped child.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) } as i32;
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    let deadline = Instant::now() + limit;
    let result = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n > 0 {
            break child.wait().ok();
        }
        if n == 0 && Instant::now() >= deadline {
            break None;
        }
    };
    // SAFETY: closing the fd we opened.
    unsafe { libc::close(fd) };
    result
}

/// Waits for exit or panics (after killing the child) when it takes longer
/// than `limit`: a hung child must fail the test, not hang it.
pub fn wait_or_kill(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    match wait_timeout(child, limit) {
        Some(st) => st,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}");
        }
    }
}

/// Lines of a child's pipe, read by a thread and handed over a channel so the
/// test can wait for one with a deadline.
pub struct Lines {
    rx: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Lines {
    pub fn new(pipe: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// The first (new) line satisfying `pred`, or a panic after `limit` or at
    /// end of stream, showing every line seen.
    pub fn expect(&mut self, limit: Duration, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(e) => panic!("waiting for {what}: {e:?}; lines so far: {:#?}", self.seen),
            }
        }
    }

    /// Everything until the stream closes (the child exited), bounded.
    pub fn rest(&mut self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        while let Ok(line) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

/// One line of /proc/locks.
#[derive(Debug, Clone)]
pub struct KernelLock {
    pub class: String,
    pub write: bool,
    pub pid: i64,
    pub ino: u64,
}

pub fn kernel_locks() -> Vec<KernelLock> {
    let text = fs::read_to_string("/proc/locks").expect("read /proc/locks");
    text.lines()
        .filter_map(|l| {
            // "1: FLOCK  ADVISORY  WRITE 5925 fe:00:10018817 0 EOF" ("->" marks waiters)
            let f: Vec<&str> = l.split_whitespace().filter(|w| *w != "->").collect();
            if f.len() < 6 {
                return None;
            }
            Some(KernelLock {
                class: f[1].to_string(),
                write: f[3] == "WRITE",
                pid: f[4].parse().ok()?,
                ino: f[5].rsplit(':').next()?.parse().ok()?,
            })
        })
        .collect()
}

/// Files below `root` whose inode is `ino` (lock files live in the store).
pub fn paths_with_inode(root: &Path, ino: u64) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.ino() == ino {
                out.push(e.path());
            }
        }
    }
    out
}

/// Exclusive flocks `pid` holds right now on files below `root`.
pub fn exclusive_flocks_below(pid: u32, root: &Path) -> Vec<PathBuf> {
    kernel_locks()
        .into_iter()
        .filter(|l| l.class == "FLOCK" && l.write && l.pid == pid as i64)
        .flat_map(|l| paths_with_inode(root, l.ino))
        .collect()
}

/// Spins until `child` holds an exclusive flock on a file below `root` and
/// returns that file; `None` if the child exits first (it was too fast).
/// Synchronises on the kernel's lock table, not on time.
pub fn await_exclusive_flock(child: &mut Child, root: &Path, limit: Duration) -> Option<PathBuf> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(p) = exclusive_flocks_below(child.id(), root).into_iter().next() {
            return Some(p);
        }
        if child.try_wait().expect("try_wait").is_some() {
            return None;
        }
        assert!(
            Instant::now() < deadline,
            "child {} took no lock below {} within {limit:?}",
            child.id(),
            root.display()
        );
        std::thread::yield_now();
    }
}

/// A process that holds a lock: `fleet lock --path L -- sh -c 'echo ready;
/// read x; AFTER'` (or a nesting of several). `new` returns once the command
/// runs, i.e. once every lock is held; `release` lets it finish.
pub struct Holder {
    pub child: Child,
    stdin: Option<std::process::ChildStdin>,
    // Kept open for the holder's lifetime: a closed pipe would SIGPIPE it.
    _stdout: Lines,
    _stderr: Lines,
}

impl Holder {
    pub fn new(locks: &[&Path], after: &str) -> Holder {
        use std::os::unix::process::CommandExt;
        use std::process::Stdio;
        let mut cmd = super::fleet_cmd(["lock", "--path"]);
        cmd.arg(locks[0]).arg("--");
        for l in &locks[1..] {
            cmd.arg(super::fleet_bin())
                .arg("lock")
                .arg("--path")
                .arg(l)
                .arg("--");
        }
        cmd.args([
            "sh",
            "-c",
            &format!(
                "echo ready; read x || :; {}",
                if after.is_empty() { ":" } else { after }
            ),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
        let mut child = cmd.spawn().expect("spawn lock holder");
        let stdin = child.stdin.take();
        let mut stdout = Lines::new(child.stdout.take().expect("holder stdout"));
        let stderr = Lines::new(child.stderr.take().expect("holder stderr"));
        stdout.expect(
            Duration::from_secs(30),
            "the lock holder's command to start",
            |l| l == "ready",
        );
        Holder {
            child,
            stdin,
            _stdout: stdout,
            _stderr: stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops (SIGSTOP) or continues (SIGCONT) the holder and its command.
    pub fn stop(&self) {
        signal_group(self.pid(), libc::SIGSTOP);
    }

    pub fn cont(&self) {
        signal_group(self.pid(), libc::SIGCONT);
    }

    /// Lets the command finish and returns the holder's exit status.
    pub fn release(mut self) -> ExitStatus {
        self.cont();
        drop(self.stdin.take());
        wait_or_kill(&mut self.child, Duration::from_secs(30), "lock holder")
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            signal_group(self.pid(), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}
