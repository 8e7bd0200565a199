//! Users and API keys as they are stored in the vault namespace.
//!
//! A user is `user:<name>` → a [`UserRecord`] (password as an Argon2id
//! PHC string). An API key is `apikey:<id>` → an [`ApiKeyRecord`] holding
//! only `SHA-256("reddb-token-v1" | token)`: the token itself (`rdb_k_` +
//! 32 hex) is shown once and never stored. API keys carry 128 random bits,
//! so a fast hash is enough; passwords are low-entropy and get Argon2id.
//! The records' encoding is the private `service::records` module's.

use super::records::encode_record;
use reddb_storage::crypto::password::{hash_password, PasswordCost};
use reddb_storage::error::{Error, Result};
use reddb_storage::store::record::{Mutation, Namespace, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use super::records::{decode_record, ApiKeyRecord, UserRecord};

pub const USER_PREFIX: &str = "user:";
pub const API_KEY_PREFIX: &str = "apikey:";
pub(crate) const API_KEY_TOKEN_PREFIX: &str = "rdb_k_";
pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    /// The role named `s` (`"admin"` or `"user"`).
    pub fn parse(s: &str) -> Option<Role> {
        [Role::Admin, Role::User]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// A freshly minted API key: the token to show once and the record to store.
pub struct NewApiKey {
    pub token: Zeroizing<String>,
    pub record: ApiKeyRecord,
}

/// Names that can never belong to a user: the audit log records requests
/// whose credentials did not resolve as `anonymous` and the admin token as
/// `admin-token`, so a user by either name (in any case) would be
/// indistinguishable from them. Checked when a user is created or
/// bootstrapped ([`validate_new_username`]).
pub(crate) const RESERVED_USERNAMES: [&str; 2] = ["anonymous", "admin-token"];

/// Usernames: 1 to 64 of `A-Z a-z 0-9 . _ - @`. The syntax only: names
/// already stored, and names typed at a login, are checked with this.
pub fn validate_username(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(
            "username must be 1 to 64 characters of letters, digits, '.', '_', '-', '@'".into(),
        ))
    }
}

/// A name for a new user: the syntax of [`validate_username`], and not one
/// of [`RESERVED_USERNAMES`] nor starting with `cli@` (the offline rekey's
/// audit principal, [`crate::rekey::offline_principal`]), in any
/// letter case.
pub fn validate_new_username(name: &str) -> Result<()> {
    validate_username(name)?;
    let offline = crate::rekey::OFFLINE_PRINCIPAL_PREFIX;
    if RESERVED_USERNAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
        || name
            .get(..offline.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(offline))
    {
        return Err(Error::InvalidInput(format!(
            "the username '{name}' is reserved (the audit log uses it for requests that are not a user's)"
        )));
    }
    Ok(())
}

/// Identifies one incarnation of one password of one user: a digest of the
/// name and the stored PHC string (whose salt is new at every hash). A
/// session or wire connection remembers the stamp of the user it
/// authenticated as; a password change, or the user being deleted and
/// created again, changes the stamp and so ends them, even if a revocation
/// were ever missed.
pub(crate) fn user_stamp(user: &UserRecord) -> String {
    let mut h = Sha256::new();
    h.update(b"reddb-user-stamp-v1");
    h.update(user.username.as_bytes());
    h.update([0u8]);
    h.update(user.password_hash.as_bytes());
    let digest = h.finalize();
    hex::encode(digest.get(..16).unwrap_or(&[]))
}

pub fn validate_password(password: &[u8], min_len: usize) -> Result<()> {
    if password.len() < min_len {
        return Err(Error::InvalidInput(format!(
            "password must be at least {min_len} bytes long"
        )));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::InvalidInput(format!(
            "password must be at most {MAX_PASSWORD_LEN} bytes long"
        )));
    }
    Ok(())
}

/// The stored hash of a bearer token (API key or session).
pub fn hash_token(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"reddb-token-v1");
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

pub fn new_user(
    username: &str,
    role: Role,
    password: &[u8],
    cost: PasswordCost,
    now_ms: u64,
) -> Result<UserRecord> {
    validate_new_username(username)?;
    Ok(UserRecord {
        username: username.to_string(),
        role,
        password_hash: hash_password(password, cost)?,
        created_at_ms: now_ms,
        disabled: false,
    })
}

pub fn new_api_key(owner: &str, label: &str, now_ms: u64) -> Result<NewApiKey> {
    let secret: [u8; 16] = reddb_storage::crypto::random::array()?;
    let token = Zeroizing::new(format!("{API_KEY_TOKEN_PREFIX}{}", hex::encode(secret)));
    let id = hex::encode(reddb_storage::crypto::random::array::<8>()?);
    Ok(NewApiKey {
        record: ApiKeyRecord {
            id,
            owner: owner.to_string(),
            key_hash: hash_token(&token),
            created_at_ms: now_ms,
            label: label.to_string(),
        },
        token,
    })
}

pub fn user_key(username: &str) -> Vec<u8> {
    format!("{USER_PREFIX}{username}").into_bytes()
}

pub(crate) fn api_key_key(id: &str) -> Vec<u8> {
    format!("{API_KEY_PREFIX}{id}").into_bytes()
}

pub fn put_user(user: &UserRecord) -> Result<Mutation> {
    Ok(Mutation::Put {
        ns: Namespace::Vault,
        key: user_key(&user.username),
        value: Value::Bytes(encode_record(user)?),
        expires_at_ms: 0,
    })
}

pub fn put_api_key(key: &ApiKeyRecord) -> Result<Mutation> {
    Ok(Mutation::Put {
        ns: Namespace::Vault,
        key: api_key_key(&key.id),
        value: Value::Bytes(encode_record(key)?),
        expires_at_ms: 0,
    })
}
