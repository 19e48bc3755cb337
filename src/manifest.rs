//! The instance manifest: the JSON contract between the Starlark rules and
//! `fleet`. `tf_instance` writes one with a single instance for its
//! `.plan`/`.apply`/`.destroy`/`.output` targets; `tf_fleet` writes one with
//! all its instances (and their transitive dependencies).
//!
//! Paths named "runfiles path" are Bazel `short_path`s, resolved against the
//! runfiles directory given to `fleet` on the command line (`--runfiles`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::unsafe_input;
use crate::label::Label;

/// The manifest schema this build of `fleet` reads and writes.
pub const SCHEMA: u32 = 1;

/// Where `fleet run` keeps each fleet's last reports, under the fleet root.
pub const REPORTS_DIR: &str = ".reports";
/// Where `on_change` hooks' reports and logs go, under the fleet root.
pub const GROUPS_DIR: &str = ".groups";
/// Names fleet owns at the top of the fleet root: no run directory may be
/// one of them or lie below one.
pub const FLEET_ROOT_RESERVED: &[&str] = &[REPORTS_DIR, GROUPS_DIR];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// Label of the target that wrote the manifest (a fleet or one instance).
    pub target: String,
    /// Default concurrency limit (`tf_fleet(parallelism)`); 0 means 10.
    #[serde(default)]
    pub parallelism: u32,
    /// Runfiles path of the `terraform` (or `tofu`) binary.
    pub terraform: String,
    /// Run directories live under `<workspace root>/<fleet_root>/`.
    #[serde(default = "default_fleet_root")]
    pub fleet_root: String,
    pub instances: Vec<Instance>,
    /// Run groups (`tf_group`): nested limits, serial orders, hooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Runfiles paths of more manifests whose instances belong to this one
    /// (an instance's manifest names those of its direct dependencies, which
    /// name theirs): each entry is written once, not copied down a chain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub includes: Vec<String>,
}

/// A run group (`tf_group`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Full Bazel label of the group.
    pub label: String,
    /// Short name for display.
    pub name: String,
    pub mode: GroupMode,
    /// Parallel groups: at most this many of its instances at once; 0 = no own limit.
    #[serde(default)]
    pub concurrency: u32,
    /// Labels of the members (instances or groups), in order.
    pub members: Vec<String>,
    /// Runfiles path of the `on_change` executable.
    #[serde(default)]
    pub on_change: Option<String>,
}

/// How a group runs its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupMode {
    Parallel,
    Serial,
}

/// One component instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// Full Bazel label, the instance's identity: `//infra/elasticache:redis-cluster-1`.
    pub label: String,
    /// Short name for display: `redis-cluster-1`.
    pub name: String,
    /// Runfiles path of the rendered instance tree (module files, generated
    /// `backend.tf.json`, `terraform.tfvars.json`, lock file).
    pub rendered: String,
    /// Run directory relative to the fleet root, derived from the label:
    /// `<package>/<name>`.
    pub run_dir: String,
    /// Terraform workspace, if not `default`.
    #[serde(default)]
    pub workspace: Option<String>,
    /// Extra environment for terraform (never secrets: those come from the
    /// caller's environment at run time).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Labels of instances that must be applied first.
    #[serde(default)]
    pub deps: Vec<String>,
    /// Variables read from upstream outputs after they are applied:
    /// variable name → `{instance, output}`. Each upstream is also in `deps`.
    #[serde(default)]
    pub inputs_from: BTreeMap<String, OutputRef>,
    /// Provider packages to take from the shared store (read-only plugin dir).
    #[serde(default)]
    pub providers: Vec<ProviderPackage>,
    /// Secrets read from the caller's environment at run time: variable
    /// name → environment variable name. Terraform gets each as
    /// `TF_VAR_<variable>` in its own environment only; the value is never
    /// written anywhere by fleet.
    #[serde(default)]
    pub secret_env: BTreeMap<String, String>,
    /// Runs alone: nothing else of a run starts while it runs (`tf_instance(exclusive)`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclusive: bool,
    /// Retries of transient failures (`retry` of the component and the
    /// instance, merged key by key); absent: every step runs once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    /// sha256 of everything that decides this instance's plan, computed at
    /// build time (`fleet identity compute`); compared by `--affected-since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

