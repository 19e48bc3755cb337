//! Where terraform's `pg` backend connects, resolved the way its driver
//! (Go's lib/pq) does: the connection string (`conn_str`, else
//! `PG_CONN_STR`), a `postgres://` URL or `key=value` words, over defaults
//! from the `PG*` environment variables; the password, when none is given,
//! from the password file (`passfile`, `PGPASSFILE`, `~/.pgpass`).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};

/// lib/pq's environment variables and the parameter each sets.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("PGHOST", "host"),
    ("PGPORT", "port"),
    ("PGDATABASE", "dbname"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
    ("PGPASSFILE", "passfile"),
    ("PGSSLMODE", "sslmode"),
    ("PGCONNECT_TIMEOUT", "connect_timeout"),
];

/// Resolved connection parameters (`host`, `port`, `user`, `dbname`,
/// `password`, `sslmode`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnParams {
    pub params: BTreeMap<String, String>,
}

impl ConnParams {
    /// Resolves `conn_str` over `env` (a lookup of environment variables).
    pub fn resolve(conn_str: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ConnParams> {
        let mut params = BTreeMap::new();
        params.insert("host".to_string(), "localhost".to_string());
        params.insert("port".to_string(), "5432".to_string());
        for (var, key) in ENVIRONMENT {
            if let Some(value) = env(var).filter(|v| !v.is_empty()) {
                params.insert(key.to_string(), value);
            }
        }
        let words = if conn_str.starts_with("postgres://") || conn_str.starts_with("postgresql://")
        {
            url_words(conn_str)?
        } else {
            key_values(conn_str)?
        };
        params.extend(words);
        if !params.contains_key("user") {
            if let Some(user) = env("USER").or_else(|| env("LOGNAME")) {
                params.insert("user".into(), user);
            }
        }
        let mut conn = ConnParams { params };
        if conn.get("password").is_none() {
            if let Some(password) = conn.password_from_file(env) {
                conn.params.insert("password".into(), password);
            }
        }
        Ok(conn)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    pub fn host(&self) -> &str {
        self.get("host").unwrap_or("localhost")
    }

    pub fn port(&self) -> &str {
        self.get("port").unwrap_or("5432")
    }

    pub fn user(&self) -> &str {
        self.get("user").unwrap_or("")
    }

    /// The database: `dbname`, else the server's default (the user's name).
    pub fn dbname(&self) -> &str {
        self.get("dbname").unwrap_or_else(|| self.user())
    }

    /// lib/pq's default is `require`; a socket never uses TLS.
    pub fn sslmode(&self) -> &str {
        if self.is_socket() {
            return "disable";
        }
        self.get("sslmode")
            .filter(|m| !m.is_empty())
            .unwrap_or("require")
    }

    pub fn is_socket(&self) -> bool {
        self.host().starts_with('/')
    }

    /// `host:port/dbname` (no user, no password): names the database in
    /// messages and keys.
    pub fn database_name(&self) -> String {
        format!("{}:{}/{}", self.host(), self.port(), self.dbname())
    }

    /// The `~/.pgpass` line matching this connection, as lib/pq reads it
    /// (only from a file no one else may read).
    fn password_from_file(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let path = match self.get("passfile") {
            Some(file) => PathBuf::from(file),
            None => PathBuf::from(env("HOME")?).join(".pgpass"),
        };
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
            return None;
        }
        let text = std::fs::read_to_string(&path).ok()?;
        let host = if self.is_socket() {
            "localhost"
        } else {
            self.host()
        };
        let wanted = [host, self.port(), self.dbname(), self.user()];
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| {
                let fields = pgpass_fields(line);
                let matches = fields.len() == 5
                    && wanted
                        .iter()
                        .zip(&fields)
                        .all(|(want, field)| field == "*" || field == want);
                matches.then(|| fields[4].clone())
            })
    }
}

