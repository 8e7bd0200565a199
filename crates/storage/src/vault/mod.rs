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
//!
//! Which page is written first: the vault remembers the page it was opened
//! from (its *source*). A write goes to the other page first, sync, then to
//! the source, sync — so the page that opened is the last one overwritten,
//! and at every instant one of the two pages holds a complete vault that
//! opens. On a new or fully written vault the source is the live page, which
//! makes the order "mirror, sync, live, sync". A rekey
//! ([`crate::database::Database::commit_rekey`]) uses the same order with the
//! header switch between the two writes (`docs/FORMAT.md` §9.6).

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
    /// The page this vault was opened from (or last completely written:
    /// then the live page). It is overwritten last.
    source: u64,
    /// Whether the other page holds the same bytes as `source`.
    mirrored: bool,
}

/// The half of a rekey that costs Argon2 time and touches no file: a new
/// master secret, its certificate, a new salt and the vault key derived from
/// them (`docs/FORMAT.md` §9.6).
pub struct NewSeal {
    master: MasterSecret,
    cert: Certificate,
    salt: [u8; 16],
    key: AeadKey,
}

impl NewSeal {
    pub fn generate() -> Result<Self> {
        let master = MasterSecret::generate()?;
        let cert = master.certificate()?;
        let salt = crate::crypto::random::array()?;
        let key = AeadKey::new(&cert.derive_vault_key(&salt)?.0)?;
        Ok(Self {
            master,
            cert,
            salt,
            key,
        })
    }

    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }
}

impl Vault {
    /// A new vault for bootstrap: fresh salt, key derived from `cert`.
    pub fn create(root: VaultRoot, cert: &Certificate) -> Result<Self> {
        let salt = crate::crypto::random::array()?;
        let key = AeadKey::new(&cert.derive_vault_key(&salt)?.0)?;
        Ok(Self {
            root,
            salt,
            key,
            source: VAULT_LIVE_PAGE,
            mirrored: false,
        })
    }

    /// The same root (data key, `red.secret.aes_key`, creation time) under
    /// `seal`'s new master secret, salt and key: what a rekey writes. The
    /// new vault has not been written anywhere yet.
    pub fn rekeyed(&self, seal: NewSeal) -> Result<(Self, Certificate)> {
        let NewSeal {
            master,
            cert,
            salt,
            key,
        } = seal;
        let aes_key = match &self.root.aes_key {
            Some(k) => Some(Key32::from_slice(&k[..])?),
            None => None,
        };
        let root = VaultRoot {
            master,
            data_key: DataKey::from_bytes(self.root.data_key.as_bytes())?,
            aes_key,
            created_at_ms: self.root.created_at_ms,
        };
        let vault = Self {
            root,
            salt,
            key,
            source: self.source,
            mirrored: false,
        };
        Ok((vault, cert))
    }

    /// The page a write goes to first, and the one it goes to last (the
    /// page this vault was opened from).
    pub(crate) fn write_order(&self) -> (u64, u64) {
        if self.source == VAULT_MIRROR_PAGE {
            (VAULT_LIVE_PAGE, VAULT_MIRROR_PAGE)
        } else {
            (VAULT_MIRROR_PAGE, VAULT_LIVE_PAGE)
        }
    }

    /// The page this vault was opened from (or last completely written).
    pub(crate) fn source_page(&self) -> u64 {
        self.source
    }

    /// Whether both pages are known to hold this vault's bytes.
    #[cfg(test)]
    pub(crate) fn is_mirrored(&self) -> bool {
        self.mirrored
    }

    /// Records that `page` alone holds this vault completely (the other
    /// page's write failed or is still to come).
    pub(crate) fn written_only_to(&mut self, page: u64) {
        self.source = page;
        self.mirrored = false;
    }

    /// Records that both pages hold this vault completely.
    pub(crate) fn written_to_both(&mut self) {
        self.source = VAULT_LIVE_PAGE;
        self.mirrored = true;
    }

