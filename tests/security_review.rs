//! The attacks of "Security review, round 1" against the real `red` binary,
//! each one written first as the reproduction that succeeded on the code the
//! review read, and kept so the hole can never come back:
//!
//! - a session outlives its user (deleted and created again, disabled, or
//!   re-passworded), and a wire connection keeps a deleted credential;
//! - a stolen session alone sets a new password;
//! - unauthenticated floods become thousands of audit events with raw
//!   16 KiB path segments, and can evict authenticated history;
//! - other users' failed logins lock everyone behind one address out;
//! - reserved names (`anonymous`, `admin-token`) can be taken by users.

mod harness;

use harness::daemon::{fresh_bootstrapped, Boot, Daemon, Options, ADMIN_PASSWORD, ADMIN_USER};
use harness::http::{request_bytes, Conn, Resp};
use harness::tmp;
use harness::wire::{ok, Client, Value, NOAUTH};
use serde_json::{json, Value as Json};
use tempfile::TempDir;

const ADMIN_TOKEN: &str = "security-review-admin-token-7f3a9c1e5b";

fn server(dir: &TempDir) -> (Daemon, Boot) {
    fresh_bootstrapped(dir.path(), &Options::new().admin_token(ADMIN_TOKEN))
}

fn create_user(d: &Daemon, name: &str, password: &str) {
    d.create_user(ADMIN_TOKEN, name, password, "user")
        .ok(&format!("create {name}"));
}

/// An admin's reset of `name`'s password (by the admin token).
fn reset_password(d: &Daemon, name: &str, password: &str) -> Resp {
    d.set_password(ADMIN_TOKEN, name, &json!({ "password": password }))
}

/// The password `alice` is created with.
const ALICE_PASSWORD: &str = "alice-password-1";

/// [`server`], with the user `alice` created (password [`ALICE_PASSWORD`]).
fn server_with_alice(dir: &TempDir) -> (Daemon, Boot) {
    let (d, boot) = server(dir);
    create_user(&d, "alice", ALICE_PASSWORD);
    (d, boot)
}

/// A new session of `alice` logged in with [`ALICE_PASSWORD`].
fn alice_session(d: &Daemon) -> String {
    session(d, "alice", ALICE_PASSWORD)
}

fn session(d: &Daemon, name: &str, password: &str) -> String {
    let j = d.login(name, password).ok(&format!("login {name}"));
    j["token"].as_str().expect("token").to_string()
}

/// An API key for `owner`: (token, id).
fn api_key(d: &Daemon, owner: &str) -> (String, String) {
    let minted = d.mint_api_key(
        ADMIN_TOKEN,
        &json!({"owner": owner, "label": "test"}),
        "mint a key",
    );
    (minted.token, minted.id)
}

fn works(d: &Daemon, token: &str) -> bool {
    d.get("/auth/api-keys", Some(token)).status == 200
}

fn wire(d: &Daemon, auth: &[&str]) -> Client {
    let mut c = d.client_authed(auth);
    assert_eq!(c.cmd(&["SET", "k", "v"]), ok());
    c
}

fn audit_events(d: &Daemon, query: &str) -> Vec<Json> {
    let j = d
        .get(&format!("/admin/audit{query}"), Some(ADMIN_TOKEN))
        .ok("audit");
    j["events"].as_array().expect("events").clone()
}

// ---------------------------------------------------------------------------
// Item 2: sessions die with their user and with a password change.

#[test]
fn a_session_does_not_survive_its_user_being_deleted_and_created_again() {
    let dir = tmp();
    let (d, _) = server_with_alice(&dir);
    let s = alice_session(&d);
    assert!(works(&d, &s));
    d.delete("/auth/users/alice", Some(ADMIN_TOKEN))
        .ok("delete alice");
    assert!(!works(&d, &s), "the session died with its user");
    create_user(&d, "alice", ALICE_PASSWORD);
    let r = d.get("/auth/api-keys", Some(&s));
    r.expect_error(
        401,
        "unauthorized",
        "a new alice does not revive the session",
    );
    // The new alice's own login works.
    assert!(works(&d, &alice_session(&d)));
}

