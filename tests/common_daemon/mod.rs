//! Shared by the daemon tests: start and stop the real `red server` on a
//! free loopback port with exactly the environment a test gives it, wait for
//! `/health`, and talk HTTP/1.1 to it over a plain `std::net::TcpStream`
//! (no client library, so the tests see the bytes the server sends).
//!
//! Everything here is bounded in time: sockets carry read/write timeouts,
//! every wait has a deadline, and a [`Daemon`] kills its child in `Drop`, so
//! a failing test can never leave a server running or hang the suite.

#![allow(dead_code)]

use serde_json::Value as Json;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const RED: &str = env!("CARGO_BIN_EXE_red");

/// Read/write timeout of every test socket. Long enough for an Argon2 job
/// queued behind others on a loaded 2-core CI machine, short enough that a
/// hung server fails the test instead of the suite.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a server may take to answer `/health` after spawning.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a server may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);

pub const ADMIN_USER: &str = "admin";
pub const ADMIN_PASSWORD: &str = "change-me-now";

static STARTS: AtomicUsize = AtomicUsize::new(0);

/// A loopback port that was free a moment ago (bind :0, read, drop).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// What to start a server with, besides `--path` and the two bind flags.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub args: Vec<String>,
    /// The child's whole environment (nothing is inherited).
    pub env: Vec<(String, String)>,
}

impl Options {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_string());
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<str>) -> Self {
        self.env.push((k.to_string(), v.as_ref().to_string()));
        self
    }

    pub fn certificate(self, cert: &str) -> Self {
        self.env("REDDB_CERTIFICATE", cert)
    }
}

/// A server that exited before it answered `/health`.
#[derive(Debug)]
pub struct Exited {
    pub code: i32,
    pub stderr: String,
}

/// A running `red server`; killed (SIGKILL) and reaped on drop if still up.
pub struct Daemon {
    child: Option<Child>,
    pub port: u16,
    /// The wire (RESP) listener's port.
    pub wire_port: u16,
    pub db: PathBuf,
    pub stderr_path: PathBuf,
    exit_code: Option<i32>,
}

fn code_of(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0))
}

fn spawn(db: &Path, opts: &Options, port: u16, wire_port: u16) -> (Child, PathBuf) {
    let n = STARTS.fetch_add(1, Ordering::SeqCst);
    let dir = db.parent().expect("the database has a parent directory");
    let stderr_path = dir.join(format!("server-{}-{n}.stderr", std::process::id()));
    let log = File::create(&stderr_path).expect("create the stderr file");
    let mut cmd = Command::new(RED);
    cmd.arg("server")
        .arg("--path")
        .arg(db)
        .arg("--http-bind")
        .arg(format!("127.0.0.1:{port}"))
        // Never the default 127.0.0.1:5050, which parallel tests would share.
        .arg("--wire-bind")
        .arg(format!("127.0.0.1:{wire_port}"))
        .args(&opts.args)
        .env_clear()
        .envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    (cmd.spawn().expect("spawn red server"), stderr_path)
}

impl Daemon {
    /// Starts a server on `db` and waits until `/health` answers; panics
    /// (with the server's stderr) if it exits or does not come up in time.
    pub fn start(db: &Path, opts: &Options) -> Daemon {
        match Self::try_start(db, opts) {
            Ok(d) => d,
            Err(e) => panic!(
                "red server exited with code {} before answering /health; stderr:\n{}",
                e.code, e.stderr
            ),
        }
    }

