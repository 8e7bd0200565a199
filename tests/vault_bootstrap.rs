//! Bootstrap over HTTP under `--vault`: a fresh file started with `--vault`
//! and no certificate serves `/health` (`bootstrapped: false`) and
//! `POST /auth/bootstrap` from loopback peers only, refuses everything else
//! (503 `not_bootstrapped`, a wire error for every command), and after the
//! bootstrap serves unsealed without a restart. A bootstrapped file without
//! a certificate under `--vault` still refuses to start (exit 13).

mod harness;

use harness::cli::program;
use harness::daemon::{Daemon, Options, ADMIN_PASSWORD, ADMIN_USER};
use harness::tmp;
use serde_json::json;
use std::net::Ipv4Addr;

const NOT_BOOTSTRAPPED: &str = "ERR the database is not bootstrapped: POST /auth/bootstrap first";

fn health(d: &Daemon) -> serde_json::Value {
    let r = d.get("/health", None);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[test]
fn a_fresh_vault_server_waits_for_http_bootstrap_then_serves_unsealed() {
    let dir = tmp();
    let db = dir.path().join("data.rdb");
    let d = Daemon::start(&db, &Options::new().arg("--vault"));
    let h = health(&d);
    assert_eq!(h["bootstrapped"], false, "{h}");
    assert_eq!(h["sealed"], true, "{h}");

    // Everything else waits for the bootstrap.
    for (m, p, bearer) in [
        (
            "GET",
            "/secrets/red.secret.x",
            Some("rdb_k_0123456789abcdef0123456789abcdef"),
        ),
        ("GET", "/auth/users", None),
        ("GET", "/config/red.config.x", None),
        ("GET", "/admin/audit", None),
        ("POST", "/auth/login", None),
        ("GET", "/nope", None),
    ] {
        let body = (m == "POST").then(|| json!({"username": "a", "password": "b"}));
        d.call(m, p, bearer, body.as_ref()).expect_error(
            503,
            "not_bootstrapped",
            &format!("{m} {p}"),
        );
    }
    let mut w = d.client();
    for cmd in [
        vec!["PING"],
        vec!["AUTH", "rdb_k_0123456789abcdef0123456789abcdef"],
        vec!["HELLO", "3"],
        vec!["GET", "k"],
    ] {
        assert_eq!(w.cmd(&cmd), harness::wire::err(NOT_BOOTSTRAPPED), "{cmd:?}");
    }

    // The response shape `docs/OPERATIONS.md` shows, exactly.
    let r = d.post(
        "/auth/bootstrap",
        None,
        &json!({"username": ADMIN_USER, "password": ADMIN_PASSWORD}),
    );
    let j = r.ok("bootstrap");
    let mut keys: Vec<&String> = j.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["api_key", "certificate", "ok", "user"], "{j}");
    assert_eq!(j["user"], json!({"username": ADMIN_USER, "role": "admin"}));
    let key = j["api_key"].as_str().expect("api_key").to_string();
    let cert = j["certificate"].as_str().expect("certificate").to_string();
    assert!(key.starts_with("rdb_k_") && key.len() == 38);
    assert!(cert.len() == 64 && cert.bytes().all(|b| b.is_ascii_hexdigit()));

    // Unsealed in place: no restart.
    let h = health(&d);
    assert_eq!(h["bootstrapped"], true);
    assert_eq!(h["sealed"], false);
    d.post_value("/secrets/red.secret.after", &key, "kept-across-restart")
        .ok("write a secret");
    assert_eq!(w.cmd(&["AUTH", &key]), harness::wire::ok());
    assert_eq!(w.cmd(&["SET", "k", "v"]), harness::wire::ok());
    d.post(
        "/auth/bootstrap",
        None,
        &json!({"username": "other", "password": "other-password-1"}),
    )
    .expect_error(409, "already_bootstrapped", "a second bootstrap");
    assert!(
        !d.stderr().contains(&cert),
        "the certificate reached the log"
    );

    // Without the certificate, the bootstrapped file refuses to start
    // under --vault (unchanged); with it, everything is there.
    let mut d = d;
    assert_eq!(d.stop(), 0);
    let refused = Daemon::try_start(&db, &Options::new().arg("--vault"))
        .err()
        .expect("a bootstrapped --vault file without a certificate must not start");
    assert_eq!(refused.code, 13, "{}", refused.stderr);
    let d = Daemon::start(&db, &Options::new().arg("--vault").certificate(&cert));
    let j = d
        .get("/secrets/red.secret.after", Some(&key))
        .ok("read after restart");
    assert_eq!(j["value"], "kept-across-restart");
}

/// The first IPv4 address of this host that is not a loopback address.
fn non_loopback_ipv4() -> Option<Ipv4Addr> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return None;
    }
    let mut found = None;
    let mut cur = head;
    while !cur.is_null() && found.is_none() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive
        // until freeifaddrs; ifa_addr is null or points at a sockaddr whose
        // family says its real type.
        unsafe {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET {
                let sin = addr.cast::<libc::sockaddr_in>();
                let ip = Ipv4Addr::from(u32::from_be((*sin).sin_addr.s_addr));
                if !ip.is_loopback() && !ip.is_unspecified() {
                    found = Some(ip);
                }
            }
            cur = (*cur).ifa_next;
        }
    }
    // SAFETY: frees the list getifaddrs made, once.
    unsafe { libc::freeifaddrs(head) };
    found
}

/// `POST /auth/bootstrap` from `source` (a local address the request
/// leaves from) to a server bound on loopback; the status code.
fn bootstrap_from(source: Ipv4Addr, port: u16) -> u16 {
    let out = program(
        "curl",
        &[
            "-sS",
            "--max-time",
            "20",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ],
    )
    .args(&["--interface", &source.to_string()])
    .args(&["-H", "content-type: application/json", "-X", "POST"])
    .args(&[
        "--data",
        &json!({"username": ADMIN_USER, "password": ADMIN_PASSWORD}).to_string(),
    ])
    .arg(format!("http://127.0.0.1:{port}/auth/bootstrap"))
    .try_run()
    .expect("run curl (installed by .ci/run)");
    out.stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl: {}", out.stderr))
}

#[test]
fn bootstrap_from_a_remote_peer_is_refused_unless_allowed() {
    // The server binds loopback only; the request comes from this host's
    // non-loopback address, so the server sees a remote peer.
    let Some(source) = non_loopback_ipv4() else {
        eprintln!("no non-loopback IPv4 address on this host: remote-peer case not run");
        return;
    };
    let dir = tmp();
    let d = Daemon::start(&dir.path().join("data.rdb"), &Options::new().arg("--vault"));
    assert_eq!(
        bootstrap_from(source, d.http_port),
        403,
        "a remote bootstrap"
    );
    assert_eq!(
        health(&d)["bootstrapped"],
        false,
        "nothing was bootstrapped"
    );
    d.bootstrap();

    let dir = tmp();
    let d = Daemon::start(
        &dir.path().join("data.rdb"),
        &Options::new()
            .arg("--vault")
            .arg("--allow-remote-bootstrap"),
    );
    assert_eq!(
        bootstrap_from(source, d.http_port),
        200,
        "allowed remote bootstrap"
    );
    assert_eq!(health(&d)["bootstrapped"], true);
}
