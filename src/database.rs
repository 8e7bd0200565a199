//! A database file as a whole: create, bootstrap, unseal.
//!
//! This is where the pager, the vault and the store meet. It owns the order
//! of operations that makes bootstrap atomic (log, then vault, then the
//! header that marks the file bootstrapped: a crash before the header write
//! leaves a fresh file) and the checks that make a wrong certificate write
//! nothing (the certificate id is compared before any key is derived, and
//! the vault is opened before the store bumps its epoch).

use crate::crypto::keys::Certificate;
use crate::crypto::password::PasswordCost;
use crate::crypto::seal::{AeadKey, NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};
use crate::pager::{file, meta::DEFAULT_PAGE_SIZE, FileHeader, FileIo, Pager};
use crate::service::accounts::{self, Role};
use crate::store::{Store, StoreKeys};
use crate::vault::{Vault, VaultRoot};
use std::path::Path;
use zeroize::Zeroizing;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Opens (and with `create`, creates) the file at `path` and locks it.
pub fn open_pager(path: &Path, create: bool) -> Result<Pager> {
    let existed = path.exists();
    let f = file::open_locked(path, create)?;
    let mut io = FileIo::new(f);
    let len = crate::pager::PageIo::len(&mut io)
        .map_err(|e| Error::io("cannot stat database file", e))?;
    if len == 0 && !create {
        return Err(Error::UnsupportedFormat(format!(
            "{} is empty: not a reddb database file",
            path.display()
        )));
    }
    if len == 0 {
        let pager = Pager::create(Box::new(io), DEFAULT_PAGE_SIZE)?;
        if !existed {
            if let Some(dir) = path.parent() {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                file::sync_dir(dir)?;
            }
        }
        Ok(pager)
    } else {
        Pager::open(Box::new(io))
    }
}

/// What bootstrap hands back, once.
pub struct BootstrapOutput {
    pub username: String,
    pub role: Role,
    pub api_key: Zeroizing<String>,
    pub certificate_hex: Zeroizing<String>,
}

/// Keys and records generated for a bootstrap, not yet written.
pub struct PreparedBootstrap {
    vault: Vault,
    cert: Certificate,
    user: accounts::UserRecord,
    key: accounts::NewApiKey,
}

impl PreparedBootstrap {
    /// The certificate, for delivery to the operator *before*
    /// [`Database::finish_bootstrap`] commits: a bootstrap whose certificate
    /// could not be delivered must not be committed.
    pub fn certificate_hex(&self) -> Zeroizing<String> {
        self.cert.to_hex_for_operator()
    }

    pub fn api_key(&self) -> &str {
        &self.key.token
    }

    pub fn username(&self) -> &str {
        &self.user.username
    }
}

/// An unsealed database.
pub struct Database {
    store: Store,
    vault: Vault,
    secret_key: Option<AeadKey>,
}

impl Database {
    /// The CPU-heavy half of bootstrap (key generation, the vault key's
    /// Argon2id, the admin password's Argon2id). Touches no file, so the
    /// server runs it on a worker thread.
    pub fn prepare_bootstrap(
        username: &str,
        password: &[u8],
        cost: PasswordCost,
        min_password_len: usize,
    ) -> Result<PreparedBootstrap> {
        accounts::validate_new_username(username)?;
        accounts::validate_password(password, min_password_len)?;
        let now = now_ms();
        let root = VaultRoot::generate(now)?;
        let cert = root.master.certificate()?;
        let user = accounts::new_user(username, Role::Admin, password, cost, now)?;
        let key = accounts::new_api_key(username, "bootstrap", now)?;
        let vault = Vault::create(root, &cert)?;
        Ok(PreparedBootstrap {
            vault,
            cert,
            user,
            key,
        })
    }

    /// The I/O half of bootstrap: writes the log, the vault, then the header
    /// that marks the file bootstrapped. Refuses (changing nothing) on a
    /// bootstrapped file.
    pub fn finish_bootstrap(
        pager: Pager,
        prepared: PreparedBootstrap,
    ) -> Result<(Self, BootstrapOutput)> {
        if pager.header().bootstrapped {
            return Err(Error::AlreadyBootstrapped);
        }
        let PreparedBootstrap {
            vault,
            cert,
            user,
            key,
        } = prepared;
        let keys = StoreKeys::derive(&vault.root.data_key)?;
        let mut store = Store::initialize(pager, keys)?;
        store.apply(vec![
            accounts::put_user(&user)?,
            accounts::put_api_key(&key.record)?,
        ])?;
        store.flush()?;
        vault.write(store.pager_mut())?;
        let header = FileHeader {
            bootstrapped: true,
            cert_id: cert.fingerprint(),
            ..*store.header()
        };
        store.commit_header(header)?;
        let out = BootstrapOutput {
            username: user.username.clone(),
            role: user.role,
            api_key: key.token,
            certificate_hex: cert.to_hex_for_operator(),
        };
        Ok((
            Self {
                store,
                vault,
                secret_key: None,
            },
            out,
        ))
    }

