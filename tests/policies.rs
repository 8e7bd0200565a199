//! Policies over HTTP against the real `red server`: both recipes of
//! `docs/OPERATIONS.md` ("Policies and the audit log") sent verbatim — the
//! deny recipe attached to `everyone`
//! blocks even the admin (API key and `RED_ADMIN_TOKEN`) on
//! `red.secret.ai.custom.*`, the keeper recipe attached to one user lets
//! exactly that user read `red.secret.ai.openai.*`; policy CRUD, attach and
//! detach; explicit deny beats allow; `?version=N` needs
//! `vault:unseal_history`; listings are filtered by `vault:read_metadata`;
//! `vault:purge` gates every destruction of old versions (a rotation past
//! the 32-version cap, a write to a deleted key), not only the purge;
//! a 403 names the action and resource and never a value.

mod harness;

use harness::daemon::{fresh_bootstrapped, Daemon, Options};
use harness::fixtures::{DENY_RECIPE, KEEPER_RECIPE};
use harness::http::{field_of_each, Resp};
use harness::secrets::contains;
use harness::tmp;
use serde_json::{json, Value as Json};

const ADMIN_TOKEN: &str = "policy-test-admin-token-0123456789";

fn put_json(d: &Daemon, path: &str, bearer: &str, body: &Json) -> Resp {
    d.call("PUT", path, Some(bearer), Some(body))
}

/// Creates a plain user and returns an API key of theirs.
fn user_with_key(d: &Daemon, admin: &str, name: &str, password: &str) -> String {
    d.create_user(admin, name, password, "user")
        .ok("create user");
    d.mint_api_key(admin, &json!({ "owner": name }), "mint key")
        .token
}

/// Asserts a 403 `forbidden` naming `action` and the resource of `key`,
/// and that the body holds none of `values`.
fn expect_denied(r: &Resp, action: &str, key: &str, values: &[&str], context: &str) {
    r.expect_error(403, "forbidden", context);
    let msg = r.error_message();
    assert!(
        msg.contains(action) && msg.contains(&format!("vault:red.vault/{key}")),
        "{context}: message does not name {action} on {key}: {msg}"
    );
    for v in values {
        assert!(!contains(&r.body, v.as_bytes()), "{context}: shows {v}");
    }
}

fn listed_keys(r: &Resp) -> Vec<String> {
    field_of_each(&r.ok("list"), "secrets", "key")
}

#[test]
fn deny_recipe_blocks_even_the_admin() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new().admin_token(ADMIN_TOKEN));
    let k = boot.api_key.as_str();
    let custom = "red.secret.ai.custom.model_key";
    let custom_value = "custom-value-7f3a9c";
    let other = "red.secret.ai.other.key";
    let other_value = "other-value-19bd2e";
    d.post_value(&format!("/secrets/{custom}"), k, custom_value)
        .ok("put custom");
    d.post_value(&format!("/secrets/{other}"), k, other_value)
        .ok("put other");
    // The bare prefix is not covered by `custom.*`.
    d.post_value("/secrets/red.secret.ai.custom", k, "bare")
        .ok("put bare");

    let j = d
        .put_raw("/policies/lock-ai-custom-secrets", k, DENY_RECIPE)
        .ok("put recipe");
    assert_eq!(j["created"], true);
    assert_eq!(j["policy"]["id"], "lock-ai-custom-secrets");
    d.attach_policy(k, "lock-ai-custom-secrets", &json!({"group": "everyone"}))
        .ok("attach to everyone");

    for (who, tok) in [("admin key", k), ("admin token", ADMIN_TOKEN)] {
        let r = d.get(&format!("/secrets/{custom}"), Some(tok));
        expect_denied(&r, "vault:read", custom, &[custom_value], who);
        let r = d.post_value(&format!("/secrets/{custom}"), tok, "overwrite");
        expect_denied(&r, "vault:write", custom, &[custom_value], who);
        let r = d.post_value(&format!("/secrets/{custom}/rotate"), tok, "rotated");
        expect_denied(&r, "vault:write", custom, &[custom_value], who);
        let r = d.delete(&format!("/secrets/{custom}"), Some(tok));
        expect_denied(&r, "vault:write", custom, &[custom_value], who);
        // A new key under the prefix cannot be created either.
        let r = d.post_value("/secrets/red.secret.ai.custom.new", tok, "x");
        expect_denied(&r, "vault:write", "red.secret.ai.custom.new", &[], who);
        // Listing hides the denied keys (vault:read_metadata).
        let keys = listed_keys(&d.get("/secrets?prefix=red.secret.ai.", Some(tok)));
        assert_eq!(
            keys,
            ["red.secret.ai.custom", other],
            "{who}: listing not filtered"
        );
        // Everything else still works.
        let j = d.get(&format!("/secrets/{other}"), Some(tok)).ok(who);
        assert_eq!(j["value"], other_value);
        d.get("/secrets/red.secret.ai.custom", Some(tok)).ok(who);
    }

    // Detach: the admin's default allow is back.
    d.detach_policy(k, "lock-ai-custom-secrets", &json!({"group": "everyone"}))
        .ok("detach");
    let j = d
        .get(&format!("/secrets/{custom}"), Some(k))
        .ok("after detach");
    assert_eq!(j["value"], custom_value);
    assert_eq!(j["version"], 1, "the denied writes changed nothing");
    assert!(!d.stderr().contains(custom_value));
}

