//! Content hashes against golden vectors: Go's empty-go.mod Hash1 and what
//! the local `terraform` itself records (h1 for a directory and a zip) or
//! accepts (zh).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// cmd/go/internal/modfetch: "the hash of a 1-file tree containing a
/// 0-length go.mod".
const GO_EMPTY_GO_MOD_H1: &str = "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=";

fn hash(path: &Path, format: Option<&str>) -> String {
    let mut args: Vec<&std::ffi::OsStr> = vec!["hash".as_ref(), path.as_os_str()];
    if let Some(f) = format {
        args.push("--format".as_ref());
        args.push(f.as_ref());
    }
    fleet(args).ok().line()
}

#[test]
fn go_empty_go_mod_vector() {
    let s = Scratch::new("gomod");
    s.write("m/go.mod", b"");
    assert_eq!(
        h1_of_dir(&s.join("m")),
        GO_EMPTY_GO_MOD_H1,
        "the harness's own Hash1"
    );
    assert_eq!(hash(&s.join("m"), None), GO_EMPTY_GO_MOD_H1);
    assert_eq!(hash(&s.join("m"), Some("h1")), GO_EMPTY_GO_MOD_H1);
}

#[test]
fn h1_sorts_whole_slash_paths_and_ignores_empty_directories() {
    let s = Scratch::new("h1-order");
    // Byte order of whole paths puts "a-c" < "a.txt" < "a/b": a per-directory
    // walk order would not.
    for (p, c) in [
        ("t/a.txt", "1"),
        ("t/a/b", "2"),
        ("t/a-c", "3"),
        ("t/a/b2/deep/x", "4"),
        ("t/Z", "5"),
    ] {
        s.write(p, c);
    }
    s.mkdir("t/empty/dir");
    let t = s.join("t");
    let want = h1_of_entries(
        [
            ("a.txt", "1"),
            ("a/b", "2"),
            ("a-c", "3"),
            ("a/b2/deep/x", "4"),
            ("Z", "5"),
        ]
        .map(|(p, c)| (p.to_string(), sha256_hex(c.as_bytes()))),
    );
    assert_eq!(hash(&t, None), want);
    assert_eq!(hash(&t, Some("h1")), want);
    s.mkdir("e");
    assert_eq!(
        hash(&s.join("e"), None),
        "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "no files: sha256 of nothing"
    );
}

#[test]
fn files_hash_as_sha256_and_zh() {
    let s = Scratch::new("file-hash");
    let mut data = vec![0u8; 100_000];
    Rng::new(3).fill(&mut data);
    let f = s.write("blob.bin", &data);
    let hex = sha256_hex(&data);
    assert_eq!(hash(&f, None), hex);
    assert_eq!(hash(&f, Some("sha256")), hex);
    assert_eq!(hash(&f, Some("zh")), format!("zh:{hex}"));
    assert_eq!(
        hash(&s.write("empty", b""), Some("sha256")),
        sha256_hex(b"")
    );
}

#[test]
fn missing_paths_and_unknown_formats_fail() {
    let s = Scratch::new("hash-errors");
    let r = fleet(["hash".as_ref(), s.join("nope").as_os_str()]);
    assert_ne!(r.code(), 0, "{}", r.transcript());
    assert_mentions(&r.stderr, "nope", "names the path");
    let f = s.write("f", b"x");
    fleet([
        "hash".as_ref(),
        f.as_os_str(),
        "--format".as_ref(),
        "md5".as_ref(),
    ])
    .expect(2);
}

/// A scratch Terraform setup: an empty CLI config, a root module requiring
/// example.com/test/dummy 1.0.0, and `init -plugin-dir`.
struct Tf {
    s: Scratch,
}

const PROVIDER_BINARY: &str = "terraform-provider-dummy_v1.0.0";
const PROVIDER_SCRIPT: &[u8] = b"#!/bin/sh\necho 'not a real provider' >&2\nexit 1\n";

impl Tf {
    fn new(label: &str) -> Tf {
        let s = Scratch::new(label);
        s.write("cli.tfrc", b"");
        Tf { s }
    }

    fn root(&self, name: &str) -> PathBuf {
        let root = self.s.join(name);
        fs::create_dir_all(&root).expect("mkdir root");
        fs::write(
            root.join("main.tf"),
            "terraform {\n  required_providers {\n    dummy = {\n      source  = \"example.com/test/dummy\"\n      version = \"1.0.0\"\n    }\n  }\n}\n",
        )
        .expect("write main.tf");
        root
    }

