//! Archive builders that write every byte themselves, so tests can produce
//! exactly the hostile or broken archives they need (the `tar` crate's
//! builder sanitises paths, which is the opposite of what we want here).

use std::io::Write;

use super::Rng;

/// Tar type flags used by the tests.
pub mod kind {
    pub const FILE: u8 = b'0';
    pub const HARDLINK: u8 = b'1';
    pub const SYMLINK: u8 = b'2';
    pub const CHAR_DEVICE: u8 = b'3';
    pub const BLOCK_DEVICE: u8 = b'4';
    pub const DIR: u8 = b'5';
    pub const FIFO: u8 = b'6';
    pub const GNU_LONGNAME: u8 = b'L';
    pub const PAX: u8 = b'x';
}

/// One raw ustar header; `name` and `linkname` are written verbatim.
#[derive(Clone, Debug)]
pub struct Header {
    pub name: Vec<u8>,
    pub prefix: Vec<u8>,
    pub kind: u8,
    pub mode: u32,
    pub size: u64,
    pub linkname: Vec<u8>,
    pub devmajor: u32,
    pub devminor: u32,
    pub mtime: u64,
}

impl Header {
    pub fn new(kind: u8, name: impl AsRef<[u8]>) -> Header {
        Header {
            name: name.as_ref().to_vec(),
            prefix: Vec::new(),
            kind,
            mode: if kind == kind::DIR { 0o755 } else { 0o644 },
            size: 0,
            linkname: Vec::new(),
            devmajor: 0,
            devminor: 0,
            mtime: 1_600_000_000,
        }
    }

    /// The 512-byte block with a correct checksum.
    pub fn block(&self) -> [u8; 512] {
        let mut b = [0u8; 512];
        put(&mut b[0..100], &self.name);
        put_octal(&mut b[100..108], self.mode as u64);
        put_octal(&mut b[108..116], 0);
        put_octal(&mut b[116..124], 0);
        put_octal(&mut b[124..136], self.size);
        put_octal(&mut b[136..148], self.mtime);
        b[156] = self.kind;
        put(&mut b[157..257], &self.linkname);
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        put(&mut b[265..297], b"root");
        put(&mut b[297..329], b"root");
        put_octal(&mut b[329..337], self.devmajor as u64);
        put_octal(&mut b[337..345], self.devminor as u64);
        put(&mut b[345..500], &self.prefix);
        set_checksum(&mut b);
        b
    }
}

fn put(field: &mut [u8], value: &[u8]) {
    assert!(
        value.len() <= field.len(),
        "tar field overflow: {:?}",
        String::from_utf8_lossy(value)
    );
    field[..value.len()].copy_from_slice(value);
}

fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    assert!(
        s.len() == digits,
        "value {value} does not fit in a tar field"
    );
    field[..digits].copy_from_slice(s.as_bytes());
    field[digits] = 0;
}

/// Recomputes the header checksum (bytes 148..156 counted as spaces).
pub fn set_checksum(b: &mut [u8; 512]) {
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b.iter().map(|&x| x as u32).sum();
    let s = format!("{sum:06o}\0 ");
    b[148..156].copy_from_slice(s.as_bytes());
}

/// A tar stream assembled block by block.
#[derive(Default, Clone)]
pub struct Tar {
    pub bytes: Vec<u8>,
}

impl Tar {
    pub fn new() -> Tar {
        Tar::default()
    }

