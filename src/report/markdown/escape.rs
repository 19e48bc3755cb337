//! Data as Markdown that shows it and never renders it: inline code spans,
//! fenced blocks and `<code>` inside raw HTML, with the escaping CommonMark
//! and HTML need (see the summary's module comment).

/// `text` as an inline code span: the fence is one backtick longer than the
/// longest run of backticks inside, and a space pads each side when the
/// text starts or ends with a backtick or with spaces on both sides (the
/// one space CommonMark then strips), so the span shows `text` exactly.
/// Line breaks and other control characters are shown escaped: a real one
/// would end a table row or start a new block.
pub fn code(text: &str) -> String {
    let text = visible(text);
    if text.is_empty() {
        return "(empty)".to_string();
    }
    let fence = "`".repeat(longest_backtick_run(&text) + 1);
    let spaced = text.starts_with(' ') && text.ends_with(' ') && text.trim() != "";
    let pad = if text.starts_with('`') || text.ends_with('`') || spaced {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Lines as a fenced code block whose fence no line can close (longer than
/// any run of backticks in them); control characters other than tabs shown
/// escaped (a carriage return would end a line).
pub fn fenced(lines: &[&str]) -> String {
    let lines: Vec<String> = lines.iter().map(|l| visible_keep_tabs(l)).collect();
    let longest = lines
        .iter()
        .map(|l| longest_backtick_run(l))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    let mut text = format!("{fence}text\n");
    for line in &lines {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&fence);
    text.push('\n');
    text
}

/// `text` inside raw HTML (the `<summary>` line): `<code>` with every
/// character HTML gives a meaning escaped, control characters shown escaped
/// (a blank line would end the HTML block and let Markdown in).
pub fn html_code(text: &str) -> String {
    let mut out = String::from("<code>");
    for c in visible(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out.push_str("</code>");
    out
}

fn longest_backtick_run(text: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

fn visible(text: &str) -> String {
    escape_controls(text, false)
}

fn visible_keep_tabs(text: &str) -> String {
    escape_controls(text, true)
}

fn escape_controls(text: &str, keep_tabs: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' if keep_tabs => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}
