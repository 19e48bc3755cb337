//! Fixtures for the instance-run tests: a workspace root, a runfiles tree
//! with rendered instance directories, a manifest, and helpers to drive the
//! real `fleet` binary and the real terraform.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub use super::terraform::terraform;

/// A fleet of instances under one temporary directory.
pub struct Fleet {
    pub tmp: tempfile::TempDir,
    pub workspace: PathBuf,
    pub runfiles: PathBuf,
    pub markers: PathBuf,
    pub manifest: PathBuf,
    pub parallelism: u32,
    /// The terraform the manifest names (the real one unless a test wraps it).
    pub terraform: PathBuf,
    instances: Vec<Value>,
}

impl Fleet {
    pub fn new() -> Fleet {
        let tmp = tempfile::Builder::new()
            .prefix("fleet-run-test")
            .tempdir()
            .expect("temp dir");
        let root = tmp.path().to_path_buf();
        let workspace = root.join("ws");
        let runfiles = root.join("runfiles");
        let markers = root.join("markers");
        for dir in [&workspace, &runfiles, &markers] {
            fs::create_dir_all(dir).expect("fixture dir");
        }
        Fleet {
            manifest: root.join("manifest.json"),
            tmp,
            workspace,
            runfiles,
            markers,
            parallelism: 0,
            terraform: terraform(),
            instances: vec![],
        }
    }

    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// Adds `//pkg:<name>` whose root module is `main_tf` (plus a generated
    /// local backend), depending on `deps` (short names).
    pub fn add(&mut self, name: &str, main_tf: &str, deps: &[&str]) -> &mut Value {
        self.render(name, main_tf);
        self.instances.push(json!({
            "label": format!("//pkg:{name}"),
            "name": name,
            "rendered": format!("pkg/{name}.rendered"),
            "run_dir": format!("pkg/{name}"),
            "deps": deps.iter().map(|d| format!("//pkg:{d}")).collect::<Vec<_>>(),
        }));
        self.instances.last_mut().expect("just pushed")
    }

    /// Rewrites the rendered tree of an instance (as a rebuild would).
    pub fn render(&self, name: &str, main_tf: &str) {
        let dir = self.rendered(name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("rendered dir");
        fs::write(dir.join("main.tf"), main_tf).expect("main.tf");
        let backend = json!({"terraform": {"backend": {"local": {"path": "terraform.tfstate"}}}});
        fs::write(dir.join("backend.tf.json"), backend.to_string()).expect("backend");
    }

    pub fn rendered(&self, name: &str) -> PathBuf {
        self.runfiles.join(format!("pkg/{name}.rendered"))
    }

    pub fn instance_mut(&mut self, name: &str) -> &mut Value {
        self.instances
            .iter_mut()
            .find(|i| i["name"] == name)
            .expect("instance")
    }

    /// `var <- name#output`: sets inputs_from (the dependency must be in deps).
    pub fn input_from(&mut self, name: &str, var: &str, upstream: &str, output: &str) {
        let inst = self.instance_mut(name);
        if inst.get("inputs_from").is_none() {
            inst["inputs_from"] = json!({});
        }
        inst["inputs_from"][var] =
            json!({"instance": format!("//pkg:{upstream}"), "output": output});
    }

    pub fn write_manifest(&self) {
        let manifest = json!({
            "schema": 1,
            "target": "//pkg:fleet",
            "parallelism": self.parallelism,
            "terraform": self.terraform.to_string_lossy(),
            "instances": self.instances,
        });
        fs::write(
            &self.manifest,
            serde_json::to_vec_pretty(&manifest).expect("json"),
        )
        .expect("manifest");
    }

    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.workspace.join(".fleet/pkg").join(name)
    }

    pub fn marker(&self, name: &str) -> PathBuf {
        self.markers.join(name)
    }

    /// `fleet <sub> --manifest .. --runfiles .. --workspace-root ..`, with the
    /// hostile environment of this machine (CLI config pointing nowhere).
    pub fn fleet(&self, sub: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleet"));
        cmd.arg(sub)
            .arg("--manifest")
            .arg(&self.manifest)
            .arg("--runfiles")
            .arg(&self.runfiles)
            .arg("--workspace-root")
            .arg(&self.workspace)
            .env_remove("BUILD_WORKSPACE_DIRECTORY")
            .env_remove("RUNFILES_DIR")
            .env_remove("FLEET_LOCK_TIMEOUT")
            .env(
                "TF_CLI_CONFIG_FILE",
                self.root().join("missing.terraformrc"),
            )
            .current_dir(self.root());
        cmd
    }

    /// `fleet run --action <action> [args]`, waited for.
    pub fn run(&self, action: &str, args: &[&str]) -> Output {
        self.fleet("run")
            .args(["--action", action])
            .args(args)
            .output()
            .expect("running fleet")
    }

    pub fn report_path(&self) -> PathBuf {
        self.root().join("report.json")
    }

    pub fn report(&self) -> Value {
        read_json(&self.report_path())
    }

