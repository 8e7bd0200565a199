//! The audit log over HTTP against the real `red server`
//! (`docs/SECURITY.md`, "Policies and the audit log"): auth events
//! (bootstrap, login ok/fail, logout, API key create/delete, user
//! create/password/delete), secret reads and writes,
//! policy changes and every denied request (403, and 401 on authenticated
//! endpoints) leave an event with principal, action, resource, outcome and
//! peer; `GET /admin/audit` answers newest first with working `since`,
//! `action`, `principal` and `limit` filters, for admins and the admin
//! token only; events survive a restart; and no secret value, password or
//! token used by the test appears in the audit output or the server log.

mod harness;

use harness::daemon::{fresh_bootstrapped, Daemon, Options, ADMIN_PASSWORD};
use harness::secrets::contains;
use harness::tmp;
use serde_json::{json, Value as Json};
use std::time::Duration;

const ADMIN_TOKEN: &str = "audit-test-admin-token-5d2c8e0f1a";

fn events(d: &Daemon, query: &str, bearer: &str) -> (Vec<Json>, Vec<u8>) {
    let r = d.get(&format!("/admin/audit{query}"), Some(bearer));
    let j = r.ok(&format!("audit {query}"));
    let ev = j["events"].as_array().expect("events").clone();
    (ev, r.body)
}

/// The first event (newest first) matching all of `want`'s fields.
fn find<'a>(ev: &'a [Json], want: &Json) -> Option<&'a Json> {
    let want = want.as_object().expect("object");
    ev.iter()
        .find(|e| want.iter().all(|(k, v)| e.get(k) == Some(v)))
}

