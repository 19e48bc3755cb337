//! Bazel labels in the one form rules_fleet writes them (`labels.bzl`
//! `label_string`): `//pkg:name` for the main repository and
//! `@repo//pkg:name` for another, `repo` being its apparent name.
//!
//! Bazel 7+ shows a label of another repository with its canonical name:
//! `@@rules_fleet~//` (7.1+), `@@rules_fleet+//` (8), `@@rules_fleet~0.1.0//`
//! (7.0), `@@rules_fleet~~fleet~fleet_helper//` or `@@+fleet+terraform//` for a
//! module extension's repositories, and older rules_fleet wrote such names
//! into manifests with a single `@`. [`Label::parse`] reads all of them to the
//! same label, so what a user types (`--only`) and what a
//! manifest holds compare equal whichever Bazel wrote it.

use std::fmt;

use anyhow::Result;

use crate::error::usage;

/// An absolute label; `repo` is empty for the main repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub repo: String,
    pub package: String,
    pub name: String,
}

/// Names the main repository has in canonical forms and runfiles.
const MAIN_NAMES: [&str; 3] = ["", "_main", "__main__"];

/// The apparent name of a repository given its canonical name: a module's
/// repository (`name~`, `name+`, `name~1.2.0`) is the module's name, a module
/// extension's (`owner~ext~repo`, `owner++ext+repo`, `+ext+repo`) the name the
/// extension gave it. Bazel 7 separates with `~`, 8 with `+` (a version may
/// hold a `+`, so `~`, when present, decides). Names without either (Bazel
/// 4.2 to 6, WORKSPACE repositories) are returned as they are.
pub fn apparent_repo(canonical: &str) -> &str {
    if MAIN_NAMES.contains(&canonical) {
        return "";
    }
    let separator = if canonical.contains('~') { '~' } else { '+' };
    let parts: Vec<&str> = canonical.split(separator).collect();
    match parts.len() {
        1 => canonical,
        2 => parts[0],
        _ => parts[parts.len() - 1],
    }
}

fn is_repo_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '~' | '+')
}

/// A package or target name part: no empty, `.` or `..` segment.
fn check_path(what: &str, text: &str, label: &str) -> Result<()> {
    let bad = text
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..");
    if bad || text.contains(['\\', '\0', '\n']) {
        return Err(usage(format!(
            "{label:?} is not a Bazel label: bad {what} {text:?}"
        )));
    }
    Ok(())
}

impl Label {
    /// Reads `//pkg:name`, `//pkg` (short for `//pkg:pkg`), `@//…`, `@@//…`,
    /// `@repo//…`, `@@canonical//…` and `@repo` (short for `@repo//:repo`).
    /// Relative labels (`:name`, `name`) are refused: they mean nothing
    /// outside a BUILD file.
    pub fn parse(text: &str) -> Result<Label> {
        let not_label = || usage(format!("{text:?} is not an absolute Bazel label"));
        let (repo, path) = if let Some(rest) = text.strip_prefix('@') {
            let rest = rest.strip_prefix('@').unwrap_or(rest);
            match rest.split_once("//") {
                Some((repo, path)) => (repo, Some(path)),
                None => (rest, None),
            }
        } else {
            ("", Some(text.strip_prefix("//").ok_or_else(not_label)?))
        };
        if !repo.chars().all(is_repo_char) {
            return Err(usage(format!(
                "{text:?} is not a Bazel label: bad repository name {repo:?}"
            )));
        }
        let repo = apparent_repo(repo).to_string();
        let (package, name) = match path {
            None if repo.is_empty() => return Err(not_label()),
            None => (String::new(), repo.clone()),
            Some(path) => match path.split_once(':') {
                Some((package, name)) => (package.to_string(), name.to_string()),
                None => {
                    let last = path.rsplit('/').next().unwrap_or(path);
                    (path.to_string(), last.to_string())
                }
            },
        };
        if !package.is_empty() {
            check_path("package", &package, text)?;
        }
        check_path("target name", &name, text)?;
        Ok(Label {
            repo,
            package,
            name,
        })
    }

    pub fn is_main(&self) -> bool {
        self.repo.is_empty()
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_main() {
            write!(f, "@{}", self.repo)?;
        }
        write!(f, "//{}:{}", self.package, self.name)
    }
}