/// An instance's `retry` as the rules write it (see [`crate::retry`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Regular expressions matched against a failed step's error output.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Runs of a step at most, the first included (>= 1).
    pub max_attempts: u32,
    /// The backoff before the first retry, doubling up to `max_delay_ms`.
    pub delay_ms: u64,
    pub max_delay_ms: u64,
    /// Apply is idempotent: retried even after it changed a resource.
    #[serde(default)]
    pub apply: bool,
    /// The built-in transient patterns too ([`crate::retry::defaults`]).
    #[serde(default)]
    pub defaults: bool,
}

/// A reference to an output of another instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OutputRef {
    /// Label of the upstream instance.
    pub instance: String,
    /// Name of the upstream's Terraform output.
    pub output: String,
}

/// A provider package in mirror layout, verified against the lock file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProviderPackage {
    /// `registry.terraform.io/hashicorp/aws`.
    pub source: String,
    pub version: String,
    /// `linux_amd64`.
    pub platform: String,
    /// Runfiles path of `terraform-provider-<type>_<version>_<platform>.zip`.
    pub archive: String,
    /// The lock file's `h1:` hashes for this provider (any one must match).
    /// Empty when they are only known at build time: then `lock_file` is read.
    #[serde(default)]
    pub h1: Vec<String>,
    /// The zip's sha256 when already known (saves hashing it on every run).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Runfiles path of the component's `.terraform.lock.hcl`, read for the
    /// `h1:` hashes when `h1` is empty.
    #[serde(default, rename = "lock")]
    pub lock_file: Option<String>,
    /// Label of the component's `.lock` target (it regenerates the lock
    /// file), named in errors.
    #[serde(default, rename = "lock_target")]
    pub lock_file_target: Option<String>,
}

fn default_fleet_root() -> String {
    ".fleet".to_string()
}

impl Manifest {
    /// Reads and validates a manifest; malformed ones are exit 4.
    pub fn load(path: &Path) -> Result<Manifest> {
        let manifest = Manifest::read(path)?;
        manifest
            .validate()
            .with_context(|| format!("manifest {}", path.display()))?;
        Ok(manifest)
    }

    /// Reads a manifest without validating it (its `includes` may hold
    /// what its instances refer to).
    pub fn read(path: &Path) -> Result<Manifest> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading manifest {}", path.display()))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| unsafe_input(format!("manifest {} does not parse: {e}", path.display())))
    }

    /// Adds the instances of an included manifest that this one does not
    /// have yet; the same label with a different entry is exit 4. `known`
    /// is the label → index map of `self.instances`, kept current.
    pub fn absorb(
        &mut self,
        included: Manifest,
        from: &Path,
        known: &mut std::collections::HashMap<String, usize>,
    ) -> Result<()> {
        if included.schema != SCHEMA {
            return Err(unsafe_input(format!(
                "included manifest {} has schema {}, not {SCHEMA}",
                from.display(),
                included.schema
            )));
        }
        for inst in included.instances {
            match known.get(inst.label.as_str()) {
                Some(&i) if self.instances[i] == inst => {}
                Some(_) => {
                    return Err(unsafe_input(format!(
                        "included manifest {} has another entry for {}",
                        from.display(),
                        inst.label
                    )))
                }
                None => {
                    known.insert(inst.label.clone(), self.instances.len());
                    self.instances.push(inst);
                }
            }
        }
        Ok(())
    }

    /// Checks schema, unique labels and run dirs, and that every dependency
    /// and output reference names an instance of this manifest.
    pub fn validate(&self) -> Result<()> {
        if self.schema != SCHEMA {
            return Err(unsafe_input(format!(
                "schema {} is not supported (this fleet reads schema {SCHEMA})",
                self.schema
            )));
        }
        let mut labels = BTreeSet::new();
        let mut run_dirs: BTreeMap<&str, &str> = BTreeMap::new();
        for inst in &self.instances {
            if !labels.insert(inst.label.as_str()) {
                return Err(unsafe_input(format!(
                    "instance {} is listed twice",
                    inst.label
                )));
            }
            check_relative(&inst.run_dir).with_context(|| format!("run_dir of {}", inst.label))?;
            check_not_reserved(&inst.run_dir)
                .with_context(|| format!("run_dir of {}", inst.label))?;
            check_runfiles_path(&inst.rendered)
                .with_context(|| format!("rendered tree of {}", inst.label))?;
            if let Some(other) = run_dirs.insert(inst.run_dir.as_str(), inst.label.as_str()) {
                return Err(unsafe_input(format!(
                    "instances {other} and {} share the run directory {}",
                    inst.label, inst.run_dir
                )));
            }
            check_secret_env(inst)?;
            check_retry(inst)?;
        }
        check_nesting(&run_dirs)?;
        for group in &self.groups {
            check_group(group)?;
        }
        for inst in &self.instances {
            for dep in &inst.deps {
                if !labels.contains(dep.as_str()) {
                    return Err(unsafe_input(format!(
                        "{} depends on {dep}, which is not in the manifest",
                        inst.label
                    )));
                }
            }
            for (var, source) in &inst.inputs_from {
                if !inst.deps.contains(&source.instance) {
                    return Err(unsafe_input(format!(
                        "{}: variable {var} reads {}#{} but does not depend on it",
                        inst.label, source.instance, source.output
                    )));
                }
            }
        }
        Ok(())
    }

    /// Looks an instance up by label (in any form Bazel shows it: `@@//a:b`,
    /// `@repo~//a:b`, see [`crate::label`]) or by short name (names must then
    /// be unique).
    /// Label → index of every instance (labels are unique once validated).
    pub fn index_by_label(&self) -> std::collections::HashMap<&str, usize> {
        self.instances
            .iter()
            .enumerate()
            .map(|(i, inst)| (inst.label.as_str(), i))
            .collect()
    }

    pub fn find(&self, key: &str) -> Option<&Instance> {
        let by_label = self.instances.iter().find(|i| i.label == key).or_else(|| {
            let wanted = Label::parse(key).ok()?;
            self.instances
                .iter()
                .find(|i| Label::parse(&i.label).is_ok_and(|l| l == wanted))
        });
        by_label.or_else(|| {
            let mut by_name = self.instances.iter().filter(|i| i.name == key);
            match (by_name.next(), by_name.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            }
        })
    }
}

