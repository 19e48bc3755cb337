//! The crate's layering, computed from its sources: the module graph (edges
//! from `crate::` and `super::` paths) has no cycle, and only the CLI layer
//! (`src/cmd/`, `main.rs`) sees clap or `crate::cmd`.
//!
//! `cargo test --test it layers -- --nocapture` also prints the numbers the
//! issue asks for: cycles, the longest function and the largest file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One source file: its module name (`run/job`, `tf`, `lib`) and its code
/// with comments and string/char literals blanked out.
struct Source {
    module: String,
    path: PathBuf,
    code: String,
    lines: usize,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_name(relative: &Path) -> String {
    let text = relative
        .with_extension("")
        .to_string_lossy()
        .replace('\\', "/");
    text.strip_suffix("/mod")
        .map(str::to_string)
        .unwrap_or(text)
}

fn sources() -> Vec<Source> {
    let root = src_dir();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap();
            Source {
                module: module_name(path.strip_prefix(&root).unwrap()),
                lines: text.lines().count(),
                code: blank_comments_and_literals(&text),
                path,
            }
        })
        .collect()
}

/// Replaces comments and the contents of string and char literals by spaces
/// (newlines kept), so braces and paths inside them are not seen as code.
fn blank_comments_and_literals(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !chars[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // Raw string r"..." / r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push('"');
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                out.push(blank(chars[j]));
                j += 1;
            }
            out.push('"');
            i = j;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..chars.len()).find(|&j| chars[j] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.push_str("' '");
                    for _ in i + 3..=end {
                        out.push(' ');
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Parses a use tree at `code[at..]` (after `crate::` or `super::`) and
/// pushes every path it names, as segments, onto `out`.
fn parse_use_tree(code: &[char], mut at: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        while code.get(at).is_some_and(|c| c.is_whitespace()) {
            at += 1;
        }
        if code.get(at) == Some(&'{') {
            at += 1;
            loop {
                while code.get(at).is_some_and(|c| c.is_whitespace() || *c == ',') {
                    at += 1;
                }
                if code.get(at).is_none_or(|c| *c == '}') {
                    return;
                }
                let start = at;
                let mut depth = 0;
                while let Some(&c) = code.get(at) {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => break,
                        _ => {}
                    }
                    at += 1;
                }
                parse_use_tree(code, start, path.clone(), out);
            }
        }
        let start = at;
        while code.get(at).is_some_and(|c| is_ident(*c)) {
            at += 1;
        }
        if start == at {
            break;
        }
        path.push(code[start..at].iter().collect());
        if code.get(at) == Some(&':') && code.get(at + 1) == Some(&':') {
            at += 2;
        } else {
            break;
        }
    }
    out.push(path);
}

