//! The reader thread: reads, hashes and (for gzip) decompresses the archive
//! ahead of the tar parser, through a bounded channel.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::{read_up_to, CHUNK};
use crate::error::unsafe_input;
use crate::hash::Sha256Digest;

/// Streams (optionally gunzipped) archive bytes from a reader thread.
pub(super) struct Feed {
    rx: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
    /// The last 512 bytes handed to the tar parser, to check the end marker.
    pub(super) tail: Vec<u8>,
}

impl Read for Feed {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => self.done = true,
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(err)) => return Err(err),
                Err(_) => return Err(io::Error::other("archive reader stopped")),
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        self.remember(&out[..n]);
        Ok(n)
    }
}

impl Feed {
    pub(super) fn remember(&mut self, bytes: &[u8]) {
        if bytes.len() >= 512 {
            self.tail.clear();
            self.tail.extend_from_slice(&bytes[bytes.len() - 512..]);
        } else {
            self.tail.extend_from_slice(bytes);
            let excess = self.tail.len().saturating_sub(512);
            self.tail.drain(..excess);
        }
    }

    pub(super) fn drain(&mut self) -> io::Result<()> {
        let mut sink = [0u8; 8192];
        while self.read(&mut sink)? > 0 {}
        Ok(())
    }
}

/// Reads the file, hashes its bytes and (for gzip) decompresses them, sending
/// chunks to the parser. The thread returns the sha256 of the raw bytes,
/// read to the very end so the gzip trailer (CRC, length) is verified and
/// trailing garbage is refused.
pub(super) fn spawn_reader(
    file: &File,
    gzip: bool,
) -> Result<(Feed, thread::JoinHandle<io::Result<Sha256Digest>>)> {
    // The same open file (a duplicate descriptor), read from its start.
    let mut file = file
        .try_clone()
        .context("duplicating the archive descriptor")?;
    file.rewind().context("rewinding the archive")?;
    let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(32);
    let handle = thread::spawn(move || {
        let hashing = HashingReader {
            inner: BufReader::with_capacity(CHUNK, file),
            hasher: Sha256::new(),
        };
        let pump = |source: &mut dyn Read| -> io::Result<()> {
            loop {
                let mut chunk = vec![0u8; CHUNK];
                let n = match read_up_to(source, &mut chunk) {
                    Ok(n) => n,
                    Err(err) => {
                        let copy = io::Error::new(err.kind(), err.to_string());
                        let _ = tx.send(Err(err));
                        return Err(copy);
                    }
                };
                chunk.truncate(n);
                // A closed channel means the parser stopped early (an error
                // it reports itself); stop reading.
                if tx.send(Ok(chunk)).is_err() || n == 0 {
                    return Ok(());
                }
            }
        };
        let mut hashing = if gzip {
            let mut decoder = flate2::read::MultiGzDecoder::new(hashing);
            pump(&mut decoder)?;
            decoder.into_inner()
        } else {
            let mut plain = hashing;
            pump(&mut plain)?;
            plain
        };
        io::copy(&mut hashing, &mut io::sink())?;
        Ok(hashing.hasher.finalize().into())
    });
    Ok((
        Feed {
            rx,
            current: Vec::new(),
            pos: 0,
            done: false,
            tail: Vec::new(),
        },
        handle,
    ))
}

pub(super) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Maps a stream error to exit 4 when it means corrupt data, 1 otherwise.
/// The tar parser reports format errors (bad checksum, short block) as
/// `Other`; real I/O failures come with their own kinds.
pub(super) fn stream_error(err: io::Error, what: &str) -> anyhow::Error {
    match err.kind() {
        io::ErrorKind::InvalidData
        | io::ErrorKind::InvalidInput
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::Other => {
            unsafe_input(format!("{what}: corrupt or truncated archive: {err}"))
        }
        _ => anyhow::Error::new(err).context(what.to_string()),
    }
}