/// One run directory inside another would let one instance's run overwrite
/// or delete the other's files (`a/c` and `a/c/b`; `a/c` and `a/cb` are fine).
fn check_nesting(run_dirs: &BTreeMap<&str, &str>) -> Result<()> {
    for (dir, label) in run_dirs {
        let mut ancestor = Path::new(dir).parent();
        while let Some(parent) = ancestor.filter(|p| !p.as_os_str().is_empty()) {
            if let Some((outer_dir, outer)) =
                parent.to_str().and_then(|p| run_dirs.get_key_value(p))
            {
                return Err(unsafe_input(format!(
                    "run directory {dir} of {label} is inside run directory {outer_dir} of {outer}: \
                     one instance's run would change the other's files"
                )));
            }
            ancestor = parent.parent();
        }
    }
    Ok(())
}

/// A run directory named like something fleet keeps under the fleet root
/// (`.reports/`, `.groups/`) would mix an instance's files with fleet's own.
fn check_not_reserved(run_dir: &str) -> Result<()> {
    let top = Path::new(run_dir)
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    match top.filter(|t| FLEET_ROOT_RESERVED.contains(&t.as_str())) {
        Some(name) => Err(unsafe_input(format!(
            "{run_dir:?} is inside {name}/, which fleet keeps for its own files under the fleet root"
        ))),
        None => Ok(()),
    }
}

/// A group's limit must mean something (a serial group runs one member at
/// a time: a `concurrency` there is a mistake) and its hook must be a file
/// of the runfiles.
fn check_group(group: &Group) -> Result<()> {
    if group.mode == GroupMode::Serial && group.concurrency != 0 {
        return Err(unsafe_input(format!(
            "group {} is serial but has parallelism {}: a serial group runs one member at a time",
            group.label, group.concurrency
        )));
    }
    if let Some(hook) = &group.on_change {
        check_runfiles_path(hook).with_context(|| format!("on_change of group {}", group.label))?;
    }
    Ok(())
}

/// A runfiles path (a Bazel `short_path`) stays inside the runfiles: it is
/// relative, without `.` or `..` components, except the one leading `../`
/// of a file of another repository (`../repo/path`).
pub(crate) fn check_runfiles_path(path: &str) -> Result<()> {
    let rest = path.strip_prefix("../").unwrap_or(path);
    let inside = !rest.is_empty()
        && !Path::new(path).is_absolute()
        && rest
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !inside {
        return Err(unsafe_input(format!(
            "{path:?} is not a path inside the runfiles (relative, no '.' or '..' but the leading '../' of another repository's file)"
        )));
    }
    let external_needs_a_file = path.starts_with("../") && !rest.contains('/');
    if external_needs_a_file {
        return Err(unsafe_input(format!(
            "{path:?} names a repository directory, not a file inside the runfiles"
        )));
    }
    Ok(())
}