#[test]
fn keeper_recipe_lets_exactly_one_user_read() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    let k = boot.api_key.as_str();
    let key = "red.secret.ai.openai.api_key";
    let value = "sk-openai-value-5c1e";
    d.post_value(&format!("/secrets/{key}"), k, value)
        .ok("put v1");
    d.post_value(&format!("/secrets/{key}/rotate"), k, "sk-openai-value-v2")
        .ok("rotate to v2");
    d.post_value("/secrets/red.secret.ai.anthropic.key", k, "anthropic-value")
        .ok("put other");
    let alice = user_with_key(&d, k, "alice", "alice-password-1");
    let bob = user_with_key(&d, k, "bob", "bob-password-1");
    let carol = user_with_key(&d, k, "carol", "carol-password-1");

    d.put_raw("/policies/ai-openai-key-keeper", k, KEEPER_RECIPE)
        .ok("put recipe");
    d.attach_policy(k, "ai-openai-key-keeper", &json!({"user": "alice"}))
        .ok("attach to alice");

    let j = d
        .get(&format!("/secrets/{key}"), Some(&alice))
        .ok("alice reads");
    assert_eq!(j["value"], "sk-openai-value-v2");
    for (who, tok) in [("bob", &bob), ("carol", &carol)] {
        let r = d.get(&format!("/secrets/{key}"), Some(tok));
        expect_denied(&r, "vault:read", key, &[value, "sk-openai-value-v2"], who);
        // 403 before 404: a missing key under the prefix leaks nothing.
        let r = d.get("/secrets/red.secret.ai.openai.missing", Some(tok));
        r.expect_error(403, "forbidden", who);
    }
    // Alice may read, nothing more.
    let r = d.get("/secrets/red.secret.ai.anthropic.key", Some(&alice));
    expect_denied(
        &r,
        "vault:read",
        "red.secret.ai.anthropic.key",
        &[],
        "alice other",
    );
    let r = d.post_value(&format!("/secrets/{key}"), &alice, "x");
    expect_denied(&r, "vault:write", key, &[], "alice writes");
    let r = d.delete(&format!("/secrets/{key}"), Some(&alice));
    expect_denied(&r, "vault:write", key, &[], "alice deletes");
    // Listing needs vault:read_metadata, which the keeper does not grant.
    d.get("/secrets?prefix=red.secret.", Some(&alice))
        .expect_error(403, "forbidden", "alice lists");
    // ?version=N needs vault:unseal_history as well.
    let r = d.get(&format!("/secrets/{key}?version=1"), Some(&alice));
    expect_denied(&r, "vault:unseal_history", key, &[value], "alice v1");
    let history = json!({
        "statements": [{
            "sid": "history",
            "effect": "allow",
            "actions": ["vault:unseal_history", "vault:read_metadata"],
            "resources": ["vault:red.vault/red.secret.ai.openai.*"]
        }]
    });
    put_json(&d, "/policies/openai-history", k, &history).ok("put history");
    d.attach_policy(k, "openai-history", &json!({"user": "alice"}))
        .ok("attach history");
    let j = d
        .get(&format!("/secrets/{key}?version=1"), Some(&alice))
        .ok("alice v1 with history");
    assert_eq!(j["value"], value);
    assert_eq!(
        listed_keys(&d.get("/secrets?prefix=red.secret.", Some(&alice))),
        [key],
        "alice's listing is filtered"
    );
    // unseal_history alone does not reveal the latest value.
    d.detach_policy(k, "ai-openai-key-keeper", &json!({"user": "alice"}))
        .ok("detach keeper");
    let r = d.get(&format!("/secrets/{key}?version=1"), Some(&alice));
    expect_denied(&r, "vault:read", key, &[value], "history without read");
    // The admin is allowed by default.
    d.get(&format!("/secrets/{key}?version=1"), Some(k))
        .ok("admin reads history");
}