    /// Both halves at once (the CLI).
    pub fn bootstrap(
        pager: Pager,
        username: &str,
        password: &[u8],
        cost: PasswordCost,
    ) -> Result<(Self, BootstrapOutput)> {
        if pager.header().bootstrapped {
            return Err(Error::AlreadyBootstrapped);
        }
        let prepared =
            Self::prepare_bootstrap(username, password, cost, accounts::MIN_PASSWORD_LEN)?;
        Self::finish_bootstrap(pager, prepared)
    }

    /// First boot after bootstrap: generates `red.secret.aes_key` and seals
    /// it into the vault. Does nothing when the key exists.
    pub fn complete_first_boot(&mut self) -> Result<()> {
        if self.vault.root.aes_key.is_none() {
            if self
                .store
                .state()
                .held(crate::store::record::Namespace::Secrets)
                > 0
            {
                return Err(Error::Tampered(
                    "the vault has no red.secret.aes_key but secrets exist: vault pages 2-3 were replaced by an older copy"
                        .into(),
                ));
            }
            self.vault.root.aes_key = Some(crate::crypto::keys::Key32::random()?);
            self.vault.write(self.store.pager_mut())?;
        }
        if self.secret_key.is_none() {
            if let Some(k) = &self.vault.root.aes_key {
                self.secret_key = Some(AeadKey::new(k)?);
            }
        }
        Ok(())
    }

    /// Whether `cert` is the certificate of the bootstrapped file `pager`
    /// holds (its id in the header), checked before any key derivation.
    pub fn certificate_opens(pager: &Pager, cert: &Certificate) -> bool {
        pager.header().bootstrapped && pager.header().cert_id == cert.fingerprint()
    }

    /// Opens a bootstrapped file with the operator's certificate. With
    /// `writable`, a missing `red.secret.aes_key` is generated and sealed
    /// into the vault (first boot after bootstrap).
    pub fn unseal(mut pager: Pager, cert: &Certificate, writable: bool) -> Result<Self> {
        if !pager.header().bootstrapped {
            return Err(Error::NotBootstrapped);
        }
        if pager.header().cert_id != cert.fingerprint() {
            return Err(Error::WrongCertificate);
        }
        let vault = Vault::unseal(&mut pager, cert)?;
        let keys = StoreKeys::derive(&vault.root.data_key)?;
        let store = Store::open_with(pager, keys, writable, true)?;
        let mut db = Self {
            store,
            vault,
            secret_key: None,
        };
        if writable {
            db.complete_first_boot()?;
        } else if let Some(k) = &db.vault.root.aes_key {
            db.secret_key = Some(AeadKey::new(k)?);
        }
        Ok(db)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    fn secret_aad(&self, key: &[u8], version: u32) -> Vec<u8> {
        let mut aad = Vec::with_capacity(15 + 16 + 4 + key.len() + 4);
        aad.extend_from_slice(b"reddb-secret-v1");
        aad.extend_from_slice(&self.store.header().file_id);
        aad.extend_from_slice(&(key.len() as u32).to_be_bytes());
        aad.extend_from_slice(key);
        aad.extend_from_slice(&version.to_be_bytes());
        aad
    }

    /// Seals one version of a `red.secret.*` value under
    /// `red.secret.aes_key`, bound to its key name and version:
    /// `nonce(12) | ciphertext | tag(16)` with a fresh random nonce (secret
    /// writes are few; the bound is in docs/FORMAT.md).
    pub fn seal_secret_value(&mut self, key: &[u8], version: u32, value: &[u8]) -> Result<Vec<u8>> {
        let aad = self.secret_aad(key, version);
        let nonce: [u8; NONCE_LEN] = crate::crypto::random::array()?;
        let cipher = self.secret_key.as_ref().ok_or(Error::NotBootstrapped)?;
        let mut out = Vec::with_capacity(NONCE_LEN + value.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(value);
        let tag = cipher.seal(&nonce, &aad, out.get_mut(NONCE_LEN..).unwrap_or(&mut []))?;
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens a value sealed by [`Database::seal_secret_value`].
    pub fn open_secret_value(
        &self,
        key: &[u8],
        version: u32,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let cipher = self.secret_key.as_ref().ok_or(Error::NotBootstrapped)?;
        let aad = self.secret_aad(key, version);
        let plain = crate::pager::open_sealed(cipher, &aad, sealed)
            .map_err(|_| Error::Tampered("a secret value does not authenticate".into()))?;
        Ok(Zeroizing::new(plain))
    }
}
