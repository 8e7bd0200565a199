//! Logical backup and restore against the real `red` binary (the procedures
//! of `docs/OPERATIONS.md`, "Certificate rotation, backup and recovery"):
//!
//! - the rotation procedure end to end: data written over HTTP and RESP,
//!   `POST /admin/backup`, a fresh `red bootstrap` with a NEW certificate,
//!   `POST /admin/restore`, and every user datum is there (keyspace with
//!   types and TTLs, config, secrets with their versions, users with their
//!   passwords, policies and attachments) while the old certificate opens
//!   nothing in the new file and the old API keys are gone;
//! - `skip_vault` (lost certificate) restores only keyspace and config;
//! - every refusal (wrong key, damaged file, unknown or malformed id, a
//!   database that already holds data, a non-admin, a deny policy) is a
//!   clear error that changes nothing, and each is audited;
//! - a backup honours `vault:unseal_history` per secret (latest version
//!   only where the backing-up caller lacks it);
//! - the offline `red backup` / `red restore` with their exit codes;
//! - no secret value and no backup key in the server log, the audit
//!   output or the backup file.

mod harness;

use harness::cli::{self, red};
use harness::daemon::{fresh_bootstrapped, Daemon, Options};
use harness::fixtures::{
    alice_key, check_sample, write_sample, KEEPER_RECIPE, SAMPLE_ALICE_PASSWORD, SAMPLE_DELETED,
    SAMPLE_SECRET_V1, SAMPLE_SECRET_V2,
};
use harness::wire::bulk;
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};

/// Every secret value this file writes: none may appear in a log, an
/// audit answer or a backup file.
const SECRET_VALUES: &[&str] = &[
    SAMPLE_SECRET_V1,
    SAMPLE_SECRET_V2,
    STRIPE,
    SAMPLE_DELETED,
    SAMPLE_ALICE_PASSWORD,
];

/// The one secret besides the sample's: one version, which alice's keeper
/// policy does not let her read.
const STRIPE: &str = "stripe-live-VALUE-3333";

/// `red bootstrap` into `db` (password from a file): (certificate, admin
/// API key).
fn cli_bootstrap(dir: &Path, db: &Path) -> (String, String) {
    let pw = dir.join("admin-password");
    std::fs::write(&pw, "new-admin-password-123\n").expect("password file");
    let o = cli::bootstrap_cmd(db, "admin")
        .arg("--password-file")
        .arg(&pw)
        .arg("--print-certificate")
        .run();
    assert_eq!(o.code, 0, "bootstrap: {}", o.describe(&[]));
    (o.line_value("certificate: "), o.line_value("api key: "))
}

/// A new database in a new temporary directory, bootstrapped by
/// [`cli_bootstrap`] (so with a new certificate), the backup `file` copied
/// next to it, served, and `POST /admin/restore` of `request` (snapshot
/// id, backup key, options) done: the directory, the server, its
/// certificate, its admin API key and the restore's answer.
fn restore_into_a_new_database(
    file: &Path,
    request: &Json,
) -> (tempfile::TempDir, Daemon, String, String, Json) {
    let new_dir = harness::tmp();
    let new_db = new_dir.path().join("data.rdb");
    let (new_cert, new_admin) = cli_bootstrap(new_dir.path(), &new_db);
    std::fs::copy(file, new_dir.path().join(file.file_name().expect("name")))
        .expect("copy the backup next to the new database");
    let new = Daemon::start(&new_db, &Options::new().certificate(&new_cert));
    let j = new
        .post("/admin/restore", Some(&new_admin), request)
        .ok("restore");
    (new_dir, new, new_cert, new_admin, j)
}