#[test]
fn policy_crud_attach_and_explicit_deny() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    let k = boot.api_key.as_str();
    let alice = user_with_key(&d, k, "alice", "alice-password-1");
    for (name, v) in [
        ("red.secret.team.dev.db", "dev-db-value"),
        ("red.secret.team.prod.db", "prod-db-value"),
        ("red.secret.other.x", "other-x-value"),
    ] {
        d.post_value(&format!("/secrets/{name}"), k, v).ok("put");
    }
    let team = json!({
        "id": "team",
        "statements": [
            {"sid": "all-team", "effect": "allow", "actions": ["vault:*"],
             "resources": ["vault:red.vault/red.secret.team.*"]},
            {"sid": "not-prod", "effect": "deny", "actions": ["vault:read", "vault:read_metadata"],
             "resources": ["vault:red.vault/red.secret.*.prod.*"]}
        ]
    });
    // Only admins manage policies.
    put_json(&d, "/policies/team", &alice, &team).expect_error(403, "forbidden", "user puts");
    d.get("/policies", Some(&alice))
        .expect_error(403, "forbidden", "user lists");
    // Bad documents.
    for (body, what) in [
        (json!({"statements": []}), "no statements"),
        (
            json!({"id": "other", "statements": team["statements"]}),
            "id mismatch",
        ),
        (
            json!({"statements": [{"effect": "allow", "actions": ["vault:reed"],
                   "resources": ["vault:red.vault/*"]}]}),
            "unknown action",
        ),
        (
            json!({"statements": [{"effect": "allow", "actions": ["vault:read"],
                   "resource": ["vault:red.vault/*"]}]}),
            "typo'd field",
        ),
        (
            json!({"statements": [{"effect": "allow", "actions": ["vault:read"],
                   "resources": ["red.secret.*"]}]}),
            "resource without prefix",
        ),
    ] {
        put_json(&d, "/policies/team", k, &body).expect_error(400, "bad_request", what);
    }
    put_json(&d, "/policies/bad%20id", k, &team["statements"]).expect_error(
        400,
        "bad_request",
        "bad id",
    );
    d.get("/policies/team", Some(k))
        .expect_error(404, "not_found", "not yet");

    let j = put_json(&d, "/policies/team", k, &team).ok("put team");
    assert_eq!(j["created"], true);
    let j = put_json(&d, "/policies/team", k, &team).ok("replace team");
    assert_eq!(j["created"], false);
    d.attach_policy(k, "team", &json!({"user": "nobody"}))
        .expect_error(404, "not_found", "unknown user");
    d.attach_policy(k, "team", &json!({"group": "admins"}))
        .expect_error(400, "bad_request", "unknown group");
    d.attach_policy(k, "missing", &json!({"user": "alice"}))
        .expect_error(404, "not_found", "unknown policy");
    d.attach_policy(k, "team", &json!({"user": "alice"}))
        .ok("attach");
    let j = d.get("/policies/team", Some(k)).ok("get");
    assert_eq!(j["policy"]["attached"], json!([{"user": "alice"}]));
    assert_eq!(j["policy"]["statements"], team["statements"]);
    let j = d.get("/policies", Some(k)).ok("list");
    assert_eq!(j["policies"].as_array().map(Vec::len), Some(1));

    // Explicit deny beats the allow of the same policy.
    let j = d
        .get("/secrets/red.secret.team.dev.db", Some(&alice))
        .ok("dev");
    assert_eq!(j["value"], "dev-db-value");
    let r = d.get("/secrets/red.secret.team.prod.db", Some(&alice));
    expect_denied(
        &r,
        "vault:read",
        "red.secret.team.prod.db",
        &["prod-db-value"],
        "prod",
    );
    d.get("/secrets/red.secret.other.x", Some(&alice))
        .expect_error(403, "forbidden", "outside the allow");
    assert_eq!(
        listed_keys(&d.get("/secrets?prefix=red.secret.", Some(&alice))),
        ["red.secret.team.dev.db"],
        "alice's listing"
    );
    // vault:* includes write and purge on the allowed prefix.
    d.post_value(
        "/secrets/red.secret.team.dev.db/rotate",
        &alice,
        "dev-db-value-2",
    )
    .ok("rotate");
    d.delete("/secrets/red.secret.team.dev.db", Some(&alice))
        .ok("delete");
    d.post(
        "/secrets/red.secret.team.dev.db/purge",
        Some(&alice),
        &json!({}),
    )
    .ok("purge");

    // The same deny attached to everyone binds the admin too.
    d.attach_policy(k, "team", &json!({"group": "everyone"}))
        .ok("attach everyone");
    d.get("/secrets/red.secret.team.prod.db", Some(k))
        .expect_error(403, "forbidden", "admin prod");

    // Deleting the policy removes its attachments.
    d.delete("/policies/team", Some(k)).ok("delete");
    d.delete("/policies/team", Some(k))
        .expect_error(404, "not_found", "deleted twice");
    d.get("/secrets/red.secret.team.prod.db", Some(k))
        .ok("admin default allow again");
    d.get("/secrets/red.secret.team.prod.db", Some(&alice))
        .expect_error(403, "forbidden", "alice default deny again");
    put_json(&d, "/policies/team", k, &team).ok("recreate");
    d.get("/secrets/red.secret.team.prod.db", Some(k))
        .ok("recreated but not attached");
    let j = d.get("/policies/team", Some(k)).ok("get");
    assert_eq!(j["policy"]["attached"], json!([]));
}

