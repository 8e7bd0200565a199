//! The JSON of the API's answers: each typed service result rendered as
//! the body `docs/openapi.json` documents, field for field.
//!
//! Owns the response side of the API's JSON: field names (`created_at`
//! for the service's `created_at_ms`, `user` for a login's principal …),
//! which fields are left out when empty, and the `"ok"` flag. It must
//! never decide anything: every value comes from the result as the service
//! made it. (Error bodies are [`super::response::Response::error`]'s.)

use reddb_service::audit::AuditEvent;
use reddb_service::backup::Counts;
use reddb_service::policy::{Policy, Statement, Target};
use reddb_service::results::{
    Account, ApiKeyDeleted, ApiKeyList, ApiKeyMinted, ApiKeyView, AuditEvents, BackupMade,
    BootstrapOk, ConfigDeleted, ConfigRead, ConfigWritten, Finished, Health, LoggedOut, LoginOk,
    PasswordChanged, PolicyDeleted, PolicyList, PolicyRead, PolicyStored, PolicyView, RekeyDone,
    Restored, SecretDeleted, SecretList, SecretPurged, SecretRead, SecretSummary, SecretWritten,
    UnsealProgress, UserDeleted, UserList, UserStatusChanged, UserView,
};
use reddb_service::{ServiceError, ServiceResult};
use serde_json::{json, Map, Value as Json};

/// A result that is answered as one JSON body.
pub(crate) trait RenderJson {
    fn to_json(&self) -> Json;
}

macro_rules! render {
    ($($t:ty => |$v:ident| $body:expr;)*) => {
        $(impl RenderJson for $t {
            fn to_json(&self) -> Json {
                let $v = self;
                $body
            }
        })*
    };
}

fn account(a: &Account) -> Json {
    json!({"username": a.username, "role": a.role.as_str()})
}

fn user(u: &UserView) -> Json {
    json!({"username": u.username, "role": u.role.as_str(), "created_at": u.created_at_ms, "disabled": u.disabled})
}

fn api_key(k: &ApiKeyView) -> Json {
    json!({"id": k.id, "owner": k.owner, "label": k.label, "created_at": k.created_at_ms})
}

fn secret_summary(s: &SecretSummary) -> Json {
    json!({
        "key": s.key,
        "versions": s.versions,
        "latest_version": s.latest_version,
        "created_at": s.created_at_ms,
        "updated_at": s.updated_at_ms,
    })
}

fn counts(c: &Counts) -> Json {
    json!({
        "keyspace": c.keyspace,
        "config": c.config,
        "users": c.users,
        "policies": c.policies,
        "attachments": c.attachments,
        "secrets": c.secrets,
    })
}

fn statement(s: &Statement) -> Json {
    let mut m = Map::new();
    if let Some(sid) = &s.sid {
        m.insert("sid".into(), json!(sid));
    }
    m.insert("effect".into(), json!(s.effect.as_str()));
    m.insert("actions".into(), json!(s.actions));
    m.insert("resources".into(), json!(s.resources));
    Json::Object(m)
}

/// A policy document as stored: `{"id", "statements"}`.
pub fn policy_document(p: &Policy) -> Json {
    let statements: Vec<Json> = p.statements.iter().map(statement).collect();
    json!({"id": p.id, "statements": statements})
}

fn target(t: &Target) -> Json {
    match t {
        Target::User(u) => json!({"user": u}),
        Target::Group(g) => json!({"group": g}),
    }
}

fn policy_view(v: &PolicyView) -> Json {
    let mut doc = policy_document(&v.policy);
    let attached: Vec<Json> = v.attached.iter().map(target).collect();
    if let Some(m) = doc.as_object_mut() {
        m.insert("attached".into(), Json::Array(attached));
    }
    doc
}

fn audit_event(e: &AuditEvent) -> Json {
    let mut m = Map::new();
    m.insert("time_ms".into(), json!(e.time_ms));
    m.insert("principal".into(), json!(e.principal));
    m.insert("action".into(), json!(e.action));
    m.insert("resource".into(), json!(e.resource));
    m.insert("outcome".into(), json!(e.outcome));
    if let Some(code) = &e.code {
        m.insert("code".into(), json!(code));
    }
    m.insert("peer".into(), json!(e.peer));
    if e.unauthenticated {
        m.insert("unauthenticated".into(), json!(true));
    }
    Json::Object(m)
}

/// The error object of an answer that is not an error reply.
fn error_object(e: &ServiceError) -> Json {
    json!({"code": e.code, "message": e.message})
}

