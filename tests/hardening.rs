//! The running daemon's hardening, read from outside the way an operator
//! would: `/proc/PID/status` shows `Seccomp: 2`, `NoNewPrivs: 1`, every
//! capability set empty and `VmLck` > 0; `/proc/PID/limits` shows no core
//! dumps; `/proc/PID/environ` holds neither the certificate nor any `_FILE`
//! path; and a forbidden syscall (forced by the test-only hook) kills the
//! process with SIGSYS.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn health(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn start(dir: &Path, envs: &[(&str, &str)]) -> (Server, u16) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_red"));
    cmd.args(["server", "--dev", "--path"])
        .arg(dir.join("data.rdb"))
        .args(["--http-bind", &format!("127.0.0.1:{port}")])
        .args(["--wire-bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    (
        Server {
            child: cmd.spawn().unwrap(),
        },
        port,
    )
}

fn wait_healthy(server: &mut Server, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(resp) = health(port) {
            if resp.contains("\"status\":\"ok\"") {
                return;
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("server exited early: {status:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server did not become healthy");
}

fn status_field(pid: u32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
}

#[test]
fn running_server_is_confined() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("admin-token-file-path-marker");
    std::fs::write(&token_file, "admin-token-value-marker-1234567890\n").unwrap();
    let (mut server, port) = start(
        dir.path(),
        &[("RED_ADMIN_TOKEN_FILE", token_file.to_str().unwrap())],
    );
    wait_healthy(&mut server, port);
    let pid = server.child.id();
    assert_eq!(status_field(pid, "Seccomp"), "2", "seccomp filter mode");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(status_field(pid, set), "0000000000000000", "{set}");
    }
    let vmlck: u64 = status_field(pid, "VmLck")
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    assert!(vmlck > 0, "key pages must be locked, VmLck = {vmlck} kB");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], &["0", "0"], "core dumps disabled: {core}");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let hay = String::from_utf8_lossy(&environ);
    assert!(
        !hay.contains("admin-token-value-marker"),
        "token value in environ"
    );
    assert!(
        !hay.contains("admin-token-file-path-marker"),
        "_FILE path in environ"
    );
    assert!(
        !hay.contains("RED_ADMIN_TOKEN_FILE"),
        "_FILE variable in environ"
    );
    let cert = std::fs::read_to_string(dir.path().join("data.rdb.cert")).unwrap();
    assert!(!hay.contains(cert.trim()), "certificate in environ");
    // Still serving after all that inspection.
    assert!(health(port).unwrap().contains("\"status\":\"ok\""));
}

#[test]
fn forbidden_syscall_kills_with_sigsys() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, _port) = start(dir.path(), &[("REDDB_TEST_FORBIDDEN_SYSCALL", "1")]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the server survived a forbidden syscall"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        status.signal(),
        Some(libc::SIGSYS),
        "killed by SIGSYS, got {status:?}"
    );
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(
        log.contains("seccomp on"),
        "filter was installed before the hook ran: {log}"
    );
}

#[test]
fn required_mlock_refuses_with_a_clear_message_under_a_finite_limit() {
    // This machine's memlock limit is finite (8 MiB); when it is unlimited,
    // full locking succeeds and there is nothing to refuse.
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into a struct we own.
    unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) };
    if r.rlim_cur == libc::RLIM_INFINITY {
        eprintln!("RLIMIT_MEMLOCK is unlimited here; the refusal branch cannot be shown");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_red"))
        .args(["server", "--dev", "--require-mlock", "--path"])
        .arg(dir.path().join("data.rdb"))
        .args(["--http-bind", &format!("127.0.0.1:{port}")])
        .args(["--wire-bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(23), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("RLIMIT_MEMLOCK") && err.contains("LimitMEMLOCK=infinity"),
        "{err}"
    );
}
