//! `red.secret.*` secrets (versioned, each value sealed again under
//! `red.secret.aes_key`) and `red.config.*` configuration.
//!
//! A secret is one record in the `Secrets` namespace holding its versions
//! (at most [`MAX_VERSIONS`], oldest dropped). `DELETE` marks it deleted
//! (reads answer 404); `purge` removes a deleted secret for good.
//! `red.secret.aes_key` is reserved: no API reads or writes it.
//!
//! Destroying versions needs `vault:purge` on the secret, whatever the
//! request: the purge itself, a write or rotation that would push the
//! oldest version out past [`MAX_VERSIONS`], and a write to a deleted key
//! (which replaces the deleted record and every version it still holds).
//! Without it these are refused (403) before anything changes.
//! ([`Service::restore_snapshot`] never destroys: it refuses a target that
//! holds any secret.)

use super::policy::{denied_error, evaluate, Action, Effect};
use super::records::{
    decode_record, encode_record, PortableSecret, PortableVersion, SecretRecord, SecretVersion,
};
use super::results::{
    ConfigDeleted, ConfigRead, ConfigWritten, SecretDeleted, SecretList, SecretPurged, SecretRead,
    SecretSummary, SecretWritten,
};
use super::{Kind, Principal, Service, ServiceError, ServiceResult};
use reddb_storage::database::now_ms;
use reddb_storage::store::record::{Mutation, Namespace, Value, ValueRef};
use zeroize::Zeroizing;

pub const SECRET_PREFIX: &str = "red.secret.";
pub const CONFIG_PREFIX: &str = "red.config.";
pub(crate) const RESERVED_AES_KEY: &str = "red.secret.aes_key";
pub(crate) const MAX_VERSIONS: usize = 32;
pub const MAX_KEY_LEN: usize = 256;
pub(crate) const MAX_SECRET_LEN: usize = 64 * 1024;

/// A `red.config.*` value: the text of one JSON document, stored and
/// returned byte for byte (`docs/FORMAT.md` §8). The service checks its
/// size only; the front end that accepts a value writes its text, and
/// reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigValue(pub Vec<u8>);

/// Checks a key name: the prefix, then 1+ characters of `A-Za-z0-9._-/:`.
pub fn validate_key(key: &str, prefix: &str) -> ServiceResult<()> {
    let rest = key
        .strip_prefix(prefix)
        .ok_or_else(|| ServiceError::bad_request(format!("key must start with '{prefix}'")))?;
    let ok = !rest.is_empty()
        && key.len() <= MAX_KEY_LEN
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b':'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::bad_request(format!(
            "invalid key: '{prefix}' then 1 to {} characters of letters, digits, '.', '_', '-', '/', ':'",
            MAX_KEY_LEN - prefix.len()
        )))
    }
}

fn check_secret_key(key: &str) -> ServiceResult<()> {
    validate_key(key, SECRET_PREFIX)?;
    if key == RESERVED_AES_KEY {
        return Err(ServiceError::forbidden(
            "red.secret.aes_key is reserved and never readable or writable",
        ));
    }
    Ok(())
}

impl Service {
    fn secret_record(&self, key: &str) -> ServiceResult<Option<SecretRecord>> {
        let db = self.open_db()?;
        match db.store().get(Namespace::Secrets, key.as_bytes(), now_ms()) {
            Some(e) => match e.value {
                ValueRef::Bytes(b) => Ok(Some(decode_record(b)?)),
                _ => Err(ServiceError::internal("secret record has the wrong type")),
            },
            None => Ok(None),
        }
    }

    fn put_secret_record(&mut self, key: &str, rec: &SecretRecord) -> ServiceResult<()> {
        let bytes = encode_record(rec)?;
        self.commit(vec![Mutation::Put {
            ns: Namespace::Secrets,
            key: key.as_bytes().to_vec(),
            value: Value::Bytes(bytes),
            expires_at_ms: 0,
        }])
    }

    /// Allows a change that destroys versions of `key` only with
    /// `vault:purge` on it; `what` says what would be destroyed.
    fn authorize_destruction(&self, p: &Principal, key: &str, what: &str) -> ServiceResult<()> {
        let d = evaluate(&self.statements_for(p), p.is_admin(), Action::Purge, key);
        if d.allowed() {
            return Ok(());
        }
        let denied = denied_error(&d, Action::Purge, key);
        Err(ServiceError::forbidden(format!(
            "{what}, and that needs {}: {} (nothing was changed)",
            Action::Purge.as_str(),
            denied.message
        )))
    }

