//! Unsealing a running, sealed server with k-of-n certificate shares:
//! `POST /sys/unseal {"share": …}` one share at a time, progress in the
//! answer and in `/health`, in-place unseal at the threshold; refusals for a
//! mistyped share, a share of another set (progress reset), shares of
//! another database, too many refusals from one peer (throttled), and the
//! shares' ten-minute life (shortened by a test hook).

mod harness;

use harness::cli::red;
use harness::daemon::{fresh_bootstrapped, Daemon, Options};
use harness::tmp;
use serde_json::{json, Value as Json};
use std::time::Duration;

const ADMIN_TOKEN: &str = "unseal-test-admin-token-4c1d9e7a2b6f";

/// `red certificate split` of `cert`: the share texts.
fn split(cert: &str, n: u8, k: u8) -> Vec<String> {
    let out = red(&["certificate", "split", "--shares", &n.to_string()])
        .args(&["--threshold", &k.to_string()])
        .env("REDDB_CERTIFICATE", cert)
        .run();
    assert!(out.success(), "split: {}", out.describe(&[cert]));
    let shares: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("share: "))
        .map(str::to_string)
        .collect();
    assert_eq!(shares.len(), usize::from(n));
    shares
}

/// A bootstrapped file with a secret in it, stopped; its certificate and
/// API key.
fn bootstrapped_file(dir: &std::path::Path) -> (std::path::PathBuf, String, String) {
    let (mut d, boot) = fresh_bootstrapped(dir, &Options::new());
    d.post_value(
        "/secrets/red.secret.sealed.check",
        &boot.api_key,
        "behind-the-seal",
    )
    .ok("write a secret");
    let db = d.db.clone();
    assert_eq!(d.stop(), 0);
    (db, boot.certificate, boot.api_key)
}

fn sealed(db: &std::path::Path, opts: Options) -> Daemon {
    Daemon::start(db, &opts.admin_token(ADMIN_TOKEN))
}

fn health(d: &Daemon) -> Json {
    let r = d.get("/health", None);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn give(d: &Daemon, share: &str) -> harness::http::Resp {
    d.post("/sys/unseal", None, &json!({"share": share}))
}

#[test]
fn k_shares_unseal_a_sealed_server_in_place() {
    let dir = tmp();
    let (db, cert, key) = bootstrapped_file(dir.path());
    let shares = split(&cert, 5, 3);
    let d = sealed(&db, Options::new());
    assert_eq!(health(&d)["sealed"], true);
    d.get("/secrets/red.secret.sealed.check", Some(&key))
        .expect_error(503, "vault_sealed", "sealed read");

    let j = give(&d, &shares[4]).ok("first share");
    assert_eq!(
        j,
        json!({"ok": true, "sealed": true, "progress": 1, "threshold": 3})
    );
    assert_eq!(health(&d)["unseal"], json!({"progress": 1, "threshold": 3}));
    // The same share twice counts once.
    assert_eq!(give(&d, &shares[4]).ok("again")["progress"], 1);
    // A mistyped share is refused and changes nothing.
    let mut typo = shares[1].clone().into_bytes();
    let i = typo.len() / 2;
    typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).expect("ascii");
    let r = give(&d, &typo);
    r.expect_error(400, "share_refused", "a mistyped share");
    assert!(!r.text().contains(&typo), "the refusal quotes the share");
    assert_eq!(health(&d)["unseal"]["progress"], 1);
    // K-1 shares: still sealed.
    assert_eq!(give(&d, &shares[0]).ok("second")["progress"], 2);
    d.get("/secrets/red.secret.sealed.check", Some(&key))
        .expect_error(503, "vault_sealed", "K-1 shares");
    // The K-th unseals in place.
    let j = give(&d, &shares[2]).ok("third");
    assert_eq!(j, json!({"ok": true, "sealed": false}));
    let h = health(&d);
    assert_eq!(h["sealed"], false);
    assert!(h.get("unseal").is_none(), "{h}");
    let j = d
        .get("/secrets/red.secret.sealed.check", Some(&key))
        .ok("read after unseal");
    assert_eq!(j["value"], "behind-the-seal");
    let mut w = d.client();
    assert_eq!(w.cmd(&["AUTH", &key]), harness::wire::ok());
    give(&d, &shares[3]).expect_error(409, "not_sealed", "after the unseal");
    // Audited once the vault could record it.
    let ev = d
        .get("/admin/audit?since=1h&action=sys.unseal", Some(ADMIN_TOKEN))
        .ok("audit");
    let ev = ev["events"].as_array().expect("events");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["outcome"], "ok");
    assert!(
        ev[0]["resource"]
            .as_str()
            .unwrap_or("")
            .contains("refused-before:1"),
        "{ev:?}"
    );
    // No share and no certificate in the log.
    let log = d.stderr();
    for s in shares.iter().chain([&cert]) {
        assert!(!log.contains(s.as_str()), "a secret in the log");
    }
}