#[test]
fn an_admin_password_reset_revokes_every_session_of_the_user() {
    let dir = tmp();
    let (d, boot) = server_with_alice(&dir);
    let s1 = alice_session(&d);
    let s2 = alice_session(&d);
    let bob = {
        create_user(&d, "bob", "bob-password-1");
        session(&d, "bob", "bob-password-1")
    };
    // By an admin user's session and by the admin token: no current password needed.
    let admin = session(&d, ADMIN_USER, ADMIN_PASSWORD);
    d.set_password(&admin, "alice", &json!({"password": "alice-password-2"}))
        .ok("admin reset");
    for s in [&s1, &s2] {
        d.get("/auth/api-keys", Some(s)).expect_error(
            401,
            "unauthorized",
            "alice's session after a reset",
        );
    }
    assert!(works(&d, &bob), "another user's session is untouched");
    assert!(works(&d, &admin), "the admin's own session is untouched");
    assert!(works(&d, &boot.api_key), "API keys are not sessions");
    let s3 = session(&d, "alice", "alice-password-2");
    reset_password(&d, "alice", "alice-password-3").ok("token reset");
    assert!(!works(&d, &s3));
}

#[test]
fn disabling_a_user_revokes_its_sessions_and_refuses_its_keys() {
    let dir = tmp();
    let (d, _) = server_with_alice(&dir);
    let s = alice_session(&d);
    let (key, _) = api_key(&d, "alice");
    assert!(works(&d, &s) && works(&d, &key));
    let j = d
        .post("/auth/users/alice/disable", Some(ADMIN_TOKEN), &json!({}))
        .ok("disable");
    assert_eq!(j["user"]["disabled"], true);
    assert!(!works(&d, &s), "session refused");
    assert!(!works(&d, &key), "key refused while disabled");
    d.login("alice", ALICE_PASSWORD).expect_error(
        401,
        "invalid_credentials",
        "a disabled user cannot log in",
    );
    d.post("/auth/users/alice/enable", Some(ADMIN_TOKEN), &json!({}))
        .ok("enable");
    assert!(!works(&d, &s), "the revoked session stays revoked");
    assert!(works(&d, &key), "keys work again once enabled");
    assert!(works(&d, &alice_session(&d)));
    // The last enabled admin cannot be disabled; a non-admin cannot disable.
    d.post("/auth/users/admin/disable", Some(ADMIN_TOKEN), &json!({}))
        .expect_error(409, "conflict", "last admin");
    let alice = alice_session(&d);
    d.post("/auth/users/admin/disable", Some(&alice), &json!({}))
        .expect_error(403, "forbidden", "a user disabling an admin");
    d.post("/auth/users/nobody/disable", Some(ADMIN_TOKEN), &json!({}))
        .expect_error(404, "not_found", "unknown user");
}

#[test]
fn revocation_survives_a_restart() {
    let dir = tmp();
    let (mut d, boot) = server_with_alice(&dir);
    let s = alice_session(&d);
    let kept = session(&d, ADMIN_USER, ADMIN_PASSWORD);
    reset_password(&d, "alice", "alice-password-2").ok("reset");
    let s2 = session(&d, "alice", "alice-password-2");
    d.stop();
    let d = Daemon::start(
        &d.db.clone(),
        &Options::new()
            .certificate(&boot.certificate)
            .admin_token(ADMIN_TOKEN),
    );
    assert!(!works(&d, &s), "revoked before the restart, revoked after");
    assert!(works(&d, &s2), "a session made after the reset survives");
    assert!(works(&d, &kept));
    // The owner index is rebuilt at start: a reset after the restart still
    // finds the sessions made before it.
    reset_password(&d, "alice", "alice-password-3").ok("reset after restart");
    assert!(!works(&d, &s2));
}