    /// A write to `key` that would destroy versions — the `deleted_versions`
    /// a deleted record still holds, or the oldest of `existing` pushed out
    /// past [`MAX_VERSIONS`] — needs `vault:purge` on it.
    fn authorize_version_loss(
        &self,
        p: &Principal,
        key: &str,
        existing: Option<&SecretRecord>,
        deleted_versions: usize,
    ) -> ServiceResult<()> {
        if deleted_versions > 0 {
            self.authorize_destruction(
                p,
                key,
                &format!(
                    "secret '{key}' is deleted but still holds {deleted_versions} version(s); writing it again would destroy them (or purge it first)"
                ),
            )?;
        }
        if let Some(r) = existing {
            let dropped = (r.versions.len() + 1).saturating_sub(MAX_VERSIONS);
            if dropped > 0 {
                let first = r.versions.first().map_or(0, |v| v.version);
                let last = r.versions.get(dropped - 1).map_or(first, |v| v.version);
                let which = if dropped == 1 {
                    format!("version {first}")
                } else {
                    format!("versions {first} to {last}")
                };
                self.authorize_destruction(
                    p,
                    key,
                    &format!("rotating '{key}' past {MAX_VERSIONS} versions would destroy {which}"),
                )?;
            }
        }
        Ok(())
    }

    /// `POST /secrets/{key}`: stores a new version (the first, or the next).
    /// Writing a deleted key starts it again from version 1, destroying the
    /// versions the deleted record holds; the version past
    /// [`MAX_VERSIONS`] drops the oldest. Both need `vault:purge`.
    pub fn put_secret(
        &mut self,
        p: &Principal,
        key: &str,
        value: &str,
        must_exist: bool,
    ) -> ServiceResult<SecretWritten> {
        check_secret_key(key)?;
        self.authorize(p, Action::Write, key)?;
        if value.len() > MAX_SECRET_LEN {
            return Err(ServiceError::new(
                Kind::TooLarge,
                "payload_too_large",
                format!("secret values are limited to {MAX_SECRET_LEN} bytes"),
            ));
        }
        let now = now_ms();
        let (existing, deleted_versions) = match self.secret_record(key)? {
            Some(r) if r.deleted_at_ms.is_none() => (Some(r), 0),
            Some(r) => (None, r.versions.len()),
            None => (None, 0),
        };
        if must_exist && existing.is_none() {
            return Err(ServiceError::not_found(format!(
                "no secret '{key}' to rotate"
            )));
        }
        self.authorize_version_loss(p, key, existing.as_ref(), deleted_versions)?;
        let mut rec = existing.unwrap_or(SecretRecord {
            versions: Vec::new(),
            created_at_ms: now,
            updated_at_ms: now,
            deleted_at_ms: None,
        });
        let version = rec
            .versions
            .last()
            .map_or(1, |v| v.version.saturating_add(1));
        let db = self.open_db_mut()?;
        let sealed = db.seal_secret_value(key.as_bytes(), version, value.as_bytes())?;
        rec.versions.push(SecretVersion {
            version,
            created_at_ms: now,
            sealed: hex::encode(sealed),
        });
        if rec.versions.len() > MAX_VERSIONS {
            let drop = rec.versions.len() - MAX_VERSIONS;
            rec.versions.drain(..drop);
        }
        rec.updated_at_ms = now;
        self.put_secret_record(key, &rec)?;
        Ok(SecretWritten {
            key: key.to_string(),
            version,
        })
    }

    /// `GET /secrets/{key}[?version=N]`.
    pub fn get_secret(
        &self,
        p: &Principal,
        key: &str,
        version: Option<u32>,
    ) -> ServiceResult<SecretRead> {
        check_secret_key(key)?;
        self.authorize(p, Action::Read, key)?;
        if version.is_some() {
            self.authorize(p, Action::UnsealHistory, key)?;
        }
        let rec = self
            .secret_record(key)?
            .filter(|r| r.deleted_at_ms.is_none())
            .ok_or_else(|| ServiceError::not_found(format!("no secret '{key}'")))?;
        let v = match version {
            None => rec.versions.last(),
            Some(n) => rec.versions.iter().find(|v| v.version == n),
        }
        .ok_or_else(|| ServiceError::not_found(format!("secret '{key}' has no such version")))?;
        let sealed = hex::decode(&v.sealed)
            .map_err(|_| ServiceError::internal("stored secret is not hex"))?;
        let db = self.open_db()?;
        let plain = db.open_secret_value(key.as_bytes(), v.version, &sealed)?;
        let text = std::str::from_utf8(&plain)
            .map_err(|_| ServiceError::internal("stored secret is not UTF-8"))?;
        Ok(SecretRead {
            key: key.to_string(),
            version: v.version,
            value: Zeroizing::new(text.to_string()),
            created_at_ms: v.created_at_ms,
        })
    }

