//! A one-entry zip laid out byte for byte as Python's `zipfile` writes it to
//! a seekable file (no data descriptor, no extra fields, no zip64).

use anyhow::{bail, Result};

const VERSION: u8 = 20;
const UNIX: u8 = 3;
const DEFLATED: u16 = 8;
const UTF8_NAME: u16 = 0x800;
/// 1980-01-01 00:00:00 in DOS date and time.
const DOS_DATE: u16 = 1 << 5 | 1;
const DOS_TIME: u16 = 0;
/// Regular file, rwxr-xr-x, in the high half (unix `st_mode`).
const EXTERNAL_ATTR: u32 = (0o100000 | 0o755) << 16;
/// Python switches to zip64 when an entry may exceed 2 GiB; a provider never does.
const ZIP64_LIMIT: u64 = (1 << 31) - 1;

/// The zip of one deflated entry: local header, data, central directory, end record.
pub fn single_entry_zip(name: &str, data: &[u8], compressed: &[u8]) -> Result<Vec<u8>> {
    if data.len() as f64 * 1.05 > ZIP64_LIMIT as f64 || compressed.len() as u64 > ZIP64_LIMIT {
        bail!(
            "{} bytes need zip64, which provider packages do not use",
            data.len()
        );
    }
    let flags = if name.is_ascii() { 0 } else { UTF8_NAME };
    let crc = crc32(data);
    let (size, packed) = (data.len() as u32, compressed.len() as u32);
    let name_len = name.len() as u16;

    let mut out = Vec::with_capacity(compressed.len() + 2 * name.len() + 128);
    out.extend_from_slice(b"PK\x03\x04");
    out.extend_from_slice(&[VERSION, 0]);
    for field in [flags, DEFLATED, DOS_TIME, DOS_DATE] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    for field in [crc, packed, size] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(compressed);

    let directory_at = out.len() as u32;
    out.extend_from_slice(b"PK\x01\x02");
    out.extend_from_slice(&[VERSION, UNIX, VERSION, 0]);
    for field in [flags, DEFLATED, DOS_TIME, DOS_DATE] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    for field in [crc, packed, size] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    // name length, extra length, comment length, disk number, internal attributes
    for field in [name_len, 0, 0, 0, 0] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&EXTERNAL_ATTR.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    let directory_len = out.len() as u32 - directory_at;

    out.extend_from_slice(b"PK\x05\x06");
    for field in [0u16, 0, 1, 1] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&directory_len.to_le_bytes());
    out.extend_from_slice(&directory_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}
