//! A small blocking RESP client over `std::net::TcpStream` for `red
//! migrate`: connect with timeouts, `AUTH`, `SELECT`, send commands (one
//! or a pipeline), read replies. Replies are parsed by the server's own
//! fuzzed codec ([`crate::server::wire::resp::parse_value`]: bulk strings
//! up to 16 MiB, aggregates up to 1,048,576 elements, 32 levels), and one
//! reply may buffer at most [`MAX_REPLY_BYTES`]; anything else is an error
//! that names the peer (`source HOST:PORT/DB`), never a credential.
//!
//! Owns sockets and bytes only: what a command means is the caller's.

use super::server_url::ServerUrl;
use crate::error::{Error, Result};
pub use crate::server::wire::resp::Value;
use crate::server::wire::resp::{encode_command, parse_value};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Most bytes one reply may take before it is refused.
pub const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// Smallest read from the socket.
const READ_CHUNK: usize = 64 * 1024;

/// One connection to a Redis-protocol server.
pub struct RespConnection {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` before this offset are consumed.
    start: usize,
    /// `source HOST:PORT/DB` or `target …`: what errors call the peer.
    peer: String,
    /// Inside [`RespConnection::read_available`] (a read timeout also
    /// reports `WouldBlock`: this tells the two apart).
    nonblocking: bool,
}

impl RespConnection {
    /// Connects to `url` (every address it resolves to, in order) with
    /// `timeout` for the connect and for every read and write.
    pub fn connect(url: &ServerUrl, role: &str, timeout: Duration) -> Result<Self> {
        let peer = format!("{role} {}", url.display_name());
        let addrs = url
            .socket_target()
            .to_socket_addrs()
            .map_err(|e| Error::MigratePeer(format!("{peer}: cannot resolve the host: {e}")))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    let setup = stream
                        .set_read_timeout(Some(timeout))
                        .and_then(|()| stream.set_write_timeout(Some(timeout)))
                        .and_then(|()| stream.set_nodelay(true));
                    if let Err(e) = setup {
                        return Err(Error::MigratePeer(format!("{peer}: {e}")));
                    }
                    return Ok(Self::over(stream, peer));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(Error::MigratePeer(match last {
            Some(e) => format!("{peer}: cannot connect: {e}"),
            None => format!("{peer}: the host resolves to no address"),
        }))
    }

    /// A connection over an already connected stream (tests).
    pub fn over(stream: TcpStream, peer: String) -> Self {
        Self {
            stream,
            buf: Vec::new(),
            start: 0,
            peer,
            nonblocking: false,
        }
    }

    /// An error naming this peer.
    pub fn fail(&self, what: impl std::fmt::Display) -> Error {
        Error::MigratePeer(format!("{}: {what}", self.peer))
    }

    /// Sends one command without waiting for its reply.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<()> {
        self.send_raw(&encode_command(args))
    }

    /// Sends already encoded commands (a pipeline) in one write.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .map_err(|e| self.fail(format!("write failed: {e}")))
    }

    /// One command and its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Value> {
        self.send(args)?;
        self.read()
    }

    /// `AUTH [user] password` when a password is given, then `SELECT db`;
    /// a server that wants a credential and got none is told to the
    /// operator with `credential_source` (where to put one).
    pub fn login(
        &mut self,
        url: &ServerUrl,
        password: Option<&str>,
        credential_source: &str,
    ) -> Result<()> {
        if let Some(pw) = password {
            let reply = match &url.user {
                Some(user) => self.call(&["AUTH", user.as_str(), pw])?,
                None => self.call(&["AUTH", pw])?,
            };
            match reply {
                Value::Simple(s) if s == b"OK" => {}
                Value::Error(e) => {
                    return Err(self.fail(format!(
                        "the credential was refused ({})",
                        String::from_utf8_lossy(&e)
                    )))
                }
                other => {
                    return Err(self.fail(format!("AUTH: unexpected reply {}", describe(&other))))
                }
            }
        }
        match self.call(&["SELECT".to_string(), url.db.to_string()])? {
            Value::Simple(s) if s == b"OK" => Ok(()),
            Value::Error(e) if e.starts_with(b"NOAUTH") => Err(self.fail(format!(
                "the server asks for a credential: set {credential_source}"
            ))),
            Value::Error(e) => Err(self.fail(format!("SELECT: {}", String::from_utf8_lossy(&e)))),
            other => Err(self.fail(format!("SELECT: unexpected reply {}", describe(&other)))),
        }
    }

    /// The next reply, waiting up to the read timeout for it.
    pub fn read(&mut self) -> Result<Value> {
        loop {
            if let Some(v) = self.parse_buffered()? {
                return Ok(v);
            }
            self.fill()?;
        }
    }

    /// Every whole reply that can be read without waiting.
    pub fn read_available(&mut self) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        self.stream
            .set_nonblocking(true)
            .map_err(|e| self.fail(e))?;
        self.nonblocking = true;
        let result = loop {
            match self.parse_buffered() {
                Ok(Some(v)) => {
                    out.push(v);
                    continue;
                }
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            match self.fill() {
                Ok(()) => {}
                Err(Error::Io { source, .. }) if source.kind() == ErrorKind::WouldBlock => {
                    break Ok(())
                }
                Err(e) => break Err(e),
            }
        };
        self.nonblocking = false;
        self.stream
            .set_nonblocking(false)
            .map_err(|e| self.fail(e))?;
        result.map(|()| out)
    }

    /// A whole reply from the buffer, if there is one.
    fn parse_buffered(&mut self) -> Result<Option<Value>> {
        let pending = self.buf.get(self.start..).unwrap_or(&[]);
        match parse_value(pending) {
            Ok(Some((v, used))) => {
                self.start += used;
                if self.start >= self.buf.len() {
                    self.buf.clear();
                    self.start = 0;
                }
                Ok(Some(v))
            }
            Ok(None) if pending.len() > MAX_REPLY_BYTES => Err(self.fail(format!(
                "sent a reply larger than {} MiB",
                MAX_REPLY_BYTES >> 20
            ))),
            Ok(None) => Ok(None),
            Err(e) => Err(self.fail(format!("answered outside the protocol ({e})"))),
        }
    }

    /// Reads more bytes: at least [`READ_CHUNK`], and as many as are
    /// buffered already (so a large reply costs a logarithmic number of
    /// re-parses). `WouldBlock` comes back as an `Error::Io` (see
    /// [`RespConnection::read_available`]).
    fn fill(&mut self) -> Result<()> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let have = self.buf.len();
        let want = have.clamp(READ_CHUNK, MAX_REPLY_BYTES);
        self.buf.resize(have + want, 0);
        loop {
            let Some(space) = self.buf.get_mut(have..) else {
                return Err(Error::Internal("read buffer".into()));
            };
            match self.stream.read(space) {
                Ok(0) => {
                    self.buf.truncate(have);
                    return Err(self.fail("closed the connection"));
                }
                Ok(n) => {
                    self.buf.truncate(have + n);
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock && self.nonblocking => {
                    self.buf.truncate(have);
                    return Err(Error::io(self.peer.clone(), e));
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    self.buf.truncate(have);
                    return Err(self.fail("did not answer in time"));
                }
                Err(e) => {
                    self.buf.truncate(have);
                    return Err(self.fail(format!("read failed: {e}")));
                }
            }
        }
    }
}

/// A short description of a reply for an error message (type and size,
/// never the contents of a bulk string, which may be a secret value).
pub fn describe(v: &Value) -> String {
    match v {
        Value::Simple(s) => format!("+{}", String::from_utf8_lossy(s.get(..64).unwrap_or(s))),
        Value::Error(e) => format!("-{}", String::from_utf8_lossy(e)),
        Value::Integer(i) => format!(":{i}"),
        Value::Bulk(b) => format!("a bulk string of {} bytes", b.len()),
        Value::Null => "nil".into(),
        Value::Array(a) => format!("an array of {}", a.len()),
        other => format!("a RESP3 value ({:?})", std::mem::discriminant(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A connection to a one-shot server that sends `bytes` then waits
    /// for the client to go away.
    fn fed(bytes: &'static [u8]) -> RespConnection {
        served(bytes, false, Duration::from_secs(5))
    }

    /// Like [`fed`]; the server closes after sending when `close`, and
    /// the client's read timeout is `timeout`.
    fn served(bytes: &'static [u8], close: bool, timeout: Duration) -> RespConnection {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let _ = s.write_all(bytes);
            if close {
                return;
            }
            let mut sink = [0u8; 1024];
            while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
        });
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(timeout)).unwrap();
        RespConnection::over(stream, "source test".into())
    }

    #[test]
    fn every_reply_kind() {
        let mut c = fed(
            b"+OK\r\n-ERR no\r\n:42\r\n$3\r\na\x00b\r\n$-1\r\n*2\r\n$1\r\nx\r\n:1\r\n*-1\r\n*0\r\n",
        );
        assert_eq!(c.read().unwrap(), Value::Simple(b"OK".to_vec()));
        assert_eq!(c.read().unwrap(), Value::Error(b"ERR no".to_vec()));
        assert_eq!(c.read().unwrap(), Value::Integer(42));
        assert_eq!(c.read().unwrap(), Value::Bulk(b"a\x00b".to_vec()));
        assert_eq!(c.read().unwrap(), Value::Null);
        assert_eq!(
            c.read().unwrap(),
            Value::Array(vec![Value::Bulk(b"x".to_vec()), Value::Integer(1)])
        );
        assert_eq!(c.read().unwrap(), Value::Null);
        assert_eq!(c.read().unwrap(), Value::Array(vec![]));
    }

    fn error_of(bytes: &'static [u8]) -> String {
        match fed(bytes).read() {
            Ok(v) => panic!("{bytes:?} read as {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn hostile_lengths_are_refused_without_allocating_them() {
        for bytes in [
            &b"$99999999999999\r\n"[..],
            b"$16777217\r\n",
            b"$-2\r\n",
            b"*99999999999\r\n",
            b"*1048577\r\n",
            b"*-5\r\n",
            b"$1x\r\n",
            b":12a\r\n",
            b"?what\r\n",
            b"$3\r\nabcd\r\n",
        ] {
            let e = error_of(bytes);
            assert!(
                e.contains("source test") && e.contains("outside the protocol"),
                "{e}"
            );
        }
        let deep: &'static [u8] = Box::leak("*1\r\n".repeat(40).into_boxed_str()).as_bytes();
        assert!(error_of(deep).contains("outside the protocol"));
    }

    #[test]
    fn a_close_mid_reply_and_a_silent_server_are_errors() {
        let five = Duration::from_secs(5);
        for bytes in [&b"$10\r\nabc"[..], b"", b"*2\r\n:1\r\n"] {
            let e = served(bytes, true, five).read().unwrap_err().to_string();
            assert!(e.contains("closed the connection"), "{e}");
        }
        let mut silent = served(b"+OK", false, Duration::from_millis(200));
        let e = silent.read().unwrap_err().to_string();
        assert!(e.contains("did not answer in time"), "{e}");
    }

    #[test]
    fn a_reply_split_across_many_reads_is_whole() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut reply = b"*3\r\n".to_vec();
            for _ in 0..3 {
                reply.extend_from_slice(b"$200000\r\n");
                reply.extend(std::iter::repeat_n(b'v', 200_000));
                reply.extend_from_slice(b"\r\n");
            }
            for piece in reply.chunks(7_001) {
                s.write_all(piece).unwrap();
            }
        });
        let stream = TcpStream::connect(addr).unwrap();
        let mut c = RespConnection::over(stream, "t".into());
        match c.read().unwrap() {
            Value::Array(items) => {
                assert_eq!(items.len(), 3);
                assert!(items
                    .iter()
                    .all(|v| v.as_bytes().is_some_and(|b| b.len() == 200_000)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn read_available_takes_what_is_there_and_does_not_wait() {
        let mut c = fed(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n+PONG\r\n$5\r\nab");
        std::thread::sleep(Duration::from_millis(200));
        let got = c.read_available().unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[1], Value::Simple(b"PONG".to_vec()));
        assert!(c.read_available().unwrap().is_empty());
    }
}
