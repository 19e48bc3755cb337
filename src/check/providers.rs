//! Which provider configurations a module uses, so that the check can mock
//! every one of them: local names (from `required_providers`, provider blocks
//! and the implied prefix of resource and data types) and the root module's
//! aliased configurations. Reads `.tf` (a small HCL tokenizer: enough to find
//! block headers, not to evaluate anything) and `.tf.json` files.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// The provider configurations to mock: `(local name, alias)`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ProviderUse {
    pub names: BTreeSet<String>,
    pub aliases: BTreeSet<(String, String)>,
}

impl ProviderUse {
    /// Adds what one module file declares; `root` says whether its provider
    /// blocks are the root module's (only those can be replaced by mocks).
    pub fn add_file(&mut self, path: &Path, root: bool) -> Result<()> {
        let name = path.to_string_lossy();
        if name.ends_with(".tf.json") {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let json: Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing {} as JSON", path.display()))?;
            self.add_json(&json, root);
        } else if name.ends_with(".tf") {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            self.add_hcl(&tokens(&text), root);
        }
        Ok(())
    }

    fn add_type(&mut self, resource_type: &str) {
        let prefix = resource_type.split('_').next().unwrap_or(resource_type);
        // The builtin provider (terraform_data, terraform_remote_state) needs no mock.
        if !prefix.is_empty() && prefix != "terraform" {
            self.names.insert(prefix.to_string());
        }
    }

    fn add_provider(&mut self, name: &str, alias: Option<String>, root: bool) {
        if name == "terraform" {
            return;
        }
        self.names.insert(name.to_string());
        if let (Some(alias), true) = (alias, root) {
            self.aliases.insert((name.to_string(), alias));
        }
    }

    fn add_hcl(&mut self, tokens: &[Token], root: bool) {
        let mut depth = 0usize;
        let mut i = 0;
        while i < tokens.len() {
            match (&tokens[i], depth) {
                (Token::Open, _) => depth += 1,
                (Token::Close, _) => depth = depth.saturating_sub(1),
                (Token::Ident(kw), 0) if kw == "resource" || kw == "data" => {
                    if let Some(Token::Str(t)) = tokens.get(i + 1) {
                        let t = t.clone();
                        self.add_type(&t);
                    }
                }
                (Token::Ident(kw), 0) if kw == "provider" => {
                    if let Some(Token::Str(name)) = tokens.get(i + 1) {
                        let name = name.clone();
                        let alias = block_string_attr(&tokens[i + 2..], "alias");
                        self.add_provider(&name, alias, root);
                    }
                }
                (Token::Ident(kw), 1) if kw == "required_providers" => {
                    for name in block_keys(&tokens[i + 1..]) {
                        self.add_provider(&name, None, root);
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }

    fn add_json(&mut self, json: &Value, root: bool) {
        for kind in ["resource", "data"] {
            if let Some(types) = json.get(kind).and_then(Value::as_object) {
                for t in types.keys() {
                    self.add_type(t);
                }
            }
        }
        if let Some(providers) = json.get("provider").and_then(Value::as_object) {
            for (name, configs) in providers {
                let configs = match configs {
                    Value::Array(list) => list.clone(),
                    other => vec![other.clone()],
                };
                for config in configs {
                    let alias = config.get("alias").and_then(Value::as_str);
                    self.add_provider(name, alias.map(str::to_string), root);
                }
            }
        }
        let blocks = match json.get("terraform") {
            Some(Value::Array(list)) => list.clone(),
            Some(other) => vec![other.clone()],
            None => vec![],
        };
        for block in blocks {
            if let Some(required) = block.get("required_providers").and_then(Value::as_object) {
                for name in required.keys() {
                    self.add_provider(name, None, root);
                }
            }
        }
    }
}

/// `NAME = "value"` directly inside the block that `tokens` opens.
fn block_string_attr(tokens: &[Token], name: &str) -> Option<String> {
    let start = tokens.iter().position(|t| *t == Token::Open)?;
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token {
            Token::Open => depth += 1,
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    return None;
                }
            }
            Token::Ident(key) if depth == 1 && key == name => {
                if let (Some(Token::Eq), Some(Token::Str(v))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    return Some(v.clone());
                }
            }
            _ => {}
        }
    }
    None
}

/// The keys (`KEY = ...`) directly inside the block that `tokens` opens.
fn block_keys(tokens: &[Token]) -> Vec<String> {
    let mut keys = Vec::new();
    let Some(start) = tokens.iter().position(|t| *t == Token::Open) else {
        return keys;
    };
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(start) {
        match token {
            Token::Open => depth += 1,
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Token::Ident(key) if depth == 1 && tokens.get(i + 1) == Some(&Token::Eq) => {
                keys.push(key.clone());
            }
            _ => {}
        }
    }
    keys
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    /// A quoted string; templates keep their raw text.
    Str(String),
    Open,
    Close,
    Eq,
}

/// Splits HCL into the tokens block headers are made of. Comments, heredocs
/// and string contents never produce braces; `[`, `(` and `{` all nest (a
/// `{` inside an expression is an object, which only matters for depth).
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' => i = skip_line(&chars, i),
            '/' if chars.get(i + 1) == Some(&'/') => i = skip_line(&chars, i),
            '/' if chars.get(i + 1) == Some(&'*') => i = skip_block_comment(&chars, i + 2),
            '<' if chars.get(i + 1) == Some(&'<') => i = skip_heredoc(&chars, i + 2),
            '"' => {
                let (value, next) = read_string(&chars, i + 1);
                out.push(Token::Str(value));
                i = next;
            }
            '{' => {
                out.push(Token::Open);
                i += 1;
            }
            '}' => {
                out.push(Token::Close);
                i += 1;
            }
            '=' if chars.get(i + 1) != Some(&'=') && chars.get(i + 1) != Some(&'>') => {
                out.push(Token::Eq);
                i += 1;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || "_-".contains(chars[i])) {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            _ => i += 1,
        }
    }
    out
}

