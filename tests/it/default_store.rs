//! One machine-wide store: with no `--store` and no `FLEET_STORE`, provider
//! packages (`fleet run`) and tool bundles (`fleet variant-build`) land in
//! the same directory, `$XDG_CACHE_HOME/rules_fleet/store` when that is set.
//! (The tool bundle's default once ignored `XDG_CACHE_HOME`: two stores.)

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::runner::{describe, Fleet};
use crate::common::{fleet_cmd, write_fixture, zip, ZipEntry};
use serde_json::json;

/// Published versions (`<sha256>.json`) in a store directory.
fn versions(store: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(store)
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn cache_env(cmd: &mut Command, home: &Path, xdg: &Path) {
    cmd.env_remove("FLEET_STORE")
        .env("HOME", home)
        .env("XDG_CACHE_HOME", xdg);
}

#[test]
fn provider_packages_and_tool_bundles_share_the_xdg_cache_store() {
    let mut fleet = Fleet::new();
    let home = fleet.root().join("home");
    let xdg = fleet.root().join("xdg-cache");
    fs::create_dir_all(&home).unwrap();

    // A provider package (a zip terraform would unpack); init may fail on
    // the stand-in binary, the package is in the store before that.
    let zip_path = fleet
        .runfiles
        .join("pkg/terraform-provider-fake_1.0.0_linux_amd64.zip");
    fs::create_dir_all(zip_path.parent().unwrap()).unwrap();
    let entry = ZipEntry {
        name: "terraform-provider-fake_v1.0.0".into(),
        data: b"#!/bin/sh\nexit 1\n".to_vec(),
        mode: 0o755,
        deflate: true,
    };
    fs::write(&zip_path, zip(&[entry])).unwrap();
    let mut hash = fleet_cmd(["hash".as_ref(), zip_path.as_os_str()]);
    let out = hash.args(["--format", "h1"]).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let h1 = String::from_utf8_lossy(&out.stdout).trim().to_string();
    fleet.add("x", "", &[])["providers"] = json!([{
        "source": "example.com/test/fake",
        "version": "1.0.0",
        "platform": "linux_amd64",
        "archive": "pkg/terraform-provider-fake_1.0.0_linux_amd64.zip",
        "h1": [h1],
    }]);
    fleet.write_manifest();
    let mut run = fleet.fleet("run");
    cache_env(&mut run, &home, &xdg);
    let out = run.args(["--action", "plan"]).output().unwrap();
    let store = xdg.join("rules_fleet/store");
    assert_eq!(
        versions(&store).len(),
        1,
        "provider package: {}",
        describe(&out)
    );

    // A tool bundle in shared mode, from the same environment.
    let bundle = write_fixture(&fleet.root().join("tools.tar.gz"), 0x42, 3, 1000, 1);
    let digest = fleet.root().join("tools.sha256");
    fs::write(&digest, &bundle.sha256).unwrap();
    let mut build = fleet_cmd(["variant-build", "--mode", "shared", "--variant", "v"]);
    cache_env(&mut build, &home, &xdg);
    let out = build
        .arg("--tools")
        .arg(&bundle.path)
        .arg("--digest")
        .arg(&digest)
        .arg("--link")
        .arg(fleet.root().join("tools-link"))
        .arg("--record")
        .arg(fleet.root().join("record.json"))
        .args(["--", "true"])
        .output()
        .unwrap();
    assert!(out.status.success(), "variant-build: {}", describe(&out));
    assert!(
        versions(&store).contains(&format!("{}.json", bundle.sha256)),
        "the tool bundle is in the provider packages' store {}: {:?}; under HOME: {:?}",
        store.display(),
        versions(&store),
        versions(&home.join(".cache/rules_fleet/store")),
    );
    assert!(
        !home.join(".cache/rules_fleet").exists(),
        "nothing under HOME/.cache"
    );
}
