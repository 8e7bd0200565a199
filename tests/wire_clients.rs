//! Real Redis clients against the real server: redis-py (through
//! `tests/wire_clients.py`) and `redis-cli`, unchanged, as `README.md` and
//! `docs/OPERATIONS.md` use them.
//!
//! When redis-py or redis-cli is not installed the test says so and
//! passes — unless `REDDB_REQUIRE_CLIENTS` is set (CI sets it after
//! installing both), in which case a missing client fails the test.

mod harness;

use harness::cli::{need, program, Output};
use harness::daemon::Daemon;
use std::time::Duration;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

#[test]
fn redis_py() {
    if !need("redis-py", "python3", &["-c", "import redis"]) {
        return;
    }
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/wire_clients.py");
    s.run_client_program(
        "python3",
        &[
            script,
            "--port",
            &s.wire_port.to_string(),
            "--password",
            s.api_key(),
            "--admin-password",
            s.admin_password(),
        ],
        CLIENT_TIMEOUT,
        "",
    );
}

#[test]
fn redis_cli() {
    if !need("redis-cli", "redis-cli", &["--version"]) {
        return;
    }
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let port = s.wire_port.to_string();
    let cli = |args: &[&str]| -> Output {
        program("redis-cli", &["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .timeout(Duration::from_secs(60))
            .run()
    };
    let key = s.api_key();
    // `redis-cli -a KEY --no-auth-warning ARGS`: trimmed stdout.
    let authed = |args: &[&str]| -> String {
        let out = cli(&[&["-a", key, "--no-auth-warning"], args].concat());
        out.stdout.trim().to_string()
    };
    let out = cli(&["-a", key, "ping"]);
    assert!(out.success(), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "PONG");
    // The healthcheck form: `--pass` without the warning on stderr.
    let out = cli(&["--pass", key, "--no-auth-warning", "ping"]);
    assert_eq!(out.stdout.trim(), "PONG");
    assert_eq!(authed(&["set", "cli:k", "hello world"]), "OK");
    assert_eq!(authed(&["get", "cli:k"]), "hello world");
    assert_eq!(authed(&["set", "cli:t", "v", "EX", "100"]), "OK");
    let out = authed(&["ttl", "cli:t"]);
    let ttl: i64 = out.parse().unwrap_or(-99);
    assert!((80..=100).contains(&ttl), "{out}");
    for i in 0..30 {
        authed(&["sadd", &format!("scan:{i}"), "m"]);
    }
    let scan = cli(&[
        "-a",
        key,
        "--no-auth-warning",
        "--scan",
        "--pattern",
        "scan:*",
    ]);
    assert!(scan.success(), "{}", scan.stderr);
    let mut found: Vec<&str> = scan.stdout.lines().collect();
    found.sort_unstable();
    found.dedup();
    assert_eq!(found.len(), 30, "--scan: {}", scan.stdout);
    let out = authed(&["--scan"]);
    assert_eq!(out.lines().count(), 32, "--scan everything: {out}");
    assert_eq!(authed(&["dbsize"]), "32");
    let out = authed(&["info", "keyspace"]);
    assert!(out.contains("db0:keys=32"), "{out}");
    let out = authed(&["config", "get", "maxmemory"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), vec!["maxmemory", "0"]);
    let out = authed(&["keys", "cli:*"]);
    let mut keys: Vec<&str> = out.lines().collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["cli:k", "cli:t"]);
    let out = authed(&["slowlog", "get", "10"]);
    assert!(!out.contains("ERR"), "{out}");
    assert_eq!(authed(&["bgsave"]), "Background saving started");
    // A vault user.
    let out = cli(&[
        "--user",
        "admin",
        "--pass",
        s.admin_password(),
        "--no-auth-warning",
        "get",
        "cli:k",
    ]);
    assert_eq!(out.stdout.trim(), "hello world");
    // Without or with a wrong password nothing is served.
    let out = cli(&["get", "cli:k"]);
    assert!(
        out.stdout.contains("NOAUTH") || out.stderr.contains("NOAUTH"),
        "{} {}",
        out.stdout,
        out.stderr
    );
    let out = cli(&["-a", "wrong", "--no-auth-warning", "get", "cli:k"]);
    assert!(
        (out.stdout.contains("WRONGPASS") || out.stderr.contains("WRONGPASS"))
            && !out.stdout.contains("hello"),
        "{} {}",
        out.stdout,
        out.stderr
    );
}
