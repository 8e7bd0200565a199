//! Proves the HTTP API contract against the real `red server` binary on a
//! loopback port: the curl examples of `README.md` and `docs/OPERATIONS.md`
//! (bootstrap over HTTP, secret set/read/delete) work as written with real
//! `curl`; a second bootstrap is refused; state written over HTTP survives a
//! SIGTERM/restart with the certificate while a wrong certificate exits 10
//! and leaves the file byte-identical; login/logout sessions, failed-login
//! errors and the per-user rate limit; user and API-key management with
//! default deny for non-admins and tokens shown once; secret versions,
//! rotate, purge-after-delete, metadata-only listing and the reserved
//! `red.secret.aes_key`; config reads with and without `--require-auth`; and
//! keep-alive with pipelined requests answered in order, including one
//! parked on the Argon2 worker pool.

mod harness;

use harness::cli::program;
use harness::daemon::{fresh_bootstrapped, Boot, Daemon, Options, ADMIN_PASSWORD, ADMIN_USER};
use harness::http::{field_of_each, Conn, Resp};
use harness::secrets::{contains, is_lower_hex};
use harness::tmp;
use serde_json::json;
use std::time::Duration;

/// Runs `curl -sS --max-time 30 -w '\n%{http_code}' ARGS`; `None` when curl
/// is not installed.
fn curl(args: &[&str]) -> Option<(u16, String)> {
    let out = match program("curl", &["-sS", "--max-time", "30", "-w", "\n%{http_code}"])
        .args(args)
        .try_run()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot run curl: {e}"),
    };
    assert!(out.success(), "curl {args:?} failed: {}", out.stderr);
    let text = out.stdout;
    let (body, code) = text.rsplit_once('\n').expect("curl -w line");
    Some((code.trim().parse().expect("status code"), body.to_string()))
}

