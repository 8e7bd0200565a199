//! Certificate rotation in place (issue 14 item 2) against the real `red`
//! binary:
//!
//! - `red rekey` on a stopped file: the new certificate is printed once (or
//!   written to a new 0400 file), the old one is refused afterwards with
//!   exit 10 by `red check`, `red server` and `red rekey` alike, and every
//!   API key, session, user, secret (all versions), config entry and
//!   keyspace entry written before — over HTTP and over the wire — is
//!   there under the new certificate; the rekey is audited;
//! - every refusal of `red rekey` (an existing `--certificate-out`, a wrong,
//!   missing, malformed or doubly given certificate, a running server's
//!   lock, a fresh or missing file, a bad flag) has its exit code and leaves
//!   the file byte for byte unchanged;
//! - `POST /admin/rekey` on a running server: the certificate is returned
//!   once, the server keeps serving (open wire connections, sessions and
//!   keys keep working), a second rekey while one is in progress is 409, a
//!   non-admin 403, no credentials 401, each audited; after a restart only
//!   the returned certificate opens the file.
//!
//! Nothing that could be a secret is ever quoted in a failure message
//! without need; stdout and stderr are checked for stray certificates.

mod harness;

use harness::cli::{red, Output};
use harness::daemon::{fresh_bootstrapped, Boot, Daemon, Options};
use harness::fixtures::{
    alice_key, check_sample, write_sample, SAMPLE_ALICE_PASSWORD, SAMPLE_SECRET_V2,
};
use harness::http::{request_bytes, Conn};
use harness::secrets::{is_lower_hex, longest_hex_run, redact};
use harness::wire::{bulk, ok};
use serde_json::{json, Value as Json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The one `certificate: <64 hex>` line of a rekey's stdout (and proof that
/// stdout holds no other long hex run).
fn printed_certificate(o: &Output) -> String {
    let out = &o.stdout;
    let lines: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("certificate: "))
        .collect();
    assert_eq!(lines.len(), 1, "one certificate line: {}", o.describe(&[]));
    let cert = lines[0].trim().to_string();
    assert!(is_lower_hex(&cert, 64), "certificate shape");
    let rest = out.replace(&cert, "");
    assert!(
        longest_hex_run(rest.as_bytes()) < 16,
        "stdout holds no other hex run: {}",
        redact(out, &[])
    );
    cert
}

/// What [`populate`] made: the credentials that must survive a rekey.
struct Made {
    alice_key: String,
    alice_session: String,
}

/// Writes the sample and mints alice an API key and a session.
fn populate(d: &Daemon, admin: &str) -> Made {
    write_sample(d, admin);
    let alice_key = alice_key(d, admin);
    let r = d.login("alice", SAMPLE_ALICE_PASSWORD);
    assert_eq!(r.status, 200, "alice login: {}", r.text());
    let alice_session = r.json()["token"].as_str().expect("token").to_string();
    Made {
        alice_key,
        alice_session,
    }
}

/// Everything [`populate`] wrote, read back through `d`: alice's API key
/// and her session (made before the rekey) still work.
/// A fresh bootstrapped database in its own temporary directory, served
/// and [`populate`]d: the directory, the database path (and as text), the
/// server, its bootstrap and what was written.
fn populated_server() -> (tempfile::TempDir, PathBuf, String, Daemon, Boot, Made) {
    let dir = harness::tmp();
    let db = dir.path().join("data.rdb");
    let db_s = db.to_str().expect("utf-8").to_string();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    let made = populate(&d, &boot.api_key);
    (dir, db, db_s, d, boot, made)
}

fn verify_all(d: &Daemon, admin: &str, made: &Made, context: &str) {
    check_sample(d, admin, context);
    for (what, token) in [("key", &made.alice_key), ("session", &made.alice_session)] {
        let j = d
            .get("/auth/api-keys", Some(token))
            .ok(&format!("{context}: alice's {what}"));
        let keys = j["api_keys"].as_array().expect("api_keys");
        assert_eq!(keys.len(), 1, "{context}: alice sees her one key");
    }
}

