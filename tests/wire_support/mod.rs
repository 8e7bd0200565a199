//! Shared by the wire-protocol tests: start the real `red server --dev` on
//! free loopback ports (HTTP and wire), read the admin API key and password
//! it prints once, and talk RESP to it over a plain `TcpStream` (no client
//! library, so the tests see the bytes the server sends).
//!
//! Everything is bounded in time: sockets carry read/write timeouts, waits
//! have deadlines, and a [`Server`] kills its child in `Drop`.

#![allow(dead_code)]

use reddb::server::wire::resp::{encode_command, parse_value, Value};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const RED: &str = env!("CARGO_BIN_EXE_red");
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);

static STARTS: AtomicUsize = AtomicUsize::new(0);

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A running `red server --dev`; SIGKILLed and reaped on drop.
pub struct Server {
    child: Option<Child>,
    pub http: u16,
    pub wire: u16,
    pub db: PathBuf,
    pub extra: Vec<String>,
    /// The child's environment (nothing else is inherited).
    pub env: Vec<(String, String)>,
    /// Start with `--dev` (bootstrap / unseal from `FILE.cert`).
    pub dev: bool,
    pub api_key: String,
    pub admin_password: String,
    stderr_path: PathBuf,
}

fn code_of(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0))
}

impl Server {
    /// A fresh `--dev` database in `dir`.
    pub fn start(dir: &Path) -> Server {
        Self::start_with(dir, &[])
    }

    pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
        let mut s = Server {
            child: None,
            http: 0,
            wire: 0,
            db: dir.join("data.rdb"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            dev: true,
            api_key: String::new(),
            admin_password: String::new(),
            stderr_path: PathBuf::new(),
        };
        let stdout = s.launch();
        for line in stdout.lines() {
            if let Some(k) = line.strip_prefix("api key: ") {
                s.api_key = k.trim().to_string();
            }
            if let Some(p) = line.strip_prefix("admin password: ") {
                s.admin_password = p.trim().to_string();
            }
        }
        assert!(
            s.api_key.starts_with("rdb_k_"),
            "no api key in the dev output: {stdout}"
        );
        s
    }

    /// Starts the child on new ports and waits until the wire port answers;
    /// returns what it printed on stdout.
    fn launch(&mut self) -> String {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let n = STARTS.fetch_add(1, Ordering::SeqCst);
            let dir = self.db.parent().expect("db has a parent").to_path_buf();
            let tag = format!("{}-{n}", std::process::id());
            let stdout_path = dir.join(format!("server-{tag}.stdout"));
            self.stderr_path = dir.join(format!("server-{tag}.stderr"));
            self.http = free_port();
            self.wire = free_port();
            let child = Command::new(RED)
                .arg("server")
                .args(self.dev.then_some("--dev"))
                .arg("--path")
                .arg(&self.db)
                .arg("--http-bind")
                .arg(format!("127.0.0.1:{}", self.http))
                .arg("--wire-bind")
                .arg(format!("127.0.0.1:{}", self.wire))
                .args(&self.extra)
                .env_clear()
                .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdin(Stdio::null())
                .stdout(File::create(&stdout_path).expect("stdout file"))
                .stderr(File::create(&self.stderr_path).expect("stderr file"))
                .spawn()
                .expect("spawn red server");
            self.child = Some(child);
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if let Some(code) = self.try_exit_code() {
                    let err = self.stderr();
                    if attempts < 5 && err.contains("cannot listen") {
                        break;
                    }
                    panic!("red server exited with {code} before serving; stderr:\n{err}");
                }
                // Only our server logs its own wire address: a port picked
                // free a moment ago may have been taken by another test's
                // server, which would answer the PING just the same.
                let ours = format!("redis://127.0.0.1:{}", self.wire);
                if self.stderr().contains(&ours) {
                    if let Ok(mut c) = Client::try_connect(self.wire, Duration::from_millis(500)) {
                        if let Ok(v) = c.try_cmd(&["PING"]) {
                            assert_eq!(v, err("NOAUTH Authentication required."));
                            return std::fs::read_to_string(&stdout_path).unwrap_or_default();
                        }
                    }
                }
                if Instant::now() >= deadline {
                    self.kill();
                    panic!("server did not come up; stderr:\n{}", self.stderr());
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
    }

    /// SIGTERM, wait, start again on the same file (new ports).
    pub fn restart(&mut self) {
        let code = self.stop();
        assert_eq!(code, 0, "clean stop; stderr:\n{}", self.stderr());
        self.launch();
    }

    /// Starts again after the child died (e.g. after [`Server::kill9`]).
    pub fn start_again(&mut self) {
        assert!(
            self.try_exit_code().is_some(),
            "the server is still running"
        );
        self.launch();
    }

    pub fn pid(&self) -> i32 {
        let child = self.child.as_ref().expect("started");
        i32::try_from(child.id()).expect("pid")
    }

    pub fn try_exit_code(&mut self) -> Option<i32> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(code_of(status)),
            _ => None,
        }
    }

    pub fn stop(&mut self) -> i32 {
        if let Some(c) = self.try_exit_code() {
            return c;
        }
        // SAFETY: kill(2) on our own unreaped child.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(c) = self.try_exit_code() {
                return c;
            }
            if Instant::now() >= deadline {
                self.kill();
                panic!("still running after SIGTERM; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9` and reap.
    pub fn kill9(&mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.stderr_path).unwrap_or_default()).into_owned()
    }

    /// An unauthenticated connection.
    pub fn client(&self) -> Client {
        Client::connect(self.wire)
    }

    /// A connection authenticated with the admin API key.
    pub fn authed(&self) -> Client {
        let mut c = self.client();
        assert_eq!(c.cmd(&["AUTH", &self.api_key]), ok());
        c
    }

    /// One HTTP request with a bearer token; (status, JSON body).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut s = TcpStream::connect(("127.0.0.1", self.http)).expect("connect http");
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.api_key,
            body.len()
        );
        s.write_all(req.as_bytes()).expect("send http");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let json = text
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(serde_json::Value::Null);
        (status, json)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A raw RESP connection.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        Self::try_connect(port, IO_TIMEOUT).unwrap_or_else(|e| panic!("connect {port}: {e}"))
    }

    pub fn try_connect(port: u16, timeout: Duration) -> std::io::Result<Client> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next reply; `Ok(None)` when the server closed first.
    pub fn read(&mut self) -> std::io::Result<Option<Value>> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match parse_value(&self.buf) {
                Ok(Some((v, used))) => {
                    self.buf.drain(..used);
                    return Ok(Some(v));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(std::io::Error::new(
                        ErrorKind::InvalidData,
                        format!("bad reply ({e}): {:?}", String::from_utf8_lossy(&self.buf)),
                    ))
                }
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return if self.buf.is_empty() {
                        Ok(None)
                    } else {
                        Err(std::io::Error::new(
                            ErrorKind::UnexpectedEof,
                            "closed inside a reply",
                        ))
                    }
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset && self.buf.is_empty() => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
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
        if !self.buf.is_empty() {
            return false;
        }
        let mut b = [0u8; 1];
        match self.stream.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
        }
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