/// The same request as a curl example, over the raw client (used only when
/// curl is missing).
fn raw(
    d: &Daemon,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let auth = bearer.map(|b| format!("Bearer {b}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let r = d
        .conn()
        .try_request(method, path, &headers, body.map(str::as_bytes))
        .expect("request");
    (r.status, r.text())
}

fn parse(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn documented_curl_examples_work_as_written() {
    let dir = tmp();
    let d = Daemon::start(&dir.path().join("data.rdb"), &Options::new());
    let h = d.get("/health", None).json();
    assert_eq!(
        h,
        json!({"status": "ok", "sealed": true, "bootstrapped": false})
    );
    // Before bootstrap nothing but /health and /auth/bootstrap works.
    let r = d.get(
        "/secrets/red.secret.stripe.api_key",
        Some("rdb_k_00000000000000000000000000000000"),
    );
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.error_code(), "not_bootstrapped");
    let r = d.login(ADMIN_USER, ADMIN_PASSWORD);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.error_code(), "not_bootstrapped");
    let base = format!("http://127.0.0.1:{}", d.http_port);
    let have_curl = program("curl", &["--version"])
        .try_run()
        .is_ok_and(|o| o.success());
    if !have_curl {
        eprintln!(
            "curl is not on PATH: sending the documented examples with the raw client instead"
        );
    }

    // Bootstrap over HTTP (`docs/OPERATIONS.md`), verbatim but for the port.
    let bootstrap_body = r#"{"username": "admin", "password": "change-me-now"}"#;
    let url = format!("{base}/auth/bootstrap");
    let send_bootstrap = || -> (u16, String) {
        if have_curl {
            curl(&[
                "-X",
                "POST",
                &url,
                "-H",
                "content-type: application/json",
                "-d",
                bootstrap_body,
            ])
            .expect("curl")
        } else {
            raw(&d, "POST", "/auth/bootstrap", None, Some(bootstrap_body))
        }
    };
    let (status, body) = send_bootstrap();
    assert_eq!(status, 200, "{body}");
    let j = parse(&body);
    let boot = Boot::from_json(&j);
    let keys: Vec<&String> = j.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["api_key", "certificate", "ok", "user"], "{j}");
    assert_eq!(j["user"], json!({"username": "admin", "role": "admin"}));
    let h = d.get("/health", None).json();
    assert_eq!(
        h,
        json!({"status": "ok", "sealed": false, "bootstrapped": true})
    );

    // `README.md`'s secret examples: set, read back, delete, read again.
    let key_url = format!("{base}/secrets/red.secret.stripe.api_key");
    let auth = format!("Authorization: Bearer {}", boot.api_key);
    let set_body = r#"{"value": "sk_live_..."}"#;
    let run = |method: &str, body: Option<&str>| -> (u16, String) {
        if have_curl {
            let mut args: Vec<&str> = Vec::new();
            if method != "GET" {
                args.extend(["-X", method]);
            }
            args.extend([key_url.as_str(), "-H", auth.as_str()]);
            if let Some(b) = body {
                args.extend(["-H", "content-type: application/json", "-d", b]);
            }
            curl(&args).expect("curl")
        } else {
            raw(
                &d,
                method,
                "/secrets/red.secret.stripe.api_key",
                Some(&boot.api_key),
                body,
            )
        }
    };
    let (status, body) = run("POST", Some(set_body));
    assert_eq!(status, 200, "{body}");
    let j = parse(&body);
    assert_eq!(j["ok"], true);
    assert_eq!(j["version"], 1);

    let (status, body) = run("GET", None);
    assert_eq!(status, 200, "{body}");
    let j = parse(&body);
    assert_eq!(j["value"], "sk_live_...");
    assert_eq!(j["key"], "red.secret.stripe.api_key");

    let (status, body) = run("DELETE", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(parse(&body)["ok"], true);

    let (status, body) = run("GET", None);
    assert_eq!(status, 404, "{body}");
    let j = parse(&body);
    assert_eq!(j["ok"], false);
    assert_eq!(j["error"]["code"], "not_found");
    assert!(j["error"]["message"].is_string());

    // After bootstrap the endpoint refuses to run again.
    let (status, body) = send_bootstrap();
    assert_eq!(status, 409, "{body}");
    assert_eq!(parse(&body)["error"]["code"], "already_bootstrapped");
    assert!(!body.contains(&boot.certificate));
}

#[test]
fn second_bootstrap_is_refused_with_409() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    for body in [
        json!({"username": "admin", "password": "change-me-now"}),
        json!({"username": "mallory", "password": "another-password"}),
    ] {
        let r = d.post("/auth/bootstrap", None, &body);
        r.expect_error(409, "already_bootstrapped", "second bootstrap");
        assert!(!r.text().contains(&boot.certificate));
    }
    // The original admin is untouched and no second user appeared.
    let users = d.get("/auth/users", Some(&boot.api_key)).ok("list users");
    assert_eq!(users["users"].as_array().expect("users").len(), 1);
    let r = d.login("mallory", "another-password");
    r.expect_error(401, "invalid_credentials", "mallory");
    assert_eq!(d.get("/auth/bootstrap", None).status, 405);
}

