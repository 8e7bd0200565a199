//! HTTP request bodies: JSON in, the service's typed requests out.
//!
//! Owns the JSON syntax of the API's requests: which fields an
//! endpoint reads, of which JSON type, in which order, and the 400 for a
//! body that is not that. Pure: bytes or a parsed object in, a typed value
//! or a `bad_request` out. It must never decide what a request means,
//! authorize it, or touch the service's state: the service checks the
//! values (a role, a key name, a policy's statements) once they are typed.

use reddb_service::accounts::Role;
use reddb_service::backup::{BackupRequest, RestoreRequest};
use reddb_service::policy::{self, Policy, Target};
use reddb_service::secrets::ConfigValue;
use reddb_service::{ServiceError, ServiceResult};
use reddb_storage::backup::{self, BackupKey};
use serde::Deserialize;
use serde_json::{Map, Value as Json};
use zeroize::Zeroizing;

/// A request body that is a JSON object (an empty body is an empty one).
pub type Object = Map<String, Json>;

/// The body as a JSON object.
pub fn object(body: &[u8]) -> ServiceResult<Object> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Json>(body) {
        Ok(Json::Object(m)) => Ok(m),
        Ok(_) => Err(ServiceError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ServiceError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// A string field the request must give.
pub(crate) fn required_str<'a>(m: &'a Object, name: &str) -> ServiceResult<&'a str> {
    match m.get(name) {
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(must_be_a_string(name)),
        None => Err(ServiceError::bad_request(format!("\"{name}\" is required"))),
    }
}

/// A string field the request may give (`null` is not giving it).
pub(crate) fn optional_str<'a>(m: &'a Object, name: &str) -> ServiceResult<Option<&'a str>> {
    match m.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(_) => Err(must_be_a_string(name)),
    }
}

fn must_be_a_string(name: &str) -> ServiceError {
    ServiceError::bad_request(format!("\"{name}\" must be a string"))
}

/// `"role"`: `"admin"` or `"user"`.
pub fn parse_role(s: &str) -> ServiceResult<Role> {
    Role::parse(s).ok_or_else(|| ServiceError::bad_request("role must be \"admin\" or \"user\""))
}

/// `POST /sys/unseal`: `{"share": "…"}` or `{"reset": true}`.
pub(crate) struct UnsealRequest {
    pub share: Option<Zeroizing<String>>,
    pub reset: bool,
}

pub(crate) fn unseal_request(m: &Object) -> ServiceResult<UnsealRequest> {
    let reset = match m.get("reset") {
        None | Some(Json::Null) | Some(Json::Bool(false)) => false,
        Some(Json::Bool(true)) => true,
        Some(_) => return Err(ServiceError::bad_request("\"reset\" must be a boolean")),
    };
    let share = optional_str(m, "share")?.map(|s| Zeroizing::new(s.to_string()));
    Ok(UnsealRequest { share, reset })
}

/// `POST /auth/users`: `{"username", "password", "role"?}`.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub role: Role,
}

pub fn new_user(m: &Object) -> ServiceResult<NewUser<'_>> {
    let role = parse_role(optional_str(m, "role")?.unwrap_or("user"))?;
    Ok(NewUser {
        username: required_str(m, "username")?,
        password: required_str(m, "password")?,
        role,
    })
}

/// `POST /auth/users/{name}/password`: `{"password", "current_password"?}`.
pub(crate) struct PasswordChange<'a> {
    pub password: &'a str,
    pub current: Option<&'a str>,
}

pub(crate) fn password_change(m: &Object) -> ServiceResult<PasswordChange<'_>> {
    Ok(PasswordChange {
        password: required_str(m, "password")?,
        current: optional_str(m, "current_password")?,
    })
}

/// `POST /auth/api-keys`: `{"owner"?, "label"?}`.
pub struct NewApiKey<'a> {
    pub owner: Option<&'a str>,
    pub label: &'a str,
}

pub fn new_api_key(m: &Object) -> ServiceResult<NewApiKey<'_>> {
    Ok(NewApiKey {
        owner: optional_str(m, "owner")?,
        label: optional_str(m, "label")?.unwrap_or(""),
    })
}

/// `POST /config/{key}`: `{"value": any JSON}`, kept as its compact text.
pub fn config_value(m: &Object) -> ServiceResult<ConfigValue> {
    let v = m
        .get("value")
        .ok_or_else(|| ServiceError::bad_request("\"value\" is required"))?;
    serde_json::to_vec(v)
        .map(ConfigValue)
        .map_err(|e| ServiceError::internal(e.to_string()))
}