/// Fills a database with one of everything a backup carries: the sample,
/// a second secret, and a policy attached to alice; returns alice's API
/// key.
fn populate(d: &Daemon, admin: &str) -> String {
    write_sample(d, admin);
    d.post_value("/secrets/red.secret.stripe.api_key", admin, STRIPE)
        .ok("put the stripe key");
    d.put_raw("/policies/ai-openai-key-keeper", admin, KEEPER_RECIPE)
        .ok("put keeper");
    d.attach_policy(admin, "ai-openai-key-keeper", &json!({"user": "alice"}))
        .ok("attach keeper");
    alice_key(d, admin)
}

/// Everything [`populate`] wrote, checked on a (restored) server: the
/// keeper policy lets alice read the openai key and nothing else.
fn verify_all(d: &Daemon, admin: &str, context: &str) {
    let session = check_sample(d, admin, context);
    let j = d
        .get("/secrets/red.secret.stripe.api_key", Some(admin))
        .ok(context);
    assert_eq!(j["value"], STRIPE, "{context}");
    let j = d
        .get("/secrets/red.secret.ai.openai.key", Some(&session))
        .ok(context);
    assert_eq!(j["value"], SAMPLE_SECRET_V2, "{context}");
    d.get("/secrets/red.secret.stripe.api_key", Some(&session))
        .expect_error(403, "forbidden", context);
}

fn backup_over_http(d: &Daemon, bearer: &str) -> (String, String, PathBuf) {
    let j = d
        .post("/admin/backup", Some(bearer), &json!({}))
        .ok("backup");
    let id = j["snapshot_id"].as_str().expect("snapshot_id").to_string();
    let key = j["backup_key"].as_str().expect("backup_key").to_string();
    let path = PathBuf::from(j["path"].as_str().expect("path"));
    assert!(harness::secrets::is_lower_hex(&id, 32), "{j}");
    assert!(harness::secrets::is_lower_hex(&key, 64), "{j}");
    assert_eq!(
        path.file_name().and_then(|n| n.to_str()),
        Some(format!("reddb-backup-{id}.rdbk").as_str())
    );
    assert_eq!(j["counts"]["secrets"], 3, "{j}");
    assert_eq!(j["counts"]["users"], 2, "{j}");
    assert_eq!(j["counts"]["keyspace"], 4, "{j}");
    (id, key, path)
}

fn assert_no_secret_in(haystack: &[u8], extra: &[&str], what: &str) {
    let hay = String::from_utf8_lossy(haystack);
    for v in SECRET_VALUES.iter().chain(extra) {
        assert!(!hay.contains(v), "{what} contains a secret value or key");
    }
}

