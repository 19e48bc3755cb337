//! Secret values fleet hands to terraform, hidden in everything fleet
//! captures of it: each occurrence becomes `(sensitive value)` before it
//! reaches a log, the console, the report or the summary.
//!
//! A value is looked for in the forms it can be printed in: as is,
//! JSON-escaped (fleet's tfvars file, Go's JSON), Go-quoted (terraform's
//! diagnostics: `var.pw is "…"`) and HCL-quoted (plan values), each with and
//! without its quotes. Whitespace inside a value matches any run of
//! whitespace, line breaks, box drawing (`│`) and colour codes, as terraform
//! wraps long messages; and each line or run of plain characters of a value
//! that holds line breaks, quotes or other escaped characters is a value of
//! its own, for printers that escape differently or prefix every line.
//!
//! Values shorter than [`MIN_BARE_BYTES`] are hidden only where quoted:
//! hiding every bare `on` or `42` would garble the output and, by where the
//! replacements fall, point at the value.

use std::borrow::Cow;

#[cfg(test)]
mod tests;

/// What stands in for a hidden value.
pub const REDACTED: &str = "(sensitive value)";

/// Values (trimmed) at least this long are hidden wherever they appear;
/// shorter ones only in their quoted forms.
pub const MIN_BARE_BYTES: usize = 4;

/// The longest separator (whitespace, box drawing, colour codes) matched
/// between two words of a value: bounds what a stream holds back.
const MAX_GAP: usize = 256;

/// The secret values of one run of terraform (or of a whole fleet run).
#[derive(Debug, Clone)]
pub struct Secrets {
    patterns: Vec<Pattern>,
    /// `starts[b]`: some pattern begins with byte `b` (a quick first test).
    starts: Box<[bool; 256]>,
}

impl Default for Secrets {
    fn default() -> Secrets {
        Secrets {
            patterns: Vec::new(),
            starts: Box::new([false; 256]),
        }
    }
}

/// One printed form of a value: its words, matched with any separator between them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    words: Vec<Vec<u8>>,
}

enum Found {
    /// A whole match ending here.
    Whole(usize),
    /// The text ends inside what may still become a match.
    Partial,
    Nothing,
}

impl Secrets {
    pub fn new() -> Secrets {
        Secrets::default()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Adds a secret string (its bytes as terraform receives them).
    pub fn add(&mut self, value: &[u8]) {
        if value.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let text = String::from_utf8_lossy(value);
        let inner = [
            json_escape(&text, false),
            json_escape(&text, true),
            go_quote(value),
            hcl_escape(&text),
        ];
        for form in &inner {
            self.add_pattern(&quoted(form));
        }
        if trim(value).len() < MIN_BARE_BYTES {
            return;
        }
        self.add_pattern(value);
        for form in &inner {
            self.add_pattern(form.as_bytes());
        }
        if value.iter().any(|b| is_escaped(*b)) {
            for run in value.split(|b| is_escaped(*b)) {
                if trim(run).len() >= MIN_BARE_BYTES {
                    self.add_pattern(run);
                }
            }
        }
    }

    /// Adds every string and number in a JSON value (a sensitive output or
    /// input); booleans and nulls say too little to hide.
    pub fn add_json(&mut self, value: &serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => self.add(s.as_bytes()),
            Value::Number(n) => self.add(n.to_string().as_bytes()),
            Value::Array(items) => items.iter().for_each(|v| self.add_json(v)),
            Value::Object(map) => map.values().for_each(|v| self.add_json(v)),
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// Adds every value of `other`.
    pub fn extend(&mut self, other: &Secrets) {
        for pattern in &other.patterns {
            self.push(pattern.clone());
        }
    }

    fn add_pattern(&mut self, form: &[u8]) {
        let words: Vec<Vec<u8>> = form
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        if !words.is_empty() {
            self.push(Pattern { words });
        }
    }

    fn push(&mut self, pattern: Pattern) {
        if !self.patterns.contains(&pattern) {
            self.starts[pattern.words[0][0] as usize] = true;
            self.patterns.push(pattern);
        }
    }

    /// `text` with every secret replaced.
    pub fn scrub<'t>(&self, text: &'t [u8]) -> Cow<'t, [u8]> {
        if self.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = Vec::with_capacity(text.len());
        self.scrub_into(text, false, &mut out);
        if out == text {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(out)
        }
    }