/// Byte ranges of inline `mod name { ... }` blocks (e.g. `mod tests`).
fn inline_mod_ranges(code: &[char]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    for at in 0..code.len().saturating_sub(4) {
        if code[at..at + 4] != ['m', 'o', 'd', ' '] || (at > 0 && is_ident(code[at - 1])) {
            continue;
        }
        let mut open = at + 4;
        while open < code.len() && (is_ident(code[open]) || code[open] == ' ') {
            open += 1;
        }
        if code.get(open) != Some(&'{') {
            continue;
        }
        let mut depth = 0;
        for (close, c) in code.iter().enumerate().skip(open) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        ranges.push(open..close);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    ranges
}

/// The module a path from `from` (inside `inline` nested inline modules)
/// points to: the longest prefix that is a module of the crate.
fn resolve(
    from: &str,
    absolute: bool,
    inline: usize,
    segments: &[String],
    modules: &BTreeSet<String>,
) -> Option<String> {
    const INLINE: &str = "#inline";
    let mut base: Vec<String> = if absolute {
        Vec::new()
    } else {
        // `super::` from `run/job` is `run`; from `run` (run/mod.rs) it is the
        // root; from `mod tests { }` inside a file it is that file.
        let mut parts: Vec<String> = from.split('/').map(str::to_string).collect();
        parts.extend(std::iter::repeat_n(INLINE.to_string(), inline));
        parts.pop();
        parts
    };
    if base.iter().any(|p| p == INLINE) {
        return None;
    }
    let mut rest = segments;
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    let mut best = None;
    let mut candidate = base.clone();
    for segment in rest {
        candidate.push(segment.clone());
        let name = candidate.join("/");
        if modules.contains(&name) {
            best = Some(name);
        }
    }
    best.or_else(|| (!base.is_empty()).then(|| base.join("/")))
}

fn module_graph(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    let mut graph = BTreeMap::new();
    for source in sources {
        let code: Vec<char> = source.code.chars().collect();
        let mut targets = BTreeSet::new();
        let inline_mods = inline_mod_ranges(&code);
        for (keyword, absolute) in [("crate::", true), ("super::", false)] {
            let key: Vec<char> = keyword.chars().collect();
            for at in 0..code.len().saturating_sub(key.len()) {
                let preceded = at > 0 && (is_ident(code[at - 1]) || code[at - 1] == ':');
                if preceded || code[at..at + key.len()] != key[..] {
                    continue;
                }
                let mut paths = Vec::new();
                parse_use_tree(&code, at + key.len(), vec![], &mut paths);
                let inline = inline_mods.iter().filter(|r| r.contains(&at)).count();
                for path in paths {
                    if let Some(target) = resolve(&source.module, absolute, inline, &path, &modules)
                    {
                        if target != source.module {
                            targets.insert(target);
                        }
                    }
                }
            }
        }
        graph.insert(source.module.clone(), targets);
    }
    graph
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, node: &'a str) {
        let n = s.index.len();
        s.index.insert(node, n);
        s.low.insert(node, n);
        s.stack.push(node);
        s.on_stack.insert(node);
        for next in s.graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !s.index.contains_key(next) {
                visit(s, next);
                let low = s.low[node].min(s.low[next]);
                s.low.insert(node, low);
            } else if s.on_stack.contains(next) {
                let low = s.low[node].min(s.index[next]);
                s.low.insert(node, low);
            }
        }
        if s.low[node] == s.index[node] {
            let mut component = Vec::new();
            while let Some(top) = s.stack.pop() {
                s.on_stack.remove(top);
                component.push(top.to_string());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.found
}

/// Every `fn` with a body: (lines, module, name).
fn functions(source: &Source) -> Vec<(usize, String, String)> {
    let code: Vec<char> = source.code.chars().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at + 3 < code.len() {
        let is_fn = code[at..at + 3] == ['f', 'n', ' '] && (at == 0 || !is_ident(code[at - 1]));
        if !is_fn {
            at += 1;
            continue;
        }
        let name_start = at + 3;
        let mut name_end = name_start;
        while code.get(name_end).is_some_and(|c| is_ident(*c)) {
            name_end += 1;
        }
        let name: String = code[name_start..name_end].iter().collect();
        // The body starts at the first `{` before any `;` (a declaration has none).
        let mut open = name_end;
        while open < code.len() && code[open] != '{' && code[open] != ';' {
            open += 1;
        }
        if open >= code.len() || code[open] == ';' {
            at = name_end;
            continue;
        }
        let mut depth = 0;
        let mut close = open;
        while close < code.len() {
            match code[close] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            close += 1;
        }
        let first_line = code[..at].iter().filter(|c| **c == '\n').count();
        let last_line = code[..close.min(code.len())]
            .iter()
            .filter(|c| **c == '\n')
            .count();
        found.push((last_line - first_line + 1, source.module.clone(), name));
        // Nested fns are counted too: continue inside the body.
        at = open + 1;
    }
    found
}

#[test]
fn module_graph_has_no_cycle_and_report() {
    let sources = sources();
    let graph = module_graph(&sources);
    let found = cycles(&graph);
    let longest = sources.iter().flat_map(functions).max().unwrap();
    let largest = sources.iter().max_by_key(|s| s.lines).unwrap();
    eprintln!("modules: {}", graph.len());
    eprintln!("cycles: {}", found.len());
    for cycle in &found {
        eprintln!("  cycle of {}: {}", cycle.len(), cycle.join(", "));
    }
    eprintln!(
        "longest function: {}::{} ({} lines)",
        longest.1, longest.2, longest.0
    );
    let mut by_length: Vec<_> = sources
        .iter()
        .flat_map(functions)
        .filter(|f| f.0 > 80)
        .collect();
    by_length.sort_by(|a, b| b.cmp(a));
    for (lines, module, name) in &by_length {
        eprintln!("  over 80 lines: {module}::{name} ({lines})");
    }
    eprintln!(
        "largest file: {} ({} lines)",
        largest.path.strip_prefix(src_dir()).unwrap().display(),
        largest.lines
    );
    if std::env::var_os("FLEET_LAYERS_REPORT_ONLY").is_none() {
        assert!(
            found.is_empty(),
            "import cycles among the crate's modules: {found:?}"
        );
    }
}

/// Issue 13: a function over this many lines is split along its steps.
const MAX_FUNCTION_LINES: usize = 100;

#[test]
fn no_function_is_over_100_lines() {
    let too_long: Vec<String> = sources()
        .iter()
        .flat_map(functions)
        .filter(|(lines, _, _)| *lines > MAX_FUNCTION_LINES)
        .map(|(lines, module, name)| format!("{module}::{name} ({lines} lines)"))
        .collect();
    for f in &too_long {
        eprintln!("  over {MAX_FUNCTION_LINES} lines: {f}");
    }
    if std::env::var_os("FLEET_LAYERS_REPORT_ONLY").is_none() {
        assert!(
            too_long.is_empty(),
            "functions over {MAX_FUNCTION_LINES} lines (split them along their steps): {too_long:?}"
        );
    }
}

#[test]
fn only_the_cli_layer_sees_clap_and_cmd() {
    let sources = sources();
    let graph = module_graph(&sources);
    let mut offenders = Vec::new();
    for source in &sources {
        if source.module == "main" || source.module == "cmd" || source.module.starts_with("cmd/") {
            continue;
        }
        if source.code.contains("clap") {
            offenders.push(format!("{} uses clap", source.module));
        }
        let targets = &graph[&source.module];
        if targets.iter().any(|t| t == "cmd" || t.starts_with("cmd/")) {
            offenders.push(format!("{} imports crate::cmd", source.module));
        }
    }
    if std::env::var_os("FLEET_LAYERS_REPORT_ONLY").is_some() {
        eprintln!("CLI leaks: {offenders:#?}");
        return;
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn the_graph_reader_sees_grouped_and_relative_paths() {
    let code: Vec<char> = blank_comments_and_literals(
        "use crate::{a::{b, c::D}, e};\n// use crate::zz;\nlet s = \"crate::yy\";\nsuper::f::g();",
    )
    .chars()
    .collect();
    let mut paths = Vec::new();
    let text: String = code.iter().collect();
    let at = text.find("crate::").unwrap() + "crate::".len();
    parse_use_tree(&code, at, vec![], &mut paths);
    assert_eq!(paths, vec![vec!["a", "b"], vec!["a", "c", "D"], vec!["e"]]);
    assert!(!text.contains("zz") && !text.contains("yy"));
    let modules: BTreeSet<String> = ["a", "a/c", "run", "run/f"].map(String::from).into();
    let segs = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        resolve("x", true, 0, &segs(&["a", "c", "D"]), &modules).as_deref(),
        Some("a/c")
    );
    assert_eq!(
        resolve("run/job", false, 0, &segs(&["f", "g"]), &modules).as_deref(),
        Some("run/f")
    );
    assert_eq!(
        resolve("run/job", false, 1, &segs(&["h"]), &modules).as_deref(),
        Some("run/job")
    );
    assert_eq!(
        resolve("run/job", false, 0, &segs(&["h"]), &modules).as_deref(),
        Some("run")
    );
}

/// Child modules `source` declares (`mod name;`, `pub mod name;`) and uses
/// by a relative path (`name::item`, `pub use name::Item`): edges the
/// `crate::`/`super::` reader does not see.
fn used_children(source: &Source, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = if source.module == "lib" {
        String::new()
    } else {
        format!("{}/", source.module)
    };
    let code: Vec<char> = source.code.chars().collect();
    let mut used = BTreeSet::new();
    for module in modules {
        let Some(name) = module.strip_prefix(&parent) else {
            continue;
        };
        if name.contains('/') || name.is_empty() {
            continue;
        }
        let key: Vec<char> = format!("{name}::").chars().collect();
        let found = (0..code.len().saturating_sub(key.len())).any(|at| {
            let preceded = at > 0 && (is_ident(code[at - 1]) || code[at - 1] == ':');
            !preceded && code[at..at + key.len()] == key[..]
        });
        if found {
            used.insert(module.clone());
        }
    }
    used
}

/// Issue 24: a module nothing imports is dead or misfiled. The CLI layer
/// (`cmd/`, reached through clap's derive), the crate roots, unit tests in
/// their own files and modules that add methods to another module's type
/// (`impl Store` in `store/gc`: callers reach them through the type) are
/// exempt.
#[test]
fn every_module_outside_the_cli_is_imported_by_another() {
    let sources = sources();
    let mut graph = module_graph(&sources);
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for source in &sources {
        let children = used_children(source, &modules);
        graph.get_mut(&source.module).unwrap().extend(children);
    }
    let imported: BTreeSet<&String> = graph.values().flatten().collect();
    let extends_a_type: BTreeSet<&String> = sources
        .iter()
        .filter(|s| s.code.starts_with("impl") || s.code.contains("\nimpl"))
        .map(|s| &s.module)
        .collect();
    let orphans: Vec<&String> = modules
        .iter()
        .filter(|m| !matches!(m.as_str(), "lib" | "main" | "cmd") && !m.starts_with("cmd/"))
        .filter(|m| !m.ends_with("/tests") && !extends_a_type.contains(m))
        .filter(|m| !imported.contains(m))
        .collect();
    assert!(
        orphans.is_empty(),
        "modules no other module imports: {orphans:?}"
    );
}

/// Issue 24: no top-level module (a file or directory under `src/`) holds
/// more than a fifth of the crate's lines: a room that big holds several
/// concerns.
#[test]
fn no_top_level_module_holds_a_fifth_of_the_crate() {
    let sources = sources();
    let total: usize = sources.iter().map(|s| s.lines).sum();
    let mut by_top: BTreeMap<&str, usize> = BTreeMap::new();
    for source in &sources {
        let top = source.module.split('/').next().unwrap();
        *by_top.entry(top).or_default() += source.lines;
    }
    let mut sizes: Vec<(usize, &str)> = by_top.iter().map(|(m, l)| (*l, *m)).collect();
    sizes.sort_by(|a, b| b.cmp(a));
    for (lines, module) in sizes.iter().take(5) {
        eprintln!(
            "{module}: {lines} of {total} lines ({}%)",
            lines * 100 / total
        );
    }
    let over: Vec<_> = sizes.iter().filter(|(l, _)| l * 5 > total).collect();
    assert!(
        over.is_empty(),
        "top-level modules over 20% of {total} lines: {over:?}"
    );
}