    fn init(&self, root: &Path, plugins: &Path) -> Run {
        let mut cmd = Command::new(terraform());
        cmd.current_dir(root)
            .args(["init", "-backend=false", "-input=false", "-no-color"])
            .arg(format!("-plugin-dir={}", plugins.display()))
            .env("TF_CLI_CONFIG_FILE", self.s.join("cli.tfrc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .env_remove("TF_DATA_DIR");
        run(cmd)
    }

    /// The `h1:` and `zh:` hashes terraform recorded for the provider.
    fn recorded(root: &Path) -> Vec<String> {
        let text = fs::read_to_string(root.join(".terraform.lock.hcl")).expect("lock file");
        text.lines()
            .map(str::trim)
            .filter_map(|l| l.strip_prefix('"').and_then(|l| l.strip_suffix("\",")))
            .filter(|h| h.starts_with("h1:") || h.starts_with("zh:"))
            .map(str::to_string)
            .collect()
    }
}

#[test]
fn h1_of_an_unpacked_provider_matches_terraform() {
    let tf = Tf::new("tf-unpacked");
    let plugins = tf.s.join("plugins");
    let pkg = plugins.join("example.com/test/dummy/1.0.0/linux_amd64");
    fs::create_dir_all(pkg.join("docs")).expect("mkdir");
    fs::write(pkg.join(PROVIDER_BINARY), PROVIDER_SCRIPT).expect("write provider");
    fs::set_permissions(pkg.join(PROVIDER_BINARY), fs::Permissions::from_mode(0o755))
        .expect("chmod");
    fs::write(pkg.join("docs/README.md"), b"# dummy\n").expect("write docs");
    fs::write(pkg.join("LICENSE"), b"MPL\n").expect("write license");

    let root = tf.root("root");
    tf.init(&root, &plugins).ok();
    let recorded = Tf::recorded(&root);
    let h1: Vec<&String> = recorded.iter().filter(|h| h.starts_with("h1:")).collect();
    assert_eq!(h1.len(), 1, "terraform recorded {recorded:?}");
    assert_eq!(&hash(&pkg, None), h1[0]);
    assert_eq!(&hash(&pkg, Some("h1")), h1[0]);
}

/// A provider packed as a zip in the plugin dir's packed layout.
fn packed_provider(tf: &Tf) -> (PathBuf, PathBuf) {
    let plugins = tf.s.join("plugins");
    let dir = plugins.join("example.com/test/dummy");
    fs::create_dir_all(&dir).expect("mkdir");
    let zip_path = dir.join("terraform-provider-dummy_1.0.0_linux_amd64.zip");
    // Directory entries are part of the zip; terraform decides whether they count.
    let entries = vec![
        ZipEntry {
            name: PROVIDER_BINARY.into(),
            data: PROVIDER_SCRIPT.to_vec(),
            mode: 0o755,
            deflate: true,
        },
        ZipEntry {
            name: "docs/".into(),
            data: Vec::new(),
            mode: 0o755,
            deflate: false,
        },
        ZipEntry {
            name: "docs/README.md".into(),
            data: b"# dummy\n".repeat(50),
            mode: 0o644,
            deflate: true,
        },
        ZipEntry {
            name: "LICENSE".into(),
            data: b"MPL\n".to_vec(),
            mode: 0o644,
            deflate: false,
        },
    ];
    fs::write(&zip_path, zip(&entries)).expect("write zip");

    (plugins, zip_path)
}

#[test]
fn h1_of_a_packed_provider_zip_matches_terraform() {
    let tf = Tf::new("tf-zip-h1");
    let (plugins, zip_path) = packed_provider(&tf);
    let root = tf.root("root");
    tf.init(&root, &plugins).ok();
    let recorded = Tf::recorded(&root);
    let h1: Vec<&String> = recorded.iter().filter(|h| h.starts_with("h1:")).collect();
    assert_eq!(h1.len(), 1, "terraform recorded {recorded:?}");
    for zh in recorded.iter().filter(|h| h.starts_with("zh:")) {
        assert_eq!(&hash(&zip_path, Some("zh")), zh);
    }
    assert_eq!(
        &hash(&zip_path, Some("h1")),
        h1[0],
        "fleet hash --format h1 of the zip"
    );
}

#[test]
fn a_zip_unpacked_by_fleet_hashes_to_what_terraform_records() {
    let tf = Tf::new("tf-zip-unpacked");
    let (plugins, zip_path) = packed_provider(&tf);
    let root = tf.root("root");
    tf.init(&root, &plugins).ok();
    let recorded = Tf::recorded(&root);
    let h1 = recorded
        .iter()
        .find(|h| h.starts_with("h1:"))
        .expect("an h1 recorded");
    for (mode, dir) in [
        ("--out", tf.s.join("unpacked")),
        ("--store", tf.s.join("store")),
    ] {
        let r = fleet([
            "extract".as_ref(),
            "--archive".as_ref(),
            zip_path.as_os_str(),
            mode.as_ref(),
            dir.as_os_str(),
            "--json".as_ref(),
        ]);
        let v = r.ok().json();
        assert_eq!(&h1_of_dir(&json_path(&v)), h1, "{mode}: the unpacked tree");
        assert_eq!(
            v["h1"].as_str(),
            Some(h1.as_str()),
            "{mode}: the h1 `extract --json` reports"
        );
    }
}

#[test]
fn zh_of_a_packed_provider_zip_is_what_terraform_verifies() {
    let tf = Tf::new("tf-zip-zh");
    let (plugins, zip_path) = packed_provider(&tf);
    // Terraform records no zh: for a local directory, but it verifies one
    // when the lock file has it. Ours must pass, a wrong one must not.
    let zh = hash(&zip_path, Some("zh"));
    assert_eq!(zh, format!("zh:{}", sha256_file(&zip_path)));
    let mut wrong = zh.clone().into_bytes();
    let last = wrong.len() - 1;
    wrong[last] = if wrong[last] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).expect("ascii");
    for (name, hash, ok) in [
        ("zh-ours", zh.as_str(), true),
        ("zh-wrong", wrong.as_str(), false),
    ] {
        let root = tf.root(name);
        fs::write(
            root.join(".terraform.lock.hcl"),
            format!("provider \"example.com/test/dummy\" {{\n  version     = \"1.0.0\"\n  constraints = \"1.0.0\"\n  hashes = [\n    \"{hash}\",\n  ]\n}}\n"),
        )
        .expect("write lock file");
        let r = tf.init(&root, &plugins);
        if ok {
            r.ok();
        } else {
            assert_ne!(
                r.code(),
                0,
                "terraform must reject a wrong zh:\n{}",
                r.transcript()
            );
            let said = format!("{}{}", r.stdout, r.stderr)
                .to_lowercase()
                .replace('\n', " ");
            assert_mentions(&said, "checksums", "terraform's checksum error");
        }
    }
}