#[test]
fn state_survives_restart_and_a_wrong_certificate_changes_nothing() {
    let dir = tmp();
    let db = dir.path().join("data.rdb");
    let mut d = Daemon::start(&db, &Options::new());
    let boot = d.bootstrap();
    let k = boot.api_key.as_str();
    d.post_value("/secrets/red.secret.db.password", k, "v1-pass")
        .ok("put v1");
    d.post_value("/secrets/red.secret.db.password", k, "v2-pass")
        .ok("put v2");
    d.post_value("/secrets/red.secret.other", k, "other")
        .ok("put other");
    d.post(
        "/config/red.config.feature",
        Some(k),
        &json!({"value": {"on": true, "n": 3}}),
    )
    .ok("put config");
    d.create_user(k, "bob", "bob-password-1", "user")
        .ok("create bob");
    let k2 = d
        .mint_api_key(k, &json!({"label": "deploy"}), "mint key")
        .token;
    assert_eq!(d.stop(), 0, "SIGTERM exits 0; stderr:\n{}", d.stderr());
    drop(d);

    // Restart with the certificate (and --vault, which demands it).
    let mut d = Daemon::start(
        &db,
        &Options::new().arg("--vault").certificate(&boot.certificate),
    );
    assert_eq!(
        d.get("/health", None).json(),
        json!({"status": "ok", "sealed": false, "bootstrapped": true})
    );
    let j = d
        .get("/secrets/red.secret.db.password", Some(k))
        .ok("read after restart");
    assert_eq!(j["value"], "v2-pass");
    assert_eq!(j["version"], 2);
    let j = d
        .get("/secrets/red.secret.db.password?version=1", Some(&k2))
        .ok("old version with the minted key");
    assert_eq!(j["value"], "v1-pass");
    assert_eq!(
        d.get("/secrets/red.secret.other", Some(k)).ok("other")["value"],
        "other"
    );
    assert_eq!(
        d.get("/config/red.config.feature", None).ok("config")["value"],
        json!({"on": true, "n": 3})
    );
    let users = d.get("/auth/users", Some(k)).ok("users");
    let names = field_of_each(&users, "users", "username");
    assert_eq!(names, ["admin", "bob"]);
    let s = d
        .login("bob", "bob-password-1")
        .ok("bob logs in after restart");
    assert!(s["token"].as_str().expect("token").starts_with("rdb_s_"));
    d.login(ADMIN_USER, ADMIN_PASSWORD)
        .ok("admin logs in after restart");
    assert_eq!(d.stop(), 0);
    drop(d);

    // The same file without a certificate: sealed, nothing readable.
    let mut d = Daemon::start(&db, &Options::new());
    assert_eq!(
        d.get("/health", None).json(),
        json!({"status": "ok", "sealed": true, "bootstrapped": true})
    );
    let r = d.get("/secrets/red.secret.other", Some(k));
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.error_code(), "vault_sealed");
    assert_eq!(d.stop(), 0);
    drop(d);

    // A wrong certificate: exit 10, one line that does not quote it, file unchanged.
    let before = std::fs::read(&db).expect("read db");
    let wrong = if boot.certificate.starts_with('0') {
        format!("1{}", &boot.certificate[1..])
    } else {
        format!("0{}", &boot.certificate[1..])
    };
    for opts in [
        Options::new().certificate(&wrong),
        Options::new().arg("--vault").certificate(&wrong),
    ] {
        let e = match Daemon::try_start(&db, &opts) {
            Ok(_) => panic!("the server started with a wrong certificate"),
            Err(e) => e,
        };
        assert_eq!(
            e.code, 10,
            "wrong certificate exit code; stderr:\n{}",
            e.stderr
        );
        assert!(!e.stderr.contains(&wrong), "stderr quotes the certificate");
        assert!(!e.stderr.contains(&boot.certificate));
        assert_eq!(
            std::fs::read(&db).expect("read db"),
            before,
            "a wrong certificate changed the file"
        );
    }
}

#[test]
fn login_sessions_logout_and_rate_limit() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    let k = boot.api_key.as_str();
    d.post_value("/secrets/red.secret.s", k, "session-visible")
        .ok("put");

    let j = d.login(ADMIN_USER, ADMIN_PASSWORD).ok("login");
    let token = j["token"].as_str().expect("token").to_string();
    assert!(
        token.starts_with("rdb_s_") && is_lower_hex(&token[6..], 32),
        "{token}"
    );
    assert!(j["expires_at"].as_u64().expect("expires_at") > 0);
    assert_eq!(j["user"], json!({"username": "admin", "role": "admin"}));
    let r = d.get("/secrets/red.secret.s", Some(&token));
    assert_eq!(r.ok("read with session")["value"], "session-visible");

    // Logout with an API key is refused: it is not a session.
    d.post("/auth/logout", Some(k), &json!({})).expect_error(
        400,
        "bad_request",
        "logout with an api key",
    );
    d.post("/auth/logout", Some(&token), &json!({}))
        .ok("logout");
    let r = d.get("/secrets/red.secret.s", Some(&token));
    r.expect_error(401, "unauthorized", "revoked session");
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
    d.post("/auth/logout", Some(&token), &json!({}))
        .expect_error(401, "unauthorized", "second logout");

    // Unknown user and wrong password look the same.
    d.login("nobody", "whatever-password")
        .expect_error(401, "invalid_credentials", "unknown user");
    for i in 0..5 {
        d.login(ADMIN_USER, "wrong-password").expect_error(
            401,
            "invalid_credentials",
            &format!("wrong password #{i}"),
        );
    }
    let r = d.login(ADMIN_USER, "wrong-password");
    r.expect_error(429, "rate_limited", "sixth wrong password");
    assert!(r.header("Retry-After").is_some());
    // Even the right password is refused while the user is limited...
    d.login(ADMIN_USER, ADMIN_PASSWORD).expect_error(
        429,
        "rate_limited",
        "right password while limited",
    );
    // ...but other users and bearer tokens are not affected.
    assert_eq!(d.get("/secrets/red.secret.s", Some(k)).status, 200);
    d.create_user(k, "carol", "carol-password", "admin")
        .ok("create carol");
    d.login("carol", "carol-password")
        .ok("carol is not limited");
}

