//! Start-up modes with the real binary: `red doctor` (healthy, sealed with
//! `--require-unsealed`, unreachable), auto-bootstrap from
//! `REDDB_USERNAME`/`REDDB_PASSWORD` (certificate only to
//! `REDDB_CERTIFICATE_OUT`, 0400, never to a log; refused without it or over
//! an existing file), and the presets (`production`/`cloud`/`regulated`
//! force the vault, refuse `--dev`, require full memory locking; legacy
//! `REDDB_PRESET`; `regulated` raises the password minimum to 12).

mod harness;

use harness::cli::{red, Output};
use harness::daemon::{Daemon, Options};
use harness::{free_port, memlock_can_be_unlimited, memlock_unlimited, tmp};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// `red doctor --bind 127.0.0.1:PORT --timeout 2 EXTRA`.
fn doctor(port: u16, extra: &[&str]) -> Output {
    red(&[
        "doctor",
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--timeout",
        "2",
    ])
    .args(extra)
    .run()
}

/// Options from `(name, value)` pairs.
fn with_env(extra: &[&str], envs: &[(&str, String)]) -> Options {
    envs.iter()
        .fold(Options::new().args(extra), |o, (k, v)| o.env(k, v))
}

/// A server on `dir/data.rdb` that must refuse to start: its exit code and
/// stderr.
fn refused(dir: &Path, opts: &Options) -> (i32, String) {
    match Daemon::try_start(&dir.join("data.rdb"), opts) {
        Ok(_) => panic!("the server started instead of refusing"),
        Err(e) => (e.code, e.stderr),
    }
}

fn run_server_expect_exit(dir: &Path, extra: &[&str], envs: &[(&str, String)]) -> (i32, String) {
    refused(dir, &with_env(extra, envs))
}

/// Whether the servers of this test process can run with full memory
/// locking: the limit is unlimited already, or it may be raised for them
/// ([`Options::unlimited_memlock`]).
fn full_locking_possible() -> bool {
    memlock_unlimited() || memlock_can_be_unlimited()
}

#[test]
fn doctor_reports_healthy_sealed_and_unreachable() {
    let dir = tmp();
    let s = Daemon::start(&dir.path().join("data.rdb"), &Options::new());
    let port = s.http_port;
    let out = doctor(port, &[]);
    assert_eq!(out.code, 0, "{}", out.describe(&[]));
    assert!(out.stdout.starts_with("healthy:"));
    let out = doctor(port, &["--require-unsealed"]);
    assert_eq!(out.code, 24, "a fresh file is sealed");
    assert!(out.stdout.contains("sealed"));
    drop(s);
    let out = doctor(free_port(), &[]);
    assert_eq!(out.code, 24);
    assert!(out.stdout.starts_with("unhealthy:"));
    let out = red(&["doctor", "--bind", "not-an-address"]).run();
    assert_eq!(out.code, 2);
}

#[test]
fn auto_bootstrap_writes_the_certificate_only_to_its_file() {
    let dir = tmp();
    let db = dir.path().join("data.rdb");
    let cert_out = dir.path().join("certificate.out");
    let envs = [
        ("REDDB_USERNAME", "opsadmin".to_string()),
        ("REDDB_PASSWORD", "auto-bootstrap-pass-1".to_string()),
        (
            "REDDB_CERTIFICATE_OUT",
            cert_out.to_str().unwrap().to_string(),
        ),
    ];
    let mut s = Daemon::start(&db, &with_env(&[], &envs));
    assert_eq!(doctor(s.http_port, &["--require-unsealed"]).code, 0);
    let cert = std::fs::read_to_string(&cert_out).unwrap();
    let cert = cert.trim();
    assert_eq!(cert.len(), 64);
    assert_eq!(
        std::fs::metadata(&cert_out).unwrap().permissions().mode() & 0o777,
        0o400
    );
    assert_eq!(s.stop(), 0);
    for (log, text) in [("stdout", s.stdout()), ("stderr", s.stderr())] {
        assert!(!text.contains(cert), "certificate in {log}");
        assert!(!text.contains("auto-bootstrap-pass-1"), "password in {log}");
    }
    drop(s);
    // The file opens with that certificate; the admin exists.
    let out = red(&["check", "--path"])
        .arg(&db)
        .env("REDDB_CERTIFICATE", cert)
        .run();
    assert_eq!(out.code, 0, "{}", out.describe(&[cert]));
    assert!(out.stdout.contains("users: 1"));
    // A second start with the same variables: already bootstrapped, the
    // certificate file is not touched, and without a certificate it is sealed.
    let before = std::fs::read(&cert_out).unwrap();
    let s = Daemon::start(&db, &with_env(&[], &envs));
    assert_eq!(doctor(s.http_port, &["--require-unsealed"]).code, 24);
    assert_eq!(std::fs::read(&cert_out).unwrap(), before);
}

#[test]
fn auto_bootstrap_refuses_without_a_certificate_destination() {
    let dir = tmp();
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

#[test]
fn presets_refuse_dev_and_force_the_vault_or_full_locking() {
    for (var, preset) in [
        ("REDDB_BOOTSTRAP_PRESET", "production"),
        ("REDDB_BOOTSTRAP_PRESET", "cloud"),
        ("REDDB_PRESET", "regulated"),
    ] {
        let dir = tmp();
        let (code, err) =
            run_server_expect_exit(dir.path(), &["--dev"], &[(var, preset.to_string())]);
        assert_eq!(code, 2, "{preset} with --dev: {err}");
        assert!(err.contains("--dev"), "{err}");
        let opts = with_env(&[], &[(var, preset.to_string())]);
        if !memlock_unlimited() {
            // Full memory locking is checked first, before the file is
            // touched: a finite RLIMIT_MEMLOCK refuses every strict preset.
            let (code, err) = refused(dir.path(), &opts);
            assert_eq!(code, 23, "{preset} under a finite memlock limit: {err}");
            assert!(err.contains("LimitMEMLOCK=infinity"), "{err}");
            assert!(!dir.path().join("data.rdb").exists(), "nothing created");
        }
        if full_locking_possible() {
            let (code, err) = refused(dir.path(), &opts.unlimited_memlock());
            assert_eq!(
                code, 13,
                "{preset} without a certificate must refuse (vault forced): {err}"
            );
        }
    }
    let dir = tmp();
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
    if !full_locking_possible() {
        eprintln!(
            "finite RLIMIT_MEMLOCK that this process may not raise: regulated refuses \
             before bootstrap (see presets_refuse_dev_and_force_the_vault_or_full_locking); \
             the 12-character minimum is covered by config::server::tests"
        );
        return;
    }
    let dir = tmp();
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
    let (code, err) = refused(dir.path(), &with_env(&[], &envs).unlimited_memlock());
    assert_eq!(code, 22, "11-character password under regulated: {err}");
    assert!(!cert_out.exists(), "no certificate for a refused bootstrap");
}