/// The audit events of `action` in the last hour.
fn audit_events(d: &Daemon, admin: &str, action: &str) -> Vec<Json> {
    let j = d
        .get(
            &format!("/admin/audit?since=1h&action={action}"),
            Some(admin),
        )
        .ok("audit");
    j["events"].as_array().expect("events").clone()
}

/// Starts a server on `db` with `cert` and expects it to exit with `want`.
fn expect_start_refused(db: &Path, cert: &str, want: i32, context: &str) {
    match Daemon::try_start(db, &Options::new().certificate(cert)) {
        Ok(mut d) => {
            d.stop();
            panic!("{context}: the server started");
        }
        Err(e) => {
            assert_eq!(e.code, want, "{context}: {}", redact(&e.stderr, &[]));
            assert!(
                longest_hex_run(e.stderr.as_bytes()) < 16,
                "{context}: stderr holds a hex run"
            );
        }
    }
}

#[test]
fn offline_rekey_keeps_everything_and_refuses_the_old_certificate() {
    let (dir, db, db_s, mut d, boot, made) = populated_server();
    verify_all(&d, &boot.api_key, &made, "before the rekey");
    assert_eq!(d.stop(), 0);

    // The old certificate from a _FILE, as under systemd.
    let old_file = dir.path().join("old-certificate");
    std::fs::write(&old_file, format!("{}\n", boot.certificate)).expect("cert file");
    let old_file_s = old_file.to_str().expect("utf-8").to_string();
    let o = red(&["rekey", "--path", &db_s])
        .envs(&[("REDDB_CERTIFICATE_FILE", &old_file_s)])
        .run();
    assert_eq!(o.code, 0, "rekey: {}", o.describe(&[]));
    let new = printed_certificate(&o);
    assert_ne!(new, boot.certificate, "a new certificate");
    let (out, err) = (&o.stdout, &o.stderr);
    assert!(
        !out.contains(&boot.certificate) && !err.contains(&boot.certificate),
        "the old certificate is never printed"
    );
    assert!(
        longest_hex_run(err.as_bytes()) < 16,
        "stderr holds no hex run: {}",
        redact(err, &[])
    );
    assert!(
        !std::fs::read(&db)
            .expect("read")
            .windows(64)
            .any(|w| w == new.as_bytes()),
        "the certificate is not in the file"
    );

    // The old certificate is refused everywhere with exit 10, changing nothing.
    let before = std::fs::read(&db).expect("read");
    for args in [
        vec!["check", "--path", &db_s],
        vec!["rekey", "--path", &db_s],
        vec!["backup", "--path", &db_s],
    ] {
        let o = red(&args)
            .envs(&[("REDDB_CERTIFICATE", &boot.certificate)])
            .run();
        assert_eq!(
            o.code,
            10,
            "{args:?} with the old certificate: {}",
            o.describe(&[])
        );
        let (out, err) = (&o.stdout, &o.stderr);
        assert!(longest_hex_run(format!("{out}{err}").as_bytes()) < 16);
    }
    assert!(
        std::fs::read(&db).expect("read") == before,
        "refusals change nothing"
    );
    expect_start_refused(
        &db,
        &boot.certificate,
        10,
        "server with the old certificate",
    );
    assert!(
        std::fs::read(&db).expect("read") == before,
        "refusals change nothing"
    );

    // `red check` with the new certificate sees every record.
    let o = red(&["check", "--path", &db_s])
        .envs(&[("REDDB_CERTIFICATE", &new)])
        .run();
    assert_eq!(o.code, 0, "check: {}", o.describe(&[]));
    let (out, _) = (&o.stdout, &o.stderr);
    assert!(
        out.contains("users: 2, api keys: 2, secrets: 2, config: 1, keyspace: 4"),
        "{out}"
    );

    // The server with the new certificate serves everything, old tokens included.
    let d = Daemon::start(&db, &Options::new().certificate(&new));
    verify_all(&d, &boot.api_key, &made, "after the offline rekey");
    let events = audit_events(&d, &boot.api_key, "admin.rekey");
    // SAFETY: getuid cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() };
    assert!(
        events
            .iter()
            .any(|e| e["principal"] == format!("cli@uid-{uid}")
                && e["outcome"] == "ok"
                && e["resource"] == "certificate"
                && e["peer"].is_null()),
        "offline rekey audited: {events:?}"
    );
    let audit_text = serde_json::to_string(&events).expect("json");
    assert!(!audit_text.contains(&new) && !audit_text.contains(&boot.certificate));
    drop(d);
}