#[test]
fn users_and_api_keys() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    let k = boot.api_key.as_str();
    d.post_value("/secrets/red.secret.app.db", k, "admin-only")
        .ok("put");

    let j = d
        .create_user(k, "alice", "alice-password-1", "user")
        .ok("create alice");
    assert_eq!(j["user"]["username"], "alice");
    assert_eq!(j["user"]["role"], "user");
    d.post(
        "/auth/users",
        Some(k),
        &json!({"username": "alice", "password": "alice-password-1"}),
    )
    .expect_error(409, "conflict", "duplicate user");

    let alice = d.login("alice", "alice-password-1").ok("alice logs in");
    let at = alice["token"].as_str().expect("token").to_string();
    assert_eq!(alice["user"]["role"], "user");

    // Default deny: a plain user gets 403 on every secret operation.
    d.get("/secrets/red.secret.app.db", Some(&at)).expect_error(
        403,
        "forbidden",
        "user reads a secret",
    );
    d.post_value("/secrets/red.secret.app.db", &at, "x")
        .expect_error(403, "forbidden", "user writes a secret");
    d.delete("/secrets/red.secret.app.db", Some(&at))
        .expect_error(403, "forbidden", "user deletes a secret");
    d.get("/secrets?prefix=red.secret.", Some(&at))
        .expect_error(403, "forbidden", "user lists secrets");
    d.get("/auth/users", Some(&at))
        .expect_error(403, "forbidden", "user lists users");
    d.post(
        "/auth/users",
        Some(&at),
        &json!({"username": "eve", "password": "eve-password-1"}),
    )
    .expect_error(403, "forbidden", "user creates a user");
    d.set_password(&at, "admin", &json!({"password": "taken-over-1"}))
        .expect_error(403, "forbidden", "user changes admin's password");
    d.delete("/auth/users/admin", Some(&at))
        .expect_error(403, "forbidden", "user deletes admin");

    // Own password.
    d.set_password(
        &at,
        "alice",
        &json!({"password": "alice-password-2", "current_password": "alice-password-1"}),
    )
    .ok("alice changes her password");
    d.login("alice", "alice-password-1")
        .expect_error(401, "invalid_credentials", "old password");
    d.get("/auth/api-keys", Some(&at)).expect_error(
        401,
        "unauthorized",
        "the session ended with the change",
    );
    let at = d.login("alice", "alice-password-2").ok("new password")["token"]
        .as_str()
        .expect("token")
        .to_string();

    // Her own API key: shown once, listed without the token, owner-scoped.
    let own = d.mint_api_key(&at, &json!({"label": "alice laptop"}), "alice mints a key");
    let alice_key = own.token;
    assert_eq!(own.json["key"]["owner"], "alice");
    let listed = d.get("/auth/api-keys", Some(&at));
    let lj = listed.ok("alice lists keys");
    assert_eq!(lj["api_keys"].as_array().expect("keys").len(), 1);
    assert!(!contains(&listed.body, b"rdb_k_"));
    assert_eq!(
        d.get("/auth/api-keys", Some(&alice_key)).ok("key works")["api_keys"][0]["owner"],
        "alice"
    );

    // Admin: list users (no hashes), mint/list/revoke keys.
    let users = d.get("/auth/users", Some(k));
    let uj = users.ok("admin lists users");
    let names = field_of_each(&uj, "users", "username");
    assert_eq!(names, ["admin", "alice"]);
    assert!(!contains(&users.body, b"argon2"), "{}", users.text());
    assert!(!contains(&users.body, b"password"), "{}", users.text());

    let minted = d.mint_api_key(k, &json!({"label": "ci"}), "admin mints a key");
    let (ci, ci_id) = (minted.token, minted.id);
    assert!(
        ci.starts_with("rdb_k_") && is_lower_hex(&ci[6..], 32),
        "{ci}"
    );
    assert_eq!(d.get("/secrets/red.secret.app.db", Some(&ci)).status, 200);
    let listed = d.get("/auth/api-keys", Some(k));
    let lj = listed.ok("admin lists keys");
    let ids = field_of_each(&lj, "api_keys", "id");
    assert_eq!(ids.len(), 3, "bootstrap key, alice's, ci: {lj}");
    assert!(ids.contains(&ci_id));
    assert!(
        !contains(&listed.body, b"rdb_k_"),
        "listing shows a token: {}",
        listed.text()
    );
    for tok in [&ci, &alice_key, &boot.api_key] {
        assert!(!contains(&listed.body, &tok.as_bytes()[6..]));
    }
    d.delete(&format!("/auth/api-keys/{ci_id}"), Some(k))
        .ok("revoke ci");
    d.get("/secrets/red.secret.app.db", Some(&ci))
        .expect_error(401, "unauthorized", "revoked key");
    d.delete(&format!("/auth/api-keys/{ci_id}"), Some(k))
        .expect_error(404, "not_found", "revoke twice");

    // Deleting alice takes her sessions and keys with her.
    d.delete("/auth/users/alice", Some(k)).ok("delete alice");
    d.get("/auth/api-keys", Some(&at))
        .expect_error(401, "unauthorized", "deleted user's session");
    d.get("/auth/api-keys", Some(&alice_key)).expect_error(
        401,
        "unauthorized",
        "deleted user's key",
    );
    d.login("alice", "alice-password-2").expect_error(
        401,
        "invalid_credentials",
        "deleted user logs in",
    );
    d.delete("/auth/users/admin", Some(k))
        .expect_error(409, "conflict", "the last admin");
    let uj = d.get("/auth/users", Some(k)).ok("users");
    assert_eq!(uj["users"].as_array().expect("users").len(), 1);
}

