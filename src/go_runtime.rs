//! Go garbage-collector settings for the terraform processes fleet starts
//! (and the Go provider plugins they start, which inherit the environment).
//!
//! Why: terraform is a large Go program whose package initialisation
//! allocates tens of MiB into a heap that starts with a 4 MiB goal, so a
//! short command spends a quarter of its CPU collecting: `terraform plan` of
//! an unchanged builtin-only instance takes 47 ms of CPU at Go's default
//! `GOGC=100` and 36 ms at `GOGC=400` (peak RSS unchanged at 62 MiB), and
//! fleet runs dozens at once on machines where CPU is the limit.
//!
//! A higher `GOGC` lets each heap grow to five times its live data instead of
//! twice, so fleet bounds it: `GOMEMLIMIT` (Go's soft limit, at which it
//! collects whatever `GOGC` says) is the machine's memory (`MemTotal`, or the
//! cgroup's `memory.max` if lower) divided by twice the number of
//! terraform processes running at once (a terraform and a provider plugin
//! per instance). While a process's live data stays under half its share it
//! uses no more than its share, and the processes together no more than the
//! machine; a process whose live data outgrows that would, at Go's default,
//! have needed more memory than the machine has. A share under
//! [`MIN_SHARE`] (a small machine, a huge parallelism) leaves Go's defaults.
//!
//! The caller's own `GOGC` or `GOMEMLIMIT` (or an instance's `env`) wins:
//! fleet then sets neither, and `GOGC=100` restores Go's default.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The `GOGC` fleet gives terraform (measured: 100 → 47 ms, 200 → 41 ms,
/// 400 → 36 ms, 800 → 35 ms of CPU per warm plan).
pub const GC_PERCENT: u32 = 400;

/// Below this per-process memory share fleet leaves Go's defaults alone.
pub const MIN_SHARE: u64 = 64 << 20;

/// Go processes counted per running terraform: itself and one provider plugin.
const PROCESSES_PER_TERRAFORM: u64 = 2;

/// The variables the caller may set to take this over.
const CALLER_SETTINGS: [&str; 2] = ["GOGC", "GOMEMLIMIT"];

/// `GOGC` and `GOMEMLIMIT` for terraform processes of which `concurrent`
/// run at once, or nothing when the caller set either or memory is short.
pub fn settings(concurrent: usize) -> Vec<(OsString, OsString)> {
    let caller_set = CALLER_SETTINGS
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    if caller_set {
        return Vec::new();
    }
    settings_for(machine_memory(), concurrent)
}

/// [`settings`] for a machine with `memory` bytes (None: unknown).
pub fn settings_for(memory: Option<u64>, concurrent: usize) -> Vec<(OsString, OsString)> {
    let Some(memory) = memory else {
        return Vec::new();
    };
    let processes = (concurrent.max(1) as u64).saturating_mul(PROCESSES_PER_TERRAFORM);
    let share = memory / processes;
    if share < MIN_SHARE {
        return Vec::new();
    }
    vec![
        ("GOGC".into(), GC_PERCENT.to_string().into()),
        ("GOMEMLIMIT".into(), share.to_string().into()),
    ]
}

/// How many build actions run at once on this machine (Bazel's default `--jobs`).
pub fn local_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The memory this process may use: `MemTotal`, capped by the memory limits
/// of its cgroup and the cgroup's ancestors (v2), or v1's limit.
pub fn machine_memory() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text))?;
    let limit = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| cgroup_limit(Path::new("/sys/fs/cgroup"), &text));
    Some(limit.map_or(total, |l| l.min(total)))
}

/// `MemTotal` of /proc/meminfo, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The lowest memory limit on the way from this process's cgroup up to the
/// root, under `root` (cgroup v2 `memory.max`, or v1's `memory.limit_in_bytes`).
fn cgroup_limit(root: &Path, proc_cgroup: &str) -> Option<u64> {
    let mut lowest: Option<u64> = None;
    let mut consider = |file: PathBuf| {
        let value = std::fs::read_to_string(file).ok();
        if let Some(limit) = value.and_then(|v| v.trim().parse::<u64>().ok()) {
            lowest = Some(lowest.map_or(limit, |l| l.min(limit)));
        }
    };
    for line in proc_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let relative = path.trim_start_matches('/');
        if controllers.is_empty() {
            let mut dir = root.join(relative);
            loop {
                consider(dir.join("memory.max"));
                if dir == root || !dir.pop() || !dir.starts_with(root) {
                    break;
                }
            }
        } else if controllers.split(',').any(|c| c == "memory") {
            consider(
                root.join("memory")
                    .join(relative)
                    .join("memory.limit_in_bytes"),
            );
        }
    }
    lowest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(settings: &[(OsString, OsString)], name: &str) -> Option<String> {
        settings
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string_lossy().into_owned())
    }

    #[test]
    fn the_share_is_memory_over_two_processes_per_terraform() {
        let s = settings_for(Some(24 << 30), 40);
        assert_eq!(get(&s, "GOGC").as_deref(), Some("400"));
        assert_eq!(
            get(&s, "GOMEMLIMIT"),
            Some(((24u64 << 30) / 80).to_string())
        );
        let one = settings_for(Some(8 << 30), 0);
        assert_eq!(get(&one, "GOMEMLIMIT"), Some((4u64 << 30).to_string()));
    }

    #[test]
    fn a_small_share_or_unknown_memory_leaves_go_defaults() {
        assert!(settings_for(Some(4 << 30), 40).is_empty());
        assert!(settings_for(None, 4).is_empty());
    }

    #[test]
    fn mem_total_is_read_in_bytes() {
        let text = "MemTotal:       24576000 kB\nMemFree:  1 kB\n";
        assert_eq!(mem_total(text), Some(24_576_000 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn the_lowest_cgroup_limit_on_the_way_up_counts() {
        let root = tempfile::tempdir().unwrap();
        let leaf = root.path().join("ci.slice/job.scope");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(leaf.join("memory.max"), "max\n").unwrap();
        std::fs::write(root.path().join("ci.slice/memory.max"), "2147483648\n").unwrap();
        let v2 = "0::/ci.slice/job.scope\n";
        assert_eq!(cgroup_limit(root.path(), v2), Some(2 << 30));
        let v1dir = root.path().join("memory/docker/abc");
        std::fs::create_dir_all(&v1dir).unwrap();
        std::fs::write(v1dir.join("memory.limit_in_bytes"), "1073741824\n").unwrap();
        let v1 = "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n";
        assert_eq!(cgroup_limit(root.path(), v1), Some(1 << 30));
        assert_eq!(cgroup_limit(root.path(), "0::/elsewhere\n"), None);
    }
}