#[test]
fn a_wire_connection_loses_a_deleted_credential_at_its_next_command() {
    let dir = tmp();
    let (d, _) = server_with_alice(&dir);
    create_user(&d, "bob", "bob-password-1");

    // An API key, deleted.
    let (key, id) = api_key(&d, "alice");
    let mut by_key = wire(&d, &[&key]);
    // A session, whose user is deleted.
    let s = session(&d, "bob", "bob-password-1");
    let mut by_session = wire(&d, &[&s]);
    // A password, reset by an admin.
    create_user(&d, "carol", "carol-password-1");
    let mut by_password = wire(&d, &["carol", "carol-password-1"]);
    // Untouched: the admin's key.
    let (admin_key, _) = api_key(&d, ADMIN_USER);
    let mut untouched = wire(&d, &[&admin_key]);

    d.delete(&format!("/auth/api-keys/{id}"), Some(ADMIN_TOKEN))
        .ok("delete key");
    d.delete("/auth/users/bob", Some(ADMIN_TOKEN))
        .ok("delete bob");
    reset_password(&d, "carol", "carol-password-2").ok("reset carol");
    // No waiting: the very next command is refused.
    for (c, what) in [
        (&mut by_key, "deleted API key"),
        (&mut by_session, "deleted user's session"),
        (&mut by_password, "reset password"),
    ] {
        assert_eq!(c.cmd(&["GET", "k"]), harness::wire::err(NOAUTH), "{what}");
        assert_eq!(
            c.cmd(&["PING"]),
            harness::wire::err(NOAUTH),
            "{what}: stays logged out"
        );
        assert_eq!(
            c.cmd(&["AUTH", "default", "nope"]),
            harness::wire::err("WRONGPASS invalid username-password pair or user is disabled."),
            "{what}: the dead credential cannot be reused"
        );
    }
    assert_eq!(untouched.cmd(&["GET", "k"]), harness::wire::bulk("v"));
    // The connection can authenticate again with a live credential.
    assert_eq!(
        by_password.cmd(&["AUTH", "carol", "carol-password-2"]),
        ok()
    );
    assert_eq!(by_password.cmd(&["GET", "k"]), harness::wire::bulk("v"));
    // Disabling a user logs out its key's connections too.
    let (key2, _) = api_key(&d, "alice");
    let mut alice = wire(&d, &[&key2]);
    d.post("/auth/users/alice/disable", Some(ADMIN_TOKEN), &json!({}))
        .ok("disable");
    assert_eq!(alice.cmd(&["GET", "k"]), harness::wire::err(NOAUTH));
}

// ---------------------------------------------------------------------------
// Item 3: a self-service password change needs the current password.

#[test]
fn a_stolen_session_alone_cannot_set_a_new_password() {
    let dir = tmp();
    let (d, _) = server_with_alice(&dir);
    let stolen = alice_session(&d);
    d.set_password(&stolen, "alice", &json!({"password": "attacker-choice-1"}))
        .expect_error(400, "bad_request", "no current_password");
    d.set_password(
        &stolen,
        "alice",
        &json!({"password": "attacker-choice-1", "current_password": "a-wrong-guess"}),
    )
    .expect_error(401, "invalid_credentials", "a wrong current_password");
    d.login("attacker-choice-1", ALICE_PASSWORD)
        .expect_error(401, "invalid_credentials", "sanity");
    assert!(works(&d, &alice_session(&d)), "the password did not change");
    // Guessing the current password is rate limited like a login.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let r = d.post(
            "/auth/users/alice/password",
            Some(&stolen),
            &json!({"password": "attacker-choice-1", "current_password": format!("guess-{i}")}),
        );
        statuses.push(r.status);
    }
    assert!(
        statuses.contains(&429),
        "guesses are rate limited: {statuses:?}"
    );
}

#[test]
fn a_user_changes_its_own_password_with_the_current_one() {
    let dir = tmp();
    let (d, _) = server_with_alice(&dir);
    let s = alice_session(&d);
    let other = alice_session(&d);
    let j = d
        .set_password(
            &s,
            "alice",
            &json!({"password": "alice-password-2", "current_password": ALICE_PASSWORD}),
        )
        .ok("self change");
    assert_eq!(j["sessions_revoked"], 2, "{j}");
    assert!(!works(&d, &s) && !works(&d, &other), "every session ends");
    d.login("alice", ALICE_PASSWORD)
        .expect_error(401, "invalid_credentials", "old password");
    assert!(works(&d, &session(&d, "alice", "alice-password-2")));
    // A user cannot change another user's password.
    create_user(&d, "bob", "bob-password-1");
    let a = session(&d, "alice", "alice-password-2");
    d.set_password(
        &a,
        "bob",
        &json!({"password": "x-password-9", "current_password": "alice-password-2"}),
    )
    .expect_error(403, "forbidden", "someone else's password");
    // An admin changing its own password gives its current one too.
    let admin = session(&d, ADMIN_USER, ADMIN_PASSWORD);
    d.set_password(&admin, "admin", &json!({"password": "new-admin-password"}))
        .expect_error(400, "bad_request", "admin self change without current");
}

// ---------------------------------------------------------------------------
// Item 4: the audit log cannot be flooded.

