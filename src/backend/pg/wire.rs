//! The least of a PostgreSQL client fleet needs to ask a server who holds a
//! lock: connect (TCP or socket, no TLS), authenticate (trust, password,
//! md5, SCRAM-SHA-256), run a simple query, read text rows. Messages are
//! encoded and decoded by `postgres-protocol`.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::backend::{ErrorFields, Message};
use postgres_protocol::message::frontend;

use super::conn::ConnParams;

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// One authenticated session.
pub struct Session {
    stream: Box<dyn Stream>,
    buf: BytesMut,
}

/// A text row: one value per column, `None` for SQL NULL.
pub type Row = Vec<Option<String>>;

impl Session {
    /// Connects and authenticates; `application_name` shows in
    /// `pg_stat_activity`. Refuses a connection that must use TLS rather
    /// than send its password in the clear.
    pub fn connect(conn: &ConnParams, application_name: &str) -> Result<Session> {
        let sslmode = conn.sslmode();
        if !matches!(sslmode, "disable" | "allow" | "prefer") {
            bail!("sslmode={sslmode}: fleet's lookup speaks PostgreSQL without TLS only");
        }
        let timeout = conn
            .get("connect_timeout")
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map_or(Duration::from_secs(5), Duration::from_secs);
        let stream = open(conn, timeout)?;
        let mut session = Session {
            stream,
            buf: BytesMut::new(),
        };
        let params = [
            ("user", conn.user()),
            ("database", conn.dbname()),
            ("application_name", application_name),
            ("client_encoding", "UTF8"),
        ];
        session.send(|buf| frontend::startup_message(params.iter().copied(), buf))?;
        session.authenticate(conn)?;
        Ok(session)
    }

    fn authenticate(&mut self, conn: &ConnParams) -> Result<()> {
        let password = || {
            conn.get("password")
                .map(str::as_bytes)
                .ok_or_else(|| anyhow!("the server asks for a password and none is set"))
        };
        let mut scram: Option<sasl::ScramSha256> = None;
        loop {
            match self.receive()? {
                Message::AuthenticationOk => break,
                Message::AuthenticationCleartextPassword => {
                    let pw = password()?;
                    self.send(|buf| frontend::password_message(pw, buf))?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash = md5_hash(conn.user().as_bytes(), password()?, body.salt());
                    self.send(|buf| frontend::password_message(hash.as_bytes(), buf))?;
                }
                Message::AuthenticationSasl(_) => {
                    let state =
                        sasl::ScramSha256::new(password()?, sasl::ChannelBinding::unsupported());
                    let first = state.message().to_vec();
                    scram = Some(state);
                    self.send(|buf| {
                        frontend::sasl_initial_response(sasl::SCRAM_SHA_256, &first, buf)
                    })?;
                }
                Message::AuthenticationSaslContinue(body) => {
                    let state = scram
                        .as_mut()
                        .ok_or_else(|| anyhow!("unexpected SASL message"))?;
                    state.update(body.data()).context("SCRAM-SHA-256")?;
                    let next = state.message().to_vec();
                    self.send(|buf| frontend::sasl_response(&next, buf))?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let state = scram
                        .as_mut()
                        .ok_or_else(|| anyhow!("unexpected SASL message"))?;
                    state
                        .finish(body.data())
                        .context("SCRAM-SHA-256 server proof")?;
                }
                Message::ErrorResponse(body) => bail!("{}", error_text(body.fields())),
                _ => bail!("unsupported authentication method"),
            }
        }
        // Parameters and the key until the server is ready.
        loop {
            match self.receive()? {
                Message::ReadyForQuery(_) => return Ok(()),
                Message::ErrorResponse(body) => bail!("{}", error_text(body.fields())),
                _ => {}
            }
        }
    }

    /// Runs one statement with the simple query protocol; its rows as text.
    pub fn query(&mut self, sql: &str) -> Result<Vec<Row>> {
        self.send(|buf| frontend::query(sql, buf))?;
        let mut rows = Vec::new();
        let mut failure = None;
        loop {
            match self.receive()? {
                Message::DataRow(body) => {
                    let data = body.buffer();
                    let row = body
                        .ranges()
                        .map(|range| {
                            Ok(range.map(|r| String::from_utf8_lossy(&data[r]).into_owned()))
                        })
                        .collect()?;
                    rows.push(row);
                }
                Message::ErrorResponse(body) => failure = Some(error_text(body.fields())),
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match failure {
            Some(text) => Err(anyhow!("{text}")),
            None => Ok(rows),
        }
    }

    fn send(&mut self, encode: impl FnOnce(&mut BytesMut) -> io::Result<()>) -> Result<()> {
        let mut buf = BytesMut::new();
        encode(&mut buf)?;
        self.stream.write_all(&buf)?;
        Ok(())
    }

    fn receive(&mut self) -> Result<Message> {
        loop {
            if let Some(message) = Message::parse(&mut self.buf)? {
                return Ok(message);
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut buf = BytesMut::new();
        frontend::terminate(&mut buf);
        let _ = self.stream.write_all(&buf);
    }
}

fn open(conn: &ConnParams, timeout: Duration) -> Result<Box<dyn Stream>> {
    if conn.is_socket() {
        let path = format!("{}/.s.PGSQL.{}", conn.host(), conn.port());
        let stream = UnixStream::connect(&path).with_context(|| format!("connecting to {path}"))?;
        stream.set_read_timeout(Some(timeout * 2))?;
        stream.set_write_timeout(Some(timeout * 2))?;
        return Ok(Box::new(stream));
    }
    let target = format!("{}:{}", conn.host(), conn.port());
    let mut last = None;
    for addr in target
        .to_socket_addrs()
        .with_context(|| format!("resolving {target}"))?
    {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream.set_read_timeout(Some(timeout * 2))?;
                stream.set_write_timeout(Some(timeout * 2))?;
                stream.set_nodelay(true)?;
                return Ok(Box::new(stream));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => anyhow!("connecting to {target}: {e}"),
        None => anyhow!("{target} resolves to no address"),
    })
}

/// `ERROR: message (SQLSTATE code)` from an error response.
fn error_text(mut fields: ErrorFields) -> String {
    let (mut severity, mut message, mut code) = (String::new(), String::new(), String::new());
    while let Ok(Some(field)) = fields.next() {
        let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            b'S' => severity = value,
            b'M' => message = value,
            b'C' => code = value,
            _ => {}
        }
    }
    format!("{severity}: {message} (SQLSTATE {code})")
}

/// `text` as an SQL string literal, whatever standard_conforming_strings says.
pub fn literal(text: &str) -> String {
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// `name` as a quoted SQL identifier (as terraform's backend quotes its schema).
pub fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
