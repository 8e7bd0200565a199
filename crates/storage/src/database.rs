//! A database file as a whole: create, bootstrap, unseal.
//!
//! This is where the pager, the vault and the store meet. It owns the order
//! of operations that makes bootstrap atomic (log, then vault, then the
//! header that marks the file bootstrapped: a crash before the header write
//! leaves a fresh file) and the checks that make a wrong certificate write
//! nothing (the certificate id is compared before any key is derived, and
//! the vault is opened before the store bumps its epoch). It also owns the
//! order of a rekey (new vault on the page that did not open, then the
//! header with the new certificate id, then the other vault page: exactly
//! one certificate opens the file at every instant, `docs/FORMAT.md` §9.6).

use crate::crypto::keys::Certificate;
use crate::crypto::seal::{AeadKey, NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};
use crate::pager::{file, meta::DEFAULT_PAGE_SIZE, FileHeader, FileIo, Pager, SyncBarrier};
use crate::store::record::{Mutation, Namespace};
use crate::store::{CheckpointProgress, Store, StoreKeys, StoreStats, SyncTicket};
use crate::vault::{NewSeal, Vault, VaultRoot};
use std::path::Path;
use std::time::{Duration, Instant};
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

/// Keys generated for a bootstrap and the first records to write with
/// them (built by the layer above: the first admin user and its API key);
/// nothing is written yet.
pub struct PreparedBootstrap {
    vault: Vault,
    cert: Certificate,
    first_records: Vec<Mutation>,
}

impl PreparedBootstrap {
    /// The certificate, for delivery to the operator *before*
    /// [`Database::finish_bootstrap`] commits: a bootstrap whose certificate
    /// could not be delivered must not be committed.
    pub fn certificate_hex(&self) -> Zeroizing<String> {
        self.cert.to_hex_for_operator()
    }
}

/// A new certificate and its vault key, made ahead of a rekey (the Argon2
/// half, [`Database::prepare_rekey`]); nothing is written yet.
pub struct PreparedRekey {
    seal: NewSeal,
}

impl PreparedRekey {
    /// The new certificate, for delivery to the operator *before*
    /// [`Database::commit_rekey`] where the delivery can fail (a file, a
    /// terminal): a certificate that was not delivered must not be put in
    /// force.
    pub fn certificate_hex(&self) -> Zeroizing<String> {
        self.seal.certificate().to_hex_for_operator()
    }
}

/// What a committed rekey left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RekeyReport {
    /// Both vault pages hold the new vault. `false` when the last write
    /// (over the page the old vault opened from) failed: the new
    /// certificate is in force, the old vault page stays on disk until the
    /// next writable open copies the new one over it, and the store is
    /// stopped (restart the server).
    pub old_vault_erased: bool,
}

/// Why a rekey did not complete.
#[derive(Debug)]
pub enum RekeyFailure {
    /// Nothing in force changed: the old certificate still opens the file,
    /// the new one is void.
    NotCommitted(Error),
    /// The header write failed part-way: the file opens with exactly one
    /// of the two certificates, and only trying them tells which. The
    /// store is stopped; both certificates must be kept.
    Undetermined(Error),
}

impl RekeyFailure {
    pub fn into_error(self) -> Error {
        match self {
            RekeyFailure::NotCommitted(e) => e,
            RekeyFailure::Undetermined(e) => Error::RekeyIncomplete(e.to_string()),
        }
    }
}

/// An unsealed database.
pub struct Database {
    store: Store,
    vault: Vault,
    secret_key: Option<AeadKey>,
}

impl Database {
    /// The CPU-heavy half of bootstrap (key generation and the vault
    /// key's Argon2id). Touches no file, so the server runs it on a worker
    /// thread. `first_records` are written in the same commit.
    pub fn prepare_bootstrap(first_records: Vec<Mutation>, now: u64) -> Result<PreparedBootstrap> {
        let root = VaultRoot::generate(now)?;
        let cert = root.master.certificate()?;
        let vault = Vault::create(root, &cert)?;
        Ok(PreparedBootstrap {
            vault,
            cert,
            first_records,
        })
    }

