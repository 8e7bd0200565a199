//! The first admin of a new database: what a bootstrap writes besides the
//! keys (the admin user and its first API key), built here and handed to
//! [`Database::prepare_bootstrap`] / [`Database::finish_bootstrap`], which
//! own the keys and the write order.

use super::accounts::{self, Role};
use reddb_storage::crypto::password::PasswordCost;
use reddb_storage::database::{now_ms, Database, PreparedBootstrap};
use reddb_storage::error::Result;
use reddb_storage::pager::Pager;
use zeroize::Zeroizing;

/// What bootstrap hands back, once.
pub struct BootstrapOutput {
    pub username: String,
    pub role: Role,
    pub api_key: Zeroizing<String>,
    pub certificate_hex: Zeroizing<String>,
}

/// A bootstrap ready to commit: the keys, the first admin's records, and
/// the admin's API key (shown once).
pub struct PreparedFirstAdmin {
    storage: PreparedBootstrap,
    username: String,
    api_key: Zeroizing<String>,
}

impl PreparedFirstAdmin {
    /// The CPU-heavy half (key generation, the vault key's Argon2id, the
    /// admin password's Argon2id). Touches no file, so the server runs it
    /// on a worker thread.
    pub fn prepare(
        username: &str,
        password: &[u8],
        cost: PasswordCost,
        min_password_len: usize,
    ) -> Result<Self> {
        accounts::validate_new_username(username)?;
        accounts::validate_password(password, min_password_len)?;
        let now = now_ms();
        let user = accounts::new_user(username, Role::Admin, password, cost, now)?;
        let key = accounts::new_api_key(username, "bootstrap", now)?;
        let records = vec![
            accounts::put_user(&user)?,
            accounts::put_api_key(&key.record)?,
        ];
        Ok(Self {
            storage: Database::prepare_bootstrap(records, now)?,
            username: user.username,
            api_key: key.token,
        })
    }

    /// The certificate, for delivery to the operator *before*
    /// [`Self::finish`] commits: a bootstrap whose certificate could not be
    /// delivered must not be committed.
    pub fn certificate_hex(&self) -> Zeroizing<String> {
        self.storage.certificate_hex()
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// The I/O half: commits the bootstrap on a fresh file (refused,
    /// changing nothing, on a bootstrapped one).
    pub fn finish(self, pager: Pager) -> Result<(Database, BootstrapOutput)> {
        let certificate_hex = self.storage.certificate_hex();
        let db = Database::finish_bootstrap(pager, self.storage)?;
        Ok((
            db,
            BootstrapOutput {
                username: self.username,
                role: Role::Admin,
                api_key: self.api_key,
                certificate_hex,
            },
        ))
    }
}

/// Both halves at once, with the default minimum password length (the
/// CLI's `--dev` start, benches and tests).
pub fn bootstrap(
    pager: Pager,
    username: &str,
    password: &[u8],
    cost: PasswordCost,
) -> Result<(Database, BootstrapOutput)> {
    if pager.header().bootstrapped {
        return Err(reddb_storage::error::Error::AlreadyBootstrapped);
    }
    PreparedFirstAdmin::prepare(username, password, cost, accounts::MIN_PASSWORD_LEN)?.finish(pager)
}