    /// `DELETE /secrets/{key}`: marks it deleted (purge removes it).
    pub fn delete_secret(&mut self, p: &Principal, key: &str) -> ServiceResult<SecretDeleted> {
        check_secret_key(key)?;
        self.authorize(p, Action::Write, key)?;
        let mut rec = self
            .secret_record(key)?
            .filter(|r| r.deleted_at_ms.is_none())
            .ok_or_else(|| ServiceError::not_found(format!("no secret '{key}'")))?;
        rec.deleted_at_ms = Some(now_ms());
        self.put_secret_record(key, &rec)?;
        Ok(SecretDeleted {
            key: key.to_string(),
        })
    }

    /// `POST /secrets/{key}/purge`: removes a deleted secret and every
    /// version of it.
    pub fn purge_secret(&mut self, p: &Principal, key: &str) -> ServiceResult<SecretPurged> {
        check_secret_key(key)?;
        self.authorize(p, Action::Purge, key)?;
        let rec = self
            .secret_record(key)?
            .ok_or_else(|| ServiceError::not_found(format!("no secret '{key}'")))?;
        if rec.deleted_at_ms.is_none() {
            return Err(ServiceError::new(
                Kind::Conflict,
                "conflict",
                "delete the secret before purging it",
            ));
        }
        self.commit(vec![Mutation::Delete {
            ns: Namespace::Secrets,
            key: key.as_bytes().to_vec(),
        }])?;
        Ok(SecretPurged {
            key: key.to_string(),
        })
    }

