//! What the runner prints. Terraform's output and the runner's lines go to
//! stdout; on a terminal a live status line is kept at the bottom (on
//! stderr), otherwise plain progress lines are printed instead.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;

/// How instances' output is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Each instance's output as one block when it finishes, under a header.
    Grouped,
    /// Every line as it comes, prefixed with the instance name.
    Stream,
}

impl OutputMode {
    pub const NAMES: [&'static str; 2] = ["grouped", "stream"];
}

impl std::str::FromStr for OutputMode {
    type Err = String;

    fn from_str(name: &str) -> std::result::Result<OutputMode, String> {
        match name {
            "grouped" => Ok(OutputMode::Grouped),
            "stream" => Ok(OutputMode::Stream),
            _ => Err(format!("{name:?} is not grouped or stream")),
        }
    }
}

pub struct Console {
    pub mode: OutputMode,
    /// A terminal is attached to stderr: keep a live status line.
    pub live: bool,
    /// Width of the name column in stream mode.
    name_width: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    status: String,
    shown: bool,
}

impl Console {
    pub fn new(mode: OutputMode, name_width: usize) -> Console {
        let live = std::io::stderr().is_terminal()
            && std::env::var_os("TERM").is_some_and(|t| t != "dumb");
        Console {
            mode,
            live,
            name_width,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn with_output(&self, write: impl FnOnce(&mut dyn Write)) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut err = std::io::stderr().lock();
        if inner.shown {
            let _ = err.write_all(b"\r\x1b[2K");
            let _ = err.flush();
        }
        let mut out = std::io::stdout().lock();
        write(&mut out);
        let _ = out.flush();
        if self.live && !inner.status.is_empty() {
            let _ = err.write_all(inner.status.as_bytes());
            let _ = err.flush();
            inner.shown = true;
        } else {
            inner.shown = false;
        }
    }

    /// One line of an instance's output in stream mode.
    pub fn stream_line(&self, name: &str, line: &[u8]) {
        let width = self.name_width;
        self.with_output(|out| {
            let _ = write!(out, "{name:<width$} | ");
            let _ = out.write_all(line);
            let _ = out.write_all(b"\n");
        });
    }

    /// Text printed as one piece (a grouped block, the summary).
    pub fn block(&self, text: &str) {
        self.with_output(|out| {
            let _ = out.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = out.write_all(b"\n");
            }
        });
    }

    /// The end of an instance or hook: `line` with its reason and, when it
    /// did not succeed, its log; grouped output adds what it printed.
    pub fn ended(
        &self,
        mut line: String,
        reason: Option<&str>,
        failed_log: Option<&Path>,
        shown: &[u8],
    ) {
        if let Some(reason) = reason {
            line.push_str(&format!(": {reason}"));
        }
        if let Some(log) = failed_log {
            line.push_str(&format!(" (log: {})", log.display()));
        }
        match self.mode {
            OutputMode::Grouped => {
                let mut block = format!("==== {line} ====\n");
                block.push_str(&String::from_utf8_lossy(shown));
                self.block(&block);
            }
            OutputMode::Stream => self.block(&format!("fleet: {line}")),
        }
    }

    /// A progress line: printed when there is no live status line.
    pub fn progress(&self, text: &str) {
        if !self.live {
            self.block(text);
        }
    }

    /// Replaces the live status line (no-op without a terminal).
    pub fn status(&self, text: &str) {
        if !self.live {
            return;
        }
        let width = terminal_width().saturating_sub(1).max(20);
        let line: String = text.chars().take(width).collect();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.shown && inner.status == line {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
        inner.status = line;
        inner.shown = true;
    }

    /// Removes the status line for good (before the summary).
    pub fn clear_status(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.shown {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
        inner.status.clear();
        inner.shown = false;
    }
}

fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize struct we own.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) == 0 && size.ws_col > 0 {
            return size.ws_col as usize;
        }
    }
    100
}
