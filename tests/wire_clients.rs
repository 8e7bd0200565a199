//! Real Redis clients against the real server: redis-py (through
//! `tests/wire_clients.py`) and `redis-cli`, unchanged, as the seed
//! documents use them.
//!
//! When redis-py or redis-cli is not installed the test says so and
//! passes — unless `REDDB_REQUIRE_CLIENTS` is set (CI sets it after
//! installing both), in which case a missing client fails the test.

mod wire_support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use wire_support::*;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

fn required() -> bool {
    std::env::var_os("REDDB_REQUIRE_CLIENTS").is_some_and(|v| !v.is_empty())
}

/// Whether `cmd args` runs and exits 0.
fn available(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Skips (or fails, under `REDDB_REQUIRE_CLIENTS`) when a client is missing.
fn need(what: &str, cmd: &str, args: &[&str]) -> bool {
    if available(cmd, args) {
        return true;
    }
    assert!(
        !required(),
        "{what} is not available but REDDB_REQUIRE_CLIENTS is set (install it: see .ci/run)"
    );
    eprintln!(
        "SKIPPED: {what} is not installed (`{cmd} {}` failed); set REDDB_REQUIRE_CLIENTS=1 to make this a failure",
        args.join(" ")
    );
    false
}

/// Runs a command with a deadline; kills it when the deadline passes.
fn run(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    child.wait_with_output().expect("client output")
}

#[test]
fn redis_py() {
    if !need("redis-py", "python3", &["-c", "import redis"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wire_clients.py");
    let started = Instant::now();
    let out = run(
        Command::new("python3").args([
            script,
            "--port",
            &s.wire.to_string(),
            "--password",
            &s.api_key,
            "--admin-password",
            &s.admin_password,
        ]),
        CLIENT_TIMEOUT,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "wire_clients.py failed after {:?}:\n{stdout}\n{stderr}\nserver stderr:\n{}",
        started.elapsed(),
        s.stderr()
    );
}

#[test]
fn redis_cli() {
    if !need("redis-cli", "redis-cli", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path());
    let port = s.wire.to_string();
    let cli = |args: &[&str]| -> (bool, String, String) {
        let out = run(
            Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &port])
                .args(args),
            Duration::from_secs(60),
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let key = s.api_key.as_str();
    let (ok, out, err) = cli(&["-a", key, "ping"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "PONG");
    // The seed's healthcheck form.
    let (_, out, _) = cli(&["--pass", key, "--no-auth-warning", "ping"]);
    assert_eq!(out.trim(), "PONG");
    let (_, out, _) = cli(&[
        "-a",
        key,
        "--no-auth-warning",
        "set",
        "cli:k",
        "hello world",
    ]);
    assert_eq!(out.trim(), "OK");
    let (_, out, _) = cli(&["-a", key, "--no-auth-warning", "get", "cli:k"]);
    assert_eq!(out.trim(), "hello world");
    let (_, out, _) = cli(&[
        "-a",
        key,
        "--no-auth-warning",
        "set",
        "cli:t",
        "v",
        "EX",
        "100",
    ]);
    assert_eq!(out.trim(), "OK");
    let (_, out, _) = cli(&["-a", key, "--no-auth-warning", "ttl", "cli:t"]);
    let ttl: i64 = out.trim().parse().unwrap_or(-99);
    assert!((80..=100).contains(&ttl), "{out}");
    for i in 0..30 {
        cli(&[
            "-a",
            key,
            "--no-auth-warning",
            "sadd",
            &format!("scan:{i}"),
            "m",
        ]);
    }
    let (ok, out, err) = cli(&[
        "-a",
        key,
        "--no-auth-warning",
        "--scan",
        "--pattern",
        "scan:*",
    ]);
    assert!(ok, "{err}");
    let mut found: Vec<&str> = out.lines().collect();
    found.sort_unstable();
    found.dedup();
    assert_eq!(found.len(), 30, "--scan: {out}");
    let (_, out, _) = cli(&["-a", key, "--no-auth-warning", "--scan"]);
    assert_eq!(out.lines().count(), 32, "--scan everything: {out}");
    let (_, out, _) = cli(&["-a", key, "--no-auth-warning", "dbsize"]);
    assert_eq!(out.trim(), "32");
    let (_, out, _) = cli(&["-a", key, "--no-auth-warning", "info", "keyspace"]);
    assert!(out.contains("db0:keys=32"), "{out}");
    let (_, out, _) = cli(&["-a", key, "--no-auth-warning", "config", "get", "maxmemory"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), vec!["maxmemory", "0"]);
    let (_, out, _) = cli(&["-a", key, "--no-auth-warning", "keys", "cli:*"]);
    let mut keys: Vec<&str> = out.lines().collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["cli:k", "cli:t"]);
    let (_, out, _) = cli(&["-a", key, "--no-auth-warning", "slowlog", "get", "10"]);
    assert!(!out.contains("ERR"), "{out}");
    let (_, out, _) = cli(&["-a", key, "--no-auth-warning", "bgsave"]);
    assert_eq!(out.trim(), "Background saving started");
    // A vault user.
    let (_, out, _) = cli(&[
        "--user",
        "admin",
        "--pass",
        &s.admin_password,
        "--no-auth-warning",
        "get",
        "cli:k",
    ]);
    assert_eq!(out.trim(), "hello world");
    // Without or with a wrong password nothing is served.
    let (_, out, err) = cli(&["get", "cli:k"]);
    assert!(
        out.contains("NOAUTH") || err.contains("NOAUTH"),
        "{out} {err}"
    );
    let (_, out, err) = cli(&["-a", "wrong", "--no-auth-warning", "get", "cli:k"]);
    assert!(
        (out.contains("WRONGPASS") || err.contains("WRONGPASS")) && !out.contains("hello"),
        "{out} {err}"
    );
}
