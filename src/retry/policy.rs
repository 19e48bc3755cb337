//! Which failed steps run again. A step is retried only when its error
//! output matches a pattern (declared, or built in with `defaults`) and
//! attempts are left; `apply` only while it had not started changing a
//! resource, unless the component declares it idempotent (`apply`). A
//! half-applied change is never rerun blindly.

use std::sync::LazyLock;
use std::time::Duration;

use anyhow::{Context, Result};
use regex::Regex;

use super::backoff::Backoff;
use super::defaults;
use crate::manifest::RetrySpec;

/// What a terraform step does, as far as retrying it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `init`, `workspace select`: nothing of the infrastructure changes.
    Prepare,
    Plan,
    Apply,
    Destroy,
    /// Anything else (`output`): never retried.
    Other,
}

impl StepKind {
    pub fn of(step: &str) -> StepKind {
        match step {
            "init" | "workspace" => StepKind::Prepare,
            "plan" => StepKind::Plan,
            "apply" => StepKind::Apply,
            "destroy" => StepKind::Destroy,
            _ => StepKind::Other,
        }
    }
}

/// An instance's retry policy for one run.
#[derive(Debug)]
pub struct Policy {
    patterns: Vec<(String, Regex)>,
    max_attempts: u32,
    backoff: Backoff,
    idempotent_apply: bool,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run the step again after `wait` (drawn below `ceiling`).
    Retry {
        pattern: String,
        wait: Duration,
        ceiling: Duration,
    },
    /// The failure stands; why it was not retried, when the instance has a
    /// retry policy (`None` without one).
    Stop(Option<String>),
}

impl Policy {
    /// The policy of an instance's `retry`; `max_attempts` (`fleet run
    /// --max-attempts`) overrides the declared count. No `retry`: one attempt.
    pub fn new(spec: Option<&RetrySpec>, max_attempts: Option<u32>) -> Result<Policy> {
        let Some(spec) = spec else {
            return Ok(Policy::none());
        };
        let builtin = defaults::PATTERNS.iter().filter(|_| spec.defaults);
        let mut patterns = Vec::new();
        for pattern in spec
            .patterns
            .iter()
            .map(String::as_str)
            .chain(builtin.copied())
        {
            let re = Regex::new(pattern)
                .with_context(|| format!("retry pattern {pattern:?} does not compile"))?;
            patterns.push((pattern.to_string(), re));
        }
        Ok(Policy {
            patterns,
            max_attempts: max_attempts.unwrap_or(spec.max_attempts).max(1),
            backoff: Backoff {
                delay: Duration::from_millis(spec.delay_ms),
                max_delay: Duration::from_millis(spec.max_delay_ms.max(spec.delay_ms)),
            },
            idempotent_apply: spec.apply,
        })
    }

    /// No retries: every step runs once.
    pub fn none() -> Policy {
        Policy {
            patterns: Vec::new(),
            max_attempts: 1,
            backoff: Backoff {
                delay: Duration::ZERO,
                max_delay: Duration::ZERO,
            },
            idempotent_apply: false,
        }
    }