/// Whether two label texts name the same target (both must parse).
pub fn same_target(a: &str, b: &str) -> bool {
    a == b || matches!((Label::parse(a), Label::parse(b)), (Ok(x), Ok(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text Bazel 4.2, 7.0, 7.1+ or 8 may show, the form rules_fleet writes)
    const FORMS: &[(&str, &str)] = &[
        // the main repository
        ("//infra/cache:redis-1", "//infra/cache:redis-1"),
        ("@//infra/cache:redis-1", "//infra/cache:redis-1"),
        ("@@//infra/cache:redis-1", "//infra/cache:redis-1"),
        ("@@_main//infra:x", "//infra:x"),
        ("@__main__//infra:x", "//infra:x"),
        ("//:all", "//:all"),
        ("//infra/cache", "//infra/cache:cache"),
        // another module: apparent, 7.1+ (`~`), 8 (`+`), 7.0 (`~version`)
        ("@rules_fleet//tools:fleet", "@rules_fleet//tools:fleet"),
        ("@rules_fleet~//tools:fleet", "@rules_fleet//tools:fleet"),
        ("@@rules_fleet~//tools:fleet", "@rules_fleet//tools:fleet"),
        ("@rules_fleet+//tools:fleet", "@rules_fleet//tools:fleet"),
        ("@@rules_fleet+//tools:fleet", "@rules_fleet//tools:fleet"),
        (
            "@@rules_fleet~0.1.0//tools:fleet",
            "@rules_fleet//tools:fleet",
        ),
        ("@@rules_fleet~1.0.0+build.5//t:f", "@rules_fleet//t:f"),
        ("@@rules_fleet~override//t:f", "@rules_fleet//t:f"),
        // a module extension's repositories: 7.1+, 7.0, 8, the root module's
        (
            "@@rules_fleet~~fleet~fleet_helper//:fleet",
            "@fleet_helper//:fleet",
        ),
        (
            "@@rules_fleet~0.1.0~fleet~fleet_helper//:fleet",
            "@fleet_helper//:fleet",
        ),
        (
            "@@rules_fleet++fleet+fleet_helper//:fleet",
            "@fleet_helper//:fleet",
        ),
        (
            "@@_main~fleet~terraform//:toolchain",
            "@terraform//:toolchain",
        ),
        ("@@+fleet+terraform//:toolchain", "@terraform//:toolchain"),
        ("@@+_repo_rules+infra//db:main", "@infra//db:main"),
        // shorthand forms
        ("@infra", "@infra//:infra"),
        ("@@infra+", "@infra//:infra"),
        ("@infra//db", "@infra//db:db"),
        // target names may hold slashes and dots
        ("//a:b/c.tf", "//a:b/c.tf"),
    ];

    #[test]
    fn every_form_reads_to_the_one_written_form() {
        for (text, want) in FORMS {
            let label = Label::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(label.to_string(), *want, "{text}");
            assert_eq!(Label::parse(want).unwrap(), label, "{want} round trip");
        }
    }

    #[test]
    fn canonical_names_read_to_apparent_ones() {
        for (canonical, apparent) in [
            ("", ""),
            ("_main", ""),
            ("__main__", ""),
            ("platforms", "platforms"),
            ("rules_fleet~", "rules_fleet"),
            ("rules_fleet+", "rules_fleet"),
            ("rules_fleet~0.1.0", "rules_fleet"),
            ("rules_fleet~~fleet~fleet_helper", "fleet_helper"),
            (
                "rules_fleet++fleet+fleet_helper_linux_amd64",
                "fleet_helper_linux_amd64",
            ),
            ("+fleet+terraform", "terraform"),
            ("_main~fleet~terraform", "terraform"),
            ("my-repo.v2", "my-repo.v2"),
        ] {
            assert_eq!(apparent_repo(canonical), apparent, "{canonical}");
        }
    }

    #[test]
    fn what_is_no_absolute_label_is_refused() {
        for text in [
            "",
            ":redis-1",
            "redis-1",
            "/infra:x",
            "@",
            "@@",
            "//",
            "//infra:",
            "//infra/../etc:x",
            "//infra//cache:x",
            "//./infra:x",
            "//infra:../x",
            "@bad repo//a:b",
            "@a/b//c:d",
            "//a:b\nc",
        ] {
            let err = Label::parse(text).expect_err(text);
            assert_eq!(
                crate::error::exit_code_of(&err),
                crate::error::ExitCode::Usage,
                "{text}"
            );
        }
    }

    #[test]
    fn the_same_target_in_two_forms() {
        assert!(same_target("@rules_fleet~//a:b", "@rules_fleet//a:b"));
        assert!(same_target("@@//a:a", "//a"));
        assert!(!same_target("@other//a:b", "//a:b"));
        assert!(!same_target("x", "//x:x"), "a short name is no label");
    }
}