render! {
    Health => |h| {
        let mut out = json!({"status": "ok", "sealed": h.sealed, "bootstrapped": h.bootstrapped});
        if let (Some(u), Some(m)) = (h.unseal, out.as_object_mut()) {
            m.insert("unseal".into(), json!({"progress": u.have, "threshold": u.threshold}));
        }
        out
    };
    UnsealProgress => |p| match p {
        UnsealProgress::Sealed { have, threshold } => {
            json!({"ok": true, "sealed": true, "progress": have, "threshold": threshold})
        }
        UnsealProgress::Unsealed => json!({"ok": true, "sealed": false}),
    };
    BootstrapOk => |b| json!({
        "ok": true,
        "user": account(&b.user),
        "api_key": b.api_key.as_str(),
        "certificate": b.certificate.as_str(),
    });
    LoginOk => |l| json!({
        "ok": true,
        "token": l.token.as_str(),
        "expires_at": l.expires_at_ms,
        "user": account(&l.principal),
    });
    LoggedOut => |_l| json!({"ok": true});
    UserList => |l| {
        let users: Vec<Json> = l.0.iter().map(user).collect();
        json!({"ok": true, "users": users})
    };
    UserDeleted => |d| json!({"ok": true, "deleted": d.username, "sessions_revoked": d.sessions_revoked});
    UserStatusChanged => |c| json!({"ok": true, "user": user(&c.user), "sessions_revoked": c.sessions_revoked});
    PasswordChanged => |c| json!({"ok": true, "sessions_revoked": c.sessions_revoked});
    ApiKeyList => |l| {
        let keys: Vec<Json> = l.0.iter().map(api_key).collect();
        json!({"ok": true, "api_keys": keys})
    };
    ApiKeyMinted => |k| json!({"ok": true, "api_key": k.token.as_str(), "key": api_key(&k.key)});
    ApiKeyDeleted => |d| json!({"ok": true, "deleted": d.id});
    SecretWritten => |w| json!({"ok": true, "key": w.key, "version": w.version});
    SecretRead => |r| json!({
        "ok": true,
        "key": r.key,
        "value": r.value.as_str(),
        "version": r.version,
        "created_at": r.created_at_ms,
    });
    SecretDeleted => |d| json!({"ok": true, "key": d.key, "deleted": true});
    SecretPurged => |p| json!({"ok": true, "key": p.key, "purged": true});
    SecretList => |l| {
        let secrets: Vec<Json> = l.0.iter().map(secret_summary).collect();
        json!({"ok": true, "secrets": secrets})
    };
    ConfigWritten => |w| json!({"ok": true, "key": w.key});
    ConfigDeleted => |d| json!({"ok": true, "key": d.key, "deleted": true});
    PolicyStored => |s| json!({"ok": true, "created": s.created, "policy": policy_view(&s.policy)});
    PolicyRead => |r| json!({"ok": true, "policy": policy_view(&r.0)});
    PolicyList => |l| {
        let policies: Vec<Json> = l.0.iter().map(policy_view).collect();
        json!({"ok": true, "policies": policies})
    };
    PolicyDeleted => |d| json!({"ok": true, "deleted": d.id});
    AuditEvents => |e| {
        let events: Vec<Json> = e.0.iter().map(audit_event).collect();
        json!({"ok": true, "events": events})
    };
    BackupMade => |b| {
        let mut out = json!({
            "ok": true,
            "snapshot_id": hex::encode(b.snapshot_id),
            "file": b.file,
            "path": b.path.display().to_string(),
            "bytes": b.bytes,
            "created_at": b.created_at_ms,
            "counts": counts(&b.counts),
            "secrets_latest_only": b.secrets_latest_only,
        });
        if let (Some(key), Some(m)) = (&b.backup_key, out.as_object_mut()) {
            m.insert("backup_key".into(), json!(key.as_str()));
        }
        out
    };
    Restored => |r| json!({
        "ok": true,
        "snapshot_id": hex::encode(r.snapshot_id),
        "skip_vault": r.skip_vault,
        "backup_created_at": r.backup_created_at_ms,
        "restored": counts(&r.restored),
        "kept_users": r.kept_users,
    });
    RekeyDone => |r| match &r.incomplete {
        None => json!({"ok": true, "certificate": r.certificate.as_str()}),
        Some(e) => json!({
            "ok": false,
            "certificate": r.certificate.as_str(),
            "error": error_object(e),
        }),
    };
    Finished => |f| match f {
        Finished::Bootstrapped(b) => b.to_json(),
        Finished::LoggedIn(l) => l.to_json(),
        Finished::WireAuthenticated(p) => json!({"username": p.name, "role": p.role.as_str()}),
        Finished::UserCreated(u) => json!({"ok": true, "user": user(u)}),
        Finished::PasswordChanged(c) => c.to_json(),
        Finished::Rekeyed(r) => r.to_json(),
    };
}

/// `GET /config/{key}`: the stored value's JSON text, parsed back; a value
/// that is not JSON is a damaged store.
pub(crate) fn config_read(c: &ConfigRead) -> ServiceResult<Json> {
    let value: Json = serde_json::from_slice(&c.value.0)
        .map_err(|_| ServiceError::internal("stored config is not JSON"))?;
    Ok(json!({"ok": true, "key": c.key, "value": value}))
}
