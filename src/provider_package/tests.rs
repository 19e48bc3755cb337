use super::*;
use sha2::{Digest, Sha256};

/// The test binary: compressible text with noise, from a fixed LCG.
fn sample() -> Vec<u8> {
    let alphabet = b"terraform-provider ";
    let mut x: u64 = 12345;
    (0..300_000)
        .map(|_| {
            x = (x * 1_103_515_245 + 12_345) & 0x7fff_ffff;
            if !x.is_multiple_of(5) {
                alphabet[(x % 19) as usize]
            } else {
                ((x >> 16) & 0xff) as u8
            }
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The digests of the zips rules_fleet's former `provider_zip.py` (Python
/// 3.11 `zipfile`, zlib 1.2.13) wrote for the same inputs: a package's
/// bytes are its `zh:` hash, so they must not change.
#[test]
fn bytes_match_the_packages_earlier_releases_wrote() {
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "terraform-provider-fleettest_v0.1.0",
            sample(),
            "809281a0f1c2f0d76a81bcbfae6e3d1ad7ae61690ff9ba39a0a9d42fb795ab58",
        ),
        (
            "terraform-provider-ünï_v1",
            sample(),
            "28a7b773f16a353b6fed88e1b6fdbd040872ef860cb7bf9c5e12b28bc3707479",
        ),
        (
            "e",
            Vec::new(),
            "5522f17742625fa7d80828e8d8ee267447108c8927052fecf0c348f87c10e29d",
        ),
    ];
    for (entry, data, want) in cases {
        let zip = package_bytes(entry, &data).unwrap();
        assert_eq!(sha256_hex(&zip), want, "package of {entry}");
    }
}

#[test]
fn the_package_unpacks_to_the_binary_as_an_executable() {
    use std::io::Read;
    let data = sample();
    let bytes = package_bytes("terraform-provider-x_v1.0.0", &data).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(zip.len(), 1);
    let mut entry = zip.by_index(0).unwrap();
    assert_eq!(entry.name().unwrap(), "terraform-provider-x_v1.0.0");
    assert_eq!(entry.unix_mode(), Some(0o100755));
    let mut out = Vec::new();
    entry.read_to_end(&mut out).unwrap();
    assert_eq!(out, data);
}

#[test]
fn names_follow_the_mirror_layout() {
    assert_eq!(
        package_file_name("example.com/acme/widgets", "1.2.0", "linux_amd64"),
        "terraform-provider-widgets_1.2.0_linux_amd64.zip"
    );
    assert_eq!(
        entry_name("example.com/acme/widgets", "1.2.0"),
        "terraform-provider-widgets_v1.2.0"
    );
    assert!(package_bytes("a/b", b"x").is_err());
}