    /// The I/O half of bootstrap: writes the log (the first records), the
    /// vault, then the header that marks the file bootstrapped. Refuses
    /// (changing nothing) on a bootstrapped file.
    pub fn finish_bootstrap(pager: Pager, prepared: PreparedBootstrap) -> Result<Self> {
        if pager.header().bootstrapped {
            return Err(Error::AlreadyBootstrapped);
        }
        let PreparedBootstrap {
            mut vault,
            cert,
            first_records,
        } = prepared;
        let keys = StoreKeys::derive(&vault.root.data_key)?;
        let mut store = Store::initialize(pager, keys)?;
        store.apply(first_records)?;
        store.flush()?;
        vault.write(store.pager_mut())?;
        let header = FileHeader {
            bootstrapped: true,
            cert_id: cert.fingerprint(),
            ..*store.header()
        };
        store.commit_header(header)?;
        Ok(Self {
            store,
            vault,
            secret_key: None,
        })
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
            // The page that did not open (torn, older, or a vault an
            // interrupted rekey left under another certificate) gets the
            // bytes of the one that did: after a writable open both vault
            // pages open under the certificate in force, and nothing else.
            db.vault.repair(db.store.pager_mut())?;
        } else if let Some(k) = &db.vault.root.aes_key {
            db.secret_key = Some(AeadKey::new(k)?);
        }
        Ok(db)
    }

    /// The CPU-heavy half of a rekey: a new master secret, its certificate,
    /// a new salt and the vault key (Argon2id, 16 MiB). Touches no file, so
    /// the server runs it on a worker thread.
    pub fn prepare_rekey() -> Result<PreparedRekey> {
        Ok(PreparedRekey {
            seal: NewSeal::generate()?,
        })
    }

    /// The I/O half of a rekey (`docs/FORMAT.md` §9.6): the vault root —
    /// same data key, same `red.secret.aes_key`, new master secret — sealed
    /// under the new vault key and written to the vault page that did not
    /// open, sync; the header with the new certificate id (both meta
    /// copies, each synced: the first complete copy is the commit point);
    /// the same page image over the page that did open, sync. No data page
    /// is written. From the commit point on, the in-memory vault is the new
    /// one.
    pub fn commit_rekey(
        &mut self,
        prepared: PreparedRekey,
    ) -> std::result::Result<RekeyReport, RekeyFailure> {
        use RekeyFailure::{NotCommitted, Undetermined};
        self.store.check_writable().map_err(NotCommitted)?;
        let (mut vault, cert) = self.vault.rekeyed(prepared.seal).map_err(NotCommitted)?;
        let pager = self.store.pager_mut();
        let page = vault.sealed_page(pager.page_size()).map_err(NotCommitted)?;
        let (first, last) = self.vault.write_order();
        // 1. The new vault beside the old one.
        if let Err(e) = pager.write_pages(first, &page).and_then(|_| pager.sync()) {
            // The old vault's page was not touched; the other one may now
            // be torn: it is written first again next time. As after any
            // failed write, the store stops (a failed sync may have lost
            // more than this page).
            self.vault.written_only_to(self.vault.source_page());
            self.store.poison();
            return Err(NotCommitted(e));
        }
        // 2. The commit point: the header names the new certificate.
        let header = FileHeader {
            cert_id: cert.fingerprint(),
            ..*self.store.header()
        };
        if let Err(e) = self.store.commit_header(header) {
            return Err(Undetermined(e));
        }
        vault.written_only_to(first);
        self.vault = vault;
        // 3. The old vault is overwritten by the new one.
        let pager = self.store.pager_mut();
        match pager.write_pages(last, &page).and_then(|_| pager.sync()) {
            Ok(()) => {
                self.vault.written_to_both();
                Ok(RekeyReport {
                    old_vault_erased: true,
                })
            }
            Err(e) => {
                crate::log_error!(
                    "rekey: the new certificate is in force, but the old vault copy on page {last} could not be overwritten ({e}); it is replaced at the next start"
                );
                self.store.poison();
                Ok(RekeyReport {
                    old_vault_erased: false,
                })
            }
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// The group commit: writes every commit staged since the last one as
    /// log pages and syncs once. Returns how long the write and the sync
    /// took, or `None` when nothing was staged. A failure poisons the store
    /// (nothing staged may be acknowledged after it).
    pub fn flush_staged(&mut self) -> Result<Option<Duration>> {
        if !self.store.has_pending() {
            return Ok(None);
        }
        let started = Instant::now();
        self.store.flush()?;
        Ok(Some(started.elapsed()))
    }

    /// The group commit without its sync: writes what was staged and
    /// returns the ticket the sync thread's `fdatasync` redeems
    /// ([`Store::write_staged`]; `None` when nothing waits for a sync).
    pub fn write_staged(&mut self) -> Result<Option<SyncTicket>> {
        self.store.write_staged()
    }

    /// Reports the sync of `ticket` ([`Store::synced`]; a failure poisons).
    pub fn synced(&mut self, ticket: SyncTicket, result: std::io::Result<()>) -> Result<()> {
        self.store.synced(ticket, result)
    }

    /// A durability barrier for the sync thread ([`Store::barrier`]).
    pub fn sync_barrier(&self) -> std::io::Result<Box<dyn SyncBarrier>> {
        self.store.barrier()
    }

    /// The last commit applied to memory, and the last one on disk: a
    /// reply written now may leave once the second reaches the first.
    pub fn commit_seqs(&self) -> (u64, u64) {
        (
            self.store.last_commit_seq(),
            self.store.durable_commit_seq(),
        )
    }

    /// Starts an incremental checkpoint when the log has grown enough past
    /// the live data (the store decides: `Store::should_compact`). Returns
    /// how long listing the keys took, or `None` when none was due.
    pub fn checkpoint_if_due(&mut self) -> Result<Option<Duration>> {
        if !self.store.should_compact() {
            return Ok(None);
        }
        let started = Instant::now();
        self.store.begin_checkpoint()?;
        Ok(Some(started.elapsed()))
    }

    /// `BGSAVE`: starts an incremental checkpoint; false when one runs.
    pub fn begin_checkpoint(&mut self) -> Result<bool> {
        self.store.begin_checkpoint()
    }

    /// One step of the running checkpoint (about `budget` bytes of entries).
    pub fn checkpoint_step(&mut self, budget: usize) -> Result<CheckpointProgress> {
        self.store.checkpoint_step(now_ms(), budget)
    }

    /// Drops up to `limit` expired entries from memory (no log record is
    /// needed); returns how many went.
    pub fn sweep_expired(&mut self, limit: usize) -> usize {
        self.store.sweep_expired(now_ms(), limit)
    }

    /// [`Database::sweep_expired`], telling `report` each key it drops
    /// with its namespace.
    pub fn sweep_expired_reporting(
        &mut self,
        limit: usize,
        report: impl FnMut(Namespace, &[u8]),
    ) -> usize {
        self.store.sweep_expired_reporting(now_ms(), limit, report)
    }

    /// Entries held in memory in `ns` (expired ones not yet swept
    /// included).
    pub fn held(&self, ns: Namespace) -> usize {
        self.store.state().held(ns)
    }

    /// The store's counters and sizes (one `fstat` for the file size).
    /// [`Store::pages_written`].
    pub fn pages_written(&self) -> u64 {
        self.store.pages_written()
    }

    pub fn store_stats(&mut self) -> StoreStats {
        self.store.stats()
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
