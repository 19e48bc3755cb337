//! Raw deflate (no zlib header) with the reference zlib, level 6, window 15,
//! memLevel 8: the stream Python's `zipfile` produces. flate2's Rust backend
//! (zlib-rs, kept for fast unpacking) compresses to other, equally valid
//! bytes, and a provider zip's bytes are its `zh:` hash in lock files.

use std::mem::MaybeUninit;
use std::os::raw::{c_int, c_uint, c_void};

use anyhow::{bail, Result};
use libz_sys as z;

const LEVEL: c_int = 6;
const RAW_WINDOW_BITS: c_int = -15;
const MEM_LEVEL: c_int = 8;

extern "C" fn zalloc(_opaque: z::voidpf, items: z::uInt, size: z::uInt) -> z::voidpf {
    // SAFETY: calloc has no preconditions; zlib checks for null.
    unsafe { libc::calloc(items as usize, size as usize) as z::voidpf }
}

extern "C" fn zfree(_opaque: z::voidpf, address: z::voidpf) {
    // SAFETY: zlib frees only what zalloc returned.
    unsafe { libc::free(address as *mut c_void) }
}

/// The raw deflate stream of `data`, compressed in one call.
pub fn deflate_raw(data: &[u8]) -> Result<Vec<u8>> {
    let Ok(len) = c_uint::try_from(data.len()) else {
        bail!("{} bytes are too many for one zip entry", data.len());
    };
    let mut stream = MaybeUninit::<z::z_stream>::zeroed();
    // SAFETY: every field is written before use: the allocator functions
    // here, the rest zeroed (null buffers, zero counts) as deflateInit2 expects.
    let stream = unsafe {
        let ptr = stream.as_mut_ptr();
        std::ptr::addr_of_mut!((*ptr).zalloc).write(zalloc);
        std::ptr::addr_of_mut!((*ptr).zfree).write(zfree);
        stream.assume_init_mut()
    };
    // SAFETY: a valid stream; the version and size identify this header.
    let rc = unsafe {
        z::deflateInit2_(
            stream,
            LEVEL,
            z::Z_DEFLATED,
            RAW_WINDOW_BITS,
            MEM_LEVEL,
            z::Z_DEFAULT_STRATEGY,
            z::zlibVersion(),
            std::mem::size_of::<z::z_stream>() as c_int,
        )
    };
    if rc != z::Z_OK {
        bail!("zlib deflateInit2 failed ({rc})");
    }
    // SAFETY: an initialised stream.
    let bound = unsafe { z::deflateBound(stream, len as z::uLong) } as usize;
    let mut out = vec![0u8; bound];
    stream.next_in = data.as_ptr() as *mut u8;
    stream.avail_in = len;
    stream.next_out = out.as_mut_ptr();
    stream.avail_out = c_uint::try_from(bound).unwrap_or(c_uint::MAX);
    // SAFETY: the buffers outlive the call; deflateBound guarantees room.
    let rc = unsafe { z::deflate(stream, z::Z_FINISH) };
    let written = stream.total_out as usize;
    // SAFETY: an initialised stream, ended once.
    unsafe { z::deflateEnd(stream) };
    if rc != z::Z_STREAM_END {
        bail!("zlib deflate did not finish ({rc})");
    }
    out.truncate(written);
    Ok(out)
}