/// Sends `n` pipelined requests on one keep-alive connection, returns the
/// statuses.
fn pipelined(d: &Daemon, n: usize, one: &[u8]) -> Vec<u16> {
    let mut c = Conn::open(d.http_port);
    let mut statuses = Vec::with_capacity(n);
    let batch = 100;
    let mut sent = 0;
    while sent < n {
        let k = batch.min(n - sent);
        let mut bytes = Vec::with_capacity(one.len() * k);
        for _ in 0..k {
            bytes.extend_from_slice(one);
        }
        c.send(&bytes).expect("send");
        for _ in 0..k {
            let r: Resp = c.read_response().expect("read").expect("a response");
            statuses.push(r.status);
        }
        sent += k;
    }
    statuses
}

#[test]
fn unauthenticated_floods_fold_into_a_handful_of_audit_events() {
    let dir = tmp();
    let (d, boot) = server(&dir);
    let before = audit_events(&d, "?since=1h&limit=10000").len();
    // 2,000 requests with a bad bearer.
    let bad = "rdb_k_0123456789abcdef0123456789abcdef";
    let one = request_bytes(
        "GET",
        "/secrets/red.secret.x",
        &[("Authorization", &format!("Bearer {bad}"))],
        None,
    );
    let statuses = pipelined(&d, 2000, &one);
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429));
    // 500 unauthenticated /metrics requests.
    let one = request_bytes("GET", "/metrics", &[("Authorization", "Bearer nope")], None);
    assert!(pipelined(&d, 500, &one)
        .iter()
        .all(|s| *s == 401 || *s == 429));
    // 2,000 failed wire AUTH <token> and 500 NOAUTH from one peer.
    let mut c = Client::connect(d.wire_port);
    let mut bytes = Vec::new();
    for _ in 0..2000 {
        bytes.extend_from_slice(
            b"*2\r\n$4\r\nAUTH\r\n$38\r\nrdb_k_0123456789abcdef0123456789abcdef\r\n",
        );
    }
    for _ in 0..500 {
        bytes.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }
    c.send(&bytes).expect("send");
    for i in 0..2500 {
        let v = c.read().expect("read").expect("reply");
        assert!(matches!(v, Value::Error(_)), "reply {i}: {v:?}");
    }
    let events = audit_events(&d, "?since=1h&limit=10000");
    let added = events.len() - before;
    assert!(
        added <= 12,
        "5,000 unauthenticated refusals became {added} audit events"
    );
    // The first of each kind is there, with the peer.
    for action in ["secret.read", "auth.token", "request"] {
        assert!(
            events.iter().any(|e| e["action"] == action
                && e["principal"] == "anonymous"
                && e["peer"] == "127.0.0.1"),
            "no {action} event: {events:?}"
        );
    }
    assert!(
        !events
            .iter()
            .any(|e| e.to_string().contains(bad) || e.to_string().contains(&boot.api_key)),
        "a token in the audit log"
    );
}

#[test]
fn the_audit_resource_is_bounded_and_marked_when_cut() {
    let dir = tmp();
    let (d, _) = server(&dir);
    let long = "a".repeat(12 * 1024);
    let r = d.get(
        &format!("/secrets/red.secret.{long}"),
        Some("rdb_k_0123456789abcdef0123456789abcdef"),
    );
    assert_eq!(r.status, 401);
    // Authenticated events are bounded too (a denied read of a long key).
    let control = "red.secret.bad%01name%7f";
    let _ = d.get(&format!("/secrets/{control}"), Some("nope"));
    let events = audit_events(&d, "?since=1h");
    let cut = events
        .iter()
        .find(|e| e["action"] == "secret.read" && e["outcome"] == "unauthorized")
        .expect("the refusal is recorded");
    let resource = cut["resource"].as_str().expect("resource");
    assert!(
        resource.len() <= 256,
        "resource is {} bytes",
        resource.len()
    );
    assert!(resource.ends_with("…[cut]"), "marked as cut: {resource}");
    assert!(resource.starts_with("vault:red.vault/red.secret.aaa"));
    for e in &events {
        let s = e["resource"].as_str().unwrap_or("");
        assert!(
            !s.chars().any(char::is_control),
            "control characters in a resource: {s:?}"
        );
    }
}

