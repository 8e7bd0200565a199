//! Start-up modes with the real binary: `red doctor` (healthy, sealed with
//! `--require-unsealed`, unreachable), auto-bootstrap from
//! `REDDB_USERNAME`/`REDDB_PASSWORD` (certificate only to
//! `REDDB_CERTIFICATE_OUT`, 0400, never to a log; refused without it or over
//! an existing file), and the presets (`production`/`cloud`/`regulated`
//! force the vault, refuse `--dev`, require full memory locking; legacy
//! `REDDB_PRESET`; `regulated` raises the password minimum to 12).

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

fn red() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_red"));
    c.env_clear();
    c
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server(dir: &Path, extra: &[&str], envs: &[(&str, String)]) -> (Server, u16) {
    let port = free_port();
    let mut c = red();
    c.args(["server", "--path"])
        .arg(dir.join("data.rdb"))
        .args([
            "--http-bind",
            &format!("127.0.0.1:{port}"),
            "--wire-bind",
            "127.0.0.1:0",
        ])
        .args(extra)
        .stdout(std::fs::File::create(dir.join("stdout.log")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap());
    for (k, v) in envs {
        c.env(k, v);
    }
    (Server(c.spawn().unwrap()), port)
}

fn doctor(port: u16, extra: &[&str]) -> Output {
    red()
        .args([
            "doctor",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--timeout",
            "2",
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn wait_healthy(s: &mut Server, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if doctor(port, &[]).status.code() == Some(0) {
            return;
        }
        if let Ok(Some(st)) = s.0.try_wait() {
            panic!("server exited: {st:?}");
        }
        assert!(Instant::now() < deadline, "server not healthy in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_server_expect_exit(dir: &Path, extra: &[&str], envs: &[(&str, String)]) -> (i32, String) {
    let (mut s, _port) = server(dir, extra, envs);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = s.0.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = std::fs::read_to_string(dir.join("stderr.log")).unwrap();
    (status.code().unwrap_or(-1), err)
}

#[test]
fn doctor_reports_healthy_sealed_and_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, port) = server(dir.path(), &[], &[]);
    wait_healthy(&mut s, port);
    let out = doctor(port, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("healthy:"));
    let out = doctor(port, &["--require-unsealed"]);
    assert_eq!(out.status.code(), Some(24), "a fresh file is sealed");
    assert!(String::from_utf8_lossy(&out.stdout).contains("sealed"));
    drop(s);
    let out = doctor(free_port(), &[]);
    assert_eq!(out.status.code(), Some(24));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("unhealthy:"));
    let out = red()
        .args(["doctor", "--bind", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn auto_bootstrap_writes_the_certificate_only_to_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let cert_out = dir.path().join("certificate.out");
    let envs = [
        ("REDDB_USERNAME", "opsadmin".to_string()),
        ("REDDB_PASSWORD", "auto-bootstrap-pass-1".to_string()),
        (
            "REDDB_CERTIFICATE_OUT",
            cert_out.to_str().unwrap().to_string(),
        ),
    ];
    let (mut s, port) = server(dir.path(), &[], &envs);
    wait_healthy(&mut s, port);
    assert_eq!(doctor(port, &["--require-unsealed"]).status.code(), Some(0));
    let cert = std::fs::read_to_string(&cert_out).unwrap();
    let cert = cert.trim();
    assert_eq!(cert.len(), 64);
    assert_eq!(
        std::fs::metadata(&cert_out).unwrap().permissions().mode() & 0o777,
        0o400
    );
    drop(s);
    for log in ["stdout.log", "stderr.log"] {
        let text = std::fs::read_to_string(dir.path().join(log)).unwrap();
        assert!(!text.contains(cert), "certificate in {log}");
        assert!(!text.contains("auto-bootstrap-pass-1"), "password in {log}");
    }
    // The file opens with that certificate; the admin exists.
    let out = red()
        .args(["check", "--path"])
        .arg(dir.path().join("data.rdb"))
        .env("REDDB_CERTIFICATE", cert)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("users: 1"));
    // A second start with the same variables: already bootstrapped, the
    // certificate file is not touched, and without a certificate it is sealed.
    let before = std::fs::read(&cert_out).unwrap();
    let (mut s, port) = server(dir.path(), &[], &envs);
    wait_healthy(&mut s, port);
    assert_eq!(
        doctor(port, &["--require-unsealed"]).status.code(),
        Some(24)
    );
    assert_eq!(std::fs::read(&cert_out).unwrap(), before);
}

#[test]
fn auto_bootstrap_refuses_without_a_certificate_destination() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("REDDB_USERNAME", "opsadmin".to_string()),
        ("REDDB_PASSWORD", "auto-bootstrap-pass-1".to_string()),
    ];
    let (code, err) = run_server_expect_exit(dir.path(), &[], &envs);
    assert_eq!(code, 2);
    assert!(err.contains("REDDB_CERTIFICATE_OUT"), "{err}");
    let exists = dir.path().join("exists");
    std::fs::write(&exists, "x").unwrap();
    let envs = [
        ("REDDB_USERNAME", "opsadmin".to_string()),
        ("REDDB_PASSWORD", "auto-bootstrap-pass-1".to_string()),
        (
            "REDDB_CERTIFICATE_OUT",
            exists.to_str().unwrap().to_string(),
        ),
    ];
    let (code, err) = run_server_expect_exit(dir.path(), &[], &envs);
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&exists).unwrap(), b"x");
}