#[test]
fn secrets_versions_rotate_purge_list_and_reserved_key() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    let k = Some(boot.api_key.as_str());
    let path = "/secrets/red.secret.app.token";

    assert_eq!(
        d.post(path, k, &json!({"value": "first-value"})).ok("v1")["version"],
        1
    );
    assert_eq!(
        d.post(path, k, &json!({"value": "second-value"})).ok("v2")["version"],
        2
    );
    let j = d.get(path, k).ok("latest");
    assert_eq!(
        (j["value"].as_str(), j["version"].as_u64()),
        (Some("second-value"), Some(2))
    );
    let j = d.get(&format!("{path}?version=1"), k).ok("v1");
    assert_eq!(
        (j["value"].as_str(), j["version"].as_u64()),
        (Some("first-value"), Some(1))
    );
    d.get(&format!("{path}?version=3"), k)
        .expect_error(404, "not_found", "missing version");

    // Rotate: a new version of an existing secret, 404 when missing.
    d.post(
        "/secrets/red.secret.app.missing/rotate",
        k,
        &json!({"value": "x"}),
    )
    .expect_error(404, "not_found", "rotate missing");
    assert_eq!(
        d.post(
            &format!("{path}/rotate"),
            k,
            &json!({"value": "third-value"})
        )
        .ok("rotate")["version"],
        3
    );
    assert_eq!(d.get(path, k).ok("after rotate")["value"], "third-value");

    // Listing: metadata only.
    d.post(
        "/secrets/red.secret.app.other",
        k,
        &json!({"value": "other-value"}),
    )
    .ok("other");
    d.post(
        "/secrets/red.secret.zzz.last",
        k,
        &json!({"value": "last-value"}),
    )
    .ok("last");
    let listed = d.get("/secrets?prefix=red.secret.", k);
    let lj = listed.ok("list");
    let entries = lj["secrets"].as_array().expect("secrets");
    let keys: Vec<&str> = entries
        .iter()
        .map(|e| e["key"].as_str().expect("key"))
        .collect();
    assert_eq!(
        keys,
        [
            "red.secret.app.other",
            "red.secret.app.token",
            "red.secret.zzz.last"
        ]
    );
    assert_eq!(entries[1]["versions"], 3);
    assert_eq!(entries[1]["latest_version"], 3);
    for v in [
        "first-value",
        "second-value",
        "third-value",
        "other-value",
        "last-value",
    ] {
        assert!(!contains(&listed.body, v.as_bytes()), "list shows {v}");
    }
    for e in entries {
        assert!(e.get("value").is_none(), "{e}");
    }
    assert!(!contains(&listed.body, b"aes_key"));
    let lj = d.get("/secrets?prefix=red.secret.app.", k).ok("prefix");
    assert_eq!(lj["secrets"].as_array().expect("secrets").len(), 2);

    // Purge only after delete.
    d.post(&format!("{path}/purge"), k, &json!({}))
        .expect_error(409, "conflict", "purge before delete");
    assert_eq!(d.get(path, k).ok("still there")["version"], 3);
    d.delete(path, k).ok("delete");
    d.get(path, k).expect_error(404, "not_found", "deleted");
    d.get(&format!("{path}?version=1"), k)
        .expect_error(404, "not_found", "deleted, old version");
    d.delete(path, k)
        .expect_error(404, "not_found", "delete twice");
    d.post(&format!("{path}/rotate"), k, &json!({"value": "x"}))
        .expect_error(404, "not_found", "rotate deleted");
    let lj = d.get("/secrets?prefix=red.secret.app.", k).ok("list");
    assert_eq!(lj["secrets"].as_array().expect("secrets").len(), 1);
    d.post(&format!("{path}/purge"), k, &json!({})).ok("purge");
    d.post(&format!("{path}/purge"), k, &json!({}))
        .expect_error(404, "not_found", "purge twice");
    assert_eq!(
        d.post(path, k, &json!({"value": "reborn"}))
            .ok("new after purge")["version"],
        1
    );

    // The reserved key is never readable or writable.
    d.get("/secrets/red.secret.aes_key", k)
        .expect_error(403, "forbidden", "read aes_key");
    d.post("/secrets/red.secret.aes_key", k, &json!({"value": "mine"}))
        .expect_error(403, "forbidden", "write aes_key");
    d.delete("/secrets/red.secret.aes_key", k)
        .expect_error(403, "forbidden", "delete aes_key");
}

