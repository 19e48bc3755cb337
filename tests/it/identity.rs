//! `fleet identity compute|stamp`, the build actions behind instance
//! identities: content decides the identity, never the path; every input
//! counts; a manifest is stamped for every instance or not at all.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::fleet;

fn tree(root: &Path, main_tf: &str) {
    fs::create_dir_all(root.join("modules/x")).unwrap();
    fs::write(root.join("main.tf"), main_tf).unwrap();
    fs::write(root.join("terraform.tfvars.json"), r#"{"name":"a"}"#).unwrap();
    fs::write(root.join("modules/x/main.tf"), "# module\n").unwrap();
}

/// Computes the identity of `rendered` with `extra` arguments; returns it.
fn identity(dir: &Path, rendered: &Path, extra: &[&str]) -> String {
    let out = dir.join("out.identity");
    let mut args = vec![
        "identity",
        "compute",
        "--rendered",
        rendered.to_str().unwrap(),
        "--terraform",
        "terraform 1.11.4",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = fleet(&args);
    assert_eq!(run.code(), 0, "{}", run.transcript());
    let text = fs::read_to_string(&out).unwrap();
    assert_eq!(text.len(), 65, "{text:?}");
    text.trim().to_string()
}

#[test]
fn same_content_at_another_path_has_the_same_identity() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        dir.path().join("one/a.rendered"),
        dir.path().join("elsewhere/deeper/b"),
    );
    tree(&a, "resource \"terraform_data\" \"x\" {}\n");
    tree(&b, "resource \"terraform_data\" \"x\" {}\n");
    let settings = r#"{"env": {"A": "1"}, "workspace": null}"#;
    let first = identity(dir.path(), &a, &["--settings", settings]);
    assert_eq!(first, identity(dir.path(), &b, &["--settings", settings]));

    // Modes do not count: Bazel makes every output 0555, Buck2 leaves what
    // `fleet render` wrote (0644); the same instance has one identity in both.
    for mode in [0o555, 0o755, 0o444] {
        for file in ["main.tf", "terraform.tfvars.json", "modules/x/main.tf"] {
            fs::set_permissions(b.join(file), fs::Permissions::from_mode(mode)).unwrap();
        }
        assert_eq!(first, identity(dir.path(), &b, &["--settings", settings]));
    }

    // Every other input counts: a module byte, the settings, the terraform
    // version, a provider package, an upstream's identity.
    fs::write(b.join("modules/x/main.tf"), "# module!\n").unwrap();
    let edited = identity(dir.path(), &b, &["--settings", settings]);
    assert_ne!(first, edited);
    tree(&b, "resource \"terraform_data\" \"x\" {}\n");
    assert_ne!(
        first,
        identity(dir.path(), &a, &["--settings", r#"{"env": {"A": "2"}}"#])
    );
    let version = dir.path().join("v.identity");
    let run = fleet([
        "identity",
        "compute",
        "--rendered",
        a.to_str().unwrap(),
        "--terraform",
        "terraform 1.11.5",
        "--settings",
        settings,
        "--out",
        version.to_str().unwrap(),
    ]);
    assert_eq!(run.code(), 0, "{}", run.transcript());
    assert_ne!(first, fs::read_to_string(&version).unwrap().trim());
    let zip = dir.path().join("provider.zip");
    fs::write(&zip, b"PK package bytes").unwrap();
    let with_provider = identity(
        dir.path(),
        &a,
        &[
            "--settings",
            settings,
            "--provider-archive",
            zip.to_str().unwrap(),
        ],
    );
    assert_ne!(first, with_provider);
    fs::write(&zip, b"PK other bytes").unwrap();
    assert_ne!(
        with_provider,
        identity(
            dir.path(),
            &a,
            &[
                "--settings",
                settings,
                "--provider-archive",
                zip.to_str().unwrap()
            ]
        )
    );
    let upstream = dir.path().join("up.identity");
    fs::write(&upstream, format!("{}\n", "1".repeat(64))).unwrap();
    let arg = format!("//n:net={}", upstream.display());
    let with_upstream = identity(
        dir.path(),
        &a,
        &["--settings", settings, "--upstream", &arg],
    );
    assert_ne!(first, with_upstream);
    fs::write(&upstream, format!("{}\n", "2".repeat(64))).unwrap();
    assert_ne!(
        with_upstream,
        identity(
            dir.path(),
            &a,
            &["--settings", settings, "--upstream", &arg]
        )
    );
}

#[test]
fn stamp_writes_every_identity_or_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.unstamped.json");
    fs::write(
        &manifest,
        r#"{"schema":1,"target":"//p:all","terraform":"tf","instances":[
            {"label":"//p:a","name":"a","rendered":"p/a.rendered","run_dir":"p/a"},
            {"label":"//p:b","name":"b","rendered":"p/b.rendered","run_dir":"p/b"}]}"#,
    )
    .unwrap();
    let (ida, idb) = (dir.path().join("a.identity"), dir.path().join("b.identity"));
    fs::write(&ida, format!("{}\n", "a".repeat(64))).unwrap();
    fs::write(&idb, format!("{}\n", "b".repeat(64))).unwrap();
    let out = dir.path().join("m.json");
    let a = format!("//p:a={}", ida.display());
    let b = format!("//p:b={}", idb.display());
    let m = manifest.to_str().unwrap();
    let o = out.to_str().unwrap();
    let run = fleet([
        "identity",
        "stamp",
        "--manifest",
        m,
        "--identity",
        &a,
        "--identity",
        &b,
        "--out",
        o,
    ]);
    assert_eq!(run.code(), 0, "{}", run.transcript());
    let stamped: serde_json::Value = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    assert_eq!(stamped["instances"][0]["identity"], "a".repeat(64));
    assert_eq!(stamped["instances"][1]["identity"], "b".repeat(64));
    // The stamped manifest is one `fleet run` reads.
    fleet::manifest::Manifest::load(&out).unwrap();

    fs::remove_file(&out).unwrap();
    let run = fleet([
        "identity",
        "stamp",
        "--manifest",
        m,
        "--identity",
        &a,
        "--out",
        o,
    ]);
    assert_eq!(run.code(), 2, "{}", run.transcript());
    assert!(run.stderr.contains("//p:b"), "{}", run.transcript());
    assert!(!out.exists());
    fs::write(&idb, "../../etc/passwd\n").unwrap();
    let run = fleet([
        "identity",
        "stamp",
        "--manifest",
        m,
        "--identity",
        &a,
        "--identity",
        &b,
        "--out",
        o,
    ]);
    assert_eq!(run.code(), 4, "{}", run.transcript());
}