fn memlock_unlimited() -> bool {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into a struct we own.
    unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) };
    r.rlim_cur == libc::RLIM_INFINITY
}

#[test]
fn presets_refuse_dev_and_force_the_vault_or_full_locking() {
    for (var, preset) in [
        ("REDDB_BOOTSTRAP_PRESET", "production"),
        ("REDDB_BOOTSTRAP_PRESET", "cloud"),
        ("REDDB_PRESET", "regulated"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (code, err) =
            run_server_expect_exit(dir.path(), &["--dev"], &[(var, preset.to_string())]);
        assert_eq!(code, 2, "{preset} with --dev: {err}");
        assert!(err.contains("--dev"), "{err}");
        let (code, err) = run_server_expect_exit(dir.path(), &[], &[(var, preset.to_string())]);
        if memlock_unlimited() {
            assert_eq!(
                code, 13,
                "{preset} without a certificate must refuse (vault forced): {err}"
            );
        } else {
            // Full memory locking is checked first, before the file is
            // touched: a finite RLIMIT_MEMLOCK refuses every strict preset.
            assert_eq!(code, 23, "{preset} under a finite memlock limit: {err}");
            assert!(err.contains("LimitMEMLOCK=infinity"), "{err}");
            assert!(!dir.path().join("data.rdb").exists(), "nothing created");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = run_server_expect_exit(
        dir.path(),
        &[],
        &[("REDDB_BOOTSTRAP_PRESET", "galactic".to_string())],
    );
    assert_eq!(code, 2);
    assert!(err.contains("unknown preset"), "{err}");
}

#[test]
fn regulated_preset_needs_long_passwords() {
    if !memlock_unlimited() {
        eprintln!(
            "finite RLIMIT_MEMLOCK: regulated refuses before bootstrap (see \
             presets_refuse_dev_and_force_the_vault_or_full_locking); the 12-character \
             minimum is covered by config::server::tests"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cert_out = dir.path().join("cert");
    let envs = [
        ("REDDB_PRESET", "regulated".to_string()),
        ("REDDB_USERNAME", "opsadmin".to_string()),
        ("REDDB_PASSWORD", "elevenchars".to_string()),
        (
            "REDDB_CERTIFICATE_OUT",
            cert_out.to_str().unwrap().to_string(),
        ),
    ];
    let (code, err) = run_server_expect_exit(dir.path(), &[], &envs);
    assert_eq!(code, 22, "11-character password under regulated: {err}");
    assert!(!cert_out.exists(), "no certificate for a refused bootstrap");
}