/// `POST /policies/{id}/attach` and `/detach`: `{"user": name}` or
/// `{"group": name}` (the service knows which groups exist).
pub(crate) fn attach_target(m: &Object) -> ServiceResult<Target> {
    match (m.get("user"), m.get("group")) {
        (Some(Json::String(u)), None) => Ok(Target::User(u.clone())),
        (None, Some(Json::String(g))) => Ok(Target::Group(g.clone())),
        _ => Err(ServiceError::bad_request(
            "give exactly one of {\"user\": \"name\"} or {\"group\": \"everyone\"}",
        )),
    }
}

/// `POST /admin/backup`: `{"backup_key"?}` and nothing else.
pub(crate) fn backup_request(m: &Object) -> ServiceResult<BackupRequest> {
    let backup_key = match m.get("backup_key") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(BackupKey::parse_hex(s)?),
        Some(_) => return Err(must_be_a_string("backup_key")),
    };
    if let Some(k) = m.keys().find(|k| k.as_str() != "backup_key") {
        return Err(ServiceError::bad_request(format!(
            "unknown field \"{k}\" (POST /admin/backup takes only \"backup_key\")"
        )));
    }
    Ok(BackupRequest { backup_key })
}

/// `POST /admin/restore`: `{"snapshot_id", "backup_key", "skip_vault"?}`.
pub(crate) fn restore_request(m: &Object) -> ServiceResult<RestoreRequest> {
    if let Some(k) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "snapshot_id" | "backup_key" | "skip_vault"))
    {
        return Err(ServiceError::bad_request(format!(
            "unknown field \"{k}\" (POST /admin/restore takes \"snapshot_id\", \"backup_key\" and \"skip_vault\")"
        )));
    }
    let id_text = required_str(m, "snapshot_id")?;
    let snapshot_id = backup::parse_snapshot_id(id_text).ok_or_else(|| {
        ServiceError::bad_request(
            "\"snapshot_id\" must be the 32 lowercase hex digits POST /admin/backup answered",
        )
    })?;
    let backup_key = match m.get("backup_key") {
        Some(Json::String(s)) => BackupKey::parse_hex(s)?,
        Some(_) => return Err(must_be_a_string("backup_key")),
        None => {
            return Err(ServiceError::bad_request(
                "\"backup_key\" is required: the 64 hex digits POST /admin/backup answered",
            ))
        }
    };
    let skip_vault = match m.get("skip_vault") {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(_) => {
            return Err(ServiceError::bad_request(
                "\"skip_vault\" must be true or false",
            ))
        }
    };
    Ok(RestoreRequest {
        snapshot_id,
        backup_key,
        skip_vault,
    })
}

/// `POST /admin/rekey` takes no fields.
pub(crate) fn no_fields(m: &Object) -> ServiceResult<()> {
    match m.keys().next() {
        Some(k) => Err(ServiceError::bad_request(format!(
            "unknown field \"{k}\" (POST /admin/rekey takes no fields)"
        ))),
        None => Ok(()),
    }
}

