//! `fleet lock-file regenerate|check|list` against the real terraform: the
//! `<component>.lock` and `<component>.lock_test` targets' work.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use std::process::Command;

use crate::common::*;

const SOURCE: &str = "fleet.test/rules-fleet/fleettest";

/// A workspace with one module requiring the provider, and packages for two platforms.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("ws/mod");
        fs::create_dir_all(&module).unwrap();
        fs::write(
            module.join("main.tf"),
            format!("terraform {{\n  required_providers {{\n    fleettest = {{\n      source  = \"{SOURCE}\"\n      version = \"0.1.0\"\n    }}\n  }}\n}}\n"),
        )
        .unwrap();
        let fixture = Fixture { dir };
        for platform in ["linux_amd64", "darwin_arm64"] {
            let binary = fixture.path().join(format!("bin-{platform}"));
            fs::write(&binary, format!("#!/bin/sh\n# {platform}\n")).unwrap();
            fleet([
                "provider-package".as_ref(),
                "--binary".as_ref(),
                binary.as_os_str(),
                "--entry".as_ref(),
                "terraform-provider-fleettest_v0.1.0".as_ref(),
                "--zip".as_ref(),
                fixture.package(platform).as_os_str(),
            ])
            .ok();
        }
        fixture
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn package(&self, platform: &str) -> PathBuf {
        self.path()
            .join(format!("terraform-provider-fleettest_0.1.0_{platform}.zip"))
    }

    fn lock(&self) -> PathBuf {
        self.path().join("ws/mod/.terraform.lock.hcl")
    }

    /// `fleet lock-file SUB` with both packages and both platforms.
    fn command(&self, sub: &str) -> Command {
        let mut cmd = fleet_cmd(["lock-file", sub]);
        cmd.args(["--label", "//mod:m.lock", "--terraform"])
            .arg(terraform());
        for platform in ["linux_amd64", "darwin_arm64"] {
            cmd.args([
                "--platform",
                platform,
                "--package",
                SOURCE,
                "0.1.0",
                platform,
            ])
            .arg(self.package(platform));
        }
        cmd.args(["--module", "main.tf"])
            .arg(self.path().join("ws/mod/main.tf"));
        cmd.env_remove("TF_CLI_CONFIG_FILE")
            .env("CHECKPOINT_DISABLE", "1");
        cmd
    }

    fn regenerate(&self) -> Command {
        let mut cmd = self.command("regenerate");
        cmd.args(["--dest", "mod/.terraform.lock.hcl"])
            .env("BUILD_WORKSPACE_DIRECTORY", self.path().join("ws"));
        cmd
    }

    fn check(&self) -> Command {
        let mut cmd = self.command("check");
        cmd.arg("--lock-file").arg(self.lock());
        cmd.args([
            "--lock-target",
            "//mod:m.lock",
            "--lock-file-path",
            "mod/.terraform.lock.hcl",
        ]);
        cmd
    }
}

fn hash(format: &str, zip: &Path) -> String {
    fleet([
        "hash".as_ref(),
        zip.as_os_str(),
        "--format".as_ref(),
        format.as_ref(),
    ])
    .ok()
    .line()
}

#[test]
fn regenerate_records_h1_and_zh_of_every_package_and_a_rerun_changes_nothing() {
    let fx = Fixture::new();
    run(fx.regenerate()).ok();
    let text = fs::read_to_string(fx.lock()).unwrap();
    for platform in ["linux_amd64", "darwin_arm64"] {
        for format in ["h1", "zh"] {
            let want = hash(format, &fx.package(platform));
            assert!(
                text.contains(&format!("\"{want}\"")),
                "{format} of {platform} in\n{text}"
            );
        }
    }
    let before = fs::metadata(fx.lock()).unwrap();
    let again = run(fx.regenerate());
    again.ok();
    assert!(again.stdout.contains("unchanged"), "{}", again.transcript());
    let after = fs::metadata(fx.lock()).unwrap();
    assert_eq!(
        (before.ino(), before.mtime_nsec()),
        (after.ino(), after.mtime_nsec())
    );
    assert_eq!(after.mode() & 0o777, 0o644);
    run(fx.check()).ok();
}

