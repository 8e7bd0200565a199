//! `GET /openapi.json`: the OpenAPI 3.1 document of the HTTP API, derived
//! from the route table ([`super::route_table`]) and never written by hand.
//!
//! Owns the JSON Schemas of the API's request and response bodies (the
//! names the table's rows use), the error body shape, and which statuses
//! every request can meet whatever its route. The schemas describe what
//! [`super::body`] accepts and [`super::render`] writes; `tests/openapi.rs`
//! keeps `docs/openapi.json` equal to what the server serves, and
//! `.ci/schemathesis.sh` checks the server against it. The document is
//! public and static: it holds no value, key name or state of the server.

use super::route_table::{placeholder, Auth, Body, Route, ROUTES};
use serde_json::{json, Map, Value as Json};

/// Statuses any request can meet before (or whatever) its route: a
/// request that does not parse (400), a body or head over the limits (413,
/// 431), a server that is stopping or busy (503).
const EVERY_REQUEST: &[u16] = &[400, 413, 431, 503];

/// The OpenAPI document.
pub fn document() -> Json {
    let mut paths = Map::new();
    for r in ROUTES {
        let entry = paths
            .entry(r.path.to_string())
            .or_insert_with(|| Json::Object(Map::new()));
        if let Some(m) = entry.as_object_mut() {
            m.insert(r.method.to_ascii_lowercase(), operation(r));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "reddb HTTP API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The HTTP/JSON API of the reddb daemon `red`, generated from its route table. Every error is answered as {\"ok\": false, \"error\": {\"code\", \"message\"}}. A path no route has is answered 404 (503 not_bootstrapped before bootstrap), a method its path does not take 405, a request that does not arrive in time 408 and a chunked body 501. Served at GET /openapi.json without credentials; kept in the repository as docs/openapi.json.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A session token (rdb_s_…), an API key (rdb_k_…) or the admin token (RED_ADMIN_TOKEN).",
                },
            },
            "schemas": schemas(),
            "responses": error_responses(),
        },
    })
}

/// `GET /secrets/{key}` → `get_secrets_key`.
fn operation_id(r: &Route) -> String {
    let mut id = r.method.to_ascii_lowercase();
    for seg in r.path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        let seg = placeholder(seg).unwrap_or(seg);
        id.extend(
            seg.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id
}

fn operation(r: &Route) -> Json {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(operation_id(r)));
    op.insert("summary".into(), json!(r.summary));
    op.insert("description".into(), json!(auth_text(r.auth)));
    op.insert(
        "tags".into(),
        json!([r.path.split('/').find(|s| !s.is_empty()).unwrap_or("")]),
    );
    let security = match r.auth {
        Auth::Bearer | Auth::Admin => json!([{"bearer": []}]),
        Auth::OptionalBearer | Auth::AdminOrLoopback => json!([{}, {"bearer": []}]),
        Auth::Open | Auth::BootstrapOnly | Auth::SealedOnly | Auth::Password => json!([]),
    };
    op.insert("security".into(), security);
    let mut params: Vec<Json> = r
        .params()
        .map(|name| {
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": param_text(name),
                "schema": param_schema(r, name),
            })
        })
        .collect();
    params.extend(r.query.iter().map(|(name, text)| {
        json!({
            "name": name,
            "in": "query",
            "required": false,
            "description": text,
            "schema": query_schema(name),
        })
    }));
    if !params.is_empty() {
        op.insert("parameters".into(), Json::Array(params));
    }
    if let Some(schema) = r.request {
        op.insert(
            "requestBody".into(),
            json!({
                "required": false,
                "description": "A JSON object; an empty body counts as {}.",
                "content": {"application/json": {"schema": schema_ref(schema)}},
            }),
        );
    }
    op.insert("responses".into(), responses(r));
    Json::Object(op)
}