    /// [`Secrets::scrub`] of a string (fleet's own messages).
    pub fn scrub_str(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.scrub(text.as_bytes())).into_owned()
    }

    /// Appends `text` scrubbed to `out`. With `more` (more text may follow),
    /// stops where a match could still complete and returns how much of
    /// `text` it consumed; the rest must be offered again with what follows.
    fn scrub_into(&self, text: &[u8], more: bool, out: &mut Vec<u8>) -> usize {
        let mut at = 0;
        while at < text.len() {
            if self.starts[text[at] as usize] {
                let mut longest = None;
                let mut partial = false;
                for pattern in &self.patterns {
                    match pattern.find_at(text, at) {
                        Found::Whole(end) => longest = longest.max(Some(end)),
                        Found::Partial => partial = true,
                        Found::Nothing => {}
                    }
                }
                if partial && more {
                    return at;
                }
                if let Some(end) = longest {
                    out.extend_from_slice(REDACTED.as_bytes());
                    at = end;
                    continue;
                }
            }
            out.push(text[at]);
            at += 1;
        }
        text.len()
    }
}

impl Pattern {
    fn find_at(&self, text: &[u8], start: usize) -> Found {
        let mut at = start;
        for (index, word) in self.words.iter().enumerate() {
            if index > 0 {
                match gap(text, at) {
                    Gap::End => return Found::Partial,
                    Gap::Nothing => return Found::Nothing,
                    Gap::To(next) => at = next,
                }
            }
            let rest = &text[at..];
            if rest.len() < word.len() {
                return if word.starts_with(rest) {
                    Found::Partial
                } else {
                    Found::Nothing
                };
            }
            if !rest.starts_with(word) {
                return Found::Nothing;
            }
            at += word.len();
        }
        Found::Whole(at)
    }
}

enum Gap {
    To(usize),
    /// The text ends inside the separator (or right before it).
    End,
    Nothing,
}

/// The separator at `at`: whitespace, `│` and colour codes (`ESC [ … letter`).
fn gap(text: &[u8], start: usize) -> Gap {
    const BAR: &[u8] = "│".as_bytes();
    let mut at = start;
    loop {
        if at - start > MAX_GAP {
            return Gap::Nothing;
        }
        let rest = &text[at..];
        if rest.is_empty() {
            return Gap::End;
        }
        if rest[0].is_ascii_whitespace() {
            at += 1;
        } else if rest.starts_with(BAR) {
            at += BAR.len();
        } else if BAR.starts_with(rest) {
            return Gap::End;
        } else if rest[0] == 0x1b {
            match colour_code(rest) {
                Some(0) => return Gap::End,
                Some(len) => at += len,
                None => break,
            }
        } else {
            break;
        }
    }
    if at == start {
        Gap::Nothing
    } else {
        Gap::To(at)
    }
}

/// Length of the colour code `ESC [ digits/; letter` at the start of `text`;
/// `Some(0)` when `text` ends inside one.
fn colour_code(text: &[u8]) -> Option<usize> {
    match text.get(1) {
        None => return Some(0),
        Some(b'[') => {}
        Some(_) => return None,
    }
    for (i, b) in text.iter().enumerate().skip(2) {
        if b.is_ascii_alphabetic() {
            return Some(i + 1);
        }
        if !(b.is_ascii_digit() || *b == b';') {
            return None;
        }
    }
    Some(0)
}

fn trim(value: &[u8]) -> &[u8] {
    value.trim_ascii()
}

/// Bytes some printer writes differently: controls, quotes, `\`, `$`, `%`
/// and everything beyond ASCII.
fn is_escaped(b: u8) -> bool {
    !(0x20..0x7f).contains(&b) || matches!(b, b'"' | b'\\' | b'$' | b'%')
}

