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
use crate::process::{run_merged, run_piped, run_stdout, Children};
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
    /// stdout and stderr are ours too (terraform talks to the terminal);
    /// with secrets they pass through the scrubber piece by piece as they
    /// come, so prompts still show.
    pub fn run_for_user(&self, children: &Children, step: &Step) -> Result<Option<ExitStatus>> {
        let mut cmd = self.command(step);
        cmd.stdin(Stdio::inherit());
        if self.secrets.is_empty() {
            cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
            let Some(mut child) = children.spawn(&mut cmd, &[])? else {
                return Ok(None);
            };
            return children.wait(&mut child).map(Some);
        }
        let mut out = Stream::new(&self.secrets);
        let mut err = Stream::new(&self.secrets);
        let status = run_piped(
            children,
            cmd,
            |piece| write_all(&mut std::io::stdout(), &out.push(piece)),
            |piece| write_all(&mut std::io::stderr(), &err.push(piece)),
        );
        write_all(&mut std::io::stdout(), &out.finish());
        write_all(&mut std::io::stderr(), &err.finish());
        status
    }
}

/// Writes and flushes; a closed terminal or pipe is not terraform's failure.
fn write_all(to: &mut impl Write, bytes: &[u8]) {
    if !bytes.is_empty() {
        let _ = to.write_all(bytes);
        let _ = to.flush();
    }
}