/// A path parameter's schema: what the service accepts where it checks the
/// form (keys, policy ids), as one path segment (so never a `/`).
fn param_schema(r: &Route, name: &str) -> Json {
    use reddb_service::policy::MAX_ID_LEN;
    use reddb_service::secrets::{CONFIG_PREFIX, MAX_KEY_LEN, SECRET_PREFIX};
    let key = |prefix: &str| {
        json!({
            "type": "string",
            "pattern": format!(
                "^{}[A-Za-z0-9._:-]{{1,{}}}$",
                prefix.replace('.', "\\."),
                MAX_KEY_LEN - prefix.len()
            ),
        })
    };
    match (r.path.split('/').find(|s| !s.is_empty()), name) {
        (Some("secrets"), "key") => key(SECRET_PREFIX),
        (Some("config"), "key") => key(CONFIG_PREFIX),
        (Some("policies"), "id") => json!({
            "type": "string",
            "pattern": format!("^[A-Za-z0-9._-]{{1,{MAX_ID_LEN}}}$"),
        }),
        _ => json!({"type": "string", "minLength": 1}),
    }
}

/// A query parameter's schema.
fn query_schema(name: &str) -> Json {
    match name {
        "version" => json!({"type": "integer", "minimum": 1, "maximum": u32::MAX}),
        _ => json!({"type": "string"}),
    }
}

fn schema_ref(name: &str) -> Json {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn auth_text(a: Auth) -> &'static str {
    match a {
        Auth::Open => "No credentials; served whether or not the database is bootstrapped.",
        Auth::BootstrapOnly => "No credentials; only while the database is not bootstrapped, and only from a loopback peer.",
        Auth::SealedOnly => "No credentials; only while the vault is sealed.",
        Auth::Password => "No bearer: the username and password are the body. Failed logins are rate limited per user and per peer.",
        Auth::OptionalBearer => "A bearer (session, API key or admin token), or none for what is public.",
        Auth::Bearer => "A bearer: session, API key or admin token; policies decide what a non-admin may do.",
        Auth::Admin => "A bearer of an admin user, or the admin token.",
        Auth::AdminOrLoopback => "A bearer of an admin user or the admin token; none from a loopback peer under --metrics-loopback.",
    }
}

fn param_text(name: &str) -> &'static str {
    match name {
        "key" => "The key (secrets: red.secret.…, config: red.config.…)",
        "name" => "A username",
        "id" => "An id (an API key's, a policy's)",
        _ => "A path segment",
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad input: the request, its body, a field or a parameter",
        401 => "Missing or invalid credentials",
        403 => "Denied: by a policy, a role, or the peer's address",
        404 => "No such user, key, secret, config value, policy or snapshot",
        409 => "Conflict: already bootstrapped, already exists, last admin, restore conflict…",
        413 => "The body is too large (over 16 KiB without valid credentials) or a value is",
        429 => "Rate limited; Retry-After says when to try again",
        431 => "The request head is too large",
        500 => "An internal error (the store could not be read or written)",
        503 => "Sealed, not bootstrapped, busy (Retry-After), or stopping",
        _ => "An error",
    }
}

fn responses(r: &Route) -> Json {
    let mut out = Map::new();
    let ok = match r.response {
        Body::Json(name) => json!({
            "description": "Done",
            "content": {"application/json": {"schema": schema_ref(name)}},
        }),
        Body::Prometheus => json!({
            "description": "The Prometheus text exposition format, version 0.0.4",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }),
    };
    let mut ok = ok;
    if let (Some(links), Some(m)) = (links(r), ok.as_object_mut()) {
        m.insert("links".into(), links);
    }
    out.insert("200".into(), ok);
    let mut statuses: Vec<u16> = EVERY_REQUEST.iter().chain(r.errors).copied().collect();
    // Everything that reads or writes the store can meet an I/O error.
    if !matches!(r.auth, Auth::Open | Auth::AdminOrLoopback) {
        statuses.push(500);
    }
    statuses.sort_unstable();
    statuses.dedup();
    for s in statuses {
        out.insert(
            s.to_string(),
            json!({"$ref": format!("#/components/responses/{s}")}),
        );
    }
    Json::Object(out)
}

/// The routes that take what `r` creates: those under its path (up to its
/// first placeholder) with the same placeholder, each fed from the answer.
fn links(r: &Route) -> Option<Json> {
    let (name, pointer) = r.creates?;
    let base = r.path.split('{').next().unwrap_or(r.path);
    let mut out = Map::new();
    for t in ROUTES {
        if std::ptr::eq(t, r) || !t.path.starts_with(base) || !t.params().any(|p| p == name) {
            continue;
        }
        out.insert(
            operation_id(t),
            json!({
                "operationId": operation_id(t),
                "parameters": {name: format!("$response.body#{pointer}")},
            }),
        );
    }
    (!out.is_empty()).then_some(Json::Object(out))
}

