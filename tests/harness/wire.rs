//! A raw RESP client over `std::net::TcpStream` (no client library, so the
//! tests see the replies the server sends) and constructors for the
//! replies tests compare with. The one place the tests name the product's
//! RESP codec.

use super::{closed_by_peer, connect, read_frame, IO_TIMEOUT};
use reddb::server::wire::resp::parse_value;
pub use reddb::server::wire::resp::{encode_command, Value};
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// What a server that requires authentication answers before `AUTH`.
pub const NOAUTH: &str = "NOAUTH Authentication required.";

/// A raw RESP connection to `127.0.0.1:port`.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects with [`IO_TIMEOUT`]; panics when it cannot.
    pub fn connect(port: u16) -> Client {
        Self::try_connect(port, IO_TIMEOUT).unwrap_or_else(|e| panic!("connect {port}: {e}"))
    }

    /// Connects with `timeout` for the connect and for every read and write.
    pub fn try_connect(port: u16, timeout: Duration) -> std::io::Result<Client> {
        Ok(Client {
            stream: connect(port, timeout)?,
            buf: Vec::new(),
        })
    }

    /// A connection on which `AUTH ARGS...` succeeded.
    pub fn authed(port: u16, auth: &[&str]) -> Client {
        let mut c = Self::connect(port);
        let mut args = vec!["AUTH"];
        args.extend_from_slice(auth);
        assert_eq!(c.cmd(&args), ok(), "AUTH with {} argument(s)", auth.len());
        c
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next reply; `Ok(None)` when the server closed first.
    pub fn read(&mut self) -> std::io::Result<Option<Value>> {
        read_frame(&mut self.stream, &mut self.buf, "a reply", |buf| {
            parse_value(buf).map_err(|e| {
                std::io::Error::new(
                    ErrorKind::InvalidData,
                    format!("bad reply ({e}): {:?}", String::from_utf8_lossy(buf)),
                )
            })
        })
    }

    pub fn try_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<Value> {
        self.send(&encode_command(args))?;
        self.read()?
            .ok_or_else(|| std::io::Error::new(ErrorKind::UnexpectedEof, "closed"))
    }

    /// One command; panics on I/O errors.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Value {
        self.try_cmd(args).unwrap_or_else(|e| {
            let shown: Vec<String> = args
                .iter()
                .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
                .collect();
            panic!("{shown:?}: {e}")
        })
    }

    /// Raw bytes in, one reply out.
    pub fn raw(&mut self, bytes: &[u8]) -> Value {
        self.send(bytes).expect("send");
        self.read().expect("read").expect("a reply, not a close")
    }

    /// True when the server closes the connection (EOF or reset) with
    /// nothing more to read.
    pub fn is_closed(&mut self) -> bool {
        self.buf.is_empty() && closed_by_peer(&mut self.stream)
    }

    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

pub fn ok() -> Value {
    Value::Simple(b"OK".to_vec())
}

pub fn simple(s: &str) -> Value {
    Value::Simple(s.as_bytes().to_vec())
}

pub fn err(s: &str) -> Value {
    Value::Error(s.as_bytes().to_vec())
}

pub fn bulk(s: &str) -> Value {
    Value::Bulk(s.as_bytes().to_vec())
}

pub fn int(i: i64) -> Value {
    Value::Integer(i)
}

pub fn arr(v: Vec<Value>) -> Value {
    Value::Array(v)
}

pub fn bulks(v: &[&str]) -> Value {
    Value::Array(v.iter().map(|s| bulk(s)).collect())
}

/// The text of an error reply (panics on anything else).
pub fn err_text(v: &Value) -> String {
    match v {
        Value::Error(e) => String::from_utf8_lossy(e).into_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A bulk string's text (panics on anything else).
pub fn text(v: &Value) -> String {
    match v.as_bytes() {
        Some(b) => String::from_utf8_lossy(b).into_owned(),
        None => panic!("expected a string, got {v:?}"),
    }
}

pub fn as_int(v: &Value) -> i64 {
    match v {
        Value::Integer(i) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}