fn quoted(inner: &str) -> Vec<u8> {
    format!("\"{inner}\"").into_bytes()
}

/// JSON string contents as serde writes them, or (`go`) as Go's
/// encoding/json does (terraform's `-json` output): `<`, `>`, `&`, U+2028
/// and U+2029 escaped too.
fn json_escape(text: &str, go: bool) -> String {
    let json = serde_json::to_string(text).unwrap_or_default();
    let inner = json
        .strip_prefix('"')
        .and_then(|j| j.strip_suffix('"'))
        .unwrap_or_default();
    if !go {
        return inner.to_string();
    }
    let mut out = String::with_capacity(inner.len());
    for c in inner.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The contents of Go's `%q` of `value` (terraform's diagnostics), for
/// printable text exactly; other characters as Rust judges them printable.
fn go_quote(value: &[u8]) -> String {
    let mut out = String::new();
    for chunk in value.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c if c.is_ascii() || printable(c) => out.push(c),
                c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push_str(&format!("\\U{:08x}", c as u32)),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Whether a non-ASCII character prints as itself (Rust's judgement, which
/// is Go's for all but a few).
fn printable(c: char) -> bool {
    c != ' ' && !c.is_whitespace() && c.escape_debug().count() == 1
}

/// A string's contents as terraform shows it in a plan (HCL): `${` and
/// `%{` doubled, controls escaped.
fn hcl_escape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Scrubs a stream that arrives line by line (terraform's merged output):
/// a line that may continue a secret on the next is held back until that
/// line comes, so a value wrapped over lines is still found; what a match
/// spans comes out as one line.
pub struct Lines<'s> {
    secrets: &'s Secrets,
    /// Not yet scrubbed: a match may start here.
    pending: Vec<u8>,
    /// Scrubbed, waiting for the end of its line.
    done: Vec<u8>,
}

impl<'s> Lines<'s> {
    pub fn new(secrets: &'s Secrets) -> Lines<'s> {
        Lines {
            secrets,
            pending: Vec::new(),
            done: Vec::new(),
        }
    }

    /// Takes one line (without its newline); calls `emit` for each line
    /// that is now complete.
    pub fn push(&mut self, line: &[u8], emit: &mut dyn FnMut(&[u8])) {
        if self.secrets.is_empty() {
            return emit(line);
        }
        self.pending.extend_from_slice(line);
        self.pending.push(b'\n');
        let used = self.secrets.scrub_into(&self.pending, true, &mut self.done);
        self.pending.drain(..used);
        self.emit_lines(emit);
    }

    /// The end of the stream: emits whatever is held.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        let pending = std::mem::take(&mut self.pending);
        self.secrets.scrub_into(&pending, false, &mut self.done);
        self.emit_lines(emit);
        if !self.done.is_empty() {
            emit(&std::mem::take(&mut self.done));
        }
    }

    fn emit_lines(&mut self, emit: &mut dyn FnMut(&[u8])) {
        let Some(last) = self.done.iter().rposition(|b| *b == b'\n') else {
            return;
        };
        let rest = self.done.split_off(last + 1);
        for line in self.done[..last].split(|b| *b == b'\n') {
            emit(line);
        }
        self.done = rest;
    }
}

/// Scrubs a byte stream that arrives in arbitrary pieces (a pipe read by
/// read(2)): a piece ending inside what may become a match is held back
/// until the next, or the end.
pub struct Stream<'s> {
    secrets: &'s Secrets,
    pending: Vec<u8>,
}

impl<'s> Stream<'s> {
    pub fn new(secrets: &'s Secrets) -> Stream<'s> {
        Stream {
            secrets,
            pending: Vec::new(),
        }
    }

    /// What can be let out after `piece`.
    pub fn push(&mut self, piece: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(piece);
        let mut out = Vec::with_capacity(self.pending.len());
        let used = self.secrets.scrub_into(&self.pending, true, &mut out);
        self.pending.drain(..used);
        out
    }

    /// The end of the stream: what was held, scrubbed.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        self.secrets.scrub_into(&pending, false, &mut out);
        out
    }
}