    pub fn state(&self, name: &str) -> Value {
        read_json(&self.run_dir(name).join("terraform.tfstate"))
    }

    /// Processes whose environment names a run directory of this fleet.
    pub fn live_processes(&self) -> Vec<(u32, String)> {
        let needle = format!("FLEET_RUN_DIR={}", self.workspace.display());
        let mut found = vec![];
        for entry in fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(environ) = fs::read(entry.path().join("environ")) else {
                continue;
            };
            let hit = environ
                .split(|b| *b == 0)
                .any(|v| v.starts_with(needle.as_bytes()));
            if hit {
                let cmd = fs::read(entry.path().join("cmdline")).unwrap_or_default();
                found.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
            }
        }
        found
    }
}

pub fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Waits for another process to create `path`; panics after `limit`.
pub fn wait_for_file(path: &Path, limit: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < limit,
            "{} did not appear within {limit:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A root module with one `terraform_data` whose provisioner runs `script`
/// (a shell script; `$${` for a literal `${`) and outputs `value`.
pub fn module(script: &str) -> String {
    format!(
        r#"
variable "value" {{
  type    = string
  default = "v"
}}
resource "terraform_data" "r" {{
  input = var.value
  provisioner "local-exec" {{
    command = <<-EOT
{script}
EOT
  }}
}}
output "value" {{
  value = terraform_data.r.output
}}
"#
    )
}

/// A script that records start and end times (ns) in `<markers>/<name>.start|.end`
/// around `body`.
pub fn timed(markers: &Path, name: &str, body: &str) -> String {
    let m = markers.display();
    format!("date +%s%N > {m}/{name}.start.tmp && mv {m}/{name}.start.tmp {m}/{name}.start\n{body}\ndate +%s%N > {m}/{name}.end")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

/// The instance entry of a report.
pub fn entry<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in report {report:#}"))
}

/// The largest number of intervals open at one instant (half-open [start, end)).
pub fn max_overlap(intervals: &[(f64, f64)]) -> usize {
    let mut points: Vec<(f64, i32)> = intervals
        .iter()
        .flat_map(|&(s, e)| [(s, 1), (e, -1)])
        .collect();
    points.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let (mut open, mut most) = (0i32, 0i32);
    for (_, d) in points {
        open += d;
        most = most.max(open);
    }
    most as usize
}

/// Pids of live terraform processes (not their provisioner shells) whose
/// environment names `run_dir` as their run directory. A terraform forking
/// a provisioner shows its fork as terraform until the exec: children of a
/// terraform in the list are left out.
pub fn terraform_pids(run_dir: &Path) -> Vec<u32> {
    let found = terraform_processes(run_dir);
    found
        .iter()
        .filter(|(_, ppid)| !found.iter().any(|(pid, _)| pid == ppid))
        .map(|(pid, _)| *pid)
        .collect()
}

/// (pid, parent pid) of every process that `terraform_pids` considers.
fn terraform_processes(run_dir: &Path) -> Vec<(u32, u32)> {
    let needle = format!("FLEET_RUN_DIR={}", run_dir.display());
    let mut found = vec![];
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let is_terraform =
            cmd.split(|b| *b == 0).next() == Some(terraform().as_os_str().as_encoded_bytes());
        if !is_terraform || exiting(&entry.path()) {
            continue;
        }
        let environ = fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            found.push((pid, parent_pid(&entry.path())));
        }
    }
    found
}

fn parent_pid(proc_dir: &Path) -> u32 {
    let status = fs::read_to_string(proc_dir.join("status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A zombie, or a process past the point of its exit where the kernel has
/// closed its descriptors (and so released its flocks) but not yet made it
/// a zombie: it holds nothing any more.
fn exiting(proc_dir: &Path) -> bool {
    let stat = fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
    let dead = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .is_none_or(|state| state == "Z" || state == "X");
    dead || fs::read_dir(proc_dir.join("fd")).map_or(true, |mut fds| fds.next().is_none())
}

/// Waits for `pred` to hold, checking every 20 ms; panics after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut pred: impl FnMut() -> bool) {
    let start = Instant::now();
    while !pred() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every file and directory below `root` with its permission bits.
pub fn modes_below(root: &Path) -> Vec<(PathBuf, u32, bool)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = vec![];
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir").flatten() {
            let meta = fs::symlink_metadata(entry.path()).expect("lstat");
            if meta.file_type().is_symlink() {
                continue;
            }
            out.push((
                entry.path(),
                meta.permissions().mode() & 0o7777,
                meta.is_dir(),
            ));
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out
}

/// Files below `root` whose bytes contain `needle`.
pub fn files_containing(root: &Path, needle: &str) -> Vec<PathBuf> {
    modes_below(root)
        .into_iter()
        .filter(|(path, _, dir)| {
            !dir && fs::read(path)
                .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
        })
        .map(|(path, _, _)| path)
        .collect()
}

/// Waits for `child` to exit, polling; kills it and fails when it has not
/// within `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("fleet did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
