//! SIGINT / SIGTERM / SIGHUP handling. The handler only writes the signal
//! number to a pipe (async-signal-safe); a thread reads it and calls the
//! runner's callback, which forwards an interrupt to terraform and lets it
//! release its state lock before the runner exits.

use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;

use anyhow::{bail, Result};

/// A signal as the callback sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub signal: i32,
    /// Sent by the kernel for the terminal (Ctrl-C): every process of the
    /// foreground process group got it too. Otherwise someone ran kill(2).
    pub from_terminal: bool,
}

impl Received {
    pub fn name(&self) -> &'static str {
        name(self.signal)
    }
}

pub fn name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
static INSTALLED: OnceLock<()> = OnceLock::new();

/// Bit set in the byte written to the pipe for a kernel-sent signal.
const FROM_KERNEL: u8 = 0x80;

extern "C" fn on_signal(signal: c_int, info: *mut libc::siginfo_t, _context: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = if info.is_null() {
        0
    } else {
        unsafe { (*info).si_code }
    };
    let byte = (signal as u8 & 0x7f) | if code > 0 { FROM_KERNEL } else { 0 };
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; the buffer is one local byte.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
}

/// Installs the handlers once per process and starts the thread that calls
/// `callback` for every signal. Children get default dispositions back at exec.
pub fn install(callback: impl Fn(Received) + Send + 'static) -> Result<()> {
    if INSTALLED.set(()).is_err() {
        bail!("signal handlers are already installed");
    }
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        bail!(
            "creating the signal pipe: {}",
            std::io::Error::last_os_error()
        );
    }
    PIPE_WRITE.store(fds[1], Ordering::Relaxed);
    let read_fd = fds[0];
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut byte = 0u8;
            // SAFETY: reads one byte into a local from a descriptor this thread owns.
            let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
            if n == 1 {
                callback(Received {
                    signal: (byte & 0x7f) as i32,
                    from_terminal: byte & FROM_KERNEL != 0,
                });
            } else if n < 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
                continue;
            } else {
                return;
            }
        })?;
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with our handler, SA_SIGINFO and
        // SA_RESTART (so blocking reads in other threads are not disturbed).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                bail!(
                    "installing the {} handler: {}",
                    name(signal),
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    Ok(())
}