    /// Appends a header block followed by `data` padded to 512 bytes. The
    /// header's size field is set from `data` unless it was set already.
    pub fn raw(&mut self, mut h: Header, data: &[u8]) -> &mut Tar {
        if h.size == 0 {
            h.size = data.len() as u64;
        }
        self.bytes.extend_from_slice(&h.block());
        self.bytes.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.bytes.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    pub fn file(&mut self, name: impl AsRef<[u8]>, data: &[u8]) -> &mut Tar {
        self.file_mode(name, data, 0o644)
    }

    pub fn file_mode(&mut self, name: impl AsRef<[u8]>, data: &[u8], mode: u32) -> &mut Tar {
        let mut h = Header::new(kind::FILE, name);
        h.mode = mode;
        self.raw(h, data)
    }

    pub fn dir(&mut self, name: impl AsRef<[u8]>) -> &mut Tar {
        self.raw(Header::new(kind::DIR, name), &[])
    }

    pub fn dir_mode(&mut self, name: impl AsRef<[u8]>, mode: u32) -> &mut Tar {
        let mut h = Header::new(kind::DIR, name);
        h.mode = mode;
        self.raw(h, &[])
    }

    pub fn symlink(&mut self, name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> &mut Tar {
        let mut h = Header::new(kind::SYMLINK, name);
        h.mode = 0o777;
        h.linkname = target.as_ref().to_vec();
        self.raw(h, &[])
    }

    pub fn hardlink(&mut self, name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> &mut Tar {
        let mut h = Header::new(kind::HARDLINK, name);
        h.linkname = target.as_ref().to_vec();
        self.raw(h, &[])
    }

    /// A device or FIFO entry.
    pub fn special(
        &mut self,
        name: impl AsRef<[u8]>,
        kind: u8,
        major: u32,
        minor: u32,
    ) -> &mut Tar {
        let mut h = Header::new(kind, name);
        h.devmajor = major;
        h.devminor = minor;
        self.raw(h, &[])
    }

    /// A GNU long-name record followed by the entry it names.
    pub fn gnu_long_name(&mut self, name: &[u8], data: &[u8]) -> &mut Tar {
        let mut long = name.to_vec();
        long.push(0);
        self.raw(Header::new(kind::GNU_LONGNAME, "././@LongLink"), &long);
        self.file(b"placeholder", data)
    }

    /// A PAX extended header setting `path`, followed by the entry it renames.
    pub fn pax_path(&mut self, path: &[u8], data: &[u8]) -> &mut Tar {
        let body_len = b" path=\n".len() + path.len();
        let mut len = body_len + 1;
        while len.to_string().len() + body_len != len {
            len = len.to_string().len() + body_len;
        }
        let mut record = format!("{len} path=").into_bytes();
        record.extend_from_slice(path);
        record.push(b'\n');
        assert_eq!(record.len(), len);
        self.raw(Header::new(kind::PAX, "PaxHeaders/x"), &record);
        self.file(b"placeholder", data)
    }

    /// The stream with its end-of-archive marker (two zero blocks).
    pub fn finish(&self) -> Vec<u8> {
        let mut b = self.bytes.clone();
        b.extend(std::iter::repeat_n(0u8, 1024));
        b
    }

    /// The stream without an end-of-archive marker.
    pub fn unterminated(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// gzip with flate2 (fine for small archives).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// gzip with the system's `gzip -1`: much faster than a debug build of the
/// Rust encoder for the large archives.
pub fn gzip_fast(bytes: &[u8]) -> Vec<u8> {
    use std::process::{Command, Stdio};
    let mut child = Command::new("gzip")
        .args(["-1", "-c", "-n"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn gzip");
    let mut stdin = child.stdin.take().expect("gzip stdin");
    let input = bytes.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("gzip output");
    feeder.join().expect("gzip feeder").expect("write to gzip");
    assert!(out.status.success(), "gzip failed");
    out.stdout
}

/// One zip entry; names ending in `/` are directories.
pub struct ZipEntry {
    pub name: String,
    pub data: Vec<u8>,
    pub mode: u32,
    pub deflate: bool,
}

/// A minimal zip writer (stored or deflated entries, unix modes).
pub fn zip(entries: &[ZipEntry]) -> Vec<u8> {
    zip_declaring(entries, &[])
}

/// Like [`zip`], but the headers of entry `i` declare the uncompressed size
/// `declared[i]` (when given) instead of the real one: a zip bomb whose
/// sizes lie.
pub fn zip_declaring(entries: &[ZipEntry], declared: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (index, e) in entries.iter().enumerate() {
        let size = declared.get(index).copied().unwrap_or(e.data.len() as u32);
        let mut crc = flate2::Crc::new();
        crc.update(&e.data);
        let crc = crc.sum();
        let (method, body): (u16, Vec<u8>) = if e.deflate && !e.data.is_empty() {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&e.data).expect("deflate");
            (8, enc.finish().expect("deflate"))
        } else {
            (0, e.data.clone())
        };
        let offset = out.len() as u32;
        let name = e.name.as_bytes();
        let (time, date) = (0u16, (1 << 5) | 1);
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        for v in [20u16, 0, method, time, date] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, body.len() as u32, size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&body);

        let is_dir = e.name.ends_with('/');
        let unix_mode = e.mode | if is_dir { 0o040000 } else { 0o100000 };
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        for v in [(3u16 << 8) | 20, 20, 0, method, time, date] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, body.len() as u32, size] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        for v in [name.len() as u16, 0, 0, 0, 0] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central
            .extend_from_slice(&((unix_mode << 16) | if is_dir { 0x10 } else { 0 }).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, entries.len() as u16, entries.len() as u16] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// One generated file of a test tree.
#[derive(Clone)]
pub struct GenFile {
    pub path: String,
    pub data: Vec<u8>,
    pub mode: u32,
}

/// Deterministic tree content: `files` files totalling about `total` bytes in
/// nested directories; `random_percent` of the bytes are incompressible, the
/// rest repetitive text. Sizes vary (including empty and tiny files).
pub fn generate_files(seed: u64, files: usize, total: usize, random_percent: u64) -> Vec<GenFile> {
    let mut rng = Rng::new(seed);
    // Two files in ten are empty or tiny; the others share `total`.
    let mean = (total * 10 / 8 / files.max(1)).max(1);
    let mut out = Vec::with_capacity(files);
    for i in 0..files {
        let size = match i % 10 {
            0 => 0,
            1 => rng.below(200) as usize,
            _ => mean / 2 + rng.below(mean as u64 + 1) as usize,
        };
        let mut data = vec![0u8; size];
        if rng.below(100) < random_percent {
            rng.fill(&mut data);
        } else {
            let line =
                format!("seed {seed} file {i}: the quick brown fox jumps over the lazy dog\n");
            for (k, b) in data.iter_mut().enumerate() {
                *b = line.as_bytes()[k % line.len()];
            }
        }
        let path = format!(
            "d{:02}/s{}/f{:04}.{}",
            i % 13,
            i % 5,
            i,
            if i % 4 == 0 { "sh" } else { "bin" }
        );
        let mode = if i % 4 == 0 { 0o755 } else { 0o644 };
        out.push(GenFile { path, data, mode });
    }
    out
}

/// A tar of generated files, with explicit directory entries first.
pub fn tar_of(files: &[GenFile]) -> Vec<u8> {
    let mut tar = Tar::new();
    let mut dirs = std::collections::BTreeSet::new();
    for f in files {
        let mut p = std::path::Path::new(&f.path).parent();
        while let Some(d) = p {
            if !d.as_os_str().is_empty() {
                dirs.insert(format!("{}/", d.display()));
            }
            p = d.parent();
        }
    }
    for d in &dirs {
        tar.dir(d.as_bytes());
    }
    for f in files {
        tar.file_mode(f.path.as_bytes(), &f.data, f.mode);
    }
    tar.finish()
}

/// Go dirhash Hash1 of generated files, computed from memory.
pub fn h1_of_gen(files: &[GenFile]) -> String {
    super::h1_of_entries(
        files
            .iter()
            .map(|f| (f.path.clone(), super::sha256_hex(&f.data))),
    )
}

/// A generated archive written to disk with everything a test asserts on.
pub struct Fixture {
    pub path: std::path::PathBuf,
    pub sha256: String,
    pub h1: String,
    pub bytes: u64,
}

/// Generates files, writes them as tar.gz to `path` and records digests.
pub fn write_fixture(
    path: &std::path::Path,
    seed: u64,
    files: usize,
    total: usize,
    random_percent: u64,
) -> Fixture {
    let gen = generate_files(seed, files, total, random_percent);
    let h1 = h1_of_gen(&gen);
    let gz = gzip_fast(&tar_of(&gen));
    std::fs::write(path, &gz).expect("write fixture");
    Fixture {
        path: path.to_path_buf(),
        sha256: super::sha256_hex(&gz),
        h1,
        bytes: gz.len() as u64,
    }
}

/// Writes a gzip-compressed tar holding one file `name` of `size` zero
/// bytes (a decompression bomb: 512 MiB of zeros compress to about 0.5 MB).
/// The tar stream is piped into `gzip -9` without being held in memory.
pub fn write_zero_bomb_tar_gz(path: &std::path::Path, name: &str, size: u64) {
    use std::process::{Command, Stdio};
    let out = std::fs::File::create(path).expect("create bomb");
    let mut child = Command::new("gzip")
        .args(["-9", "-c", "-n"])
        .stdin(Stdio::piped())
        .stdout(out)
        .spawn()
        .expect("spawn gzip");
    let mut stdin = child.stdin.take().expect("gzip stdin");
    let mut header = Header::new(kind::FILE, name);
    header.size = size;
    stdin.write_all(&header.block()).expect("write header");
    let zeros = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        stdin.write_all(&zeros[..n]).expect("write zeros");
        left -= n as u64;
    }
    let pad = ((512 - size % 512) % 512) as usize + 1024;
    stdin.write_all(&vec![0u8; pad]).expect("write end marker");
    drop(stdin);
    assert!(child.wait().expect("gzip").success(), "gzip failed");
}

/// A deflated zip entry of `size` zero bytes (a zip bomb's payload).
pub fn zero_entry(name: &str, size: usize) -> ZipEntry {
    ZipEntry {
        name: name.into(),
        data: vec![0u8; size],
        mode: 0o644,
        deflate: true,
    }
}
