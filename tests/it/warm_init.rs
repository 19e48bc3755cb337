//! Warm runs skip `terraform init` (issue 14): an instance whose init inputs
//! are unchanged since its last successful init runs one terraform process
//! for plan or apply; any change to what init used, a failed or a killed
//! init, or `--reinit` inits again. Terraform is the real one behind a
//! wrapper that logs every invocation (instance and subcommand), so the
//! counts are observed, not taken from fleet's own report.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::runner::*;
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(120);

const PLAIN: &str = r#"
variable "name" {
  type    = string
  default = "x"
}
resource "terraform_data" "r" {
  input = var.name
}
output "id" {
  value = terraform_data.r.output
}
"#;

/// A fleet whose manifest runs terraform through a logging wrapper.
struct Counted {
    fleet: Fleet,
    log: PathBuf,
    wrapper: PathBuf,
}

impl Counted {
    fn new(names: &[&str]) -> Counted {
        let mut fleet = Fleet::new();
        for name in names {
            fleet.add(name, PLAIN, &[]);
        }
        Counted::from_fleet(fleet)
    }

    fn from_fleet(fleet: Fleet) -> Counted {
        let log = fleet.root().join("terraform-calls.log");
        let wrapper = fleet.root().join("bin/terraform");
        let counted = Counted {
            fleet,
            log,
            wrapper,
        };
        counted.write_wrapper("");
        counted.write_manifest();
        counted
    }

    /// The wrapper: logs `<instance> <subcommand>`; an `init` fails while
    /// `<markers>/fail-init` exists and blocks (after touching
    /// `init.started`) while `<markers>/hold-init` exists. `extra` changes
    /// its bytes (a new terraform at the same path).
    fn write_wrapper(&self, extra: &str) {
        let m = self.fleet.markers.display();
        let script = format!(
            "#!/bin/sh\n{extra}\necho \"$FLEET_INSTANCE $1\" >> {log}\n\
             if [ \"$1\" = init ] && [ -e {m}/fail-init ]; then echo 'init fails on purpose' >&2; exit 1; fi\n\
             if [ \"$1\" = init ] && [ -e {m}/hold-init ]; then\n\
               touch {m}/init.started\n\
               timeout 120 sh -c 'while [ -e {m}/hold-init ]; do sleep 0.05; done'\n\
             fi\n\
             exec {terraform} \"$@\"\n",
            log = self.log.display(),
            terraform = terraform().display(),
        );
        let dir = self.wrapper.parent().expect("bin dir");
        fs::create_dir_all(dir).expect("bin dir");
        let staging = dir.join("terraform.new");
        fs::write(&staging, script).expect("wrapper");
        fs::set_permissions(&staging, fs::Permissions::from_mode(0o755)).expect("chmod");
        fs::rename(&staging, &self.wrapper).expect("rename wrapper");
    }

    fn write_manifest(&self) {
        self.fleet.write_manifest();
        let mut manifest = read_json(&self.fleet.manifest);
        manifest["terraform"] = json!(self.wrapper.display().to_string());
        fs::write(&self.fleet.manifest, manifest.to_string()).expect("manifest");
    }

    /// Subcommands the wrapper saw for `name` since the last `clear`.
    fn calls(&self, name: &str) -> Vec<String> {
        let label = format!("//pkg:{name} ");
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix(&label).map(str::to_string))
            .collect()
    }

    fn clear(&self) {
        let _ = fs::remove_file(&self.log);
    }

    /// `fleet <sub>` with this fleet's own provider store.
    fn command(&self, sub: &str) -> Command {
        let mut cmd = self.fleet.fleet(sub);
        cmd.arg("--store").arg(self.fleet.root().join("store"));
        cmd
    }

    fn run(&self, action: &str, args: &[&str]) -> Output {
        self.command("run")
            .args(["--action", action])
            .args(args)
            .output()
            .expect("running fleet")
    }

    fn run_ok(&self, action: &str, args: &[&str]) -> String {
        let out = self.run(action, args);
        assert!(out.status.success(), "{action}: {}", describe(&out));
        stdout(&out)
    }
}

#[test]
fn warm_plan_and_apply_run_one_terraform_process_per_instance() {
    let c = Counted::new(&["a", "b", "c"]);
    c.run_ok("apply", &[]);
    for name in ["a", "b", "c"] {
        assert_eq!(c.calls(name), ["init", "apply"], "cold apply of {name}");
    }

    c.clear();
    let report_arg = c.fleet.report_path().display().to_string();
    let out = c.run_ok("plan", &["--report", &report_arg]);
    let report = c.fleet.report();
    for name in ["a", "b", "c"] {
        assert_eq!(c.calls(name), ["plan"], "warm plan of {name}");
        let e = entry(&report, name);
        assert_eq!(e["terraform_processes"], 1, "{e:#}");
        assert_eq!(e["init_skipped"], true, "{e:#}");
        let steps: Vec<&str> = e["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| s["name"].as_str().expect("step name"))
            .collect();
        assert_eq!(steps, ["prepare", "plan"], "{e:#}");
        assert_eq!(e["steps"][0]["terraform"], false, "{e:#}");
        assert_eq!(e["steps"][1]["terraform"], true, "{e:#}");
        assert!(e["steps"][1]["seconds"].as_f64().expect("seconds") > 0.0);
    }
    let last = out.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.contains("3 terraform processes"),
        "summary's last line: {last}"
    );

    c.clear();
    c.run_ok("apply", &[]);
    for name in ["a", "b", "c"] {
        assert_eq!(c.calls(name), ["apply"], "warm apply of {name}");
        let outputs = read_json(&c.fleet.run_dir(name).join("outputs.json"));
        assert_eq!(outputs["id"]["value"], "x", "outputs from the local state");
    }

    c.clear();
    let out = c
        .command("tf")
        .args(["--action", "plan", "--only", "a"])
        .output()
        .expect("fleet tf");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(c.calls("a"), ["plan"], "fleet tf skips init too");
}