#[test]
fn certificate_out_writes_a_new_0400_file_and_never_overwrites() {
    let (dir, db, db_s, mut d, boot, made) = populated_server();
    assert_eq!(d.stop(), 0);
    // The old certificate as a systemd credential.
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).expect("mkdir");
    std::fs::write(creds.join("certificate"), &boot.certificate).expect("credential");
    let creds_s = creds.to_str().expect("utf-8").to_string();
    let out_file = dir.path().join("new-certificate");
    let out_s = out_file.to_str().expect("utf-8").to_string();
    let o = red(&["rekey", "--path", &db_s, "--certificate-out", &out_s])
        .envs(&[("CREDENTIALS_DIRECTORY", &creds_s)])
        .run();
    assert_eq!(o.code, 0, "rekey: {}", o.describe(&[]));
    let (out, err) = (&o.stdout, &o.stderr);
    assert!(
        longest_hex_run(format!("{out}{err}").as_bytes()) < 16,
        "with --certificate-out nothing is printed: {}",
        redact(out, &[])
    );
    assert!(
        out.contains(&format!("certificate written to: {out_s}")),
        "{out}"
    );
    let mode = std::fs::metadata(&out_file)
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o400, "certificate file mode");
    let new = std::fs::read_to_string(&out_file).expect("read");
    assert!(new.ends_with('\n'));
    let new = new.trim().to_string();
    assert!(is_lower_hex(&new, 64));
    assert_ne!(new, boot.certificate);

    // A second rekey to the same path is refused before the database is
    // touched: exit 2, database and certificate file byte for byte unchanged.
    std::fs::write(creds.join("certificate"), &new).expect("credential");
    let before = std::fs::read(&db).expect("read");
    let o = red(&["rekey", "--path", &db_s, "--certificate-out", &out_s])
        .envs(&[("CREDENTIALS_DIRECTORY", &creds_s)])
        .run();
    assert_eq!(o.code, 2, "existing --certificate-out: {}", o.describe(&[]));
    assert!(
        std::fs::read(&db).expect("read") == before,
        "database unchanged"
    );
    assert_eq!(
        std::fs::read_to_string(&out_file).expect("read").trim(),
        new
    );

    let o = red(&["check", "--path", &db_s])
        .envs(&[("REDDB_CERTIFICATE", &boot.certificate)])
        .run();
    assert_eq!(o.code, 10, "old certificate: {}", o.describe(&[]));
    let d = Daemon::start(&db, &Options::new().certificate(&new));
    verify_all(&d, &boot.api_key, &made, "after rekey --certificate-out");
}

