//! The vault root: the keys of the file, sealed on pages 2 (live) and 3
//! (mirror) under the key derived from the operator's certificate.
//!
//! The vault knows keys and the root payload, not sockets or records. Its
//! payload is small and fixed: the master secret, the data key (from which
//! the store's page and meta keys are derived) and `red.secret.aes_key`.
//! Everything else the vault "holds" — users, API keys, sessions, secrets —
//! lives in the store, sealed under keys this payload carries: the payload
//! *references* that data instead of chaining it, so a change to one user
//! costs one log commit, not a rewrite of the vault.
//!
//! Payload (plaintext inside AES-256-GCM, 106 bytes, in guarded memory):
//! `version u8 (1) | master_secret 32 | data_key 32 | aes_key_present u8 |
//! aes_key 32 | created_at_ms u64`.

pub mod codec;

use crate::crypto::keys::{Certificate, DataKey, Key32, MasterSecret, VaultKey};
use crate::crypto::locked::LockedBuf;
use crate::crypto::seal::AeadKey;
use crate::error::{Error, Result};
use crate::pager::{Pager, VAULT_LIVE_PAGE, VAULT_MIRROR_PAGE};
use codec::{VaultPage, VaultPageError};

const PAYLOAD_VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 1 + 32 + 32 + 1 + 32 + 8;

/// The decrypted vault payload.
pub struct VaultRoot {
    pub master: MasterSecret,
    pub data_key: DataKey,
    /// `red.secret.aes_key`: generated on the first server start after
    /// bootstrap; seals secret values; never readable through any API.
    pub aes_key: Option<Key32>,
    pub created_at_ms: u64,
}

impl VaultRoot {
    pub fn generate(now_ms: u64) -> Result<Self> {
        Ok(Self {
            master: MasterSecret::generate()?,
            data_key: DataKey::generate()?,
            aes_key: None,
            created_at_ms: now_ms,
        })
    }

    fn encode(&self) -> Result<LockedBuf> {
        let mut buf = LockedBuf::zeroed(PAYLOAD_LEN)?;
        // The layout of docs/FORMAT.md §5.2; `put` cannot miss (the offsets
        // are constants inside PAYLOAD_LEN) but refuses instead of panicking.
        let mut put = |at: usize, bytes: &[u8]| -> Result<()> {
            buf.get_mut(at..at + bytes.len())
                .ok_or_else(|| Error::Internal("vault payload layout".into()))?
                .copy_from_slice(bytes);
            Ok(())
        };
        put(0, &[PAYLOAD_VERSION])?;
        put(1, self.master.as_bytes())?;
        put(33, self.data_key.as_bytes())?;
        if let Some(k) = &self.aes_key {
            put(65, &[1])?;
            put(66, &k[..])?;
        }
        put(98, &self.created_at_ms.to_be_bytes())?;
        Ok(buf)
    }

    fn decode(buf: &[u8]) -> Result<Self> {
        let bad = || Error::Corrupted("vault payload has an impossible layout".into());
        if buf.len() != PAYLOAD_LEN || buf.first() != Some(&PAYLOAD_VERSION) {
            return Err(bad());
        }
        let field = |a: usize, b: usize| buf.get(a..b).ok_or_else(bad);
        let master = MasterSecret(Key32::from_slice(field(1, 33)?)?);
        let data_key = DataKey::from_bytes(field(33, 65)?)?;
        let aes_key = match buf.get(65) {
            Some(0) => None,
            Some(1) => Some(Key32::from_slice(field(66, 98)?)?),
            _ => return Err(bad()),
        };
        let mut ts = [0u8; 8];
        ts.copy_from_slice(field(98, 106)?);
        Ok(Self {
            master,
            data_key,
            aes_key,
            created_at_ms: u64::from_be_bytes(ts),
        })
    }
}

/// An unsealed vault: the root plus what is needed to write it again.
pub struct Vault {
    pub root: VaultRoot,
    salt: [u8; 16],
    key: AeadKey,
}

impl Vault {
    /// A new vault for bootstrap: fresh salt, key derived from `cert`.
    pub fn create(root: VaultRoot, cert: &Certificate) -> Result<Self> {
        let salt = crate::crypto::random::array()?;
        let key = AeadKey::new(&cert.derive_vault_key(&salt)?.0)?;
        Ok(Self { root, salt, key })
    }

    /// Reads pages 2 and 3 and opens the vault with `cert`. The live page
    /// wins; the mirror is used when the live page is torn or damaged. The
    /// caller has already compared the certificate id in the header, so a
    /// failure of both pages here means the pages were altered.
    pub fn unseal(pager: &mut Pager, cert: &Certificate) -> Result<Self> {
        let size = pager.page_size();
        let mut live = vec![0u8; size];
        let mut mirror = vec![0u8; size];
        if !pager.read_page(VAULT_LIVE_PAGE, &mut live)? {
            live.fill(0);
        }
        if !pager.read_page(VAULT_MIRROR_PAGE, &mut mirror)? {
            mirror.fill(0);
        }
        let mut derived: Vec<([u8; 16], AeadKey)> = Vec::new();
        let mut saw_page = false;
        for page in [&live, &mirror] {
            let decoded = match codec::decode(page) {
                Ok(p) => p,
                Err(VaultPageError::Empty) => continue,
                Err(_) => {
                    saw_page = true;
                    continue;
                }
            };
            saw_page = true;
            let key_index = match derived.iter().position(|(s, _)| *s == decoded.salt) {
                Some(i) => i,
                None => {
                    let vk: VaultKey = cert.derive_vault_key(&decoded.salt)?;
                    derived.push((decoded.salt, AeadKey::new(&vk.0)?));
                    derived.len() - 1
                }
            };
            let Some((salt, key)) = derived.get(key_index) else {
                continue;
            };
            let mut plain = LockedBuf::from_slice(decoded.ciphertext)?;
            if key
                .open(&decoded.nonce, codec::AAD, &mut plain, &decoded.tag)
                .is_ok()
            {
                let root = VaultRoot::decode(&plain)?;
                if root.master.certificate()?.fingerprint() != cert.fingerprint() {
                    return Err(Error::Tampered(
                        "vault payload does not belong to this certificate".into(),
                    ));
                }
                let salt = *salt;
                let key = derived.swap_remove(key_index).1;
                return Ok(Self { root, salt, key });
            }
        }
        if !saw_page {
            return Err(Error::Corrupted(
                "vault pages 2 and 3 are empty in a bootstrapped file".into(),
            ));
        }
        Err(Error::Tampered(
            "vault pages 2 and 3 do not authenticate under this certificate".into(),
        ))
    }

    /// Seals the root with a fresh random nonce and writes it: mirror,
    /// sync, live, sync.
    pub fn write(&self, pager: &mut Pager) -> Result<()> {
        let size = pager.page_size();
        let mut buf = self.root.encode()?;
        if buf.len() > codec::capacity(size) {
            return Err(Error::Internal("vault payload exceeds a page".into()));
        }
        let nonce: [u8; 12] = crate::crypto::random::array()?;
        let tag = self.key.seal(&nonce, codec::AAD, &mut buf)?;
        let page = codec::encode(
            &VaultPage {
                salt: self.salt,
                nonce,
                ciphertext: &buf,
                tag,
            },
            size,
        )
        .ok_or_else(|| Error::Internal("vault page encode".into()))?;
        pager.write_pages(VAULT_MIRROR_PAGE, &page)?;
        pager.sync()?;
        pager.write_pages(VAULT_LIVE_PAGE, &page)?;
        pager.sync()
    }
}