/// Records an init of `name` (a plan), applies `change`, and returns the
/// subcommands of the next plan and of the one after it.
fn plan_after(c: &mut Counted, change: impl FnOnce(&mut Counted)) -> (Vec<String>, Vec<String>) {
    c.run_ok("plan", &[]);
    c.clear();
    change(c);
    c.write_manifest();
    let _ = c.run("plan", &[]);
    let first = c.calls("a");
    c.clear();
    let _ = c.run("plan", &[]);
    (first, c.calls("a"))
}

fn assert_reinits(what: &str, change: impl FnOnce(&mut Counted)) {
    let mut c = Counted::new(&["a"]);
    let (first, second) = plan_after(&mut c, change);
    assert_eq!(
        first.first().map(String::as_str),
        Some("init"),
        "{what}: {first:?}"
    );
    assert_eq!(second, ["plan"], "{what}: warm again after the re-init");
}

#[test]
fn a_changed_module_file_reinits() {
    assert_reinits("module file", |c| {
        c.fleet.render(
            "a",
            &format!("{PLAIN}\noutput \"more\" {{\n  value = 1\n}}\n"),
        );
    });
}

#[test]
fn changed_variables_reinit() {
    assert_reinits("variables", |c| {
        let vars = c.fleet.rendered("a").join("terraform.tfvars.json");
        fs::write(vars, r#"{"name": "y"}"#).expect("vars");
    });
}

#[test]
fn a_changed_lock_file_reinits() {
    assert_reinits("lock file", |c| {
        let lock = c.fleet.rendered("a").join(".terraform.lock.hcl");
        fs::write(lock, "# no providers\n").expect("lock");
    });
}

#[test]
fn a_new_terraform_binary_reinits() {
    assert_reinits("terraform binary", |c| c.write_wrapper("# terraform 1.12"));
}

#[test]
fn a_changed_provider_package_reinits() {
    let mut c = Counted::new(&["a"]);
    set_provider_package(&mut c, "one");
    c.write_manifest();
    let (first, second) = plan_after(&mut c, |c| set_provider_package(c, "two"));
    assert_eq!(first.first().map(String::as_str), Some("init"), "{first:?}");
    assert_eq!(second, ["plan"]);
}

/// Gives instance `a` a provider package (one its module does not use, so
/// init links nothing) whose bytes depend on `content`.
fn set_provider_package(c: &mut Counted, content: &str) {
    let zip_path = c.fleet.runfiles.join(format!("fake-{content}.zip"));
    let file = fs::File::create(&zip_path).expect("zip");
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    zip.start_file("terraform-provider-fake_v1.0.0", options)
        .expect("zip entry");
    std::io::Write::write_all(&mut zip, format!("#!/bin/sh\n# {content}\n").as_bytes())
        .expect("zip bytes");
    zip.finish().expect("zip finish");
    let h1 = Command::new(env!("CARGO_BIN_EXE_fleet"))
        .args(["hash", "--format", "h1"])
        .arg(&zip_path)
        .output()
        .expect("fleet hash");
    let h1 = String::from_utf8_lossy(&h1.stdout).trim().to_string();
    c.fleet.instance_mut("a")["providers"] = json!([{
        "source": "example.com/test/fake",
        "version": "1.0.0",
        "platform": "linux_amd64",
        "archive": format!("fake-{content}.zip"),
        "h1": [h1],
    }]);
}

#[test]
fn a_backend_config_that_moves_the_state_is_refused_before_terraform_runs() {
    let c = Counted::new(&["a"]);
    c.run_ok("plan", &[]);
    c.clear();
    // The local backend's path is where the state lives: a move, which
    // terraform would want migrated (-migrate-state) and fleet does not guess.
    let backend = json!({"terraform": {"backend": {"local": {"path": "other.tfstate"}}}});
    let path = c.fleet.rendered("a").join("backend.tf.json");
    fs::write(path, backend.to_string()).expect("backend");
    let out = c.run("plan", &[]);
    assert!(!out.status.success(), "{}", describe(&out));
    let text = describe(&out);
    assert!(
        text.contains(r#"the backend changed from local {"path":"terraform.tfstate"} to local {"path":"other.tfstate"}, which moves the state"#),
        "{text}"
    );
    assert_eq!(c.calls("a"), Vec::<String>::new(), "no init, no plan");
}

#[test]
fn a_failed_init_inits_again_next_time() {
    let c = Counted::new(&["a"]);
    c.run_ok("plan", &[]);
    c.fleet.render("a", &format!("{PLAIN}\n# changed\n"));
    fs::write(c.fleet.marker("fail-init"), "").expect("marker");
    let out = c.run("plan", &[]);
    assert!(!out.status.success(), "init was made to fail");
    fs::remove_file(c.fleet.marker("fail-init")).expect("marker");

    // Back to the inputs of the recorded init: the failed init in between
    // may have changed the data directory, so init runs again.
    c.fleet.render("a", PLAIN);
    c.clear();
    c.run_ok("plan", &[]);
    assert_eq!(c.calls("a"), ["init", "plan"]);
}

#[test]
fn a_killed_init_inits_again_next_time() {
    let c = Counted::new(&["a"]);
    c.run_ok("plan", &[]);
    c.fleet.render("a", &format!("{PLAIN}\n# changed\n"));
    fs::write(c.fleet.marker("hold-init"), "").expect("marker");
    let mut runner = c
        .command("run")
        .args(["--action", "plan"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("runner");
    wait_for_file(&c.fleet.marker("init.started"), LIMIT);
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(runner.id() as i32, libc::SIGKILL) }, 0);
    runner.wait().expect("reaping the runner");
    fs::remove_file(c.fleet.marker("hold-init")).expect("marker");

    c.fleet.render("a", PLAIN);
    c.clear();
    c.run_ok("plan", &[]);
    assert_eq!(c.calls("a"), ["init", "plan"]);
}

#[test]
fn reinit_forces_init() {
    let c = Counted::new(&["a"]);
    c.run_ok("plan", &[]);
    c.clear();
    c.run_ok("plan", &["--reinit"]);
    assert_eq!(c.calls("a"), ["init", "plan"]);
    c.clear();
    c.run_ok("plan", &[]);
    assert_eq!(c.calls("a"), ["plan"]);
    c.clear();
    let out = c
        .command("tf")
        .args(["--action", "plan", "--only", "a", "--reinit"])
        .output()
        .expect("fleet tf");
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(c.calls("a"), ["init", "plan"]);
}

/// A terraform `http` state backend on 127.0.0.1 (GET / POST of one state
/// per path, no locking): a backend that is not local, so outputs cannot be
/// read from a state file in the run directory.
fn http_backend() -> u16 {
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut states: HashMap<String, Vec<u8>> = HashMap::new();
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
                let lower = header.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut parts = request.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let (status, reply) = match method {
                "GET" => match states.get(path) {
                    Some(state) => ("200 OK", state.clone()),
                    None => ("404 Not Found", Vec::new()),
                },
                "POST" => {
                    states.insert(path.to_string(), body);
                    ("200 OK", Vec::new())
                }
                _ => ("200 OK", Vec::new()),
            };
            let mut stream = reader.into_inner();
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                reply.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&reply);
        }
    });
    port
}