#[test]
fn unauthenticated_events_never_evict_authenticated_history() {
    let dir = tmp();
    // A small cap (test hook): 100 events, of which unauthenticated ones may
    // hold at most a tenth.
    let (d, boot) = fresh_bootstrapped(
        dir.path(),
        &Options::new()
            .admin_token(ADMIN_TOKEN)
            .env("REDDB_TEST_AUDIT_MAX", "100"),
    );
    for i in 0..30 {
        d.post_value(&format!("/secrets/red.secret.k{i}"), &boot.api_key, "v")
            .ok("write");
    }
    // Every authenticated endpoint refused without credentials: each action
    // opens its own fold window, so this is ~26 unauthenticated events.
    let paths = [
        ("GET", "/auth/users"),
        ("POST", "/auth/users"),
        ("DELETE", "/auth/users/x"),
        ("POST", "/auth/users/x/password"),
        ("POST", "/auth/users/x/disable"),
        ("POST", "/auth/users/x/enable"),
        ("GET", "/auth/api-keys"),
        ("POST", "/auth/api-keys"),
        ("DELETE", "/auth/api-keys/x"),
        ("GET", "/secrets"),
        ("GET", "/secrets/red.secret.x"),
        ("POST", "/secrets/red.secret.x"),
        ("DELETE", "/secrets/red.secret.x"),
        ("POST", "/secrets/red.secret.x/rotate"),
        ("POST", "/secrets/red.secret.x/purge"),
        ("POST", "/config/red.config.x"),
        ("DELETE", "/config/red.config.x"),
        ("GET", "/policies"),
        ("GET", "/policies/p"),
        ("DELETE", "/policies/p"),
        ("POST", "/policies/p/attach"),
        ("POST", "/policies/p/detach"),
        ("GET", "/admin/audit"),
        ("POST", "/admin/backup"),
        ("POST", "/admin/restore"),
        ("POST", "/auth/logout"),
    ];
    for (m, p) in paths {
        let r = d.call(m, p, Some("nope"), None);
        assert_eq!(r.status, 401, "{m} {p}");
    }
    let events = audit_events(&d, "?since=1h&limit=10000");
    let writes = events
        .iter()
        .filter(|e| e["action"] == "secret.write" && e["outcome"] == "ok")
        .count();
    assert_eq!(writes, 30, "every authenticated event is still there");
    let unauthenticated = events
        .iter()
        .filter(|e| e["outcome"] == "unauthorized")
        .count();
    assert!(
        (1..=10).contains(&unauthenticated),
        "unauthenticated events kept within their quota: {unauthenticated}"
    );
}

// ---------------------------------------------------------------------------
// Item 5: throttling stops guessing without locking others out.

#[test]
fn other_users_failed_logins_do_not_refuse_a_correct_login() {
    let dir = tmp();
    let (d, _) = server_with_alice(&dir);
    for i in 0..20 {
        let r = d.login(&format!("guess{i}"), "wrong-password");
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text());
    }
    // Same address (every client behind a local proxy is 127.0.0.1).
    d.login(ADMIN_USER, ADMIN_PASSWORD)
        .ok("admin after 20 other failures");
    d.login("alice", ALICE_PASSWORD)
        .ok("alice after 20 other failures");
    // One user's own failures from this address throttle that user here…
    for _ in 0..5 {
        d.login("alice", "wrong-password")
            .expect_error(401, "invalid_credentials", "alice fails");
    }
    d.login("alice", ALICE_PASSWORD)
        .expect_error(429, "rate_limited", "alice is throttled");
    // …and nobody else.
    d.login(ADMIN_USER, ADMIN_PASSWORD)
        .ok("admin while alice is throttled");
}

#[test]
fn bad_bearer_floods_are_throttled_per_peer_without_refusing_valid_tokens() {
    let dir = tmp();
    let (d, boot) = server(&dir);
    let one = request_bytes(
        "GET",
        "/auth/api-keys",
        &[(
            "Authorization",
            "Bearer rdb_k_ffffffffffffffffffffffffffffffff",
        )],
        None,
    );
    let statuses = pipelined(&d, 1000, &one);
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(throttled >= 800, "1,000 bad bearers: {throttled} throttled");
    let r = d.get(
        "/auth/api-keys",
        Some("rdb_k_ffffffffffffffffffffffffffffffff"),
    );
    r.expect_error(429, "rate_limited", "still throttled");
    assert!(r.header("Retry-After").is_some());
    // A valid token from the same peer is never refused.
    assert!(works(&d, &boot.api_key));
    assert!(works(&d, ADMIN_TOKEN));
    // Wire AUTH failures count against the same peer.
    let mut c = Client::connect(d.wire_port);
    let v = c.cmd(&["AUTH", "rdb_k_ffffffffffffffffffffffffffffffff"]);
    assert!(
        harness::wire::err_text(&v).contains("too many failed"),
        "{v:?}"
    );
    assert_eq!(c.cmd(&["AUTH", &boot.api_key]), ok());
}