/// A `.pgpass` line split at unescaped colons, with `\` escapes removed.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().unwrap().extend(chars.next()),
            ':' => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// `postgres://user:password@host:port/dbname?key=value` as lib/pq reads it.
fn url_words(url: &str) -> Result<Vec<(String, String)>> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let mut words = Vec::new();
    let mut add = |key: &str, value: String| {
        if !value.is_empty() {
            words.push((key.to_string(), value));
        }
    };
    if !userinfo.is_empty() {
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        add("user", percent_decode(user)?);
        add("password", percent_decode(password)?);
    }
    let (host, port) = split_host_port(hostport);
    add("host", percent_decode(host)?);
    add("port", port.to_string());
    add("dbname", percent_decode(path)?);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        add(&percent_decode(key)?, percent_decode(value)?);
    }
    Ok(words)
}

fn split_host_port(hostport: &str) -> (&str, &str) {
    if let Some(inner) = hostport.strip_prefix('[') {
        // [ipv6]:port
        if let Some((host, rest)) = inner.split_once(']') {
            return (host, rest.strip_prefix(':').unwrap_or(""));
        }
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port),
        _ => (hostport, ""),
    }
}

fn percent_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| anyhow!("bad percent escape in a postgres:// URL"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| anyhow!("a postgres:// URL decodes to non-UTF-8"))
}

/// `key=value key='quoted \' value'` words as lib/pq reads them.
fn key_values(text: &str) -> Result<Vec<(String, String)>> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            bail!("connection string: missing \"=\" after {key:?}");
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => bail!("connection string: unterminated quoted value of {key:?}"),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        words.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn url_and_words_resolve_alike() {
        let url = ConnParams::resolve(
            "postgres://fleet:p%40ss@127.0.0.1:5544/states?sslmode=disable",
            &no_env,
        )
        .unwrap();
        let words = ConnParams::resolve(
            "host=127.0.0.1 port=5544 user=fleet password='p@ss' dbname=states sslmode=disable",
            &no_env,
        )
        .unwrap();
        assert_eq!(url, words);
        assert_eq!(url.get("password"), Some("p@ss"));
        assert_eq!(url.database_name(), "127.0.0.1:5544/states");
        assert_eq!(url.sslmode(), "disable");
    }

    #[test]
    fn environment_fills_what_the_string_leaves_out() {
        let env = |name: &str| match name {
            "PGHOST" => Some("db.internal".to_string()),
            "PGPORT" => Some("6000".to_string()),
            "PGUSER" => Some("ci".to_string()),
            _ => None,
        };
        let conn = ConnParams::resolve("postgres://other@/fleet", &env).unwrap();
        assert_eq!(conn.host(), "db.internal");
        assert_eq!(conn.port(), "6000");
        assert_eq!(conn.user(), "other");
        assert_eq!(conn.dbname(), "fleet");
        // lib/pq requires TLS unless told otherwise.
        assert_eq!(conn.sslmode(), "require");
    }

    #[test]
    fn quoted_values_and_escapes() {
        let words = key_values(r"password='a b\'c' user=x\ y").unwrap();
        assert_eq!(
            words,
            vec![
                ("password".to_string(), "a b'c".to_string()),
                ("user".to_string(), "x y".to_string())
            ]
        );
        assert!(key_values("password").is_err());
        assert!(key_values("password='open").is_err());
    }

    #[test]
    fn pgpass_is_read_only_when_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:no\n127.0.0.1:5544:*:fleet:s\\:ecret\n",
        )
        .unwrap();
        let conn_str = format!(
            "host=127.0.0.1 port=5544 user=fleet passfile={}",
            file.display()
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = ConnParams::resolve(&conn_str, &no_env).unwrap();
        assert_eq!(open.get("password"), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let private = ConnParams::resolve(&conn_str, &no_env).unwrap();
        assert_eq!(private.get("password"), Some("s:ecret"));
    }
}