#[test]
fn policies_survive_a_restart() {
    let dir = tmp();
    let db = dir.path().join("data.rdb");
    let (mut d, boot) = fresh_bootstrapped(dir.path(), &Options::new());
    let k = boot.api_key.clone();
    d.post_value("/secrets/red.secret.ai.custom.k", &k, "v")
        .ok("put");
    d.put_raw("/policies/lock-ai-custom-secrets", &k, DENY_RECIPE)
        .ok("put");
    d.attach_policy(&k, "lock-ai-custom-secrets", &json!({"group": "everyone"}))
        .ok("attach");
    assert_eq!(d.stop(), 0);
    let d = Daemon::start(&db, &Options::new().certificate(&boot.certificate));
    d.get("/secrets/red.secret.ai.custom.k", Some(&k))
        .expect_error(403, "forbidden", "after restart");
    let j = d
        .get("/policies/lock-ai-custom-secrets", Some(&k))
        .ok("get");
    assert_eq!(j["policy"]["attached"], json!([{"group": "everyone"}]));
}

/// What the store holds for `key`, read the one way that shows a deleted
/// secret's versions too: an admin backup (with a key of ours), opened with
/// the library. `None` when the backup holds no such secret; else
/// `(versions as (number, value), deleted)`.
fn stored_versions(d: &Daemon, admin: &str, key: &str) -> Option<(Vec<(u64, String)>, bool)> {
    use reddb::backup::{decode_payload, open, BackupKey};
    use reddb::store::record::{Mutation, Namespace, Value};
    let backup_key = "5a".repeat(32);
    let j = d
        .post(
            "/admin/backup",
            Some(admin),
            &json!({"backup_key": backup_key}),
        )
        .ok("inspection backup");
    let bytes = std::fs::read(j["path"].as_str().expect("path")).expect("read backup");
    let bk = BackupKey::parse_hex(&backup_key).expect("backup key");
    let (_, payload) = open(&bk, &bytes).expect("open backup");
    decode_payload(&payload)
        .expect("decode backup")
        .into_iter()
        .find_map(|m| match m {
            Mutation::Put {
                ns: Namespace::Secrets,
                key: k,
                value: Value::Bytes(v),
                ..
            } if k == key.as_bytes() => Some(v),
            _ => None,
        })
        .map(|v| {
            let rec: Json = serde_json::from_slice(&v).expect("portable secret");
            let versions = rec["versions"]
                .as_array()
                .expect("versions")
                .iter()
                .map(|x| {
                    (
                        x["version"].as_u64().expect("version"),
                        x["value"].as_str().expect("value").to_string(),
                    )
                })
                .collect();
            (versions, !rec["deleted_at_ms"].is_null())
        })
}