/// A policy document's JSON form (`{"id"?, "statements": [{"sid"?,
/// "effect", "actions", "resources"}]}`): no other field is accepted. The
/// type names are part of serde's error text, which the 400 quotes.
mod document {
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Policy {
        pub id: String,
        pub statements: Vec<Statement>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Statement {
        #[serde(default)]
        pub sid: Option<String>,
        pub effect: Effect,
        pub actions: Vec<String>,
        pub resources: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Effect {
        Allow,
        Deny,
    }
}

/// `PUT /policies/{path_id}`: the body as a policy document, checked
/// ([`policy::validate_document`]). The body's `id`, when present, must
/// equal the path's.
pub fn policy_document(path_id: &str, body: &[u8]) -> ServiceResult<Policy> {
    policy::validate_id(path_id)?;
    let mut doc: Json = serde_json::from_slice(body)
        .map_err(|e| ServiceError::bad_request(format!("the body is not valid JSON: {e}")))?;
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| ServiceError::bad_request("the body must be a JSON object"))?;
    match obj.get("id") {
        None => {
            obj.insert("id".into(), Json::String(path_id.to_string()));
        }
        Some(Json::String(s)) if s == path_id => {}
        Some(_) => {
            return Err(ServiceError::bad_request(
                "\"id\" in the body must equal the id in the path",
            ))
        }
    }
    let given = document::Policy::deserialize(doc)
        .map_err(|e| ServiceError::bad_request(format!("invalid policy document: {e}")))?;
    let policy = Policy {
        id: given.id,
        statements: given
            .statements
            .into_iter()
            .map(|s| policy::Statement {
                sid: s.sid,
                effect: match s.effect {
                    document::Effect::Allow => policy::Effect::Allow,
                    document::Effect::Deny => policy::Effect::Deny,
                },
                actions: s.actions,
                resources: s.resources,
            })
            .collect(),
    };
    policy::validate_document(path_id, &policy)?;
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reddb_service::policy::{compile, evaluate, Action, Decision};

    const DENY_RECIPE: &str = include_str!("../../../../tests/fixtures/seed_policy_deny.json");

    const KEEPER_RECIPE: &str = include_str!("../../../../tests/fixtures/seed_policy_keeper.json");

    #[test]
    fn recipes_parse_and_evaluate() {
        let deny = policy_document("lock-ai-custom-secrets", DENY_RECIPE.as_bytes()).unwrap();
        let keep = policy_document("ai-openai-key-keeper", KEEPER_RECIPE.as_bytes()).unwrap();
        let d = compile(&deny);
        let k = compile(&keep);
        let key = "red.secret.ai.custom.model";
        for a in [Action::Read, Action::ReadMetadata, Action::Write] {
            assert!(matches!(
                evaluate(&d, true, a, key),
                Decision::ExplicitDeny { .. }
            ));
        }
        assert_eq!(evaluate(&d, true, Action::Purge, key), Decision::Allow);
        assert_eq!(
            evaluate(&d, true, Action::Read, "red.secret.ai.other"),
            Decision::Allow
        );
        let okey = "red.secret.ai.openai.api_key";
        assert_eq!(evaluate(&k, false, Action::Read, okey), Decision::Allow);
        assert_eq!(
            evaluate(&[], false, Action::Read, okey),
            Decision::DefaultDeny
        );
        assert_eq!(
            evaluate(&k, false, Action::Write, okey),
            Decision::DefaultDeny
        );
        let mut both = k.clone();
        both.extend(d.clone());
        assert!(matches!(
            evaluate(&both, false, Action::Read, key),
            Decision::ExplicitDeny { .. }
        ));
    }

    #[test]
    fn bad_documents_are_refused() {
        let bad = [
            r#"[]"#,
            r#"{"statements": []}"#,
            r#"{"id": "other", "statements": [{"effect":"allow","actions":["vault:read"],"resources":["vault:red.vault/*"]}]}"#,
            r#"{"statements": [{"effect":"maybe","actions":["vault:read"],"resources":["vault:red.vault/*"]}]}"#,
            r#"{"statements": [{"effect":"allow","actions":["vault:reed"],"resources":["vault:red.vault/*"]}]}"#,
            r#"{"statements": [{"effect":"allow","actions":["vault:read"],"resources":["red.secret.*"]}]}"#,
            r#"{"statements": [{"effect":"allow","actions":["vault:read"],"resource":["vault:red.vault/*"]}]}"#,
            r#"{"statements": [{"effect":"allow","actions":[],"resources":["vault:red.vault/*"]}]}"#,
            r#"{"statements": [{"effect":"deny","actions":["vault:read"],"resources":["vault:red.vault/a b"]}]}"#,
            r#"{"statements": [], "extra": 1}"#,
        ];
        for b in bad {
            let e = policy_document("p1", b.as_bytes()).unwrap_err();
            assert_eq!(e.code, "bad_request", "{b}");
        }
        assert!(policy_document("bad id", b"{}").is_err());
        let ok = policy_document(
            "p1",
            br#"{"statements": [{"effect":"allow","actions":["vault:*"],"resources":["vault:red.vault/*"]}]}"#,
        )
        .unwrap();
        assert_eq!(ok.id, "p1");
        assert_eq!(
            evaluate(&compile(&ok), false, Action::Purge, "red.secret.z"),
            Decision::Allow
        );
    }

    #[test]
    fn fields_are_read_in_order_with_their_types() {
        let m = object(br#"{"username": 1, "role": "boss"}"#).unwrap();
        // The role is read first, as it always was.
        assert_eq!(
            new_user(&m).err().unwrap().message,
            "role must be \"admin\" or \"user\""
        );
        let m = object(br#"{"username": 1}"#).unwrap();
        assert_eq!(
            new_user(&m).err().unwrap().message,
            "\"username\" must be a string"
        );
        assert!(object(b"[]").is_err());
        assert!(object(b"").unwrap().is_empty());
        let m = object(br#"{"group": "admins"}"#).unwrap();
        assert_eq!(attach_target(&m).unwrap(), Target::Group("admins".into()));
        let m = object(br#"{"user": "a", "group": "everyone"}"#).unwrap();
        assert!(attach_target(&m).is_err());
        let m = object(br#"{"value": {"b": 1, "a": [true, null]}}"#).unwrap();
        assert_eq!(
            config_value(&m).unwrap(),
            ConfigValue(br#"{"a":[true,null],"b":1}"#.to_vec())
        );
    }
}