#[test]
fn config_is_readable_without_auth_by_default() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    let k = Some(boot.api_key.as_str());
    d.post("/config/red.config.x", k, &json!({"value": "hello"}))
        .ok("put config");
    d.post("/config/red.config.x", None, &json!({"value": "anon"}))
        .expect_error(401, "unauthorized", "anonymous write");
    let j = d.get("/config/red.config.x", None).ok("anonymous read");
    assert_eq!(j["value"], "hello");
    assert_eq!(
        d.get("/config/red.config.x", k).ok("read")["value"],
        "hello"
    );
    d.post(
        "/config/red.config.x",
        k,
        &json!({"value": [1, 2, {"a": null}]}),
    )
    .ok("overwrite");
    assert_eq!(
        d.get("/config/red.config.x", None).ok("read")["value"],
        json!([1, 2, {"a": null}])
    );
    d.delete("/config/red.config.x", None)
        .expect_error(401, "unauthorized", "anonymous delete");
    d.delete("/config/red.config.x", k).ok("delete");
    d.get("/config/red.config.x", None)
        .expect_error(404, "not_found", "deleted config");
    d.delete("/config/red.config.x", k)
        .expect_error(404, "not_found", "delete twice");
}

#[test]
fn config_needs_auth_with_require_auth() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new().arg("--require-auth"));
    let k = Some(boot.api_key.as_str());
    d.post("/config/red.config.x", k, &json!({"value": 42}))
        .ok("put config");
    let r = d.get("/config/red.config.x", None);
    r.expect_error(401, "unauthorized", "anonymous read under --require-auth");
    assert!(!r.text().contains("42"));
    assert_eq!(d.get("/config/red.config.x", k).ok("read")["value"], 42);
}

