//! Checked-in fixtures (`tests/fixtures/`), a sample of every kind of data
//! a database holds ([`write_sample`], [`check_sample`]), and the one edit
//! of a database file the tests make the way an attacker would: a meta page
//! changed and its unkeyed digest recomputed, so the copy is not merely
//! torn.

use super::daemon::Daemon;
use super::wire::{bulk, int, ok, Value};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

/// The deny-everyone policy recipe of `docs/OPERATIONS.md` ("Policies and
/// the audit log"), byte for byte.
pub const DENY_RECIPE: &str = include_str!("../fixtures/seed_policy_deny.json");

/// The "one keeper may read" policy recipe of `docs/OPERATIONS.md`
/// ("Policies and the audit log"), byte for byte.
pub const KEEPER_RECIPE: &str = include_str!("../fixtures/seed_policy_keeper.json");

/// The page size of the files the tests make.
pub const PAGE: usize = super::store_model::PAGE_SIZE as usize;

/// Recomputes the unkeyed digest of meta copy `copy` (0 or 1) of `bytes`.
pub fn fix_meta_digest(bytes: &mut [u8], copy: usize) {
    let page = &bytes[copy * PAGE..(copy + 1) * PAGE];
    let n = u16::from_be_bytes([page[96], page[97]]) as usize;
    let mut h = Sha256::new();
    h.update(b"reddb-meta-digest-v1");
    h.update((copy as u64).to_be_bytes());
    h.update(&page[..64]);
    h.update(&page[96..98 + n]);
    let d = h.finalize();
    bytes[copy * PAGE + 64..copy * PAGE + 96].copy_from_slice(&d);
}

/// The values [`write_sample`] writes (none may appear in a log, an audit
/// answer or a backup file).
pub const SAMPLE_SECRET_V1: &str = "sk-openai-version-one-VALUE-1111";
pub const SAMPLE_SECRET_V2: &str = "sk-openai-version-two-VALUE-2222";
pub const SAMPLE_DELETED: &str = "deleted-secret-VALUE-4444";
pub const SAMPLE_ALICE_PASSWORD: &str = "alice-password-VALUE-5555";

/// Writes one of everything through `d` as `admin`, over the wire and
/// HTTP: keyspace entries of each type (one with a TTL), a secret with two
/// versions, a deleted secret, a config entry and a user `alice`.
pub fn write_sample(d: &Daemon, admin: &str) {
    let mut c = d.client_authed(&[admin]);
    assert_eq!(c.cmd(&["SET", "plain", "value-1"]), ok());
    assert_eq!(c.cmd(&["SET", "ttl", "soon", "EX", "3600"]), ok());
    assert_eq!(c.cmd(&["HSET", "h", "f1", "v1", "f2", "v2"]), int(2));
    assert_eq!(c.cmd(&["SADD", "s", "a", "b", "c"]), int(3));
    let put = |path: &str, value: Json| {
        d.post(path, Some(admin), &json!({ "value": value }))
            .ok(&format!("POST {path}"));
    };
    put("/secrets/red.secret.ai.openai.key", json!(SAMPLE_SECRET_V1));
    put(
        "/secrets/red.secret.ai.openai.key/rotate",
        json!(SAMPLE_SECRET_V2),
    );
    put("/secrets/red.secret.old.thing", json!(SAMPLE_DELETED));
    d.delete("/secrets/red.secret.old.thing", Some(admin))
        .ok("delete a secret");
    put(
        "/config/red.config.feature.flags",
        json!({"beta": true, "limit": 7}),
    );
    d.post(
        "/auth/users",
        Some(admin),
        &json!({"username": "alice", "password": SAMPLE_ALICE_PASSWORD, "role": "user"}),
    )
    .ok("create alice");
}

/// A new API key for `alice`.
pub fn alice_key(d: &Daemon, admin: &str) -> String {
    let j = d
        .post("/auth/api-keys", Some(admin), &json!({"owner": "alice"}))
        .ok("alice key");
    j["api_key"].as_str().expect("api_key").to_string()
}

/// Reads back through `d` everything [`write_sample`] wrote; alice logs in
/// with her password, and her session token is returned.
pub fn check_sample(d: &Daemon, admin: &str, context: &str) -> String {
    let mut c = d.client_authed(&[admin]);
    assert_eq!(c.cmd(&["GET", "plain"]), bulk("value-1"), "{context}");
    match c.cmd(&["TTL", "ttl"]) {
        Value::Integer(t) => assert!((3000..=3600).contains(&t), "{context}: ttl {t}"),
        other => panic!("{context}: TTL answered {other:?}"),
    }
    assert_eq!(c.cmd(&["HGET", "h", "f2"]), bulk("v2"), "{context}");
    assert_eq!(c.cmd(&["SCARD", "s"]), int(3), "{context}");
    let j = d
        .get("/secrets/red.secret.ai.openai.key", Some(admin))
        .ok(context);
    assert_eq!(j["value"], SAMPLE_SECRET_V2, "{context}");
    assert_eq!(j["version"], 2, "{context}");
    let j = d
        .get("/secrets/red.secret.ai.openai.key?version=1", Some(admin))
        .ok(context);
    assert_eq!(j["value"], SAMPLE_SECRET_V1, "{context}");
    // Deleted stays deleted.
    d.get("/secrets/red.secret.old.thing", Some(admin))
        .expect_error(404, "not_found", context);
    let j = d
        .get("/config/red.config.feature.flags", Some(admin))
        .ok(context);
    assert_eq!(j["value"], json!({"beta": true, "limit": 7}), "{context}");
    let r = d.login("alice", SAMPLE_ALICE_PASSWORD);
    assert_eq!(r.status, 200, "{context}: alice logs in: {}", r.text());
    r.json()["token"].as_str().expect("token").to_string()
}
