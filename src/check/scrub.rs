//! Keeping sensitive values out of text: every occurrence of a secret (as
//! written, JSON-escaped, or quoted as terraform quotes strings) becomes
//! `(sensitive value)`. One function of the secrets and the text, so that
//! any other output path (run logs) can share it.

/// What a sensitive value is replaced with.
pub const REPLACEMENT: &str = "(sensitive value)";

/// `text` with every occurrence of every secret replaced by [`REPLACEMENT`].
///
/// One left-to-right pass, longest form first at each position: a secret is
/// never found inside the replacement of another, and an overlapping shorter
/// secret cannot leave part of a longer one behind. Empty secrets are ignored.
/// A very short secret masks every equal piece of text; that is the price of
/// never printing it.
pub fn scrub(secrets: &[String], text: &str) -> String {
    let forms = forms(secrets);
    if forms.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for form in &forms {
            if let Some(after) = rest.strip_prefix(form.as_str()) {
                out.push_str(REPLACEMENT);
                rest = after;
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// The ways a secret appears in terraform's text: quoted (`"a\"b"`), escaped
/// inside a longer string (`a\"b`), and raw; longest first.
fn forms(secrets: &[String]) -> Vec<String> {
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let quoted = serde_json::to_string(secret).unwrap_or_else(|_| format!("{secret:?}"));
        let escaped = quoted[1..quoted.len() - 1].to_string();
        forms.extend([quoted, escaped, secret.clone()]);
    }
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    forms.dedup();
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn replaces_raw_quoted_and_escaped_forms() {
        let s = secrets(&["hunter2", "a\"b\nc"]);
        assert_eq!(
            scrub(&s, "var.pw is \"hunter2\"; too short: hunter2."),
            "var.pw is (sensitive value); too short: (sensitive value)."
        );
        assert_eq!(
            scrub(&s, r#"got "a\"b\nc" and {"k":"a\"b\nc"}"#),
            "got (sensitive value) and {\"k\":(sensitive value)}"
        );
        assert_eq!(scrub(&s, "raw a\"b\nc here"), "raw (sensitive value) here");
    }

    #[test]
    fn never_matches_inside_a_replacement_and_prefers_the_longest() {
        // "value" and "e" occur in the replacement text itself.
        let s = secrets(&["value", "e", "sensitive-secret", "sensitive"]);
        assert_eq!(
            scrub(&s, "x sensitive-secret y"),
            "x (sensitive value) y",
            "the longer secret wins over its prefix"
        );
        assert_eq!(scrub(&s, "value"), REPLACEMENT);
        assert_eq!(scrub(&s, "ab"), "ab");
        assert_eq!(scrub(&s, "be"), format!("b{REPLACEMENT}"));
    }

    #[test]
    fn empty_secrets_change_nothing() {
        assert_eq!(scrub(&secrets(&["", ""]), "text"), "text");
        assert_eq!(scrub(&[], "text"), "text");
    }
}
