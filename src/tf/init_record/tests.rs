use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::PathBuf;

use super::*;

/// A run directory after a successful init: lock file, plugin link into a
/// store, data dir with backend record and an installed provider link.
struct Fixture {
    _tmp: tempfile::TempDir,
    run: PathBuf,
    data: PathBuf,
    store: PathBuf,
    terraform: PathBuf,
    env: BTreeMap<String, String>,
    args: Vec<String>,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        let data = run.join(".terraform-data");
        let store = tmp.path().join("store");
        let slot = run.join(".plugins/fleet.test/ns/t/0.1.0");
        fs::create_dir_all(&slot).unwrap();
        fs::create_dir_all(store.join("aaaa")).unwrap();
        fs::create_dir_all(store.join("bbbb")).unwrap();
        symlink(store.join("aaaa"), slot.join("linux_amd64")).unwrap();
        fs::create_dir_all(data.join("providers/fleet.test/ns/t/0.1.0")).unwrap();
        symlink(
            slot.join("linux_amd64"),
            data.join("providers/fleet.test/ns/t/0.1.0/linux_amd64"),
        )
        .unwrap();
        fs::write(
            data.join("terraform.tfstate"),
            r#"{"backend":{"type":"local"}}"#,
        )
        .unwrap();
        fs::write(run.join(".terraform.lock.hcl"), "provider {}").unwrap();
        let terraform = tmp.path().join("terraform");
        fs::write(&terraform, "#!/bin/sh\n").unwrap();
        Fixture {
            _tmp: tmp,
            run,
            data,
            store,
            terraform,
            env: BTreeMap::new(),
            args: vec!["init".into(), "-plugin-dir=.plugins".into()],
        }
    }

    fn inputs<'a>(&'a self, rendered: &'a str) -> InitInputs<'a> {
        InitInputs {
            rendered,
            terraform: &self.terraform,
            init_args: &self.args,
            workspace: None,
            env: &self.env,
        }
    }

    fn record(&self) {
        let record = InitRecord::observe(&self.run, &self.data, &self.inputs("r1")).unwrap();
        save(&self.run, &record).unwrap();
    }

    fn current(&self) -> bool {
        is_current(&self.run, &self.data, &self.inputs("r1")).unwrap()
    }
}

#[test]
fn unchanged_run_directory_is_current_and_record_is_private() {
    let f = Fixture::new();
    assert!(!f.current(), "no record yet: init");
    f.record();
    assert!(f.current());
    let mode = fs::metadata(record_path(&f.run))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn forgotten_or_garbled_record_is_not_current() {
    let f = Fixture::new();
    f.record();
    forget(&f.run).unwrap();
    assert!(!f.current());
    forget(&f.run).unwrap(); // already gone: fine
    fs::write(record_path(&f.run), "{not json").unwrap();
    assert!(!f.current());
}

fn changed_by(change: impl FnOnce(&mut Fixture)) -> bool {
    let mut f = Fixture::new();
    f.record();
    change(&mut f);
    !f.current()
}

#[test]
fn every_input_of_init_invalidates_the_record() {
    assert!(changed_by(|f| f.args.push("-upgrade".into())));
    assert!(changed_by(|f| fs::write(
        f.run.join(".terraform.lock.hcl"),
        "x"
    )
    .unwrap()));
    assert!(changed_by(|f| fs::remove_file(
        f.run.join(".terraform.lock.hcl")
    )
    .unwrap()));
    assert!(changed_by(|f| {
        let link = f.run.join(".plugins/fleet.test/ns/t/0.1.0/linux_amd64");
        fs::remove_file(&link).unwrap();
        symlink(f.store.join("bbbb"), &link).unwrap();
    }));
    assert!(changed_by(|f| fs::write(
        f.data.join("terraform.tfstate"),
        "{}"
    )
    .unwrap()));
    assert!(changed_by(|f| fs::remove_dir_all(&f.data).unwrap()));
    assert!(changed_by(
        |f| fs::remove_dir_all(f.store.join("aaaa")).unwrap()
    ));
    assert!(changed_by(|f| {
        f.env.insert("TF_CLI_ARGS_init".into(), "-upgrade".into());
    }));
    assert!(changed_by(|f| {
        // A new terraform at the same path.
        let next = f.terraform.with_extension("new");
        fs::write(&next, "#!/bin/sh\n# 1.12\n").unwrap();
        fs::rename(&next, &f.terraform).unwrap();
    }));
    assert!(changed_by(|f| fs::write(
        f.data.join("environment"),
        "staging"
    )
    .unwrap()));
}

#[test]
fn rendered_digest_and_workspace_are_compared() {
    let f = Fixture::new();
    f.record();
    assert!(!is_current(&f.run, &f.data, &f.inputs("r2")).unwrap());
    let mut other = f.inputs("r1");
    other.workspace = Some("staging");
    assert!(!is_current(&f.run, &f.data, &other).unwrap());
    assert!(f.current());
}

#[test]
fn record_holds_no_environment_values() {
    let mut f = Fixture::new();
    f.env
        .insert("REGION".into(), "value-that-must-not-leak".into());
    f.record();
    let text = fs::read_to_string(record_path(&f.run)).unwrap();
    assert!(!text.contains("value-that-must-not-leak"), "{text}");
}