    /// `GET /secrets?prefix=P`: metadata only, sorted by key, filtered to
    /// the keys `vault:read_metadata` allows. A non-admin with no statement
    /// allowing `vault:read_metadata` on anything gets 403, not an empty
    /// list.
    pub fn list_secrets(&self, p: &Principal, prefix: &str) -> ServiceResult<SecretList> {
        let statements = self.statements_for(p);
        if !p.is_admin()
            && !statements
                .iter()
                .any(|s| s.effect == Effect::Allow && s.names(Action::ReadMetadata))
        {
            return Err(ServiceError::forbidden(format!(
                "{} is not allowed on any secret: no policy allows it",
                Action::ReadMetadata.as_str()
            )));
        }
        let db = self.open_db()?;
        let now = now_ms();
        let mut out = Vec::new();
        for (k, e) in db.store().state().iter(Namespace::Secrets, now) {
            if !k.starts_with(prefix.as_bytes()) {
                continue;
            }
            let Ok(name) = std::str::from_utf8(k) else {
                continue;
            };
            if name == RESERVED_AES_KEY
                || !evaluate(&statements, p.is_admin(), Action::ReadMetadata, name).allowed()
            {
                continue;
            }
            let ValueRef::Bytes(b) = e.value else {
                continue;
            };
            let rec: SecretRecord = decode_record(b)?;
            if rec.deleted_at_ms.is_some() {
                continue;
            }
            out.push(SecretSummary {
                key: name.to_string(),
                versions: rec.versions.len(),
                latest_version: rec.versions.last().map_or(0, |v| v.version),
                created_at_ms: rec.created_at_ms,
                updated_at_ms: rec.updated_at_ms,
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(SecretList(out))
    }

    /// `POST /config/{key}` (admins): any JSON value.
    pub fn put_config(
        &mut self,
        p: &Principal,
        key: &str,
        value: ConfigValue,
    ) -> ServiceResult<ConfigWritten> {
        validate_key(key, CONFIG_PREFIX)?;
        self.require_admin(p)?;
        let bytes = value.0;
        if bytes.len() > MAX_SECRET_LEN {
            return Err(ServiceError::new(
                Kind::TooLarge,
                "payload_too_large",
                "config values are limited to 64 KiB",
            ));
        }
        self.commit(vec![Mutation::Put {
            ns: Namespace::Config,
            key: key.as_bytes().to_vec(),
            value: Value::Bytes(bytes),
            expires_at_ms: 0,
        }])?;
        Ok(ConfigWritten {
            key: key.to_string(),
        })
    }

    /// `GET /config/{key}`: any authenticated caller, or anyone without
    /// `--require-auth` (`p` is `None` then).
    pub fn get_config(&self, p: Option<&Principal>, key: &str) -> ServiceResult<ConfigRead> {
        validate_key(key, CONFIG_PREFIX)?;
        if p.is_none() && !self.anonymous_config_reads() {
            return Err(ServiceError::unauthorized());
        }
        let db = self.open_db()?;
        let e = db
            .store()
            .get(Namespace::Config, key.as_bytes(), now_ms())
            .ok_or_else(|| ServiceError::not_found(format!("no config '{key}'")))?;
        let ValueRef::Bytes(b) = e.value else {
            return Err(ServiceError::internal("config record has the wrong type"));
        };
        Ok(ConfigRead {
            key: key.to_string(),
            value: ConfigValue(b.to_vec()),
        })
    }

    pub fn delete_config(&mut self, p: &Principal, key: &str) -> ServiceResult<ConfigDeleted> {
        validate_key(key, CONFIG_PREFIX)?;
        self.require_admin(p)?;
        let db = self.open_db()?;
        if db
            .store()
            .get(Namespace::Config, key.as_bytes(), now_ms())
            .is_none()
        {
            return Err(ServiceError::not_found(format!("no config '{key}'")));
        }
        self.commit(vec![Mutation::Delete {
            ns: Namespace::Config,
            key: key.as_bytes().to_vec(),
        }])?;
        Ok(ConfigDeleted {
            key: key.to_string(),
        })
    }
}

impl Service {
    /// A stored secret record with its versions opened, as JSON bytes for a
    /// backup payload (wiped on drop): every version with `history`, else
    /// the latest only. The flag is true when older versions were left out.
    pub(super) fn export_secret(
        &self,
        key: &str,
        stored: &[u8],
        history: bool,
    ) -> ServiceResult<(Zeroizing<Vec<u8>>, bool)> {
        let mut rec: SecretRecord = decode_record(stored)?;
        let older = rec.versions.len().saturating_sub(1);
        let cut = !history && older > 0;
        if cut {
            rec.versions.drain(..older);
        }
        let db = self.open_db()?;
        let mut portable = PortableSecret {
            versions: Vec::with_capacity(rec.versions.len()),
            created_at_ms: rec.created_at_ms,
            updated_at_ms: rec.updated_at_ms,
            deleted_at_ms: rec.deleted_at_ms,
        };
        for v in &rec.versions {
            let sealed = hex::decode(&v.sealed)
                .map_err(|_| ServiceError::internal("stored secret is not hex"))?;
            let plain = db.open_secret_value(key.as_bytes(), v.version, &sealed)?;
            let value = String::from_utf8(plain.to_vec())
                .map_err(|_| ServiceError::internal("stored secret is not UTF-8"))?;
            portable.versions.push(PortableVersion {
                version: v.version,
                created_at_ms: v.created_at_ms,
                value,
            });
        }
        encode_record(&portable)
            .map(|bytes| (Zeroizing::new(bytes), cut))
            .map_err(ServiceError::from)
    }

    /// The inverse of [`Service::export_secret`] for this database: checks
    /// the key name and every version, seals each value again under this
    /// database's `red.secret.aes_key`, and returns the record to store.
    pub(super) fn import_secret(&mut self, key: &str, portable: &[u8]) -> ServiceResult<Vec<u8>> {
        check_secret_key(key)?;
        let bad = |why: &str| {
            super::backup::refused(format!("the backup's record of secret '{key}' {why}"))
        };
        let portable: PortableSecret =
            decode_record(portable).map_err(|_| bad("is not readable"))?;
        if portable.versions.is_empty() || portable.versions.len() > MAX_VERSIONS {
            return Err(bad("has no versions or too many"));
        }
        let db = self.open_db_mut()?;
        let mut rec = SecretRecord {
            versions: Vec::with_capacity(portable.versions.len()),
            created_at_ms: portable.created_at_ms,
            updated_at_ms: portable.updated_at_ms,
            deleted_at_ms: portable.deleted_at_ms,
        };
        let mut last = 0u32;
        for v in &portable.versions {
            if v.version <= last || v.value.len() > MAX_SECRET_LEN {
                return Err(bad("has versions out of order or a value too large"));
            }
            last = v.version;
            let sealed = db.seal_secret_value(key.as_bytes(), v.version, v.value.as_bytes())?;
            rec.versions.push(SecretVersion {
                version: v.version,
                created_at_ms: v.created_at_ms,
                sealed: hex::encode(sealed),
            });
        }
        encode_record(&rec).map_err(ServiceError::from)
    }
}
