use super::*;

fn secrets(values: &[&str]) -> Secrets {
    let mut s = Secrets::new();
    for v in values {
        s.add(v.as_bytes());
    }
    s
}

fn scrub(s: &Secrets, text: &str) -> String {
    s.scrub_str(text)
}

/// Feeds `text` line by line through [`Lines`].
fn by_lines(s: &Secrets, text: &str) -> Vec<String> {
    let mut lines = Lines::new(s);
    let mut out = Vec::new();
    let mut emit = |l: &[u8]| out.push(String::from_utf8_lossy(l).into_owned());
    for line in text.split('\n') {
        lines.push(line.as_bytes(), &mut emit);
    }
    lines.finish(&mut emit);
    out
}

/// Feeds `text` through [`Stream`] cut at `cuts`.
fn by_pieces(s: &Secrets, text: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut stream = Stream::new(s);
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts {
        out.extend(stream.push(&text[from..cut]));
        from = cut;
    }
    out.extend(stream.push(&text[from..]));
    out.extend(stream.finish());
    out
}

#[test]
fn every_printed_form_is_replaced() {
    let s = secrets(&["Hunter2-\"q\"\\b<&>\tx"]);
    let texts = [
        // raw
        "pw=Hunter2-\"q\"\\b<&>\tx;",
        // Go %q, as in terraform's diagnostics
        "│ var.pw is \"Hunter2-\\\"q\\\"\\\\b<&>\\tx\"",
        // serde JSON (fleet's tfvars file)
        "  \"pw\": \"Hunter2-\\\"q\\\"\\\\b<&>\\tx\"",
        // Go JSON (terraform -json)
        "{\"pw\":\"Hunter2-\\\"q\\\"\\\\b\\u003c\\u0026\\u003e\\tx\"}",
    ];
    for text in texts {
        let out = scrub(&s, text);
        assert!(out.contains(REDACTED), "{text} -> {out}");
        assert!(!out.contains("Hunter2"), "{text} -> {out}");
    }
    assert_eq!(
        scrub(&s, "│ var.pw is \"Hunter2-\\\"q\\\"\\\\b<&>\\tx\""),
        "│ var.pw is (sensitive value)"
    );
}

#[test]
fn hcl_and_go_escapes() {
    let s = secrets(&["a${b}%{c}\u{1}\u{ad}z"]);
    assert_eq!(go_quote("a\u{1}\u{ad}é\t".as_bytes()), "a\\x01\\u00adé\\t");
    assert_eq!(go_quote(b"a\xffb"), "a\\xffb");
    assert_eq!(hcl_escape("a${b}%{c}\n"), "a$${b}%%{c}\\n");
    assert_eq!(
        scrub(&s, "input = \"a$${b}%%{c}\\u0001\u{ad}z\""),
        "input = (sensitive value)"
    );
    assert_eq!(
        scrub(&s, "x \"a${b}%{c}\\x01\\u00adz\" y"),
        "x (sensitive value) y"
    );
}

#[test]
fn short_values_are_hidden_only_where_quoted() {
    let s = secrets(&["ab1"]);
    assert_eq!(
        scrub(&s, "var.pw is \"ab1\""),
        "var.pw is (sensitive value)"
    );
    assert_eq!(scrub(&s, "tab1e ab1 cab1n"), "tab1e ab1 cab1n");
    let s = secrets(&["abcd"]);
    assert_eq!(scrub(&s, "xabcdx"), "x(sensitive value)x");
    let empty = secrets(&["", "  \n"]);
    assert!(empty.is_empty());
}

#[test]
fn whitespace_in_a_value_matches_wrapping() {
    let s = secrets(&["correct horse battery staple"]);
    let wrapped = "which was correct horse\nbattery staple, is short";
    assert_eq!(scrub(&s, wrapped), "which was (sensitive value), is short");
    let boxed = "│ which was correct\n\u{1b}[31m│\u{1b}[0m   horse battery staple, is";
    assert_eq!(scrub(&s, boxed), "│ which was (sensitive value), is");
    assert_eq!(
        by_lines(&s, wrapped),
        vec!["which was (sensitive value), is short".to_string()]
    );
}

#[test]
fn lines_of_a_multi_line_value_are_hidden_one_by_one() {
    let key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nVJTUt9Us8cKjMzEfYyjiWA4R4\n-----END KEY-----";
    let s = secrets(&[key]);
    let echoed = "r (local-exec): MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nr (local-exec): VJTUt9Us8cKjMzEfYyjiWA4R4\n";
    let out = scrub(&s, echoed);
    assert!(!out.contains("MIIE") && !out.contains("VJTU"), "{out}");
    assert_eq!(
        scrub(&s, &format!("Output: {key}\n")),
        "Output: (sensitive value)\n"
    );
}

#[test]
fn lines_pass_unchanged_without_secrets_and_keep_their_order() {
    let s = secrets(&["correct horse battery staple"]);
    let text = "one\n\ncorrect horse\nthree\ncorrect\nhorse battery staple\nend";
    assert_eq!(
        by_lines(&s, text),
        [
            "one",
            "",
            "correct horse",
            "three",
            "(sensitive value)",
            "end"
        ]
    );
    let none = Secrets::new();
    assert_eq!(by_lines(&none, "a\n\nb"), ["a", "", "b"]);
}

#[test]
fn a_value_split_across_reads_is_still_found() {
    let s = secrets(&["s3cr3t-value", "two words here"]);
    let text = b"prompt: s3cr3t-value and two words\n  here; Enter a value: ";
    let whole = s.scrub(text).into_owned();
    assert_eq!(
        String::from_utf8_lossy(&whole),
        "prompt: (sensitive value) and (sensitive value); Enter a value: "
    );
    for a in 0..=text.len() {
        for b in a..=text.len() {
            assert_eq!(by_pieces(&s, text, &[a, b]), whole, "cut at {a}, {b}");
        }
    }
    // Nothing is held back that cannot become a secret: a prompt shows at once.
    let mut stream = Stream::new(&s);
    assert_eq!(stream.push(b"Enter a value: "), b"Enter a value: ");
    assert_eq!(stream.push(b"s3cr"), b"");
    assert_eq!(stream.push(b"et!"), b"s3cret!");
}

#[test]
fn json_values_add_their_strings_and_numbers() {
    let mut s = Secrets::new();
    s.add_json(&serde_json::json!({"a": ["first-secret", 123456], "b": true, "c": null}));
    assert_eq!(
        scrub(&s, "first-secret 123456 true null"),
        "(sensitive value) (sensitive value) true null"
    );
    let mut all = Secrets::new();
    all.extend(&s);
    all.extend(&s);
    assert_eq!(all.patterns, s.patterns);
}