/// One shared error answer per status any route can give.
fn error_responses() -> Json {
    let mut all: Vec<u16> = EVERY_REQUEST.to_vec();
    all.push(500);
    for r in ROUTES {
        all.extend(r.errors);
    }
    all.sort_unstable();
    all.dedup();
    let mut out = Map::new();
    for s in all {
        let mut resp = Map::new();
        resp.insert("description".into(), json!(status_text(s)));
        let header = match s {
            401 => Some("WWW-Authenticate"),
            429 => Some("Retry-After"),
            _ => None,
        };
        if let Some(h) = header {
            resp.insert("headers".into(), json!({h: {"schema": {"type": "string"}}}));
        }
        resp.insert(
            "content".into(),
            json!({"application/json": {"schema": schema_ref("Error")}}),
        );
        out.insert(s.to_string(), Json::Object(resp));
    }
    Json::Object(out)
}

/// An object schema: `required` fields, then optional ones; no others.
fn object(required: &[(&str, Json)], optional: &[(&str, Json)]) -> Json {
    let mut props = Map::new();
    for (k, v) in required.iter().chain(optional) {
        props.insert((*k).to_string(), v.clone());
    }
    let names: Vec<&str> = required.iter().map(|(k, _)| *k).collect();
    json!({
        "type": "object",
        "properties": props,
        "required": names,
        "additionalProperties": false,
    })
}

/// An answer: `"ok": true` and the given fields.
fn answer(fields: &[(&str, Json)]) -> Json {
    let mut all = vec![("ok", json!({"const": true}))];
    all.extend(fields.iter().cloned());
    object(&all, &[])
}

fn string() -> Json {
    json!({"type": "string"})
}

fn count() -> Json {
    json!({"type": "integer", "minimum": 0})
}

fn boolean() -> Json {
    json!({"type": "boolean"})
}

fn time_ms() -> Json {
    json!({"type": "integer", "minimum": 0, "description": "Milliseconds since the Unix epoch"})
}

fn array_of(name: &str) -> Json {
    json!({"type": "array", "items": schema_ref(name)})
}

fn nullable(t: &str) -> Json {
    json!({"type": [t, "null"]})
}

/// Every named schema the route table uses, and the ones they use.
pub fn schemas() -> Json {
    let named = [
        auth_schemas(),
        account_schemas(),
        secret_schemas(),
        policy_schemas(),
        admin_schemas(),
    ]
    .concat();
    let mut out = Map::new();
    for (name, schema) in named {
        out.insert(name.to_string(), schema);
    }
    Json::Object(out)
}

/// The `error` member of every refusal: a stable code and a message.
fn error_object() -> Json {
    object(&[("code", string()), ("message", string())], &[])
}

fn role() -> Json {
    json!({"type": "string", "enum": ["admin", "user"]})
}

/// The error shape, health, the OpenAPI document itself, bootstrap, login and unseal.
fn auth_schemas() -> Vec<(&'static str, Json)> {
    let role = role();
    vec![
        (
            "Error",
            object(
                &[("ok", json!({"const": false})), ("error", error_object())],
                &[],
            ),
        ),
        (
            "Health",
            object(
                &[
                    ("status", json!({"const": "ok"})),
                    ("sealed", boolean()),
                    ("bootstrapped", boolean()),
                ],
                &[(
                    "unseal",
                    object(&[("progress", count()), ("threshold", count())], &[]),
                )],
            ),
        ),
        (
            "OpenApi",
            json!({"type": "object", "required": ["openapi", "info", "paths"]}),
        ),
        (
            "Credentials",
            json!({
                "type": "object",
                "properties": {"username": string(), "password": string()},
                "required": ["username", "password"],
            }),
        ),
        (
            "UnsealRequest",
            json!({
                "type": "object",
                "properties": {"share": nullable("string"), "reset": nullable("boolean")},
            }),
        ),
        (
            "UnsealProgress",
            object(
                &[("ok", json!({"const": true})), ("sealed", boolean())],
                &[("progress", count()), ("threshold", count())],
            ),
        ),
        (
            "Account",
            object(&[("username", string()), ("role", role.clone())], &[]),
        ),
        (
            "Bootstrapped",
            answer(&[
                ("user", schema_ref("Account")),
                ("api_key", string()),
                ("certificate", string()),
            ]),
        ),
        (
            "LoginOk",
            answer(&[
                ("token", string()),
                ("expires_at", time_ms()),
                ("user", schema_ref("Account")),
            ]),
        ),
        ("Ok", answer(&[])),
    ]
}