fn read_n(c: &mut Conn, n: usize) -> Vec<Resp> {
    (0..n)
        .map(|i| {
            c.read_response()
                .unwrap_or_else(|e| panic!("pipelined response {i}: {e}"))
                .unwrap_or_else(|| panic!("connection closed before response {i}"))
        })
        .collect()
}

#[test]
fn keep_alive_and_pipelining_answer_in_order() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    let k = boot.api_key.as_str();
    for (name, value) in [("a", "value-a"), ("b", "value-b"), ("c", "value-c")] {
        d.post_value(&format!("/secrets/red.secret.{name}"), k, value)
            .ok("put");
    }
    let auth = format!("Bearer {k}");
    let get = |name: &str| {
        harness::http::request_bytes(
            "GET",
            &format!("/secrets/red.secret.{name}"),
            &[("Authorization", &auth)],
            None,
        )
    };

    let mut c = d.conn();
    let mut three = get("a");
    three.extend(get("b"));
    three.extend(get("c"));
    c.send(&three).expect("send three requests in one write");
    let rs = read_n(&mut c, 3);
    for (r, want) in rs.iter().zip(["value-a", "value-b", "value-c"]) {
        assert_eq!(r.ok("pipelined")["value"], want);
        assert_eq!(r.header("Connection"), Some("keep-alive"));
    }

    // A request parked on the Argon2 pool in the middle keeps its place.
    let login = harness::http::request_bytes(
        "POST",
        "/auth/login",
        &[],
        Some(format!(r#"{{"username":"{ADMIN_USER}","password":"{ADMIN_PASSWORD}"}}"#).as_bytes()),
    );
    let mut mixed = get("c");
    mixed.extend(login);
    mixed.extend(get("a"));
    mixed.extend(harness::http::request_bytes("GET", "/nope", &[], None));
    mixed.extend(harness::http::request_bytes("GET", "/health", &[], None));
    c.send(&mixed).expect("send mixed pipeline");
    let rs = read_n(&mut c, 5);
    assert_eq!(rs[0].ok("c")["value"], "value-c");
    assert!(rs[1].ok("login")["token"]
        .as_str()
        .expect("token")
        .starts_with("rdb_s_"));
    assert_eq!(rs[2].ok("a")["value"], "value-a");
    rs[3].expect_error(404, "not_found", "unknown path in a pipeline");
    assert_eq!(rs[4].json()["status"], "ok");

    // Still the same connection; `Connection: close` ends it after the reply.
    let r = c.call("GET", "/secrets/red.secret.b", Some(k), None);
    assert_eq!(r.ok("after pipelines")["value"], "value-b");
    c.send(&harness::http::request_bytes(
        "GET",
        "/health",
        &[("Connection", "close")],
        None,
    ))
    .expect("send");
    let r = c.read_response().expect("read").expect("response");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Connection"), Some("close"));
    c.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    assert!(
        c.is_closed_by_server(),
        "server keeps a closed connection open"
    );

    // HTTP/1.0 without keep-alive is answered and closed.
    let mut c = d.conn();
    c.send(b"GET /health HTTP/1.0\r\n\r\n").expect("send");
    let r = c.read_response().expect("read").expect("response");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Connection"), Some("close"));
}