/// A retry policy the runner can follow: at least one attempt, a cap not
/// below the first delay, patterns that compile (the rules check what
/// Starlark can; only the regex engine knows the rest).
fn check_retry(inst: &Instance) -> Result<()> {
    let Some(retry) = &inst.retry else {
        return Ok(());
    };
    let bad = |what: String| unsafe_input(format!("{}: retry: {what}", inst.label));
    if retry.max_attempts < 1 {
        return Err(bad("max_attempts must be at least 1".into()));
    }
    if retry.max_delay_ms < retry.delay_ms {
        return Err(bad(format!(
            "max_delay ({}ms) is shorter than delay ({}ms)",
            retry.max_delay_ms, retry.delay_ms
        )));
    }
    for pattern in &retry.patterns {
        if let Err(e) = regex::Regex::new(pattern) {
            return Err(bad(format!("pattern {pattern:?} does not compile: {e}")));
        }
    }
    Ok(())
}

/// Variable names are Terraform identifiers; environment variable names are
/// `[A-Za-z_][A-Za-z0-9_]*`.
fn check_secret_env(inst: &Instance) -> Result<()> {
    for (var, env) in &inst.secret_env {
        if !is_identifier(var) {
            return Err(unsafe_input(format!(
                "{}: secret_env variable name {var:?} is not a Terraform identifier",
                inst.label
            )));
        }
        let env_ok = env
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !env_ok {
            return Err(unsafe_input(format!(
                "{}: secret_env {var}: environment variable name {env:?} is not [A-Za-z_][A-Za-z0-9_]*",
                inst.label
            )));
        }
    }
    Ok(())
}