fn use_http_backend(fleet: &Fleet, name: &str, port: u16) {
    let backend = json!({"terraform": {"backend": {"http": {
        "address": format!("http://127.0.0.1:{port}/state/{name}")
    }}}});
    let path = fleet.rendered(name).join("backend.tf.json");
    fs::write(path, backend.to_string()).expect("backend");
}

#[test]
fn remote_backend_outputs_cost_a_process_only_when_a_dependent_reads_them() {
    let port = http_backend();
    let mut fleet = Fleet::new();
    fleet.add("up", PLAIN, &[]);
    fleet.add("down", PLAIN, &["up"]);
    fleet.input_from("down", "name", "up", "id");
    use_http_backend(&fleet, "up", port);
    let c = Counted::from_fleet(fleet);
    c.run_ok("apply", &[]);
    assert_eq!(c.calls("up"), ["init", "apply", "output"]);
    c.clear();
    c.run_ok("apply", &[]);
    assert_eq!(c.calls("up"), ["apply", "output"], "a dependent reads them");
    assert_eq!(c.calls("down"), ["apply"]);
    let down = c
        .fleet
        .run_dir("down")
        .join("fleet.inputs.auto.tfvars.json");
    assert_eq!(
        read_json(&down)["name"],
        "x",
        "the upstream's output reached it"
    );

    // The same instance in a fleet where nothing reads its outputs.
    let mut alone = Fleet::new();
    alone.add("up", PLAIN, &[]);
    use_http_backend(&alone, "up", port);
    let c = Counted::from_fleet(alone);
    c.run_ok("apply", &[]);
    c.clear();
    c.run_ok("apply", &[]);
    assert_eq!(
        c.calls("up"),
        ["apply"],
        "nobody reads them: no output process"
    );
    assert!(
        !c.fleet.run_dir("up").join("outputs.json").exists(),
        "no outputs older than the apply are left behind"
    );
}
