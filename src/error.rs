//! The one error type of `fleet`: every failure is an `anyhow::Error` whose
//! chain may carry a [`Failure`] that names its exit code. Anything without one
//! is exit 1.

use std::fmt;

/// Exit codes are part of the command-line interface (see README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    Other = 1,
    Usage = 2,
    LockTimeout = 3,
    Unsafe = 4,
    Mismatch = 5,
}

/// A typed failure carried inside an `anyhow::Error` chain.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad arguments or combination of arguments.
    #[error("{0}")]
    Usage(String),
    /// A lock could not be taken before its deadline.
    #[error("{0}")]
    LockTimeout(String),
    /// Hostile, truncated or corrupt input (archives, tags, manifests).
    #[error("{0}")]
    Unsafe(String),
    /// Content does not match what was expected (digest, tag).
    #[error("{0}")]
    Mismatch(String),
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Usage(_) => ExitCode::Usage,
            Failure::LockTimeout(_) => ExitCode::LockTimeout,
            Failure::Unsafe(_) => ExitCode::Unsafe,
            Failure::Mismatch(_) => ExitCode::Mismatch,
        }
    }
}

/// Builds an `anyhow::Error` for hostile or corrupt input (exit 4).
pub fn unsafe_input(msg: impl fmt::Display) -> anyhow::Error {
    Failure::Unsafe(msg.to_string()).into()
}

/// Builds an `anyhow::Error` for a verification mismatch (exit 5).
pub fn mismatch(msg: impl fmt::Display) -> anyhow::Error {
    Failure::Mismatch(msg.to_string()).into()
}

/// Builds an `anyhow::Error` for a usage error (exit 2).
pub fn usage(msg: impl fmt::Display) -> anyhow::Error {
    Failure::Usage(msg.to_string()).into()
}

/// The exit code an error maps to: the first typed [`Failure`] in its chain.
pub fn exit_code_of(err: &anyhow::Error) -> ExitCode {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Failure>())
        .map_or(ExitCode::Other, Failure::exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn typed_failure_survives_context() {
        let err = Err::<(), _>(unsafe_input("entry ../x"))
            .context("extracting a.tar")
            .unwrap_err();
        assert_eq!(exit_code_of(&err), ExitCode::Unsafe);
        assert_eq!(exit_code_of(&anyhow::anyhow!("plain")), ExitCode::Other);
    }
}