/// Terraform settings in the caller's environment would break or redirect
/// `terraform providers lock`; none of them may reach it.
#[test]
fn the_callers_terraform_settings_do_not_reach_terraform() {
    let fx = Fixture::new();
    let data = fx.path().join("caller-data");
    let cache = fx.path().join("caller-cache");
    fs::create_dir_all(&cache).unwrap();
    for sub in ["regenerate", "check"] {
        let mut cmd = if sub == "regenerate" {
            fx.regenerate()
        } else {
            fx.check()
        };
        cmd.env("TF_CLI_ARGS", "-no-such-flag")
            .env("TF_CLI_ARGS_providers", "-no-such-flag")
            .env("TF_DATA_DIR", &data)
            .env("TF_PLUGIN_CACHE_DIR", &cache)
            .env("TF_CLI_CONFIG_FILE", fx.path().join("missing.tfrc"))
            .env("TF_LOG", "TRACE");
        let out = run(cmd);
        out.ok();
        assert!(
            !out.stderr.contains("[TRACE]"),
            "TF_LOG reached terraform: {}",
            out.transcript()
        );
    }
    assert!(!data.exists(), "terraform used the caller's TF_DATA_DIR");
    assert_eq!(
        fs::read_dir(&cache).unwrap().count(),
        0,
        "terraform filled the caller's plugin cache"
    );
}

#[test]
fn check_fails_naming_the_lock_target_when_a_platform_lacks_hashes() {
    let fx = Fixture::new();
    run(fx.regenerate()).ok();
    // Keep the hashes of one package only: neither h1: nor zh: of the other matches.
    let keep = [
        hash("h1", &fx.package("linux_amd64")),
        hash("zh", &fx.package("linux_amd64")),
    ];
    let text = fs::read_to_string(fx.lock()).unwrap();
    let trimmed: String = text
        .lines()
        .filter(|l| {
            !l.trim_start().starts_with("\"h1:") && !l.trim_start().starts_with("\"zh:")
                || keep.iter().any(|k| l.contains(k.as_str()))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(fx.lock(), trimmed).unwrap();
    let out = run(fx.check());
    out.expect(5);
    assert!(
        out.stderr.contains("bazel run //mod:m.lock"),
        "{}",
        out.transcript()
    );
    assert!(
        out.stderr.contains("lacks hashes for darwin_arm64"),
        "{}",
        out.transcript()
    );
}

#[test]
fn check_fails_for_a_missing_lock_file_and_a_provider_not_locked() {
    let fx = Fixture::new();
    let out = run(fx.check());
    out.expect(5);
    assert!(
        out.stderr.contains("has no lock file"),
        "{}",
        out.transcript()
    );
    fs::write(fx.lock(), "# empty\n").unwrap();
    let out = run(fx.check());
    out.expect(5);
    assert!(
        out.stderr.contains(&format!(
            "{SOURCE} is required by the module but not in the lock file"
        )),
        "{}",
        out.transcript()
    );
}

#[test]
fn list_prints_the_blocks_as_json_and_refuses_a_broken_file() {
    let fx = Fixture::new();
    run(fx.regenerate()).ok();
    let listed = fleet([
        "lock-file".as_ref(),
        "list".as_ref(),
        "--json".as_ref(),
        fx.lock().as_os_str(),
    ])
    .ok()
    .json();
    assert_eq!(listed[0]["source"], SOURCE);
    assert_eq!(listed[0]["version"], "0.1.0");
    assert_eq!(listed[0]["hashes"].as_array().unwrap().len(), 4);
    fs::write(fx.lock(), "provider \"a/b/c\" {\n").unwrap();
    fleet(["lock-file".as_ref(), "list".as_ref(), fx.lock().as_os_str()]).expect(4);
}

#[test]
fn check_takes_the_deprecated_lock_and_lock_path_with_one_warning_each() {
    let fx = Fixture::new();
    run(fx.regenerate()).ok();
    let mut old = fx.command("check");
    old.arg("--lock").arg(fx.lock());
    old.args(["--lock-target", "//mod:m.lock", "--lock-path", "mod/x.hcl"]);
    let out = run(old);
    // A passing check proves --lock was read: without a lock file it exits 5.
    out.ok();
    let warnings = [
        "fleet: warning: --lock is deprecated; use --lock-file",
        "fleet: warning: --lock-path is deprecated; use --lock-file-path",
    ];
    for warning in warnings {
        assert_eq!(
            out.stderr.matches(warning).count(),
            1,
            "{}",
            out.transcript()
        );
    }
    assert_eq!(
        out.stderr.matches("deprecated").count(),
        2,
        "{}",
        out.transcript()
    );
    let new = run(fx.check());
    new.ok();
    assert!(!new.stderr.contains("deprecated"), "{}", new.transcript());
    let mut help = fx.command("check");
    help.arg("--help");
    let help = run(help);
    assert!(
        !help.stdout.contains("--lock ") && !help.stdout.contains("--lock-path"),
        "{}",
        help.stdout
    );
}