    /// Like [`Daemon::start`], but an early exit is returned, not a panic.
    /// A lost race for the port (another test took it between our probe and
    /// the server's bind) is retried with a new port.
    pub fn try_start(db: &Path, opts: &Options) -> Result<Daemon, Exited> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let port = free_port();
            let wire_port = free_port();
            let (child, stderr_path) = spawn(db, opts, port, wire_port);
            let mut d = Daemon {
                child: Some(child),
                port,
                wire_port,
                db: db.to_path_buf(),
                stderr_path,
                exit_code: None,
            };
            match d.wait_healthy() {
                Ok(()) => return Ok(d),
                Err(e) if attempts < 5 && e.stderr.contains("cannot listen") => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn wait_healthy(&mut self) -> Result<(), Exited> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(code) = self.try_exit_code() {
                return Err(Exited {
                    code,
                    stderr: self.stderr(),
                });
            }
            // Only our server logs its own address: a port picked free a
            // moment ago may have been taken by another test's server,
            // which would answer /health just the same.
            let ours = format!("listening on http://127.0.0.1:{} ", self.port);
            if self.stderr().contains(&ours) {
                if let Ok(mut c) = Conn::try_open(self.port, Duration::from_millis(500)) {
                    if let Ok(r) = c.try_request("GET", "/health", &[], None) {
                        if r.status == 200 {
                            return Ok(());
                        }
                    }
                }
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!(
                    "red server did not answer /health within {START_TIMEOUT:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn pid(&self) -> i32 {
        let child = self.child.as_ref().expect("the server was started");
        i32::try_from(child.id()).expect("pid fits in i32")
    }

    /// Sends `sig` to the server.
    pub fn signal(&self, sig: i32) {
        assert!(
            self.exit_code.is_none(),
            "signal {sig} sent to a server that already exited"
        );
        // SAFETY: kill(2) on the pid of a child we have not reaped yet (so
        // the pid cannot have been reused).
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// The exit code if the server has exited (negative: killed by signal).
    pub fn try_exit_code(&mut self) -> Option<i32> {
        if self.exit_code.is_none() {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.exit_code = Some(code_of(status));
                }
            }
        }
        self.exit_code
    }

    pub fn is_running(&mut self) -> bool {
        self.try_exit_code().is_none()
    }

    /// Waits up to `timeout` for the server to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.try_exit_code() {
                return Some(c);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit code; panics (after SIGKILL) if the server is
    /// still up after [`STOP_TIMEOUT`].
    pub fn stop(&mut self) -> i32 {
        if let Some(c) = self.try_exit_code() {
            return c;
        }
        self.signal(libc::SIGTERM);
        match self.wait_exit(STOP_TIMEOUT) {
            Some(c) => c,
            None => {
                self.kill();
                panic!(
                    "red server still running {STOP_TIMEOUT:?} after SIGTERM; stderr:\n{}",
                    self.stderr()
                );
            }
        }
    }

    fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if self.exit_code.is_none() {
                let _ = child.kill();
                if let Ok(status) = child.wait() {
                    self.exit_code = Some(code_of(status));
                }
            }
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stderr_path).unwrap_or_default()).into_owned()
    }

    pub fn conn(&self) -> Conn {
        Conn::open(self.port)
    }

    /// One request on its own connection.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Json>,
    ) -> Resp {
        self.conn().call(method, path, bearer, body)
    }

    pub fn get(&self, path: &str, bearer: Option<&str>) -> Resp {
        self.call("GET", path, bearer, None)
    }

    pub fn post(&self, path: &str, bearer: Option<&str>, body: &Json) -> Resp {
        self.call("POST", path, bearer, Some(body))
    }

    pub fn delete(&self, path: &str, bearer: Option<&str>) -> Resp {
        self.call("DELETE", path, bearer, None)
    }

    /// Asserts `/health` answers 200 on a new connection.
    pub fn assert_healthy(&self, context: &str) {
        let r = Conn::try_open(self.port, IO_TIMEOUT)
            .and_then(|mut c| c.try_request("GET", "/health", &[], None))
            .unwrap_or_else(|e| {
                panic!(
                    "after {context}: /health failed: {e}; stderr:\n{}",
                    self.stderr()
                )
            });
        assert_eq!(r.status, 200, "after {context}: /health: {}", r.text());
        assert_eq!(r.json()["status"], "ok", "after {context}");
    }

    /// `PUT` with a raw body (policy documents go over the wire byte for
    /// byte).
    pub fn put_raw(&self, path: &str, bearer: &str, body: &str) -> Resp {
        let auth = format!("Bearer {bearer}");
        self.conn()
            .try_request(
                "PUT",
                path,
                &[("Authorization", auth.as_str())],
                Some(body.as_bytes()),
            )
            .expect("PUT")
    }

    /// `POST /auth/bootstrap` with the default admin.
    pub fn bootstrap(&self) -> Boot {
        let r = self.post(
            "/auth/bootstrap",
            None,
            &serde_json::json!({"username": ADMIN_USER, "password": ADMIN_PASSWORD}),
        );
        assert_eq!(r.status, 200, "bootstrap: {}", r.text());
        Boot::from_json(&r.json())
    }

    /// `POST /auth/login`; the session token on success.
    pub fn login(&self, user: &str, password: &str) -> Resp {
        self.post(
            "/auth/login",
            None,
            &serde_json::json!({"username": user, "password": password}),
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What `POST /auth/bootstrap` returned.
#[derive(Debug, Clone)]
pub struct Boot {
    pub api_key: String,
    pub certificate: String,
}

pub fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Boot {
    pub fn from_json(j: &Json) -> Boot {
        assert_eq!(j["ok"], true, "{j}");
        assert_eq!(j["user"]["username"], ADMIN_USER, "{j}");
        assert_eq!(j["user"]["role"], "admin", "{j}");
        let api_key = j["api_key"].as_str().expect("api_key").to_string();
        let certificate = j["certificate"].as_str().expect("certificate").to_string();
        assert!(
            api_key.starts_with("rdb_k_") && is_lower_hex(&api_key[6..], 32),
            "api key shape"
        );
        assert!(is_lower_hex(&certificate, 64), "certificate shape");
        Boot {
            api_key,
            certificate,
        }
    }
}

/// A fresh database in `dir`, served and bootstrapped over HTTP (the server
/// is unsealed in place; no restart).
pub fn fresh_bootstrapped(dir: &Path, opts: &Options) -> (Daemon, Boot) {
    let d = Daemon::start(&dir.join("data.rdb"), opts);
    let boot = d.bootstrap();
    (d, boot)
}

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

/// One client connection (keep-alive capable).
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn open(port: u16) -> Conn {
        Self::try_open(port, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"))
    }

    pub fn try_open(port: u16, timeout: Duration) -> std::io::Result<Conn> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
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
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some((r, used)) = parse_response(&self.buf)? {
                self.buf.drain(..used);
                return Ok(Some(r));
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return if self.buf.is_empty() {
                        Ok(None)
                    } else {
                        Err(std::io::Error::new(
                            ErrorKind::UnexpectedEof,
                            format!(
                                "connection closed inside a response: {:?}",
                                String::from_utf8_lossy(&self.buf)
                            ),
                        ))
                    };
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionReset && self.buf.is_empty() => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// True when the server has closed the connection (EOF or reset) with
    /// nothing more to read, within the read timeout.
    pub fn is_closed_by_server(&mut self) -> bool {
        let mut b = [0u8; 1];
        if !self.buf.is_empty() {
            return false;
        }
        match self.stream.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
        }
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
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let body = body.map(|b| serde_json::to_vec(b).expect("encode JSON"));
        self.try_request(method, path, &headers, body.as_deref())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

/// Polls `f` every 50 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Length of the longest run of ASCII hex digits in `text` (a certificate,
/// key or token is 32+ hex digits: output with such a run may quote one).
pub fn longest_hex_run(text: &[u8]) -> usize {
    let (mut best, mut cur) = (0, 0);
    for b in text {
        if b.is_ascii_hexdigit() {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// `len` deterministic pseudo-random bytes (xorshift64) for foreign files.
pub fn xorshift_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}