/// Users, passwords and API keys.
fn account_schemas() -> Vec<(&'static str, Json)> {
    let role = role();
    vec![
        (
            "User",
            object(
                &[
                    ("username", string()),
                    ("role", role.clone()),
                    ("created_at", time_ms()),
                    ("disabled", boolean()),
                ],
                &[],
            ),
        ),
        ("UserList", answer(&[("users", array_of("User"))])),
        (
            "NewUser",
            json!({
                "type": "object",
                "properties": {
                    "username": string(),
                    "password": string(),
                    "role": {"enum": ["admin", "user", null]},
                },
                "required": ["username", "password"],
            }),
        ),
        ("UserCreated", answer(&[("user", schema_ref("User"))])),
        (
            "UserDeleted",
            answer(&[("deleted", string()), ("sessions_revoked", count())]),
        ),
        (
            "PasswordChange",
            json!({
                "type": "object",
                "properties": {"password": string(), "current_password": nullable("string")},
                "required": ["password"],
            }),
        ),
        ("PasswordChanged", answer(&[("sessions_revoked", count())])),
        (
            "UserStatusChanged",
            answer(&[("user", schema_ref("User")), ("sessions_revoked", count())]),
        ),
        (
            "ApiKey",
            object(
                &[
                    ("id", string()),
                    ("owner", string()),
                    ("label", string()),
                    ("created_at", time_ms()),
                ],
                &[],
            ),
        ),
        ("ApiKeyList", answer(&[("api_keys", array_of("ApiKey"))])),
        (
            "NewApiKey",
            json!({
                "type": "object",
                "properties": {"owner": nullable("string"), "label": nullable("string")},
            }),
        ),
        (
            "ApiKeyMinted",
            answer(&[("api_key", string()), ("key", schema_ref("ApiKey"))]),
        ),
        ("Deleted", answer(&[("deleted", string())])),
    ]
}

/// Secrets and config values.
fn secret_schemas() -> Vec<(&'static str, Json)> {
    vec![
        (
            "SecretSummary",
            object(
                &[
                    ("key", string()),
                    ("versions", count()),
                    ("latest_version", count()),
                    ("created_at", time_ms()),
                    ("updated_at", time_ms()),
                ],
                &[],
            ),
        ),
        (
            "SecretList",
            answer(&[("secrets", array_of("SecretSummary"))]),
        ),
        (
            "SecretValue",
            json!({
                "type": "object",
                "properties": {"value": string()},
                "required": ["value"],
            }),
        ),
        (
            "SecretRead",
            answer(&[
                ("key", string()),
                ("value", string()),
                ("version", count()),
                ("created_at", time_ms()),
            ]),
        ),
        (
            "SecretWritten",
            answer(&[("key", string()), ("version", count())]),
        ),
        (
            "SecretDeleted",
            answer(&[("key", string()), ("deleted", json!({"const": true}))]),
        ),
        (
            "SecretPurged",
            answer(&[("key", string()), ("purged", json!({"const": true}))]),
        ),
        (
            "ConfigValue",
            json!({
                "type": "object",
                "properties": {"value": {"description": "Any JSON value"}},
                "required": ["value"],
            }),
        ),
        (
            "ConfigRead",
            answer(&[
                ("key", string()),
                ("value", json!({"description": "Any JSON value"})),
            ]),
        ),
        ("ConfigWritten", answer(&[("key", string())])),
        (
            "ConfigDeleted",
            answer(&[("key", string()), ("deleted", json!({"const": true}))]),
        ),
    ]
}

