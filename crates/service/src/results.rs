//! The typed results of the service's operations: what a request produced,
//! whoever sent it. The HTTP layer renders them as the API's JSON
//! (`server/http/render.rs`); the wire layer uses the few it needs.
//!
//! Owns the result types only. They must never carry a protocol's shape (a
//! status, a JSON field name, a RESP type), and a secret in them (a token,
//! a certificate, a secret value, a backup key) is always a zeroizing type,
//! wiped when the result is dropped.

use super::accounts::{ApiKeyRecord, Role, UserRecord};
use super::audit::AuditEvent;
use super::backup::Counts;
use super::policy::{Policy, Target};
use super::secrets::ConfigValue;
use super::{Principal, ServiceError};
use std::path::PathBuf;
use zeroize::Zeroizing;

/// Shares given to `POST /sys/unseal` so far, of how many needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareCount {
    pub have: u8,
    pub threshold: u8,
}

/// `GET /health`: nothing but these facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    pub sealed: bool,
    pub bootstrapped: bool,
    /// While shares are being given to unseal the server.
    pub unseal: Option<ShareCount>,
}

/// `POST /sys/unseal`: where the unseal stands after this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsealProgress {
    /// Still sealed with `have` shares given; `threshold` is unknown until
    /// a share was given (after a reset).
    Sealed {
        have: u8,
        threshold: Option<u8>,
    },
    Unsealed,
}

/// A user's name and role (who logged in, who was bootstrapped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    pub role: Role,
}

/// `POST /auth/bootstrap`: the first admin, its first API key and the
/// certificate, shown this once.
pub struct BootstrapOk {
    pub user: Account,
    pub api_key: Zeroizing<String>,
    pub certificate: Zeroizing<String>,
}

/// `POST /auth/login`: a new session.
pub struct LoginOk {
    pub principal: Account,
    pub token: Zeroizing<String>,
    pub expires_at_ms: u64,
}

/// `POST /auth/logout`: the session is ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedOut;

/// A user as the API shows it: never its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    pub username: String,
    pub role: Role,
    pub created_at_ms: u64,
    pub disabled: bool,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        Self {
            username: u.username.clone(),
            role: u.role,
            created_at_ms: u.created_at_ms,
            disabled: u.disabled,
        }
    }
}

/// `GET /auth/users`, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserList(pub Vec<UserView>);

/// `DELETE /auth/users/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDeleted {
    pub username: String,
    pub sessions_revoked: usize,
}

/// `POST /auth/users/{name}/disable` and `/enable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserStatusChanged {
    pub user: UserView,
    pub sessions_revoked: usize,
}

/// A password set (by its user or an admin): every session of the user
/// ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordChanged {
    pub sessions_revoked: usize,
}

/// An API key as the API shows it: never its token or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyView {
    pub id: String,
    pub owner: String,
    pub label: String,
    pub created_at_ms: u64,
}

impl From<&ApiKeyRecord> for ApiKeyView {
    fn from(k: &ApiKeyRecord) -> Self {
        Self {
            id: k.id.clone(),
            owner: k.owner.clone(),
            label: k.label.clone(),
            created_at_ms: k.created_at_ms,
        }
    }
}

/// `GET /auth/api-keys`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyList(pub Vec<ApiKeyView>);

/// `POST /auth/api-keys`: the token, shown this once.
pub struct ApiKeyMinted {
    pub token: Zeroizing<String>,
    pub key: ApiKeyView,
}

/// `DELETE /auth/api-keys/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyDeleted {
    pub id: String,
}

/// `POST /secrets/{key}` and `/rotate`: the version written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretWritten {
    pub key: String,
    pub version: u32,
}

/// `GET /secrets/{key}`: one version of a secret, in clear.
pub struct SecretRead {
    pub key: String,
    pub version: u32,
    pub value: Zeroizing<String>,
    pub created_at_ms: u64,
}

/// `DELETE /secrets/{key}`: marked deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDeleted {
    pub key: String,
}

/// `POST /secrets/{key}/purge`: gone with every version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretPurged {
    pub key: String,
}

/// One secret in a listing: metadata only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSummary {
    pub key: String,
    pub versions: usize,
    pub latest_version: u32,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// `GET /secrets`, sorted by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretList(pub Vec<SecretSummary>);

/// `POST /config/{key}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWritten {
    pub key: String,
}

/// `GET /config/{key}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigRead {
    pub key: String,
    pub value: ConfigValue,
}

/// `DELETE /config/{key}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDeleted {
    pub key: String,
}

/// A policy document and whom it is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    pub policy: Policy,
    pub attached: Vec<Target>,
}

/// `PUT /policies/{id}`: the document as stored, and whether it is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStored {
    pub created: bool,
    pub policy: PolicyView,
}

/// `GET /policies/{id}`, and `POST /policies/{id}/attach` or `/detach`:
/// the policy as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRead(pub PolicyView);

/// `GET /policies`, sorted by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyList(pub Vec<PolicyView>);

/// `DELETE /policies/{id}`: the document and every attachment of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDeleted {
    pub id: String,
}

/// `GET /admin/audit`: matching events, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvents(pub Vec<AuditEvent>);

/// `POST /admin/backup`: the snapshot written next to the database.
pub struct BackupMade {
    pub snapshot_id: [u8; 16],
    /// The file's name, and its full path.
    pub file: String,
    pub path: PathBuf,
    pub bytes: usize,
    pub created_at_ms: u64,
    pub counts: Counts,
    /// Secrets carried with their latest version only (the caller lacks
    /// `vault:unseal_history` on them).
    pub secrets_latest_only: usize,
    /// The generated backup key (hex), shown this once; `None` when the
    /// request brought its own.
    pub backup_key: Option<Zeroizing<String>>,
}

/// `POST /admin/restore`: what the snapshot restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub snapshot_id: [u8; 16],
    pub skip_vault: bool,
    pub backup_created_at_ms: u64,
    pub restored: Counts,
    /// Users of the backup that existed here already and were kept.
    pub kept_users: Vec<String>,
}

/// `POST /admin/rekey`: the new certificate, shown this once.
pub struct RekeyDone {
    pub certificate: Zeroizing<String>,
    /// `Some` when the disk failed while the header was being switched:
    /// the file opens with exactly one of the old certificate and this
    /// one, so the certificate must reach the operator all the same.
    pub incomplete: Option<ServiceError>,
}

/// A request resumed after its worker job ([`super::Service::finish`]):
/// one variant per [`super::work::Then`].
pub enum Finished {
    Bootstrapped(BootstrapOk),
    LoggedIn(LoginOk),
    /// A wire `AUTH user pass` / `HELLO AUTH`: the user it authenticated.
    WireAuthenticated(Principal),
    UserCreated(UserView),
    PasswordChanged(PasswordChanged),
    Rekeyed(RekeyDone),
}