#[test]
fn rekey_refusals_change_nothing() {
    let (dir, db, db_s, mut d, boot, _) = populated_server();
    // A running server holds the lock: exit 14.
    let o = red(&["rekey", "--path", &db_s])
        .envs(&[("REDDB_CERTIFICATE", &boot.certificate)])
        .run();
    assert_eq!(o.code, 14, "locked: {}", o.describe(&[]));
    assert_eq!(d.stop(), 0);
    let cert = boot.certificate.as_str();
    let wrong: String = cert
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    let exists = dir.path().join("exists");
    std::fs::write(&exists, "keep me\n").expect("write");
    let exists_s = exists.to_str().expect("utf-8").to_string();
    let cert_file = dir.path().join("cert-file");
    std::fs::write(&cert_file, cert).expect("write");
    let cert_file_s = cert_file.to_str().expect("utf-8").to_string();
    let fresh = dir.path().join("fresh.rdb");
    drop(reddb::database::open_pager(&fresh, true).expect("create a fresh file"));
    let fresh_s = fresh.to_str().expect("utf-8").to_string();
    let missing = dir.path().join("missing.rdb");
    let missing_s = missing.to_str().expect("utf-8").to_string();
    fn rekey<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["rekey"];
        v.extend_from_slice(extra);
        v
    }
    let cases: Vec<Case> = vec![
        (
            "existing --certificate-out",
            rekey(&["--path", &db_s, "--certificate-out", &exists_s]),
            vec![("REDDB_CERTIFICATE", cert)],
            2,
        ),
        (
            "wrong certificate",
            rekey(&["--path", &db_s]),
            vec![("REDDB_CERTIFICATE", &wrong)],
            10,
        ),
        (
            "malformed certificate",
            rekey(&["--path", &db_s]),
            vec![("REDDB_CERTIFICATE", &cert[..63])],
            11,
        ),
        (
            "inline and _FILE both set",
            rekey(&["--path", &db_s]),
            vec![
                ("REDDB_CERTIFICATE", cert),
                ("REDDB_CERTIFICATE_FILE", &cert_file_s),
            ],
            12,
        ),
        ("no certificate", rekey(&["--path", &db_s]), vec![], 13),
        (
            "fresh file",
            rekey(&["--path", &fresh_s]),
            vec![("REDDB_CERTIFICATE", cert)],
            18,
        ),
        (
            "missing file",
            rekey(&["--path", &missing_s]),
            vec![("REDDB_CERTIFICATE", cert)],
            20,
        ),
        (
            "unknown flag",
            rekey(&["--path", &db_s, "--print-certificate"]),
            vec![("REDDB_CERTIFICATE", cert)],
            2,
        ),
        (
            "no --path",
            rekey(&[]),
            vec![("REDDB_CERTIFICATE", cert)],
            2,
        ),
    ];
    let before = std::fs::read(&db).expect("read");
    let fresh_before = std::fs::read(&fresh).expect("read");
    for (name, args, env, want) in cases {
        let o = red(&args).envs(&env).run();
        let (out, err) = (&o.stdout, &o.stderr);
        assert_eq!(o.code, want, "{name}: {}", o.describe(&[]));
        assert!(
            out.is_empty(),
            "{name}: nothing on stdout: {}",
            redact(out, &[])
        );
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("red: "),
            "{name}: one `red:` line on stderr: {}",
            redact(err, &[])
        );
        assert!(
            longest_hex_run(err.as_bytes()) < 16 && !err.contains(&wrong),
            "{name}: no hex run on stderr"
        );
        assert!(
            std::fs::read(&db).expect("read") == before,
            "{name}: database unchanged"
        );
        assert!(
            std::fs::read(&fresh).expect("read") == fresh_before,
            "{name}: fresh file unchanged"
        );
        assert_eq!(std::fs::read_to_string(&exists).expect("read"), "keep me\n");
        assert!(!missing.exists(), "{name}: no file created");
    }
    // The original certificate still opens the file.
    let o = red(&["check", "--path", &db_s])
        .envs(&[("REDDB_CERTIFICATE", cert)])
        .run();
    assert_eq!(o.code, 0, "{}", o.describe(&[]));
    // `red help rekey` names the flags.
    let o = red(&["help", "rekey"]).run();
    let (out, _) = (&o.stdout, &o.stderr);
    assert_eq!(o.code, 0);
    assert!(
        out.contains("--certificate-out") && out.contains("POST /admin/rekey"),
        "{out}"
    );
}

/// A refusal: its name, arguments, environment and exit code.
type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>, i32);

/// Sends a request on `conn` without waiting for the answer.
fn send(conn: &mut Conn, method: &str, path: &str, bearer: &str, body: &str) {
    let auth = format!("Bearer {bearer}");
    let bytes = request_bytes(
        method,
        path,
        &[("Authorization", auth.as_str())],
        Some(body.as_bytes()),
    );
    conn.send(&bytes).expect("send");
}

/// A connection whose reads wait long enough for a rekey queued behind
/// password checks on a single worker.
fn slow_conn(d: &Daemon) -> Conn {
    Conn::try_open(d.http_port, Duration::from_secs(60)).expect("connect")
}

