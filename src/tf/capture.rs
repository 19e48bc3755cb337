//! The one way fleet runs terraform and reads what it prints: every line or
//! piece passes through the terraform's [`Secrets`](crate::redact::Secrets)
//! first, so a secret value it was given (`secret_env`, sensitive inputs, a
//! saved plan's sensitive values) never reaches a log, the console, the
//! report or the summary — not even where terraform prints it itself (a
//! failed validation's `var.pw is "…"`, the tfvars line it quotes, a
//! provider's or a provisioner's error).

use std::io::Write;
use std::process::{ExitStatus, Stdio};

use anyhow::Result;

use super::terraform::{Step, Terraform};
use crate::process::{run_merged, run_piped, run_stderr_piped, run_stdout, Children};
use crate::redact::{Lines, Stream};

impl Terraform<'_> {
    /// Runs `step` with stdout and stderr merged; `on_line` gets each line
    /// (without its newline), scrubbed. `None` when the run was stopping.
    pub fn run_lines(
        &self,
        children: &Children,
        step: &Step,
        mut on_line: impl FnMut(&[u8]),
    ) -> Result<Option<ExitStatus>> {
        let mut lines = Lines::new(&self.secrets);
        let status = run_merged(children, self.command(step), |line| {
            lines.push(line, &mut on_line)
        });
        lines.finish(&mut on_line);
        status
    }

    /// Runs `step` capturing its stdout (data: not scrubbed, never shown);
    /// `on_stderr` gets each line of its stderr, scrubbed.
    pub fn run_stdout(
        &self,
        children: &Children,
        step: &Step,
        mut on_stderr: impl FnMut(&[u8]),
    ) -> Result<Option<(ExitStatus, Vec<u8>)>> {
        let mut lines = Lines::new(&self.secrets);
        let captured = run_stdout(children, self.command(step), |line| {
            lines.push(line, &mut on_stderr)
        });
        lines.finish(&mut on_stderr);
        captured
    }

    /// Runs `step` for a user (`fleet tf`): stdin is ours; without secrets
    /// stdout is ours too (terraform talks to the terminal); with secrets it
    /// passes through the scrubber piece by piece as it comes, so prompts
    /// still show. Stderr always passes through us as it comes (scrubbed):
    /// the last [`ERRORS_KEPT`] bytes of it are returned with the status, to
    /// tell a state-lock timeout.
    pub fn run_for_user(
        &self,
        children: &Children,
        step: &Step,
    ) -> Result<Option<(ExitStatus, Vec<u8>)>> {
        let mut cmd = self.command(step);
        cmd.inherit_stdin();
        let mut kept = Vec::new();
        let mut err = Stream::new(&self.secrets);
        let mut on_err = |piece: &[u8]| {
            let clean = err.push(piece);
            write_all(&mut std::io::stderr(), &clean);
            keep_tail(&mut kept, &clean);
        };
        let status = if self.secrets.is_empty() {
            cmd.stdout(Stdio::inherit());
            run_stderr_piped(children, cmd, &mut on_err)
        } else {
            let mut out = Stream::new(&self.secrets);
            let status = run_piped(
                children,
                cmd,
                |piece| write_all(&mut std::io::stdout(), &out.push(piece)),
                &mut on_err,
            );
            write_all(&mut std::io::stdout(), &out.finish());
            status
        };
        let rest = err.finish();
        write_all(&mut std::io::stderr(), &rest);
        keep_tail(&mut kept, &rest);
        Ok(status?.map(|status| (status, kept)))
    }
}

/// How much of a `fleet tf` step's stderr is kept to read its failure.
pub const ERRORS_KEPT: usize = 256 * 1024;

fn keep_tail(kept: &mut Vec<u8>, piece: &[u8]) {
    kept.extend_from_slice(piece);
    if kept.len() > ERRORS_KEPT {
        kept.drain(..kept.len() - ERRORS_KEPT);
    }
}

/// Writes and flushes; a closed terminal or pipe is not terraform's failure.
fn write_all(to: &mut impl Write, bytes: &[u8]) {
    if !bytes.is_empty() {
        let _ = to.write_all(bytes);
        let _ = to.flush();
    }
}