/// A Terraform identifier: a letter or `_`, then letters, digits, `_` or `-`.
pub fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A run directory must stay below the fleet root.
fn check_relative(path: &str) -> Result<()> {
    let p = Path::new(path);
    let escapes = p.is_absolute()
        || path.is_empty()
        || p.components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)));
    if escapes {
        return Err(unsafe_input(format!(
            "{path:?} must be a relative path without '..' or '.'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(label: &str, deps: &[&str]) -> Instance {
        let name = label.rsplit(':').next().unwrap_or(label).to_string();
        Instance {
            label: label.into(),
            run_dir: format!("pkg/{name}"),
            name,
            rendered: "pkg/x".into(),
            workspace: None,
            env: BTreeMap::new(),
            deps: deps.iter().map(|d| d.to_string()).collect(),
            inputs_from: BTreeMap::new(),
            providers: vec![],
            secret_env: BTreeMap::new(),
            exclusive: false,
            retry: None,
            identity: None,
        }
    }

    fn manifest(instances: Vec<Instance>) -> Manifest {
        Manifest {
            schema: SCHEMA,
            target: "//pkg:fleet".into(),
            parallelism: 0,
            terraform: "tf/terraform".into(),
            fleet_root: default_fleet_root(),
            instances,
            groups: vec![],
            includes: vec![],
        }
    }

    #[test]
    fn unknown_dependency_is_refused() {
        let m = manifest(vec![instance("//pkg:a", &["//pkg:b"])]);
        assert!(format!("{:#}", m.validate().unwrap_err()).contains("//pkg:b"));
    }

    #[test]
    fn shared_run_dir_is_refused() {
        let mut b = instance("//pkg:b", &[]);
        b.run_dir = "pkg/a".into();
        let m = manifest(vec![instance("//pkg:a", &[]), b]);
        let msg = format!("{:#}", m.validate().unwrap_err());
        assert!(msg.contains("//pkg:a") && msg.contains("//pkg:b"), "{msg}");
    }

    #[test]
    fn escaping_run_dir_is_refused() {
        let mut a = instance("//pkg:a", &[]);
        a.run_dir = "../a".into();
        assert!(manifest(vec![a]).validate().is_err());
    }

    #[test]
    fn nested_run_dirs_are_refused_siblings_with_a_common_prefix_are_not() {
        let with_dir = |label: &str, dir: &str| {
            let mut i = instance(label, &[]);
            i.run_dir = dir.into();
            i
        };
        let m = manifest(vec![with_dir("//a:c", "a/c"), with_dir("//a/c:b", "a/c/b")]);
        let err = m.validate().unwrap_err();
        let msg = format!("{err:#}");
        assert_eq!(
            crate::error::exit_code_of(&err),
            crate::error::ExitCode::Unsafe
        );
        for part in ["//a:c", "//a/c:b", "a/c/b", "a/c "] {
            assert!(msg.contains(part), "{part} in {msg}");
        }
        let deeper = manifest(vec![with_dir("//a:c", "a/c"), with_dir("//x:y", "a/c/d/e")]);
        assert!(deeper.validate().is_err());
        let siblings = manifest(vec![with_dir("//a:c", "a/c"), with_dir("//a:cb", "a/cb")]);
        siblings.validate().unwrap();
    }

    #[test]
    fn secret_env_names_are_checked() {
        let with = |var: &str, env: &str| {
            let mut i = instance("//pkg:a", &[]);
            i.secret_env.insert(var.into(), env.into());
            manifest(vec![i])
        };
        with("db_password", "DB_PASSWORD").validate().unwrap();
        for (var, env) in [
            ("db password", "X"),
            ("1x", "X"),
            ("ok", "A=B"),
            ("ok", "9A"),
            ("ok", ""),
        ] {
            let err = with(var, env).validate().unwrap_err();
            assert_eq!(
                crate::error::exit_code_of(&err),
                crate::error::ExitCode::Unsafe,
                "{var} {env}"
            );
        }
    }

    #[test]
    fn reserved_run_dirs_serial_concurrency_and_escaping_paths_are_refused() {
        let unsafe_code = |m: Manifest| {
            let err = m.validate().unwrap_err();
            assert_eq!(
                crate::error::exit_code_of(&err),
                crate::error::ExitCode::Unsafe,
                "{err:#}"
            );
            format!("{err:#}")
        };
        for dir in [".reports", ".reports/x", ".groups/pkg/g", ".groups"] {
            let mut a = instance("//pkg:a", &[]);
            a.run_dir = dir.into();
            assert!(unsafe_code(manifest(vec![a])).contains("//pkg:a"));
        }
        let mut fine = instance("//pkg:a", &[]);
        fine.run_dir = "pkg/.reports".into();
        manifest(vec![fine]).validate().unwrap();
        for rendered in [
            "/abs/x",
            "../../x",
            "pkg/../../x",
            "./x",
            "",
            "../repo",
            "a//b",
        ] {
            let mut a = instance("//pkg:a", &[]);
            a.rendered = rendered.into();
            assert!(unsafe_code(manifest(vec![a])).contains("rendered tree of //pkg:a"));
        }
        let mut external = instance("//pkg:a", &[]);
        external.rendered = "../repo/pkg/a.rendered".into();
        manifest(vec![external]).validate().unwrap();

        let group = |mode: GroupMode, concurrency: u32, hook: Option<&str>| Group {
            label: "//pkg:g".into(),
            name: "g".into(),
            mode,
            concurrency,
            members: vec!["//pkg:a".into()],
            on_change: hook.map(str::to_string),
        };
        let with_group = |g: Group| {
            let mut m = manifest(vec![instance("//pkg:a", &[])]);
            m.groups = vec![g];
            m
        };
        assert!(unsafe_code(with_group(group(GroupMode::Serial, 2, None))).contains("serial"));
        with_group(group(GroupMode::Parallel, 2, Some("pkg/hook.sh")))
            .validate()
            .unwrap();
        for hook in ["/bin/sh", "../../bin/sh", "pkg/../../x"] {
            let msg = unsafe_code(with_group(group(GroupMode::Parallel, 0, Some(hook))));
            assert!(msg.contains("on_change of group //pkg:g"), "{msg}");
        }
    }

    #[test]
    fn find_by_label_or_unique_name() {
        let m = manifest(vec![instance("//pkg:a", &[]), instance("//q:a", &[])]);
        assert!(m.find("//q:a").is_some());
        assert!(m.find("a").is_none(), "ambiguous short name");
    }

    #[test]
    fn find_by_a_label_in_another_form() {
        let m = manifest(vec![
            instance("//pkg:a", &[]),
            instance("@infra//db:main", &[]),
        ]);
        assert_eq!(m.find("@@//pkg:a").unwrap().label, "//pkg:a");
        assert_eq!(m.find("@infra~//db:main").unwrap().label, "@infra//db:main");
        assert_eq!(
            m.find("@@infra+//db:main").unwrap().label,
            "@infra//db:main"
        );
        assert!(m.find("@other//db:main").is_none());
    }
}