#[test]
fn http_rekey_keeps_serving_and_only_the_returned_certificate_opens_the_file() {
    let dir = harness::tmp();
    let db = dir.path().join("data.rdb");
    let token = "t".repeat(40);
    // One worker: the rekey's Argon2 queues behind password checks, so a
    // second rekey sent meanwhile meets the first one in progress.
    let opts = Options::new().admin_token(&token).arg("--workers").arg("1");
    let (mut d, boot) = fresh_bootstrapped(dir.path(), &opts);
    let made = populate(&d, &boot.api_key);
    // A wire connection authenticated before the rekey.
    let mut before = d.client_authed(&[&boot.api_key]);

    // Refusals first: a non-admin (403), no credentials (401).
    d.post("/admin/rekey", Some(&made.alice_key), &json!({}))
        .expect_error(403, "forbidden", "alice's key");
    d.post("/admin/rekey", Some(&made.alice_session), &json!({}))
        .expect_error(403, "forbidden", "alice's session");
    let r = d.post("/admin/rekey", None, &json!({}));
    assert_eq!(r.status, 401, "no credentials: {}", r.text());
    d.get("/admin/rekey", Some(&boot.api_key))
        .expect_error(405, "method_not_allowed", "GET");
    d.post(
        "/admin/rekey",
        Some(&boot.api_key),
        &json!({"certificate": "x"}),
    )
    .expect_error(400, "bad_request", "a body with fields");

    // Keep the single worker busy with password checks, then send two rekeys.
    let mut logins: Vec<Conn> = (0..3)
        .map(|_| {
            let mut c = slow_conn(&d);
            send(
                &mut c,
                "POST",
                "/auth/login",
                "none",
                &json!({"username": "alice", "password": "wrong-password-123"}).to_string(),
            );
            c
        })
        .collect();
    let mut first = slow_conn(&d);
    send(&mut first, "POST", "/admin/rekey", &boot.api_key, "{}");
    std::thread::sleep(Duration::from_millis(50));
    let mut second = slow_conn(&d);
    send(&mut second, "POST", "/admin/rekey", &token, "");
    // Reads are answered while the rekey waits for its worker.
    let j = d
        .get("/secrets/red.secret.ai.openai.key", Some(&boot.api_key))
        .ok("read during the rekey");
    assert_eq!(j["value"], SAMPLE_SECRET_V2);
    // One of the two (normally the first sent) is refused: one at a time.
    let (r1, r2) = (
        first.expect_response("a response"),
        second.expect_response("a response"),
    );
    let (done, refused) = if r1.status == 200 { (r1, r2) } else { (r2, r1) };
    assert_eq!(
        refused.status,
        409,
        "a second rekey while one runs: {}",
        redact(&refused.text(), &[])
    );
    assert_eq!(refused.error_code(), "rekey_in_progress");
    assert_eq!(done.status, 200, "rekey: {}", redact(&done.text(), &[]));
    let j = done.json();
    assert_eq!(j["ok"], true);
    let new = j["certificate"].as_str().expect("certificate").to_string();
    assert!(is_lower_hex(&new, 64));
    assert_ne!(new, boot.certificate);
    assert_eq!(
        j.as_object().map(|o| o.len()),
        Some(2),
        "exactly ok and certificate: {}",
        redact(&j.to_string(), &[])
    );
    for mut c in logins.drain(..) {
        assert_eq!(c.expect_response("a response").status, 401);
    }

    // The process keeps serving: the old wire connection, keys, sessions.
    assert_eq!(before.cmd(&["GET", "plain"]), bulk("value-1"));
    assert_eq!(before.cmd(&["SET", "after", "rekey"]), ok());
    verify_all(&d, &boot.api_key, &made, "right after the HTTP rekey");
    d.post_value(
        "/secrets/red.secret.after.rekey",
        &boot.api_key,
        "written-after",
    )
    .ok("a secret written after the rekey");

    // A rekey by the admin token works too; its certificate supersedes.
    let j = d
        .post("/admin/rekey", Some(&token), &json!({}))
        .ok("rekey by the admin token");
    let newest = j["certificate"].as_str().expect("certificate").to_string();
    assert_ne!(newest, new);
    assert_eq!(before.cmd(&["GET", "after"]), bulk("rekey"));

    let events = audit_events(&d, &boot.api_key, "admin.rekey");
    let has = |principal: &str, outcome: &str| {
        events
            .iter()
            .any(|e| e["principal"] == principal && e["outcome"] == outcome)
    };
    let ok = |principal: &str| {
        events
            .iter()
            .filter(|e| e["principal"] == principal && e["outcome"] == "ok")
            .count()
    };
    assert_eq!(
        ok("admin") + ok("admin-token"),
        2,
        "both rekeys audited: {events:?}"
    );
    assert!(
        ok("admin-token") >= 1,
        "the token's rekey audited: {events:?}"
    );
    assert!(
        has("alice", "denied"),
        "alice's refusal audited: {events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["outcome"] == "error" && e["code"] == "rekey_in_progress"),
        "the 409 audited: {events:?}"
    );
    let audit_text = serde_json::to_string(&events).expect("json");
    assert!(!audit_text.contains(&new) && !audit_text.contains(&newest));
    assert_eq!(d.stop(), 0);
    let log = d.stderr();
    for c in [&boot.certificate, &new, &newest] {
        assert!(
            !log.contains(c.as_str()),
            "no certificate in the server log"
        );
    }

    // Only the last returned certificate opens the file.
    expect_start_refused(&db, &boot.certificate, 10, "the bootstrap certificate");
    expect_start_refused(&db, &new, 10, "the superseded certificate");
    let d = Daemon::start(&db, &opts.clone().certificate(&newest));
    verify_all(
        &d,
        &boot.api_key,
        &made,
        "after a restart with the new certificate",
    );
    let mut c = d.client_authed(&[&boot.api_key]);
    assert_eq!(c.cmd(&["GET", "after"]), bulk("rekey"));
    let j = d
        .get("/secrets/red.secret.after.rekey", Some(&boot.api_key))
        .ok("secret written after the rekey");
    assert_eq!(j["value"], "written-after");
}

