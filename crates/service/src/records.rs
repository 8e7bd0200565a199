//! The stored record format: how users, API keys, sessions, secrets,
//! policies and audit events are written as `Bytes` values in the store
//! (`docs/FORMAT.md` §8), and how a logical backup carries a secret.
//!
//! These records are JSON, and this is **the only module of the service
//! that touches JSON**, because JSON is their on-disk format: every
//! `Serialize`/`Deserialize` type of the service is here, with the one
//! encoder and the one decoder. Field names, defaults and the refusal of
//! unknown fields are the format: files written before must keep opening,
//! so none of them changes without a format version. A test keeps serde
//! (`serde_json` and the derives) out of every other file under
//! `crates/service/src/`.
//!
//! What it must never do: encode a request or a result for a protocol (the
//! HTTP layer renders its own JSON), decide what a record means, or hold a
//! secret in clear outside a type that wipes it.

use super::accounts::Role;
use super::policy::{Effect, Policy, Statement};
use reddb_storage::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A type this module stores: only the record types below implement it,
/// so nothing else can be encoded through [`encode_record`].
pub trait StoredRecord: Serialize + DeserializeOwned + sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

macro_rules! stored {
    ($($t:ty),* $(,)?) => {
        $(impl sealed::Sealed for $t {}
          impl StoredRecord for $t {})*
    };
}

stored!(
    UserRecord,
    ApiKeyRecord,
    SessionRecord,
    SecretRecord,
    PortableSecret,
    PolicyRecord,
    AuditRecord,
);

/// Encodes a record for the store.
pub(crate) fn encode_record<T: StoredRecord>(record: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(|e| Error::Internal(format!("encode record: {e}")))
}

/// Decodes a stored record; a record that does not decode is corruption
/// of authenticated data, reported as such.
pub fn decode_record<T: StoredRecord>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Corrupted(format!("stored record does not decode: {e}")))
}

/// Decodes a stored policy document.
pub(crate) fn decode_policy(bytes: &[u8]) -> Result<Policy> {
    decode_record::<PolicyRecord>(bytes).map(Policy::from)
}

/// Encodes a policy document for the store.
pub(crate) fn encode_policy(policy: &Policy) -> Result<Vec<u8>> {
    encode_record(&PolicyRecord::from(policy))
}

/// The value of a policy attachment (`attach:…`): an empty JSON object.
pub(crate) const ATTACHMENT_VALUE: &[u8] = b"{}";

/// [`Role`] as stored: `"admin"` or `"user"`.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Role", rename = "Role", rename_all = "lowercase")]
enum RoleFormat {
    Admin,
    User,
}

/// [`Effect`] as stored: `"allow"` or `"deny"`.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Effect", rename = "Effect", rename_all = "lowercase")]
enum EffectFormat {
    Allow,
    Deny,
}

/// `user:<name>`: a vault user, its password as an Argon2id PHC string.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub username: String,
    #[serde(with = "RoleFormat")]
    pub role: Role,
    pub password_hash: String,
    pub created_at_ms: u64,
    #[serde(default)]
    pub disabled: bool,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("password_hash", &"[redacted]")
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// `apikey:<id>`: an API key, by the digest of its token only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub owner: String,
    /// Hex of `SHA-256("reddb-token-v1" | token)`.
    pub key_hash: String,
    pub created_at_ms: u64,
    #[serde(default)]
    pub label: String,
}

/// `session:<token hash>`: a login session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub username: String,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    /// [`super::accounts::user_stamp`] of the user when the session was
    /// made; sessions written before stamps existed have none and are
    /// refused.
    #[serde(default)]
    pub user_stamp: String,
}

/// One version of a secret: its value sealed under `red.secret.aes_key`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SecretVersion {
    pub version: u32,
    pub created_at_ms: u64,
    /// hex of `nonce | ciphertext | tag` under `red.secret.aes_key`
    pub sealed: String,
}

/// `red.secret.<name>` in the `Secrets` namespace: every kept version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SecretRecord {
    pub versions: Vec<SecretVersion>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    #[serde(default)]
    pub deleted_at_ms: Option<u64>,
}

/// One version of a secret as a backup carries it: the value in clear
/// (the whole payload is sealed under the backup key).
#[derive(Serialize, Deserialize)]
pub(crate) struct PortableVersion {
    pub version: u32,
    pub created_at_ms: u64,
    pub value: String,
}

/// A secret as a backup carries it; the values are wiped on drop.
#[derive(Serialize, Deserialize)]
pub(crate) struct PortableSecret {
    pub versions: Vec<PortableVersion>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub deleted_at_ms: Option<u64>,
}