/// Issue 13 item 8: `vault:purge` gates every destruction of old versions.
/// A user with `vault:write` (and read and history rights) but not
/// `vault:purge` on `red.secret.p.*` is refused (403 naming `vault:purge`
/// and the resource, nothing changed) when a rotation or a write would push
/// version 1 out past the 32-version cap, and when a write to a deleted key
/// would replace the versions it still holds; every old version is still
/// there afterwards. A user with `vault:purge` does both; an explicit deny
/// of `vault:purge` stops even the admin token.
#[test]
fn destroying_old_versions_needs_vault_purge() {
    let dir = tmp();
    let (d, boot) = fresh_bootstrapped(dir.path(), &Options::new().admin_token(ADMIN_TOKEN));
    let k = boot.api_key.as_str();
    let writer = user_with_key(&d, k, "writer", "writer-password-1");
    let purger = user_with_key(&d, k, "purger", "purger-password-1");
    for (id, actions, user) in [
        (
            "p-writer",
            r#"["vault:read_metadata","vault:read","vault:unseal_history","vault:write"]"#,
            "writer",
        ),
        ("p-purger", r#"["vault:*"]"#, "purger"),
    ] {
        d.put_raw(
            &format!("/policies/{id}"),
            k,
            &format!(
                r#"{{"statements":[{{"effect":"allow","actions":{actions},"resources":["vault:red.vault/red.secret.p.*"]}}]}}"#
            ),
        )
        .ok(id);
        d.post(
            &format!("/policies/{id}/attach"),
            Some(k),
            &json!({"user": user}),
        )
        .ok("attach");
    }
    let value = |key: &str, v: u32| format!("{key}-value-v{v}");
    let read =
        |who: &str, key: &str, v: u32| d.get(&format!("/secrets/{key}?version={v}"), Some(who));

    // 1. The version cap: 32 versions are fine without purge...
    let cap = "red.secret.p.cap";
    for v in 1..=32u32 {
        let path = if v == 1 {
            format!("/secrets/{cap}")
        } else {
            format!("/secrets/{cap}/rotate")
        };
        let j = d
            .post_value(&path, &writer, &value(cap, v))
            .ok(&format!("write v{v}"));
        assert_eq!(j["version"], v);
    }
    // ...the 33rd would destroy version 1: refused, by rotate and by a plain
    // write alike.
    for path in [format!("/secrets/{cap}/rotate"), format!("/secrets/{cap}")] {
        let r = d.post_value(&path, &writer, "one-too-many");
        expect_denied(&r, "vault:purge", cap, &["one-too-many"], &path);
        let msg = r.error_message();
        assert!(
            msg.contains("32 versions") && msg.contains("version 1"),
            "{path}: the refusal does not say what would be destroyed: {msg}"
        );
    }
    for v in 1..=32u32 {
        let j = read(&writer, cap, v).ok(&format!("v{v} kept"));
        assert_eq!(j["value"], value(cap, v));
    }
    let j = d
        .get(&format!("/secrets/{cap}"), Some(&writer))
        .ok("latest");
    assert_eq!(j["version"], 32);
    // An explicit deny of vault:purge for everyone stops even the admin.
    d.put_raw(
        "/policies/no-purge",
        k,
        r#"{"statements":[{"sid":"np","effect":"deny","actions":["vault:purge"],"resources":["vault:red.vault/red.secret.p.cap"]}]}"#,
    )
    .ok("no-purge");
    d.attach_policy(k, "no-purge", &json!({"group": "everyone"}))
        .ok("attach no-purge");
    for tok in [k, ADMIN_TOKEN] {
        let r = d.post_value(&format!("/secrets/{cap}/rotate"), tok, "admin-too-many");
        expect_denied(&r, "vault:purge", cap, &["admin-too-many"], "admin");
    }
    d.delete("/policies/no-purge", Some(k)).ok("drop no-purge");
    read(&writer, cap, 1).ok("v1 still kept");
    // With purge: the rotation goes through and version 1 goes.
    let j = d
        .post_value(&format!("/secrets/{cap}/rotate"), &purger, &value(cap, 33))
        .ok("purger rotates past the cap");
    assert_eq!(j["version"], 33);
    read(&purger, cap, 1).expect_error(404, "not_found", "v1 destroyed");
    assert_eq!(read(&purger, cap, 2).ok("v2")["value"], value(cap, 2));

    // 2. A write to a deleted key would replace the versions it holds.
    let del = "red.secret.p.del";
    for v in 1..=2u32 {
        d.post_value(&format!("/secrets/{del}"), &writer, &value(del, v))
            .ok("write del");
    }
    d.delete(&format!("/secrets/{del}"), Some(&writer))
        .ok("writer deletes");
    let before = stored_versions(&d, k, del).expect("the deleted secret is stored");
    assert_eq!(
        before,
        (vec![(1, value(del, 1)), (2, value(del, 2))], true),
        "deleted, both versions kept"
    );
    let r = d.post_value(&format!("/secrets/{del}"), &writer, "resurrected");
    expect_denied(&r, "vault:purge", del, &["resurrected"], "write to deleted");
    let msg = r.error_message();
    assert!(
        msg.contains("deleted") && msg.contains("2 version"),
        "the refusal does not say what would be destroyed: {msg}"
    );
    // Nothing changed: still deleted, both versions still stored.
    d.get(&format!("/secrets/{del}"), Some(&writer))
        .expect_error(404, "not_found", "still deleted");
    assert_eq!(stored_versions(&d, k, del), Some(before));
    // Rotating a deleted key is a 404, as before (it destroys nothing).
    d.post_value(&format!("/secrets/{del}/rotate"), &writer, "x")
        .expect_error(404, "not_found", "rotate deleted");
    // With purge the write replaces it: a new secret from version 1.
    let j = d
        .post_value(&format!("/secrets/{del}"), &purger, "resurrected")
        .ok("purger writes the deleted key");
    assert_eq!(j["version"], 1);
    assert_eq!(
        stored_versions(&d, k, del),
        Some((vec![(1, "resurrected".to_string())], false))
    );
    // A fresh key and a key under the cap need no purge (nothing destroyed).
    d.post_value("/secrets/red.secret.p.fresh", &writer, "v")
        .ok("fresh key");
}