#[test]
fn a_sealed_server_refuses_rekey() {
    let dir = harness::tmp();
    let db = dir.path().join("data.rdb");
    let token = "t".repeat(40);
    let (mut d, _boot) = fresh_bootstrapped(dir.path(), &Options::new());
    assert_eq!(d.stop(), 0);
    // Started without a certificate: sealed.
    let d = Daemon::start(&db, &Options::new().admin_token(&token));
    let r = d.post("/admin/rekey", Some(&token), &json!({}));
    assert_eq!(r.status, 503, "sealed: {}", r.text());
    assert_eq!(r.error_code(), "vault_sealed");
}

/// A rekey or bootstrap whose client closed its connection while the key
/// derivation ran is not committed: its certificate could reach nobody.
#[test]
fn a_certificate_nobody_can_receive_is_never_committed() {
    let admin = "rekey-delivery-admin-token-0a1b2c3d4e5f";
    let dir = harness::tmp();
    let (mut d, boot) = fresh_bootstrapped(dir.path(), &Options::new().admin_token(admin));
    for _ in 0..3 {
        let mut c = d.conn();
        let req = format!(
            "POST /admin/rekey HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nContent-Length: 0\r\n\r\n"
        );
        c.send(req.as_bytes()).expect("send");
        drop(c); // a client that timed out
    }
    std::thread::sleep(Duration::from_millis(1500));
    let done: Vec<Json> = audit_events(&d, admin, "admin.rekey")
        .into_iter()
        .filter(|e| e["outcome"] == "ok")
        .collect();
    assert!(
        done.is_empty(),
        "a rekey nobody could receive was committed: {done:?}"
    );
    assert_eq!(d.stop(), 0);
    let d = Daemon::start(
        &d.db.clone(),
        &Options::new().certificate(&boot.certificate),
    );
    d.assert_healthy("the old certificate still opens the file");

    // The same for a bootstrap over HTTP.
    let dir = harness::tmp();
    let d = Daemon::start(&dir.path().join("data.rdb"), &Options::new());
    let mut c = d.conn();
    let body = json!({"username": "admin", "password": "change-me-now"}).to_string();
    let req = format!(
        "POST /auth/bootstrap HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    c.send(req.as_bytes()).expect("send");
    drop(c);
    std::thread::sleep(Duration::from_millis(1500));
    let h = d.get("/health", None).json();
    assert_eq!(
        h["bootstrapped"], false,
        "a bootstrap nobody could receive: {h}"
    );
    d.bootstrap();
}
