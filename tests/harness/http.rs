//! A plain HTTP/1.1 client over `std::net::TcpStream` (no client library,
//! so the tests see the bytes the server sends): one keep-alive
//! connection ([`Conn`]), the bytes of a request ([`request_bytes`]) and
//! one parsed response ([`Resp`]).

use super::{closed_by_peer, connect, read_frame, IO_TIMEOUT};
use serde_json::Value as Json;
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// One parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `error.code` of an error body (after checking its shape).
    pub fn error_code(&self) -> String {
        let j = self.json();
        assert_eq!(j["ok"], false, "error body shape: {j}");
        assert!(
            j["error"]["message"].is_string(),
            "error body has a message: {j}"
        );
        j["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("error body has a code: {j}"))
            .to_string()
    }

    /// The `error.message` of a JSON error body ("" when there is none).
    pub fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Asserts the status and the error code.
    pub fn expect_error(&self, status: u16, code: &str, context: &str) {
        assert_eq!(self.status, status, "{context}: {}", self.text());
        assert_eq!(self.error_code(), code, "{context}: {}", self.text());
    }

    /// Asserts 200 and returns the JSON body.
    pub fn ok(&self, context: &str) -> Json {
        assert_eq!(self.status, 200, "{context}: {}", self.text());
        let j = self.json();
        assert_eq!(j["ok"], true, "{context}: {j}");
        j
    }
}

/// The text `field` of every object in the array `j[list]` (the user
/// names of `{"users": [...]}`, the ids of `{"api_keys": [...]}`).
pub fn field_of_each(j: &Json, list: &str, field: &str) -> Vec<String> {
    j[list]
        .as_array()
        .unwrap_or_else(|| panic!("no array {list:?} in {j}"))
        .iter()
        .map(|x| {
            x[field]
                .as_str()
                .unwrap_or_else(|| panic!("no text {field:?} in {x}"))
                .to_string()
        })
        .collect()
}

/// The bytes of one request. `Host` and, with a body, `Content-Length` and
/// `Content-Type` are added; `headers` come after them.
pub fn request_bytes(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if let Some(b) = body {
        out.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    bytes
}

/// The bytes of a request with an optional bearer token and JSON body.
pub fn json_request_bytes(
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Json>,
) -> Vec<u8> {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let body = body.map(|b| serde_json::to_vec(b).expect("encode JSON"));
    request_bytes(method, path, &headers, body.as_deref())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses one response from the front of `buf`: `Some((resp, used))` when
/// complete.
pub fn parse_response(buf: &[u8]) -> std::io::Result<Option<(Resp, usize)>> {
    let bad = |m: &str| std::io::Error::new(ErrorKind::InvalidData, m.to_string());
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad("response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    if parts.next() != Some("HTTP/1.1") {
        return Err(bad(&format!("bad status line {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(&format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    for line in lines {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| bad(&format!("bad header line {line:?}")))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| bad("response without Content-Length"))?;
    let start = end + 4;
    let Some(body) = buf.get(start..start + len) else {
        return Ok(None);
    };
    Ok(Some((
        Resp {
            status,
            headers,
            body: body.to_vec(),
        },
        start + len,
    )))
}

/// One client connection to `127.0.0.1:port` (keep-alive capable).
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects with [`IO_TIMEOUT`]; panics when it cannot.
    pub fn open(port: u16) -> Conn {
        Self::try_open(port, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"))
    }

    /// Connects with `timeout` for the connect and for every read and write.
    pub fn try_open(port: u16, timeout: Duration) -> std::io::Result<Conn> {
        Ok(Conn {
            stream: connect(port, timeout)?,
            buf: Vec::new(),
        })
    }

    /// Writes `bytes`; a write error (the server may already have answered
    /// and closed) is returned, not a panic.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Half-closes the write side (the server sees EOF).
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads the next response. `Ok(None)`: the server closed the
    /// connection before sending a byte of it. A reset after a complete
    /// response counts as a close.
    pub fn read_response(&mut self) -> std::io::Result<Option<Resp>> {
        read_frame(
            &mut self.stream,
            &mut self.buf,
            "a response",
            parse_response,
        )
    }

    /// The next response; panics on an I/O error or a close.
    pub fn expect_response(&mut self, context: &str) -> Resp {
        self.read_response()
            .unwrap_or_else(|e| panic!("{context}: {e}"))
            .unwrap_or_else(|| panic!("{context}: the server closed the connection"))
    }

    /// True when the server has closed the connection (EOF or reset) with
    /// nothing more to read, within the read timeout.
    pub fn is_closed_by_server(&mut self) -> bool {
        self.buf.is_empty() && closed_by_peer(&mut self.stream)
    }

    pub fn try_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> std::io::Result<Resp> {
        self.send(&request_bytes(method, path, headers, body))?;
        self.read_response()?.ok_or_else(|| {
            std::io::Error::new(ErrorKind::UnexpectedEof, "closed without a response")
        })
    }

    /// One request on this connection (kept alive); panics on I/O errors.
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Json>,
    ) -> Resp {
        self.send(&json_request_bytes(method, path, bearer, body))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        self.expect_response(&format!("{method} {path}"))
    }
}