    /// Copies the source page's bytes, unchanged, over the other page when
    /// they differ (a torn or older page, or a vault left there by an
    /// interrupted rekey), then syncs. Writes nothing when they agree.
    /// Nothing is sealed: the copy is the same message under the same nonce.
    pub fn repair(&mut self, pager: &mut Pager) -> Result<()> {
        if self.mirrored {
            return Ok(());
        }
        let mut page = vec![0u8; pager.page_size()];
        if !pager.read_page(self.source, &mut page)? {
            return Err(Error::Internal("the vault's source page is missing".into()));
        }
        let (other, _) = self.write_order();
        pager.write_pages(other, &page)?;
        pager.sync()?;
        self.mirrored = true;
        Ok(())
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
        let mirrored = live == mirror;
        for (page_no, page) in [(VAULT_LIVE_PAGE, &live), (VAULT_MIRROR_PAGE, &mirror)] {
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
                return Ok(Self {
                    root,
                    salt,
                    key,
                    source: page_no,
                    mirrored,
                });
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

    /// Seals the root with a fresh random nonce into one page image. Every
    /// call draws a new nonce: write the image to both pages rather than
    /// sealing twice.
    pub(crate) fn sealed_page(&self, page_size: usize) -> Result<Vec<u8>> {
        let mut buf = self.root.encode()?;
        if buf.len() > codec::capacity(page_size) {
            return Err(Error::Internal("vault payload exceeds a page".into()));
        }
        let nonce: [u8; 12] = crate::crypto::random::array()?;
        let tag = self.key.seal(&nonce, codec::AAD, &mut buf)?;
        codec::encode(
            &VaultPage {
                salt: self.salt,
                nonce,
                ciphertext: &buf,
                tag,
            },
            page_size,
        )
        .ok_or_else(|| Error::Internal("vault page encode".into()))
    }

    /// Seals the root with a fresh random nonce and writes it: the page
    /// that did not open first, sync, then the source page, sync (on a new
    /// vault: mirror, sync, live, sync).
    pub fn write(&mut self, pager: &mut Pager) -> Result<()> {
        let page = self.sealed_page(pager.page_size())?;
        let (first, last) = self.write_order();
        self.mirrored = false;
        pager.write_pages(first, &page)?;
        pager.sync()?;
        self.written_only_to(first);
        pager.write_pages(last, &page)?;
        pager.sync()?;
        self.written_to_both();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pager::mem_file::MemFile;

    fn page(file: &MemFile, no: u64) -> Vec<u8> {
        file.0.lock().unwrap()[no as usize * 4096..(no as usize + 1) * 4096].to_vec()
    }

    #[test]
    fn the_page_that_opened_is_written_last_and_repaired_first() {
        let file = MemFile::default();
        let mut pager = Pager::create(Box::new(file.clone()), 4096).unwrap();
        let root = VaultRoot::generate(1).unwrap();
        let cert = root.master.certificate().unwrap();
        let mut vault = Vault::create(root, &cert).unwrap();
        assert_eq!(vault.write_order(), (VAULT_MIRROR_PAGE, VAULT_LIVE_PAGE));
        vault.write(&mut pager).unwrap();
        assert_eq!(page(&file, 2), page(&file, 3));
        let opened = Vault::unseal(&mut pager, &cert).unwrap();
        assert_eq!(
            (opened.source_page(), opened.is_mirrored()),
            (VAULT_LIVE_PAGE, true)
        );

        // A torn live page: the mirror opens, and is the page written last.
        file.0.lock().unwrap()[2 * 4096 + 60] ^= 1;
        let mut opened = Vault::unseal(&mut pager, &cert).unwrap();
        assert_eq!(
            (opened.source_page(), opened.is_mirrored()),
            (VAULT_MIRROR_PAGE, false)
        );
        assert_eq!(opened.write_order(), (VAULT_LIVE_PAGE, VAULT_MIRROR_PAGE));
        let mirror = page(&file, 3);
        opened.repair(&mut pager).unwrap();
        assert_eq!(page(&file, 2), mirror, "the mirror's bytes, unchanged");
        assert_eq!(page(&file, 3), mirror);
        assert!(opened.is_mirrored());
    }

    #[test]
    fn a_rekeyed_vault_keeps_the_keys_and_opens_only_under_its_certificate() {
        let file = MemFile::default();
        let mut pager = Pager::create(Box::new(file.clone()), 4096).unwrap();
        let mut root = VaultRoot::generate(5).unwrap();
        root.aes_key = Some(Key32::random().unwrap());
        let old_cert = root.master.certificate().unwrap();
        let old = Vault::create(root, &old_cert).unwrap();
        let seal = NewSeal::generate().unwrap();
        let (mut new, new_cert) = old.rekeyed(seal).unwrap();
        assert_ne!(old_cert.fingerprint(), new_cert.fingerprint());
        assert_eq!(new.root.data_key.as_bytes(), old.root.data_key.as_bytes());
        assert_eq!(
            &new.root.aes_key.as_ref().unwrap()[..],
            &old.root.aes_key.as_ref().unwrap()[..]
        );
        assert_eq!(new.root.created_at_ms, 5);
        assert_ne!(new.root.master.as_bytes(), old.root.master.as_bytes());
        assert_ne!(new.salt, old.salt);
        new.write(&mut pager).unwrap();
        assert!(Vault::unseal(&mut pager, &new_cert).is_ok());
        assert!(matches!(
            Vault::unseal(&mut pager, &old_cert),
            Err(Error::Tampered(_))
        ));
    }
}