// ---------------------------------------------------------------------------
// Item 7 (service half) and item 8 (names).

#[test]
fn a_login_username_is_validated_before_any_work() {
    let dir = tmp();
    let (d, _) = server(&dir);
    for bad in ["a".repeat(65), "with space".into(), "".into(), "é".into()] {
        d.login(&bad, "whatever-password").expect_error(
            400,
            "bad_request",
            &format!("username {bad:?}"),
        );
    }
    let mut c = Client::connect(d.wire_port);
    let long = "u".repeat(1000);
    assert_eq!(
        c.cmd(&["AUTH", &long, "whatever-password"]),
        harness::wire::err("WRONGPASS invalid username-password pair or user is disabled.")
    );
}

#[test]
fn reserved_usernames_are_refused() {
    let dir = tmp();
    let d = Daemon::start(&dir.path().join("data.rdb"), &Options::new());
    for name in ["anonymous", "admin-token", "Anonymous"] {
        d.post(
            "/auth/bootstrap",
            None,
            &json!({"username": name, "password": "long-enough-password"}),
        )
        .expect_error(400, "bad_request", name);
    }
    let boot = d.bootstrap();
    for name in ["anonymous", "admin-token"] {
        d.post(
            "/auth/users",
            Some(&boot.api_key),
            &json!({"username": name, "password": "long-enough-password"}),
        )
        .expect_error(400, "bad_request", name);
    }
}

/// The packaged unit's own command line (read from `systemd/reddb.service`,
/// not restated here) must refuse anonymous config reads (config reads need
/// a bearer token).
#[test]
fn the_packaged_unit_refuses_anonymous_config_reads() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/reddb.service"
    ))
    .expect("read systemd/reddb.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart= line");
    let words: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(&words[..2], &["/usr/bin/red", "server"], "{exec}");
    // Everything but the database path (the test's own).
    let mut args = Vec::new();
    let mut rest = words[2..].iter();
    while let Some(w) = rest.next() {
        if *w == "--path" {
            rest.next();
        } else {
            args.push(*w);
        }
    }
    let dir = tmp();
    let (mut d, boot) = server(&dir);
    d.post_value("/config/red.config.feature", &boot.api_key, "on")
        .ok("write config");
    d.get("/config/red.config.feature", None)
        .ok("a plain server without --require-auth serves anonymous config reads");
    d.stop();
    let mut opts = Options::new().certificate(&boot.certificate);
    for a in &args {
        opts = opts.arg(a);
    }
    let d = Daemon::start(&d.db.clone(), &opts);
    d.get("/config/red.config.feature", None).expect_error(
        401,
        "unauthorized",
        &format!("anonymous config read under the unit's flags {args:?}"),
    );
    let j = d
        .get("/config/red.config.feature", Some(&boot.api_key))
        .ok("with a bearer");
    assert_eq!(j["value"], "on", "{j}");
}

#[test]
fn one_address_cannot_fill_the_password_queue() {
    let dir = tmp();
    let (d, _) = server(&dir);
    let port = d.http_port;
    // Eight wrong logins at once from one address: at most four may be
    // queued or running; the rest are told to retry, without Argon2 work.
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                Conn::open(port).call(
                    "POST",
                    "/auth/login",
                    None,
                    Some(&json!({"username": format!("burst{i}"), "password": "wrong-password"})),
                )
            })
        })
        .collect();
    let replies: Vec<Resp> = threads
        .into_iter()
        .map(|t| t.join().expect("a login thread"))
        .collect();
    let busy = replies.iter().filter(|r| r.status == 503).count();
    let checked = replies.iter().filter(|r| r.status == 401).count();
    assert!(
        busy >= 1 && checked >= 1 && busy + checked == 8,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status == 503) {
        assert_eq!(r.error_code(), "busy");
        assert_eq!(r.header("Retry-After"), Some("1"));
    }
    // Once they are answered, a correct login from the same address works.
    d.login(ADMIN_USER, ADMIN_PASSWORD).ok("after the burst");
}