#[test]
fn a_share_of_another_set_resets_and_reset_clears() {
    let dir = tmp();
    let (db, cert, _) = bootstrapped_file(dir.path());
    let first = split(&cert, 3, 2);
    let second = split(&cert, 3, 2);
    let d = sealed(&db, Options::new());
    assert_eq!(give(&d, &first[0]).ok("one")["progress"], 1);
    give(&d, &second[1]).expect_error(400, "share_refused", "another set");
    assert!(health(&d).get("unseal").is_none(), "progress reset");
    assert_eq!(give(&d, &second[0]).ok("new set")["progress"], 1);
    let j = d
        .post("/sys/unseal", None, &json!({"reset": true}))
        .ok("reset");
    assert_eq!(j["progress"], 0);
    assert!(health(&d).get("unseal").is_none());
    d.post("/sys/unseal", None, &json!({}))
        .expect_error(400, "bad_request", "no share");
    d.post("/sys/unseal", None, &json!({"reset": "yes"}))
        .expect_error(400, "bad_request", "reset not a boolean");
    // Shares of another database combine into a certificate that does not
    // open this file: refused, nothing unsealed.
    let other_dir = tmp();
    let (_, other_cert, _) = bootstrapped_file(other_dir.path());
    let other = split(&other_cert, 2, 2);
    give(&d, &other[0]).ok("other db, first");
    give(&d, &other[1]).expect_error(400, "share_refused", "another database");
    assert_eq!(health(&d)["sealed"], true);
    // And the right ones still work afterwards.
    give(&d, &first[1]).ok("one");
    assert_eq!(give(&d, &first[2]).ok("two")["sealed"], false);
}

#[test]
fn refused_shares_are_throttled_and_given_shares_expire() {
    let dir = tmp();
    let (db, cert, _) = bootstrapped_file(dir.path());
    let shares = split(&cert, 3, 2);
    let d = sealed(&db, Options::new().env("REDDB_TEST_UNSEAL_TTL_MS", "1000"));
    // Given shares are wiped when the threshold is not reached in time.
    give(&d, &shares[0]).ok("one");
    assert!(harness::wait_until(Duration::from_secs(10), || {
        health(&d).get("unseal").is_none()
    }));
    // Refusals from one peer are throttled like failed logins.
    let mut statuses = Vec::new();
    for i in 0..8 {
        let r = give(&d, &format!("not-a-share-{i}"));
        statuses.push(r.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 429),
        "{statuses:?}"
    );
}

#[test]
fn unseal_is_refused_when_not_sealed_or_not_bootstrapped() {
    let dir = tmp();
    let fresh = Daemon::start(&dir.path().join("fresh.rdb"), &Options::new());
    fresh
        .post("/sys/unseal", None, &json!({"share": "x"}))
        .expect_error(503, "not_bootstrapped", "fresh");
    let open_dir = dir.path().join("open");
    std::fs::create_dir(&open_dir).expect("mkdir");
    let (d, _) = fresh_bootstrapped(&open_dir, &Options::new());
    d.post("/sys/unseal", None, &json!({"share": "x"}))
        .expect_error(409, "not_sealed", "open");
    d.get("/sys/unseal", None)
        .expect_error(405, "method_not_allowed", "GET");
}