/// Policies and their attachments.
fn policy_schemas() -> Vec<(&'static str, Json)> {
    vec![
        (
            "Statement",
            object(
                &[
                    (
                        "effect",
                        json!({"type": "string", "enum": ["allow", "deny"]}),
                    ),
                    ("actions", json!({"type": "array", "items": string()})),
                    ("resources", json!({"type": "array", "items": string()})),
                ],
                &[("sid", string())],
            ),
        ),
        (
            "PolicyDocument",
            object(
                &[("statements", array_of("Statement"))],
                &[("id", string())],
            ),
        ),
        (
            "Target",
            json!({"oneOf": [
                object(&[("user", string())], &[]),
                object(&[("group", string())], &[]),
            ]}),
        ),
        (
            "AttachTarget",
            json!({
                "type": "object",
                "description": "Exactly one of user or group (everyone).",
                "properties": {"user": string(), "group": string()},
            }),
        ),
        (
            "Policy",
            object(
                &[
                    ("id", string()),
                    ("statements", array_of("Statement")),
                    ("attached", array_of("Target")),
                ],
                &[],
            ),
        ),
        (
            "PolicyStored",
            answer(&[("created", boolean()), ("policy", schema_ref("Policy"))]),
        ),
        ("PolicyRead", answer(&[("policy", schema_ref("Policy"))])),
        ("PolicyList", answer(&[("policies", array_of("Policy"))])),
    ]
}

/// The audit log, counts, backups, restores and rekeys.
fn admin_schemas() -> Vec<(&'static str, Json)> {
    let counts = object(
        &[
            ("keyspace", count()),
            ("config", count()),
            ("users", count()),
            ("policies", count()),
            ("attachments", count()),
            ("secrets", count()),
        ],
        &[],
    );
    vec![
        (
            "AuditEvent",
            object(
                &[
                    ("time_ms", time_ms()),
                    ("principal", string()),
                    ("action", string()),
                    ("resource", string()),
                    ("outcome", string()),
                    ("peer", nullable("string")),
                ],
                &[
                    ("code", string()),
                    ("unauthenticated", json!({"const": true})),
                ],
            ),
        ),
        ("AuditEvents", answer(&[("events", array_of("AuditEvent"))])),
        ("Counts", counts),
        (
            "BackupRequest",
            object(&[], &[("backup_key", nullable("string"))]),
        ),
        (
            "BackupMade",
            object(
                &[
                    ("ok", json!({"const": true})),
                    ("snapshot_id", string()),
                    ("file", string()),
                    ("path", string()),
                    ("bytes", count()),
                    ("created_at", time_ms()),
                    ("counts", schema_ref("Counts")),
                    ("secrets_latest_only", count()),
                ],
                &[("backup_key", string())],
            ),
        ),
        (
            "RestoreRequest",
            object(
                &[("snapshot_id", string()), ("backup_key", string())],
                &[("skip_vault", nullable("boolean"))],
            ),
        ),
        (
            "Restored",
            answer(&[
                ("snapshot_id", string()),
                ("skip_vault", boolean()),
                ("backup_created_at", time_ms()),
                ("restored", schema_ref("Counts")),
                ("kept_users", json!({"type": "array", "items": string()})),
            ]),
        ),
        ("NoFields", object(&[], &[])),
        (
            "Rekeyed",
            object(
                &[("ok", boolean()), ("certificate", string())],
                &[("error", error_object())],
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `v`.
    fn refs(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::Object(m) => {
                for (k, x) in m {
                    if k == "$ref" {
                        out.push(x.as_str().unwrap().to_string());
                    }
                    refs(x, out);
                }
            }
            Json::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let mut parts = r.strip_prefix("#/components/").unwrap().split('/');
            let (kind, name) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(doc["components"][kind].get(name).is_some(), "{r}");
        }
    }

    #[test]
    fn every_route_is_an_operation() {
        let doc = document();
        for r in ROUTES {
            let op = &doc["paths"][r.path][r.method.to_ascii_lowercase()];
            assert!(op.is_object(), "{} {}", r.method, r.path);
            assert!(op["responses"]["200"].is_object());
            for s in r.errors {
                assert!(op["responses"][s.to_string()].is_object());
            }
            if r.creates.is_some() {
                let links = &op["responses"]["200"]["links"];
                assert!(
                    links.as_object().is_some_and(|l| !l.is_empty()),
                    "{}",
                    r.path
                );
            }
        }
    }
}