    /// Whether the instance retries anything at all.
    pub fn is_active(&self) -> bool {
        !self.patterns.is_empty()
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// After attempt `attempt` (1 = the first run) of a `kind` step failed
    /// with `output` (captured, secrets hidden); `changed`: an apply or
    /// destroy had started changing a resource.
    pub fn decide(&self, kind: StepKind, attempt: u32, output: &[u8], changed: bool) -> Decision {
        if !self.is_active() {
            return Decision::Stop(None);
        }
        let stop = |why: String| Decision::Stop(Some(why));
        if kind == StepKind::Other {
            return stop("this step is never retried".into());
        }
        let errors = error_part(output);
        let Some(pattern) = self.matching(&errors) else {
            return stop("its error matches no retry pattern".into());
        };
        if kind == StepKind::Apply && changed && !self.idempotent_apply {
            return stop(format!(
                "its error matches {pattern:?}, but the apply had started changing resources \
                 (retry.apply is not set)"
            ));
        }
        if attempt >= self.max_attempts {
            return stop(format!(
                "its error matches {pattern:?}; attempt {attempt} of {} was the last",
                self.max_attempts
            ));
        }
        let ceiling = self.backoff.ceiling(attempt);
        Decision::Retry {
            pattern: pattern.to_string(),
            wait: self.backoff.wait(attempt).min(ceiling),
            ceiling,
        }
    }

    fn matching(&self, text: &str) -> Option<&str> {
        self.patterns
            .iter()
            .find(|(_, re)| re.is_match(text))
            .map(|(p, _)| p.as_str())
    }
}

/// The error part of a step's output: from terraform's first `Error:` line
/// (plain or boxed) on, so a value in a plan shown before it cannot look
/// like a transient error; without one, the last 40 lines.
fn error_part(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().collect();
    let first_error = lines.iter().position(|line| {
        line.trim_start_matches(['│', '╷', ' '])
            .starts_with("Error:")
    });
    let from = first_error.unwrap_or(lines.len().saturating_sub(40));
    lines[from..].join("\n")
}

/// Whether a line of terraform's apply or destroy output shows it starting
/// to change a resource: its UI prints `<address>: Creating...`,
/// `Modifying...`, `Destroying...` (the `apply_start` event of its JSON
/// UI), and `Provisioning with ...` for a provisioner, before anything
/// changes. Reading a data source (`Reading...`) changes nothing.
pub fn starts_a_change(line: &[u8]) -> bool {
    static CHANGE: LazyLock<Regex> = LazyLock::new(|| {
        let address = r#"[A-Za-z_][\w-]*(\[[^\]]*\])?(\.[A-Za-z_][\w-]*(\[[^\]]*\])?)+"#;
        let verb = r"(Creating|Modifying|Destroying|Still creating|Still modifying|Still destroying)\.\.\.|Provisioning with '";
        Regex::new(&format!(
            r"^{address}( \(deposed object [0-9a-f]+\))?: ({verb})"
        ))
        .expect("a constant pattern")
    });
    CHANGE.is_match(&String::from_utf8_lossy(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(patterns: &[&str], max_attempts: u32) -> RetrySpec {
        RetrySpec {
            patterns: patterns.iter().map(|p| p.to_string()).collect(),
            max_attempts,
            delay_ms: 1000,
            max_delay_ms: 4000,
            apply: false,
            defaults: false,
        }
    }

    #[test]
    fn retries_matching_errors_within_the_attempts() {
        let p = Policy::new(Some(&spec(&["Throttl"], 3)), None).unwrap();
        let out = b"Plan: 1 to add\nError: Throttling: slow down\n";
        let Decision::Retry {
            pattern,
            wait,
            ceiling,
        } = p.decide(StepKind::Plan, 1, out, false)
        else {
            panic!("not retried");
        };
        assert_eq!(pattern, "Throttl");
        assert_eq!(ceiling, Duration::from_secs(1));
        assert!(wait <= ceiling);
        assert!(matches!(
            p.decide(StepKind::Plan, 2, out, false),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            p.decide(StepKind::Plan, 3, out, false),
            Decision::Stop(Some(_))
        ));
        let other = b"Error: Invalid reference\n";
        assert!(matches!(
            p.decide(StepKind::Plan, 1, other, false),
            Decision::Stop(Some(_))
        ));
        // --max-attempts overrides.
        let once = Policy::new(Some(&spec(&["Throttl"], 3)), Some(1)).unwrap();
        assert!(matches!(
            once.decide(StepKind::Plan, 1, out, false),
            Decision::Stop(Some(_))
        ));
    }

    #[test]
    fn a_value_shown_before_the_error_does_not_match() {
        let p = Policy::new(Some(&spec(&["Throttl"], 3)), None).unwrap();
        let out = b"  + name = \"Throttling\"\nError: Invalid reference\n";
        assert!(matches!(
            p.decide(StepKind::Plan, 1, out, false),
            Decision::Stop(Some(_))
        ));
    }

    #[test]
    fn apply_is_retried_only_before_a_change_or_when_idempotent() {
        let out = b"Error: RequestLimitExceeded\n";
        let p = Policy::new(Some(&spec(&["RequestLimit"], 3)), None).unwrap();
        assert!(matches!(
            p.decide(StepKind::Apply, 1, out, false),
            Decision::Retry { .. }
        ));
        assert!(matches!(
            p.decide(StepKind::Apply, 1, out, true),
            Decision::Stop(Some(_))
        ));
        let mut idempotent = spec(&["RequestLimit"], 3);
        idempotent.apply = true;
        let p = Policy::new(Some(&idempotent), None).unwrap();
        assert!(matches!(
            p.decide(StepKind::Apply, 1, out, true),
            Decision::Retry { .. }
        ));
        // Destroy reruns: what is gone stays gone.
        assert!(matches!(
            p.decide(StepKind::Destroy, 1, out, true),
            Decision::Retry { .. }
        ));
    }

    #[test]
    fn defaults_are_opt_in() {
        let out = b"Error: dial tcp: i/o timeout\n";
        let without = Policy::new(Some(&spec(&["nothing"], 3)), None).unwrap();
        assert!(matches!(
            without.decide(StepKind::Plan, 1, out, false),
            Decision::Stop(Some(_))
        ));
        let mut with = spec(&[], 3);
        with.defaults = true;
        let with = Policy::new(Some(&with), None).unwrap();
        assert!(matches!(
            with.decide(StepKind::Plan, 1, out, false),
            Decision::Retry { .. }
        ));
        assert_eq!(
            Policy::new(None, Some(5))
                .unwrap()
                .decide(StepKind::Plan, 1, out, false),
            Decision::Stop(None)
        );
    }

    #[test]
    fn change_lines_are_recognised() {
        for line in [
            "terraform_data.r: Creating...",
            "aws_instance.a[\"x y\"]: Modifying... [id=i-1]",
            "module.m.aws_s3_bucket.b: Destroying... [id=b]",
            "terraform_data.r: Provisioning with 'local-exec'...",
            "terraform_data.r: Still creating... [10s elapsed]",
            "module.m[\"a\"].aws_x.y (deposed object 0a1b2c): Destroying... [id=1]",
        ] {
            assert!(starts_a_change(line.as_bytes()), "{line}");
        }
        for line in [
            "data.aws_ami.a: Reading...",
            "Error: Throttling: Creating... later",
            "Apply complete! Resources: 0 added, 0 changed, 0 destroyed.",
        ] {
            assert!(!starts_a_change(line.as_bytes()), "{line}");
        }
    }
}
