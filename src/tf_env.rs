//! The one environment policy for every terraform `fleet` starts: build
//! actions (`fleet check`, `fleet lock-file`) and run targets (`fleet tf`,
//! `fleet run`) alike.
//!
//! Terraform reads a dozen `TF_*` variables that change what a command does
//! (`TF_CLI_ARGS*` adds arguments, `TF_WORKSPACE` picks another state,
//! `TF_PLUGIN_CACHE_DIR` shares a directory that is unsafe under concurrency,
//! `TF_DATA_DIR` / `TF_CLI_CONFIG_FILE` move private state). None of the
//! caller's `TF_*` variables reaches terraform except, in run targets,
//! registry and backend credentials (`TF_TOKEN_*`, the http backend's
//! `TF_HTTP_*`: its address, username and password), registry client tuning
//! (`TF_REGISTRY_*`) and variable values (`TF_VAR_*`: terraform's documented
//! way to hand a run values that must not be in the build); what fleet
//! needs it sets itself, after [`sanitize`], with [`Command::envs`]: the
//! instance's `env` (where a user may deliberately set `TF_LOG`) and its
//! `secret_env` (`TF_VAR_<name>`) are explicit and so always pass.
//!
//! [`Scope::Hermetic`] (build actions, lock-file commands) goes further: only
//! `TMPDIR` is inherited, so a build's result cannot depend on the caller,
//! and Go's `GOGC` / `GOMEMLIMIT`, which change how fast terraform runs but
//! never what it does (see [`crate::go_runtime`]).

use std::ffi::{OsStr, OsString};
use std::process::Command;

/// Where a terraform runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A build action or a lock-file command: nothing inherited but `TMPDIR`
    /// (and the Go GC knobs).
    Hermetic,
    /// A run target (`fleet tf`, `fleet run`): the caller's environment
    /// (cloud credentials, proxies, `PATH`) minus terraform's own settings.
    Run,
}

/// Inherited variables a hermetic terraform keeps.
pub const HERMETIC_KEPT: &[&str] = &["TMPDIR", "GOGC", "GOMEMLIMIT"];

/// Prefixes of the `TF_*` variables a run target keeps from its caller.
pub const RUN_KEPT_TF_PREFIXES: &[&str] = &["TF_TOKEN_", "TF_REGISTRY_", "TF_VAR_", "TF_HTTP_"];

/// Whether the inherited variable `name` reaches terraform in `scope`.
pub fn passes(name: &OsStr, scope: Scope) -> bool {
    let Some(name) = name.to_str() else {
        // Terraform reads no variable whose name is not UTF-8.
        return scope == Scope::Run;
    };
    match scope {
        Scope::Hermetic => HERMETIC_KEPT.contains(&name),
        Scope::Run => {
            !is_terraform_setting(name) || RUN_KEPT_TF_PREFIXES.iter().any(|p| name.starts_with(p))
        }
    }
}

/// Variables terraform (or its checkpoint client) reads as settings.
/// `TERRAFORM_CONFIG` is the legacy name of `TF_CLI_CONFIG_FILE`;
/// `CHECKPOINT_DISABLE` is set by fleet itself.
fn is_terraform_setting(name: &str) -> bool {
    name.starts_with("TF_") || name == "TERRAFORM_CONFIG" || name == "CHECKPOINT_DISABLE"
}

/// Clears `cmd`'s environment and gives it the variables of `inherited`
/// that pass in `scope`. Call it before adding fleet's own variables.
pub fn sanitize<I, K, V>(cmd: &mut Command, scope: Scope, inherited: I)
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<OsString>,
    V: Into<OsString>,
{
    cmd.env_clear();
    for (name, value) in inherited {
        let name: OsString = name.into();
        if passes(&name, scope) {
            cmd.env(name, value.into());
        }
    }
}

/// [`sanitize`] with this process's environment.
pub fn sanitize_from_process(cmd: &mut Command, scope: Scope) {
    sanitize(cmd, scope, std::env::vars_os());
}

/// What fleet sets for every terraform it starts in `scope` (after
/// [`sanitize`]; each caller adds its own data dir and CLI config). A hermetic
/// terraform never prompts; a run target's may (`fleet tf` asks for approval).
pub fn fleet_settings(scope: Scope) -> Vec<(&'static str, &'static str)> {
    let mut vars = vec![("CHECKPOINT_DISABLE", "1"), ("TF_IN_AUTOMATION", "1")];
    if scope == Scope::Hermetic {
        vars.push(("TF_INPUT", "0"));
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variable the policy decides on, and whether it passes in
    /// (hermetic, run) scope. The documented table (docs/cli.md) is this one.
    const TABLE: &[(&str, bool, bool)] = &[
        ("TF_CLI_ARGS", false, false),
        ("TF_CLI_ARGS_plan", false, false),
        ("TF_CLI_ARGS_init", false, false),
        ("TF_LOG", false, false),
        ("TF_LOG_PATH", false, false),
        ("TF_LOG_PROVIDER", false, false),
        ("TF_LOG_CORE", false, false),
        ("TF_WORKSPACE", false, false),
        ("TF_PLUGIN_CACHE_DIR", false, false),
        (
            "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE",
            false,
            false,
        ),
        ("TF_DATA_DIR", false, false),
        ("TF_CLI_CONFIG_FILE", false, false),
        ("TERRAFORM_CONFIG", false, false),
        ("TF_INPUT", false, false),
        ("TF_IN_AUTOMATION", false, false),
        ("TF_VAR_region", false, true),
        ("TF_REATTACH_PROVIDERS", false, false),
        ("TF_IGNORE", false, false),
        ("TF_STATE_PERSIST_INTERVAL", false, false),
        ("TF_CLOUD_ORGANIZATION", false, false),
        ("CHECKPOINT_DISABLE", false, false),
        ("TF_TOKEN_app_terraform_io", false, true),
        ("TF_HTTP_PASSWORD", false, true),
        ("TF_REGISTRY_CLIENT_TIMEOUT", false, true),
        ("TF_REGISTRY_DISCOVERY_RETRY", false, true),
        ("TMPDIR", true, true),
        ("GOGC", true, true),
        ("GOMEMLIMIT", true, true),
        ("PATH", false, true),
        ("HOME", false, true),
        ("AWS_PROFILE", false, true),
        ("HTTPS_PROXY", false, true),
        ("FLEET_STORE", false, true),
    ];

    #[test]
    fn every_listed_variable_passes_or_is_dropped_as_documented() {
        for (name, hermetic, run) in TABLE {
            assert_eq!(
                passes(OsStr::new(name), Scope::Hermetic),
                *hermetic,
                "{name} in a build action"
            );
            assert_eq!(
                passes(OsStr::new(name), Scope::Run),
                *run,
                "{name} in a run target"
            );
        }
    }

    #[test]
    fn sanitize_replaces_the_inherited_environment() {
        let mut cmd = Command::new("true");
        cmd.env("TF_LOG", "TRACE");
        sanitize(
            &mut cmd,
            Scope::Run,
            [("TF_WORKSPACE", "other"), ("AWS_REGION", "eu-west-1")],
        );
        let envs: Vec<_> = cmd.get_envs().collect();
        assert!(envs.contains(&(OsStr::new("AWS_REGION"), Some(OsStr::new("eu-west-1")))));
        assert!(!envs
            .iter()
            .any(|(k, _)| *k == "TF_WORKSPACE" || *k == "TF_LOG"));
    }
}