fn skip_line(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i] != '\n' {
        i += 1;
    }
    i
}

fn skip_block_comment(chars: &[char], mut i: usize) -> usize {
    while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
        i += 1;
    }
    i + 2
}

/// Skips `<<EOF` / `<<-EOF` ... `EOF`.
fn skip_heredoc(chars: &[char], mut i: usize) -> usize {
    if chars.get(i) == Some(&'-') {
        i += 1;
    }
    let start = i;
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    let marker: String = chars[start..i].iter().collect();
    if marker.is_empty() {
        return i;
    }
    loop {
        i = skip_line(chars, i) + 1;
        if i >= chars.len() {
            return chars.len();
        }
        let end = skip_line(chars, i);
        let line: String = chars[i..end].iter().collect();
        if line.trim() == marker {
            return end;
        }
    }
}

/// Reads a quoted string from after its opening quote; `${...}` and `%{...}`
/// may hold nested strings and braces.
fn read_string(chars: &[char], mut i: usize) -> (String, usize) {
    let mut value = String::new();
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                value.extend(chars.get(i..i + 2).unwrap_or(&[]));
                i += 2;
                continue;
            }
            '"' if depth == 0 => return (value, i + 1),
            '"' => {
                let (inner, next) = read_string(chars, i + 1);
                value.push('"');
                value.push_str(&inner);
                value.push('"');
                i = next;
                continue;
            }
            '{' if depth > 0 || (i > 0 && "$%".contains(chars[i - 1])) => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ => {}
        }
        value.push(c);
        i += 1;
    }
    (value, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, root: bool) -> ProviderUse {
        let mut found = ProviderUse::default();
        found.add_hcl(&tokens(text), root);
        found
    }

    #[test]
    fn finds_names_aliases_and_implied_providers() {
        let found = scan(
            r#"
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" } # "google" in a comment
  }
}
/* provider "fake" { alias = "x" } */
provider "aws" {
  alias  = "east"
  region = "us-east-1"
  tags   = { a = "${var.x}-{" }
}
resource "random_id" "r" {
  description = <<-EOT
    provider "heredoc" {
  EOT
}
data "google_project" "p" {}
resource "terraform_data" "t" {}
"#,
            true,
        );
        let names: Vec<&str> = found.names.iter().map(String::as_str).collect();
        assert_eq!(names, ["aws", "google", "random"]);
        assert_eq!(
            found.aliases.into_iter().collect::<Vec<_>>(),
            [("aws".to_string(), "east".to_string())]
        );
    }

    #[test]
    fn child_module_aliases_are_not_mockable_but_names_count() {
        let found = scan("provider \"aws\" {\n alias = \"west\"\n}\n", false);
        assert!(found.aliases.is_empty());
        assert!(found.names.contains("aws"));
    }

    #[test]
    fn json_configuration() {
        let mut found = ProviderUse::default();
        let json: Value = serde_json::from_str(
            r#"{"provider": {"aws": [{"alias": "east"}, {}]},
                "resource": {"google_x": {}}, "terraform": {"required_providers": {"fleettest": {}}}}"#,
        )
        .unwrap();
        found.add_json(&json, true);
        assert_eq!(found.names.len(), 3);
        assert!(found.aliases.contains(&("aws".into(), "east".into())));
    }
}
