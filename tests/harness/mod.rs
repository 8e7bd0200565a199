//! The one harness of the integration tests: start and stop the real
//! `red server` ([`daemon`]), run `red` subcommands and other programs
//! ([`cli`]), talk HTTP/1.1 ([`http`]) and RESP ([`wire`]) to it over plain
//! loopback sockets, a real `redis-server` to compare with
//! ([`redis_reference`]), one seeded random generator ([`rng`]), the
//! power-loss simulator and reference model of the storage tests
//! ([`sim_disk`], [`store_model`]), the checked-in fixtures
//! ([`fixtures`]) and the checks for secrets in output ([`secrets`]).
//!
//! Every test file says `mod harness;` and uses what it needs.
//!
//! Everything here is bounded: every socket has read and write timeouts
//! ([`IO_TIMEOUT`] unless a test asks for another), every wait a deadline,
//! every child process is killed when its handle is dropped, and servers
//! bind and clients connect to 127.0.0.1 only (one client, `curl` in
//! `vault_bootstrap.rs`, sends from this host's non-loopback address to a
//! loopback server, to be a remote peer).

// Each test binary compiles the whole harness and uses part of it.
#![allow(dead_code)]

pub mod cli;
pub mod daemon;
pub mod fixtures;
pub mod http;
pub mod redis_reference;
pub mod rng;
pub mod secrets;
pub mod sim_disk;
pub mod store_model;
pub mod wire;

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// The `red` binary under test.
pub const RED: &str = env!("CARGO_BIN_EXE_red");

/// Read/write timeout of every test socket. Long enough for an Argon2 job
/// queued behind others on a loaded 2-core CI machine, short enough that a
/// hung server fails the test instead of the suite.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The uid and gid of `nobody`, for runs that must not be root (root
/// bypasses file modes).
pub const NOBODY: u32 = 65534;

/// A loopback port that was free a moment ago (bind :0, read, drop). Another
/// process may take it before the caller binds it: [`daemon::Daemon`]
/// accepts a server only once its own log names its own address.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A connection to `127.0.0.1:port`, with `timeout` for the connect and
/// for every read and write, and without Nagle's delay.
pub fn connect(port: u16, timeout: Duration) -> std::io::Result<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// True when the peer has closed `stream` (EOF or reset) with nothing more
/// to read, within the read timeout.
pub fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    match stream.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
    }
}

/// Reads from `stream` into `buf` until `parse` finds a whole `what` (a
/// response, a reply) at the front of `buf`, which is removed and
/// returned. `Ok(None)`: the peer closed the connection (or reset it)
/// before sending a byte of it; a close in the middle is an error.
pub fn read_frame<T>(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    what: &str,
    parse: impl Fn(&[u8]) -> std::io::Result<Option<(T, usize)>>,
) -> std::io::Result<Option<T>> {
    let mut chunk = [0u8; 64 * 1024];
    loop {
        if let Some((frame, used)) = parse(buf)? {
            buf.drain(..used);
            return Ok(Some(frame));
        }
        match stream.read(&mut chunk) {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) => {
                return Err(std::io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed inside {what}: {:?}",
                        String::from_utf8_lossy(buf)
                    ),
                ))
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset && buf.is_empty() => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// Writes `bytes` through `send` one byte per write, as a client that
/// dribbles its request does; stops at the first failed write, which it
/// returns as text naming `who`.
pub fn send_one_byte_at_a_time(
    mut send: impl FnMut(&[u8]) -> std::io::Result<()>,
    bytes: &[u8],
    who: &str,
) -> Result<(), String> {
    for b in bytes {
        send(std::slice::from_ref(b)).map_err(|e| format!("{who}: write: {e}"))?;
    }
    Ok(())
}

/// A new temporary directory (removed on drop).
pub fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("reddb-test-")
        .tempdir()
        .expect("tempdir")
}

/// Whether this test process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn memlock_limit() -> libc::rlimit {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into a struct we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) };
    assert_eq!(rc, 0, "getrlimit(RLIMIT_MEMLOCK)");
    r
}

/// Whether `RLIMIT_MEMLOCK` is unlimited (full memory locking can succeed).
pub fn memlock_unlimited() -> bool {
    memlock_limit().rlim_cur == libc::RLIM_INFINITY
}

/// Whether a child of this process can be given an unlimited
/// `RLIMIT_MEMLOCK` ([`daemon::Options::unlimited_memlock`]): the hard
/// limit is unlimited already, or this process holds `CAP_SYS_RESOURCE`
/// (root in a container often does not).
pub fn memlock_can_be_unlimited() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    let cap_eff = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| status_field(&s, "CapEff").map(str::to_string))
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(0);
    memlock_limit().rlim_max == libc::RLIM_INFINITY || cap_eff & (1 << CAP_SYS_RESOURCE) != 0
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

/// Fails unless `failures` is empty, listing each: the failed ones of
/// `total` `what` (the cases of a table, the runs of a binary).
pub fn assert_no_failures(failures: &[String], total: usize, what: &str) {
    assert!(
        failures.is_empty(),
        "{} of {total} {what} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `REDDB_EXTENDED=1` asks for the long runs.
pub fn extended() -> bool {
    std::env::var("REDDB_EXTENDED").is_ok_and(|v| v == "1")
}

/// A field of a `/proc/PID/status` text (`Name:\tvalue`), trimmed.
pub fn proc_status_field(pid: i32, name: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&status, name).map(str::to_string)
}

/// `NAME:` of one `/proc/.../status` text.
pub fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// `VmRSS` of process `pid` in KiB (0 when unreadable).
pub fn vm_rss_kib(pid: i32) -> u64 {
    proc_status_field(pid, "VmRSS")
        .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
