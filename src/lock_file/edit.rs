//! Adding hashes to a lock file's text without reformatting anything else:
//! only the `hashes = [...]` list of a changed provider block is rewritten,
//! one hash a line, sorted, in terraform's own layout.

use std::collections::{BTreeMap, BTreeSet};

/// `text` with each provider block's hashes merged with `extra[source]`.
/// Blocks without extra hashes, or without a `hashes` list, are kept byte for byte.
pub fn with_hashes(text: &str, extra: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    let mut rest = text;
    while !rest.is_empty() {
        let line_end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = &rest[..line_end];
        let Some(add) = block_source(line)
            .and_then(|s| extra.get(s))
            .filter(|a| !a.is_empty())
        else {
            out.push_str(line);
            rest = &rest[line_end..];
            continue;
        };
        let Some(body_len) = block_body_len(&rest[line_end..]) else {
            out.push_str(rest);
            break;
        };
        out.push_str(line);
        out.push_str(&merge_into_body(&rest[line_end..line_end + body_len], add));
        rest = &rest[line_end + body_len..];
    }
    out
}

/// The source of a `provider "<source>" {` header line (ending in a newline).
fn block_source(line: &str) -> Option<&str> {
    let after = line.strip_prefix("provider")?;
    if !after.starts_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let quoted = after.trim_start().strip_prefix('"')?;
    let end = quoted.find('"')?;
    let tail = &quoted[end + 1..];
    (line.ends_with('\n') && tail.trim() == "{" && end > 0).then(|| &quoted[..end])
}

/// Length of a block's body: up to (not including) the first line starting with `}`.
fn block_body_len(text: &str) -> Option<usize> {
    let mut at = 0;
    while at < text.len() {
        if text[at..].starts_with('}') {
            return Some(at);
        }
        at += text[at..].find('\n').map_or(text.len() - at, |i| i + 1);
    }
    None
}

/// The body with its first `hashes = [...]` list replaced by the sorted union.
fn merge_into_body(body: &str, add: &BTreeSet<String>) -> String {
    let mut at = 0;
    while at < body.len() {
        let line_len = body[at..].find('\n').map_or(body.len() - at, |i| i + 1);
        if let Some((indent, open)) = hashes_list_start(&body[at..at + line_len]) {
            let list_start = at + open;
            let Some(close) = body[list_start..].find(']') else {
                return body.to_string();
            };
            let mut merged: BTreeSet<String> = quoted_hashes(&body[list_start..list_start + close]);
            merged.extend(add.iter().cloned());
            let mut out = String::from(&body[..at]);
            out.push_str(&format!("{indent}hashes = [\n"));
            for hash in &merged {
                out.push_str(&format!("{indent}  \"{hash}\",\n"));
            }
            out.push_str(indent);
            out.push(']');
            out.push_str(&body[list_start + close + 1..]);
            return out;
        }
        at += line_len;
    }
    body.to_string()
}

/// For a line `<indent>hashes = [`: the indent and the offset just past `[`.
fn hashes_list_start(line: &str) -> Option<(&str, usize)> {
    let indent_len = line.len() - line.trim_start_matches([' ', '\t']).len();
    let after = line[indent_len..].strip_prefix("hashes")?;
    let trimmed = after.trim_start();
    let after_eq = trimmed.strip_prefix('=')?.trim_start();
    let after_bracket = after_eq.strip_prefix('[')?;
    Some((&line[..indent_len], line.len() - after_bracket.len()))
}

/// The `"<scheme>:<value>"` strings of a list's text.
fn quoted_hashes(list: &str) -> BTreeSet<String> {
    list.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.split_once(':').is_some_and(|(scheme, value)| {
                !scheme.is_empty()
                    && !value.is_empty()
                    && scheme
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
        })
        .map(str::to_string)
        .collect()
}