impl Drop for PortableSecret {
    fn drop(&mut self) {
        for v in &mut self.versions {
            zeroize::Zeroize::zeroize(&mut v.value);
        }
    }
}

/// `policy:<id>`: a policy document as it was accepted, in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Policy", deny_unknown_fields)]
pub(crate) struct PolicyRecord {
    id: String,
    statements: Vec<StatementRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Statement", deny_unknown_fields)]
struct StatementRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(with = "EffectFormat")]
    effect: Effect,
    actions: Vec<String>,
    resources: Vec<String>,
}

impl From<&Policy> for PolicyRecord {
    fn from(p: &Policy) -> Self {
        Self {
            id: p.id.clone(),
            statements: p
                .statements
                .iter()
                .map(|s| StatementRecord {
                    sid: s.sid.clone(),
                    effect: s.effect,
                    actions: s.actions.clone(),
                    resources: s.resources.clone(),
                })
                .collect(),
        }
    }
}

impl From<PolicyRecord> for Policy {
    fn from(p: PolicyRecord) -> Self {
        Self {
            id: p.id,
            statements: p
                .statements
                .into_iter()
                .map(|s| Statement {
                    sid: s.sid,
                    effect: s.effect,
                    actions: s.actions,
                    resources: s.resources,
                })
                .collect(),
        }
    }
}

/// An audit event as stored under its time-ordered key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AuditRecord {
    pub time_ms: u64,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default)]
    pub peer: Option<String>,
    /// The request's credentials did not resolve. Absent in events written
    /// before the two classes existed, which are authenticated history.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unauthenticated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The service's files that mention serde, other than this one.
    fn serde_outside_records(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                serde_outside_records(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "records.rs")
                && std::fs::read_to_string(&path).unwrap().contains("serde")
            {
                found.push(path.display().to_string());
            }
        }
    }

    /// JSON is the stored format, not the service's language: only this
    /// module may speak it.
    #[test]
    fn serde_json_is_only_in_the_record_format() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        serde_outside_records(&dir, &mut found);
        assert!(
            found.is_empty(),
            "serde outside crates/service/src/records.rs: {found:?} (the service takes and returns typed values; JSON belongs to the HTTP layer or, for stored records, to records.rs)"
        );
        let here = std::fs::read_to_string(dir.join("records.rs")).unwrap();
        assert!(
            here.contains("serde_json::"),
            "the scan looks at the right files"
        );
    }

    /// Records as earlier versions wrote them still decode, with the
    /// defaults the format gives to fields they lack.
    #[test]
    fn records_written_before_still_decode() {
        let user: UserRecord = decode_record(
            br#"{"username":"a","role":"admin","password_hash":"$x","created_at_ms":1}"#,
        )
        .unwrap();
        assert_eq!(user.role, Role::Admin);
        assert!(!user.disabled);
        let session: SessionRecord =
            decode_record(br#"{"username":"a","created_at_ms":1,"expires_at_ms":2}"#).unwrap();
        assert!(session.user_stamp.is_empty());
        let event: AuditRecord = decode_record(
            br#"{"time_ms":1,"principal":"a","action":"x","resource":"","outcome":"ok","peer":null}"#,
        )
        .unwrap();
        assert!(!event.unauthenticated);
        let secret: SecretRecord =
            decode_record(br#"{"versions":[],"created_at_ms":1,"updated_at_ms":1}"#).unwrap();
        assert_eq!(secret.deleted_at_ms, None);
    }

    #[test]
    fn encodings_keep_their_field_names() {
        let event = AuditRecord {
            time_ms: 1,
            principal: "a".into(),
            action: "x".into(),
            resource: String::new(),
            outcome: "ok".into(),
            code: None,
            peer: None,
            unauthenticated: false,
        };
        assert_eq!(
            encode_record(&event).unwrap(),
            br#"{"time_ms":1,"principal":"a","action":"x","resource":"","outcome":"ok","peer":null}"#
        );
        let policy = Policy {
            id: "p".into(),
            statements: vec![Statement {
                sid: None,
                effect: Effect::Deny,
                actions: vec!["vault:read".into()],
                resources: vec!["vault:red.vault/*".into()],
            }],
        };
        let bytes = encode_policy(&policy).unwrap();
        assert_eq!(
            bytes,
            br#"{"id":"p","statements":[{"effect":"deny","actions":["vault:read"],"resources":["vault:red.vault/*"]}]}"#
        );
        assert_eq!(decode_policy(&bytes).unwrap(), policy);
        assert!(decode_record::<PolicyRecord>(br#"{"id":"p","statements":[],"x":1}"#).is_err());
    }
}