#[test]
fn rotation_procedure_end_to_end() {
    let old_dir = harness::tmp();
    let (mut old, boot) = fresh_bootstrapped(old_dir.path(), &Options::new());
    let alice_key = populate(&old, &boot.api_key);
    verify_all(&old, &boot.api_key, "the source, before the backup");
    // 1. Logical backup of the running primary.
    let (id, backup_key, file) = backup_over_http(&old, &boot.api_key);
    let meta = std::fs::metadata(&file).expect("backup file exists");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    let bytes = std::fs::read(&file).expect("read backup");
    assert_eq!(&bytes[..4], b"RDBK");
    assert_no_secret_in(
        &bytes,
        &[&backup_key, "value-1", "sk-openai"],
        "the backup file",
    );
    let audit = old
        .get(
            "/admin/audit?since=1h&action=admin.backup",
            Some(&boot.api_key),
        )
        .ok("audit");
    let events = audit["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["resource"] == format!("snapshot:{id}") && e["outcome"] == "ok"),
        "backup audited: {audit}"
    );
    assert_no_secret_in(audit.to_string().as_bytes(), &[&backup_key], "audit");
    assert_eq!(old.stop(), 0);
    assert_no_secret_in(
        old.stderr().as_bytes(),
        &[&backup_key, &boot.certificate],
        "the old server's log",
    );

    // 2. A fresh instance with a NEW certificate; 3. restore into it.
    let request = json!({"snapshot_id": id, "backup_key": backup_key});
    let (_new_dir, mut new, new_cert, new_admin, j) = restore_into_a_new_database(&file, &request);
    let new_db = new.db.clone();
    assert_ne!(new_cert, boot.certificate);
    assert_eq!(j["restored"]["secrets"], 3, "{j}");
    assert_eq!(j["restored"]["keyspace"], 4, "{j}");
    assert_eq!(j["restored"]["users"], 1, "alice restored: {j}");
    assert_eq!(j["kept_users"], json!(["admin"]), "{j}");
    assert_eq!(j["restored"]["policies"], 1, "{j}");
    // 4. Verify: the data is there.
    verify_all(&new, &new_admin, "after the restore");
    // The deleted secret came along as deleted: it can still be purged.
    new.post(
        "/secrets/red.secret.old.thing/purge",
        Some(&new_admin),
        &json!({}),
    )
    .ok("purge the restored deleted secret");
    // Old API keys were minted under the old vault: gone.
    new.get("/secrets", Some(&alice_key))
        .expect_error(401, "unauthorized", "alice's old key");
    new.get("/secrets", Some(&boot.api_key))
        .expect_error(401, "unauthorized", "the old admin key");
    // The old admin password does not replace the new one.
    assert_eq!(new.login("admin", "change-me-now").status, 401);
    let audit = new
        .get(
            "/admin/audit?since=1h&action=admin.restore",
            Some(&new_admin),
        )
        .ok("audit");
    assert!(
        audit["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["resource"] == format!("snapshot:{id}") && e["outcome"] == "ok"),
        "restore audited: {audit}"
    );
    // Survives a restart (the restore was one durable commit).
    assert_eq!(new.stop(), 0);
    assert_no_secret_in(
        new.stderr().as_bytes(),
        &[&backup_key, &new_cert],
        "the new server's log",
    );
    let mut new = Daemon::start(&new_db, &Options::new().certificate(&new_cert));
    verify_all(&new, &new_admin, "after a restart");
    assert_eq!(new.stop(), 0);

    // 5. The old certificate opens nothing in the new file.
    let db = new_db.to_str().expect("utf-8");
    let o = red(&["check", "--path", db])
        .envs(&[("REDDB_CERTIFICATE", &boot.certificate)])
        .run();
    let (out, err) = (&o.stdout, &o.stderr);
    assert_eq!(o.code, 10, "old cert on the new file: {out}{err}");
    assert!(err.contains("wrong certificate"), "{err}");
    let r = Daemon::try_start(&new_db, &Options::new().certificate(&boot.certificate));
    assert_eq!(
        r.err().map(|e| e.code),
        Some(10),
        "server with the old certificate"
    );
    // And the new file holds none of the values in clear.
    assert_no_secret_in(
        &std::fs::read(&new_db).expect("read"),
        &[],
        "the new database file",
    );
}

#[test]
fn skip_vault_restores_only_keyspace_and_config() {
    let old_dir = harness::tmp();
    let (mut old, boot) = fresh_bootstrapped(old_dir.path(), &Options::new());
    populate(&old, &boot.api_key);
    let (id, key, file) = backup_over_http(&old, &boot.api_key);
    assert_eq!(old.stop(), 0);
    let request = json!({"snapshot_id": id, "backup_key": key, "skip_vault": true});
    let (_new_dir, new, _, new_admin, j) = restore_into_a_new_database(&file, &request);
    assert_eq!(j["restored"]["keyspace"], 4, "{j}");
    assert_eq!(j["restored"]["config"], 1, "{j}");
    assert_eq!(j["restored"]["secrets"], 0, "{j}");
    assert_eq!(j["restored"]["users"], 0, "{j}");
    let mut c = new.client_authed(&[&new_admin]);
    assert_eq!(c.cmd(&["GET", "plain"]), bulk("value-1"));
    new.get("/config/red.config.feature.flags", Some(&new_admin))
        .ok("config");
    new.get("/secrets/red.secret.stripe.api_key", Some(&new_admin))
        .expect_error(404, "not_found", "no secrets with skip_vault");
    assert_eq!(new.login("alice", SAMPLE_ALICE_PASSWORD).status, 401);
}

/// Every refusal is clear, audited, and changes nothing.
#[test]
fn refusals_change_nothing() {
    let dir = harness::tmp();
    let token = "backup-test-admin-token-0123456789";
    let (mut d, boot) = fresh_bootstrapped(dir.path(), &Options::new().admin_token(token));
    populate(&d, &boot.api_key);
    let (id, key, file) = backup_over_http(&d, token);
    let original = std::fs::read(&file).expect("read");
    let restore = |body: &Json| d.post("/admin/restore", Some(&boot.api_key), body);

    // Into a database that already holds data: 409, nothing changed.
    let r = restore(&json!({"snapshot_id": id, "backup_key": key}));
    r.expect_error(409, "restore_conflict", "restore over data");
    assert!(r.text().contains("nothing was changed"), "{}", r.text());
    verify_all(&d, &boot.api_key, "after a refused restore");
    // Wrong key.
    let wrong = "ab".repeat(32);
    let r = restore(&json!({"snapshot_id": id, "backup_key": wrong}));
    r.expect_error(400, "backup_refused", "wrong key");
    assert!(
        r.text().contains("backup key does not open"),
        "{}",
        r.text()
    );
    // Malformed inputs.
    for (body, code, what) in [
        (json!({"backup_key": key}), "bad_request", "no id"),
        (
            json!({"snapshot_id": "../data.rdb", "backup_key": key}),
            "bad_request",
            "path id",
        ),
        (
            json!({"snapshot_id": id.to_uppercase(), "backup_key": key}),
            "bad_request",
            "upper id",
        ),
        (json!({"snapshot_id": id}), "bad_request", "no key"),
        (
            json!({"snapshot_id": id, "backup_key": "xyz"}),
            "bad_request",
            "bad key",
        ),
        (
            json!({"snapshot_id": id, "backup_key": key, "skip_vault": "yes"}),
            "bad_request",
            "bad flag",
        ),
        (
            json!({"snapshot_id": id, "backup_key": key, "extra": 1}),
            "bad_request",
            "unknown field",
        ),
    ] {
        let r = restore(&body);
        r.expect_error(400, code, what);
        assert!(!r.text().contains(&key[..16]), "{what}: the key is echoed");
    }
    restore(&json!({"snapshot_id": "0".repeat(32), "backup_key": key})).expect_error(
        404,
        "not_found",
        "unknown id",
    );
    // A damaged file (one byte of the ciphertext) is refused.
    let mut bad = original.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&file, &bad).expect("tamper");
    restore(&json!({"snapshot_id": id, "backup_key": key})).expect_error(
        400,
        "backup_refused",
        "tampered",
    );
    std::fs::write(&file, &original[..original.len() - 5]).expect("truncate");
    restore(&json!({"snapshot_id": id, "backup_key": key})).expect_error(
        400,
        "backup_refused",
        "truncated",
    );
    // A non-admin may neither back up nor restore.
    let user_key = {
        d.post(
            "/auth/users",
            Some(&boot.api_key),
            &json!({"username": "bob", "password": "bob-password-123"}),
        )
        .ok("bob");
        d.mint_api_key(&boot.api_key, &json!({"owner": "bob"}), "bob key")
            .token
    };
    d.post("/admin/backup", Some(&user_key), &json!({}))
        .expect_error(403, "forbidden", "user backup");
    d.post(
        "/admin/restore",
        Some(&user_key),
        &json!({"snapshot_id": id, "backup_key": key}),
    )
    .expect_error(403, "forbidden", "user restore");
    d.post("/admin/backup", None, &json!({}))
        .expect_error(401, "unauthorized", "anonymous backup");
    // A deny policy on some secret refuses the backup (it would reveal them).
    d.put_raw("/policies/lock-stripe",
        &boot.api_key,
        r#"{"id":"lock-stripe","statements":[{"sid":"x","effect":"deny","actions":["vault:read"],"resources":["vault:red.vault/red.secret.stripe.*"]}]}"#,
    )
    .ok("deny policy");
    d.attach_policy(&boot.api_key, "lock-stripe", &json!({"group": "everyone"}))
        .ok("attach");
    let files_before = std::fs::read_dir(dir.path()).expect("ls").count();
    let r = d.post("/admin/backup", Some(token), &json!({}));
    r.expect_error(403, "forbidden", "backup under a deny");
    assert!(
        r.text().contains("red.secret.stripe.api_key"),
        "{}",
        r.text()
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("ls").count(),
        files_before,
        "no file written"
    );
    // With the operator's own key, the key is not echoed back.
    d.delete("/policies/lock-stripe", Some(&boot.api_key))
        .ok("drop deny");
    let own = "cd".repeat(32);
    let j = d
        .post("/admin/backup", Some(token), &json!({"backup_key": own}))
        .ok("backup with own key");
    assert!(j.get("backup_key").is_none(), "{j}");
    // Every refusal above is in the audit log.
    let audit = d
        .get("/admin/audit?since=1h&action=admin.restore", Some(token))
        .ok("audit");
    let n_denied = audit["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["outcome"] != "ok")
        .count();
    assert!(n_denied >= 12, "refused restores audited: {audit}");
    assert_no_secret_in(audit.to_string().as_bytes(), &[&key, &own], "audit");
    assert_eq!(d.stop(), 0);
    assert_no_secret_in(d.stderr().as_bytes(), &[&key, &own], "the server log");
}

#[test]
fn offline_backup_and_restore() {
    let old_dir = harness::tmp();
    let (mut old, boot) = fresh_bootstrapped(old_dir.path(), &Options::new());
    populate(&old, &boot.api_key);
    let old_db = old_dir.path().join("data.rdb");
    let old_db_s = old_db.to_str().expect("utf-8").to_string();
    let cert_env = [("REDDB_CERTIFICATE", boot.certificate.as_str())];
    // A running server holds the lock: offline backup refuses (exit 14).
    let o = red(&["backup", "--path", &old_db_s]).envs(&cert_env).run();
    assert_eq!(o.code, 14, "{:?}", (&o.stdout, &o.stderr));
    assert_eq!(old.stop(), 0);
    // Without a certificate: exit 13.
    let o = red(&["backup", "--path", &old_db_s]).run();
    assert_eq!(o.code, 13, "{:?}", (&o.stdout, &o.stderr));
    let before = std::fs::read(&old_db).expect("read");
    let out_path = old_dir.path().join("offline.rdbk");
    let backup_to_out = || {
        let out = out_path.to_str().expect("utf-8");
        red(&["backup", "--path", &old_db_s, "--out", out])
            .envs(&cert_env)
            .run()
    };
    let o = backup_to_out();
    let (out, err) = (&o.stdout, &o.stderr);
    assert_eq!(o.code, 0, "{out}{err}");
    assert!(
        std::fs::read(&old_db).expect("read") == before,
        "backup writes nothing to the database"
    );
    let key = o.line_value("backup key: ");
    assert!(out.contains("secrets 3"), "{out}");
    assert_no_secret_in(out.as_bytes(), &[], "red backup's output");
    // Never overwrites.
    let o = backup_to_out();
    assert_eq!(o.code, 20, "{:?}", (&o.stdout, &o.stderr));

    let new_dir = harness::tmp();
    let new_db = new_dir.path().join("data.rdb");
    let new_db_s = new_db.to_str().expect("utf-8").to_string();
    let (new_cert, new_admin) = cli_bootstrap(new_dir.path(), &new_db);
    let key_file = new_dir.path().join("backup-key");
    std::fs::write(&key_file, format!("{key}\n")).expect("key file");
    let key_file_s = key_file.to_str().expect("utf-8").to_string();
    let from = out_path.to_str().expect("utf-8");
    let new_env = [
        ("REDDB_CERTIFICATE", new_cert.as_str()),
        ("REDDB_BACKUP_KEY_FILE", key_file_s.as_str()),
    ];
    let restore = |env: &[(&str, &str)]| {
        red(&["restore", "--path", &new_db_s, "--from", from])
            .envs(env)
            .run()
    };
    // Wrong backup key: exit 25, file unchanged.
    let fresh = std::fs::read(&new_db).expect("read");
    let wrong = "ef".repeat(32);
    let o = restore(&[
        ("REDDB_CERTIFICATE", &new_cert),
        ("REDDB_BACKUP_KEY", &wrong),
    ]);
    let (out, err) = (&o.stdout, &o.stderr);
    assert_eq!(o.code, 25, "{out}{err}");
    assert!(err.contains("backup key does not open"), "{err}");
    assert!(!err.contains(&wrong[..16]), "the key is echoed");
    assert!(
        std::fs::read(&new_db).expect("read") == fresh,
        "nothing written"
    );
    // No key at all: usage (2).
    let o = restore(&[("REDDB_CERTIFICATE", &new_cert)]);
    assert_eq!(o.code, 2, "{:?}", (&o.stdout, &o.stderr));
    // The old certificate on the new file: 10.
    let o = restore(&[
        ("REDDB_CERTIFICATE", &boot.certificate),
        ("REDDB_BACKUP_KEY_FILE", &key_file_s),
    ]);
    assert_eq!(o.code, 10, "{:?}", (&o.stdout, &o.stderr));
    // The real restore.
    let o = restore(&new_env);
    let (out, err) = (&o.stdout, &o.stderr);
    assert_eq!(o.code, 0, "{out}{err}");
    assert!(
        out.contains("secrets 3") && out.contains("kept existing users: admin"),
        "{out}"
    );
    // Twice: conflict (26), nothing changed.
    let after = std::fs::read(&new_db).expect("read");
    let o = restore(&new_env);
    let (out, err) = (&o.stdout, &o.stderr);
    assert_eq!(o.code, 26, "{out}{err}");
    assert!(err.contains("already holds"), "{err}");
    assert!(
        std::fs::read(&new_db).expect("read") == after,
        "nothing written"
    );
    // The server sees everything.
    let d = Daemon::start(&new_db, &Options::new().certificate(&new_cert));
    verify_all(&d, &new_admin, "after the offline restore");
}

/// Issue 13 item 8: a backup reveals every version it carries to whoever
/// holds its key, so `POST /admin/backup` honours `vault:unseal_history`
/// per secret, exactly as `GET /secrets/{key}?version=N` does: a backing-up
/// admin denied it on `red.secret.x*` gets a backup holding only the latest
/// version of those secrets (deleted ones included) and every version of
/// the others, and the answer says how many were cut to the latest.
#[test]
fn backup_without_unseal_history_carries_only_the_latest_versions() {
    let old_dir = harness::tmp();
    let (mut old, boot) = fresh_bootstrapped(old_dir.path(), &Options::new());
    let admin = boot.api_key.as_str();
    let put = |k: &str, v: &str| {
        old.post_value(&format!("/secrets/{k}"), admin, v)
            .ok(&format!("put {k}"));
    };
    // Three versions of red.secret.xa, two of red.secret.xb and of the
    // deleted red.secret.xdel; two of red.secret.other and of
    // red.secret.x.deep (`x*` is one segment: it does not cover x.deep).
    for (key, n) in [
        ("red.secret.xa", 3),
        ("red.secret.xb", 2),
        ("red.secret.xdel", 2),
        ("red.secret.other", 2),
        ("red.secret.x.deep", 2),
    ] {
        for v in 1..=n {
            put(key, &format!("{key}-history-v{v}"));
        }
    }
    old.delete("/secrets/red.secret.xdel", Some(admin))
        .ok("delete xdel");

    // A second admin, "ops", denied vault:unseal_history on red.secret.x*.
    old.create_user(admin, "ops", "ops-password-1234", "admin")
        .ok("create ops");
    let ops = old
        .mint_api_key(admin, &json!({"owner": "ops"}), "ops key")
        .token;
    old.put_raw(
        "/policies/no-x-history",
        admin,
        r#"{"id":"no-x-history","statements":[{"sid":"h","effect":"deny","actions":["vault:unseal_history"],"resources":["vault:red.vault/red.secret.x*"]}]}"#,
    )
    .ok("deny policy");
    old.attach_policy(admin, "no-x-history", &json!({"user": "ops"}))
        .ok("attach to ops");
    // The read path refuses ops the history (the rule the backup follows).
    old.get("/secrets/red.secret.xa?version=1", Some(&ops))
        .expect_error(403, "forbidden", "ops reads old xa");
    old.get("/secrets/red.secret.other?version=1", Some(&ops))
        .ok("ops reads old other");

    let j = old
        .post("/admin/backup", Some(&ops), &json!({}))
        .ok("backup by ops");
    assert_eq!(j["counts"]["secrets"], 5, "{j}");
    assert_eq!(j["secrets_latest_only"], 3, "xa, xb, xdel: {j}");
    let id = j["snapshot_id"].as_str().expect("id").to_string();
    let key = j["backup_key"].as_str().expect("key").to_string();
    let file = PathBuf::from(j["path"].as_str().expect("path"));
    assert_eq!(old.stop(), 0);
    assert!(
        !old.stderr().contains("history-v"),
        "the server log shows a value"
    );

    // Restore into a fresh database.
    let request = json!({"snapshot_id": id, "backup_key": key});
    let (_new_dir, new, _, new_admin, j) = restore_into_a_new_database(&file, &request);
    assert_eq!(j["restored"]["secrets"], 5, "{j}");
    let read = |k: &str, version: Option<u32>| {
        let path = match version {
            Some(v) => format!("/secrets/{k}?version={v}"),
            None => format!("/secrets/{k}"),
        };
        new.get(&path, Some(&new_admin))
    };
    // Cut to the latest version.
    for (k, latest) in [("red.secret.xa", 3), ("red.secret.xb", 2)] {
        let j = read(k, None).ok(k);
        assert_eq!(j["value"], format!("{k}-history-v{latest}"), "{j}");
        assert_eq!(j["version"], latest, "{j}");
        read(k, Some(latest)).ok(k);
        for v in 1..latest {
            read(k, Some(v)).expect_error(404, "not_found", &format!("{k} v{v}"));
        }
    }
    // Every version of the others.
    for k in ["red.secret.other", "red.secret.x.deep"] {
        for v in 1..=2u32 {
            let j = read(k, Some(v)).ok(&format!("{k} v{v}"));
            assert_eq!(j["value"], format!("{k}-history-v{v}"), "{j}");
        }
    }
    // The listing agrees: one version kept of xa.
    let list = new
        .get("/secrets?prefix=red.secret.", Some(&new_admin))
        .ok("list");
    let xa = list["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .find(|s| s["key"] == "red.secret.xa")
        .cloned()
        .expect("xa listed");
    assert_eq!(xa["versions"], 1, "{xa}");
    assert_eq!(xa["latest_version"], 3, "{xa}");
    // The deleted one came along deleted, with its latest version only:
    // purging it is all that can be done, and it works.
    read("red.secret.xdel", None).expect_error(404, "not_found", "xdel");
    new.post(
        "/secrets/red.secret.xdel/purge",
        Some(&new_admin),
        &json!({}),
    )
    .ok("purge xdel");
}