fn must_find(ev: &[Json], want: Json) -> &Json {
    find(ev, &want).unwrap_or_else(|| {
        panic!(
            "no event {want}; events:\n{}",
            ev.iter()
                .map(Json::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

#[test]
fn events_are_recorded_filtered_and_leak_nothing() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new().admin_token(ADMIN_TOKEN));
    let k = boot.api_key.as_str();
    let secret_value = "audit-secret-value-8e41b7";
    let rotated_value = "audit-rotated-value-33c0";
    let bob_password = "bob-password-first-1";
    let bob_password2 = "bob-password-second-2";
    let wrong_password = "wrong-password-9xq";
    let bogus_key = "rdb_k_0123456789abcdef0123456789abcdef";

    d.post_value("/secrets/red.secret.app.db", k, secret_value)
        .ok("put");
    d.get("/secrets/red.secret.app.db", Some(k)).ok("read");
    d.post_value("/secrets/red.secret.app.db/rotate", k, rotated_value)
        .ok("rotate");
    d.post(
        "/auth/users",
        Some(k),
        &json!({"username": "bob", "password": bob_password}),
    )
    .ok("create bob");
    let login = d.login("bob", bob_password).ok("bob logs in");
    let session = login["token"].as_str().expect("token").to_string();
    d.login("bob", wrong_password)
        .expect_error(401, "invalid_credentials", "bad login");
    let minted = d.mint_api_key(&session, &json!({"label": "ci"}), "bob mints a key");
    let (bob_key, bob_key_id) = (minted.token, minted.id);
    // Denied: default deny, admin-only endpoints, no or bad credentials.
    d.get("/secrets/red.secret.app.db", Some(&bob_key))
        .expect_error(403, "forbidden", "bob reads");
    d.post_value("/secrets/red.secret.app.other", &bob_key, secret_value)
        .expect_error(403, "forbidden", "bob writes");
    d.get("/auth/users", Some(&bob_key))
        .expect_error(403, "forbidden", "bob lists users");
    d.get("/admin/audit?since=24h", Some(&bob_key))
        .expect_error(403, "forbidden", "bob reads the audit log");
    d.get("/secrets/red.secret.app.db", Some(bogus_key))
        .expect_error(401, "unauthorized", "bogus key");
    d.get("/secrets/red.secret.app.db", None)
        .expect_error(401, "unauthorized", "no key");
    // Policy changes.
    d.call(
        "PUT",
        "/policies/p1",
        Some(k),
        Some(
            &json!({"statements": [{"effect": "allow", "actions": ["vault:read"],
            "resources": ["vault:red.vault/red.secret.app.*"]}]}),
        ),
    )
    .ok("put policy");
    d.attach_policy(k, "p1", &json!({"user": "bob"}))
        .ok("attach");
    d.get("/secrets/red.secret.app.db", Some(&bob_key))
        .ok("bob reads with the policy");
    d.post("/auth/logout", Some(&session), &json!({}))
        .ok("logout");
    let second = d.login("bob", bob_password).ok("bob logs in again");
    let second = second["token"].as_str().expect("token").to_string();
    let changed = d
        .set_password(
            &second,
            "bob",
            &json!({"password": bob_password2, "current_password": bob_password}),
        )
        .ok("bob changes his password");
    assert_eq!(changed["sessions_revoked"], 1, "{changed}");
    d.delete(&format!("/auth/api-keys/{bob_key_id}"), Some(k))
        .ok("delete key");
    d.delete("/secrets/red.secret.app.db", Some(k)).ok("delete");
    d.post("/secrets/red.secret.app.db/purge", Some(k), &json!({}))
        .ok("purge");
    d.delete("/policies/p1", Some(k)).ok("delete policy");
    d.delete("/auth/users/bob", Some(k)).ok("delete bob");

    let (ev, body) = events(&d, "?since=24h", k);
    // Newest first.
    let times: Vec<u64> = ev
        .iter()
        .map(|e| e["time_ms"].as_u64().unwrap_or(0))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "not newest first");
    for e in &ev {
        let keys: Vec<&String> = e.as_object().expect("object").keys().collect();
        for f in [
            "time_ms",
            "principal",
            "action",
            "resource",
            "outcome",
            "peer",
        ] {
            assert!(e.get(f).is_some(), "event without {f}: {e}");
        }
        assert!(keys.len() <= 8, "unexpected fields: {e}");
        if let Some(u) = e.get("unauthenticated") {
            assert_eq!(u, true, "the class flag is written only when set: {e}");
        }
    }
    let sk = "vault:red.vault/red.secret.app.db";
    for want in [
        json!({"action": "auth.bootstrap", "principal": "admin", "outcome": "ok"}),
        json!({"action": "secret.write", "principal": "admin", "resource": sk, "outcome": "ok"}),
        json!({"action": "secret.read", "principal": "admin", "resource": sk, "outcome": "ok", "peer": "127.0.0.1"}),
        json!({"action": "secret.rotate", "principal": "admin", "resource": sk, "outcome": "ok"}),
        json!({"action": "user.create", "principal": "admin", "resource": "user:bob", "outcome": "ok"}),
        json!({"action": "auth.login", "principal": "bob", "outcome": "ok"}),
        json!({"action": "auth.login", "principal": "bob", "outcome": "unauthorized", "code": "invalid_credentials"}),
        json!({"action": "apikey.create", "principal": "bob", "outcome": "ok"}),
        json!({"action": "secret.read", "principal": "bob", "resource": sk, "outcome": "denied"}),
        json!({"action": "secret.write", "principal": "bob", "resource": "vault:red.vault/red.secret.app.other", "outcome": "denied"}),
        json!({"action": "user.list", "principal": "bob", "outcome": "denied"}),
        json!({"action": "audit.read", "principal": "bob", "outcome": "denied"}),
        json!({"action": "secret.read", "principal": "anonymous", "resource": sk, "outcome": "unauthorized"}),
        json!({"action": "policy.put", "principal": "admin", "resource": "policy:p1", "outcome": "ok"}),
        json!({"action": "policy.attach", "principal": "admin", "resource": "policy:p1", "outcome": "ok"}),
        json!({"action": "secret.read", "principal": "bob", "resource": sk, "outcome": "ok"}),
        json!({"action": "user.password", "principal": "bob", "resource": "user:bob", "outcome": "ok"}),
        json!({"action": "auth.logout", "principal": "bob", "outcome": "ok"}),
        json!({"action": "apikey.delete", "principal": "admin", "resource": format!("apikey:{bob_key_id}"), "outcome": "ok"}),
        json!({"action": "secret.delete", "principal": "admin", "resource": sk, "outcome": "ok"}),
        json!({"action": "secret.purge", "principal": "admin", "resource": sk, "outcome": "ok"}),
        json!({"action": "policy.delete", "principal": "admin", "outcome": "ok"}),
        json!({"action": "user.delete", "principal": "admin", "resource": "user:bob", "outcome": "ok"}),
    ] {
        must_find(&ev, want);
    }
    let unauth = ev
        .iter()
        .filter(|e| e["outcome"] == "unauthorized" && e["action"] == "secret.read")
        .count();
    // The bogus key and the missing one: the same action from the same
    // peer within one fold window, so the first is recorded and the second
    // is counted into the window's summary.
    assert_eq!(unauth, 1, "the first 401 is recorded, the second folded");
    assert!(ev
        .iter()
        .filter(|e| e["outcome"] == "unauthorized")
        .all(|e| e["unauthenticated"] == true));

    // Filters.
    let (reads, _) = events(&d, "?since=90m&action=secret.read", k);
    assert!(reads.len() >= 4 && reads.iter().all(|e| e["action"] == "secret.read"));
    let (secret_all, _) = events(&d, "?since=7d&action=secret.*", k);
    assert!(secret_all.iter().all(|e| e["action"]
        .as_str()
        .is_some_and(|a| a.starts_with("secret."))));
    assert!(secret_all.len() > reads.len());
    let (bobs, _) = events(&d, "?principal=bob", k);
    assert!(!bobs.is_empty() && bobs.iter().all(|e| e["principal"] == "bob"));
    let (denied, _) = events(&d, "?principal=bob&outcome=denied", k);
    assert_eq!(denied.len(), 4, "{denied:?}");
    let (one, _) = events(&d, "?limit=1", k);
    assert_eq!(one.len(), 1);
    assert!(
        one[0]["time_ms"].as_u64() >= ev[0]["time_ms"].as_u64(),
        "limit keeps the newest"
    );
    for bad in [
        "?since=24",
        "?since=abc",
        "?since=0h",
        "?limit=0",
        "?limit=x",
    ] {
        d.get(&format!("/admin/audit{bad}"), Some(k))
            .expect_error(400, "bad_request", bad);
    }
    // `since` cuts by time.
    std::thread::sleep(Duration::from_millis(1500));
    d.get("/secrets/red.secret.none", Some(k))
        .expect_error(404, "not_found", "late read");
    let (recent, _) = events(&d, "?since=1s", ADMIN_TOKEN);
    assert!(
        !recent.is_empty() && recent.len() <= 3,
        "since=1s returned {recent:?}"
    );
    must_find(
        &recent,
        json!({"action": "secret.read", "resource": "vault:red.vault/red.secret.none", "code": "not_found"}),
    );
    // The admin token may read the log, and reading is itself audited.
    let (all, token_body) = events(&d, "?since=24h&limit=10000", ADMIN_TOKEN);
    must_find(
        &all,
        json!({"action": "audit.read", "principal": "admin", "outcome": "ok"}),
    );

    // Nothing secret anywhere: the audit output and the server log.
    let stderr = d.stderr();
    for hay in [&body, &token_body, &stderr.clone().into_bytes()] {
        for needle in [
            secret_value,
            rotated_value,
            bob_password,
            bob_password2,
            wrong_password,
            ADMIN_PASSWORD,
            ADMIN_TOKEN,
            k,
            &k[6..],
            &bob_key,
            &bob_key[6..],
            &session,
            &session[6..],
            bogus_key,
            &boot.certificate,
        ] {
            assert!(
                !contains(hay, needle.as_bytes()),
                "{needle} appears in the audit output or the server log"
            );
        }
    }
}

#[test]
fn audit_survives_restart_and_needs_an_admin() {
    let dir = tmp();
    let db = dir.path().join("data.rdb");
    let (mut d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    let k = boot.api_key.clone();
    d.post(
        "/auth/users",
        Some(&k),
        &json!({"username": "eve", "password": "eve-password-1"}),
    )
    .ok("create eve");
    let eve = d.login("eve", "eve-password-1").ok("login")["token"]
        .as_str()
        .expect("token")
        .to_string();
    d.get("/secrets/red.secret.x", Some(&eve))
        .expect_error(403, "forbidden", "eve reads");
    let (before, _) = events(&d, "", &k);
    assert_eq!(d.stop(), 0);

    let mut d = Daemon::start(&db, &Options::new().certificate(&boot.certificate));
    d.get("/admin/audit", Some(&eve))
        .expect_error(403, "forbidden", "eve reads the log");
    d.get("/admin/audit", None)
        .expect_error(401, "unauthorized", "no credentials");
    let (after, _) = events(&d, "", &k);
    // Everything from before is still there, in the same order, under the
    // newer events (and keys keep sorting after a restart).
    assert!(after.len() >= before.len() + 3, "{after:?}");
    assert_eq!(&after[after.len() - before.len()..], &before[..]);
    must_find(
        &after,
        json!({"action": "audit.read", "principal": "eve", "outcome": "denied"}),
    );
    must_find(
        &after,
        json!({"action": "audit.read", "principal": "anonymous", "outcome": "unauthorized"}),
    );
    must_find(
        &after,
        json!({"action": "secret.read", "principal": "eve", "outcome": "denied"}),
    );
    assert_eq!(d.stop(), 0);
}

/// Wire authentication is audited like HTTP's: `AUTH <token>` that works
/// (`auth.token`, ok) or fails (unauthorized), and commands refused with
/// `NOAUTH` (`request` on `wire:<command>`); a flood of NOAUTH refusals from
/// one peer folds into one event plus one summary instead of one per command.
#[test]
fn wire_auth_and_noauth_are_audited() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new().admin_token(ADMIN_TOKEN));
    let mut c = d.client();
    let bogus = "rdb_k_00000000000000000000000000000000";
    assert!(matches!(
        c.cmd(&["AUTH", bogus]),
        harness::wire::Value::Error(_)
    ));
    for i in 0..200 {
        let v = c.cmd(&["GET", &format!("k{i}")]);
        assert_eq!(v, harness::wire::err("NOAUTH Authentication required."));
    }
    assert_eq!(c.cmd(&["AUTH", &boot.api_key]), harness::wire::ok());
    let (ev, body) = events(&d, "?since=1h&action=auth.token", ADMIN_TOKEN);
    must_find(
        &ev,
        json!({"action": "auth.token", "resource": "wire", "outcome": "unauthorized", "principal": "anonymous"}),
    );
    must_find(
        &ev,
        json!({"action": "auth.token", "resource": "wire", "outcome": "ok", "principal": "admin"}),
    );
    assert!(
        !contains(&body, bogus.as_bytes()) && !contains(&body, boot.api_key.as_bytes()),
        "a token in the audit output"
    );
    let (ev, _) = events(&d, "?since=1h&action=request", ADMIN_TOKEN);
    let noauth: Vec<&Json> = ev.iter().filter(|e| e["code"] == "noauth").collect();
    assert!(
        noauth
            .iter()
            .any(|e| e["resource"] == "wire:get" && e["outcome"] == "unauthorized"),
        "the first NOAUTH refusal is recorded: {ev:?}"
    );
    assert!(
        noauth.len() <= 2,
        "200 NOAUTH refusals folded, got {} events",
        noauth.len()
    );
}
