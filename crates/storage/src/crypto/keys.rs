//! The key hierarchy of the vault (`docs/FORMAT.md` §3) and the keys derived
//! from it.
//!
//! ```text
//! master_secret (32 random bytes, only inside the vault payload)
//!   └─ HMAC-SHA-256(key = master_secret, msg = "reddb-certificate-v1") = certificate (operator holds, 64 hex)
//!        └─ Argon2id(pwd = certificate, salt = 16 bytes from the vault page,
//!                    m = 16 MiB, t = 3, p = 1, associated data X = "reddb-vault-seal",
//!                    32-byte output) = vault_key
//!             └─ AES-256-GCM over the vault payload (AAD "reddb-vault")
//! data_key (32 random bytes in the vault payload)
//!   ├─ HMAC-SHA-256(data_key, "reddb-page-key-v1")  = page_key  (seals data pages)
//!   └─ HMAC-SHA-256(data_key, "reddb-meta-key-v1")  = meta_key  (seals the meta pages)
//! red.secret.aes_key (32 random bytes in the vault payload, made on first boot)
//!   └─ seals each `red.secret.*` value inside its record
//! ```
//!
//! Every key here lives in [`Locked`] memory; none of these types can be
//! printed, cloned or serialised. The certificate can be turned into hex only
//! through [`Certificate::to_hex_for_operator`], used exactly once, by
//! bootstrap, to show it to the operator.

use crate::crypto::locked::{scrub_stack, Locked};
use crate::error::{Error, Result};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub type Key32 = Locked<[u8; 32]>;

/// Domain string of the certificate HMAC: the certificate is
/// HMAC-SHA-256(master_secret, this) (`docs/FORMAT.md` §3).
pub(crate) const CERTIFICATE_INFO: &[u8] = b"reddb-certificate-v1";
/// Argon2id associated data binding the vault key to its purpose.
pub(crate) const VAULT_SEAL_INFO: &[u8] = b"reddb-vault-seal";
/// Argon2id cost of the vault key: 16 MiB, 3 passes, 1 lane.
pub(crate) const VAULT_KDF_M_KIB: u32 = 16 * 1024;
pub(crate) const VAULT_KDF_T: u32 = 3;
pub(crate) const VAULT_KDF_P: u32 = 1;

/// HMAC-SHA-256 of `msg` under `key`, written straight into guarded memory.
pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> Result<Key32> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|_| Error::Internal("hmac key length".into()))?;
    mac.update(msg);
    let mut tag = mac.finalize().into_bytes();
    let out = Key32::from_slice(&tag[..]);
    zeroize::Zeroize::zeroize(&mut tag[..]);
    scrub_stack();
    out
}

/// 32 random bytes generated at bootstrap; never leaves the vault payload.
pub struct MasterSecret(pub(crate) Key32);

impl MasterSecret {
    pub fn generate() -> Result<Self> {
        Ok(Self(Key32::random()?))
    }

    /// `certificate = HMAC-SHA-256(master_secret, "reddb-certificate-v1")`.
    pub fn certificate(&self) -> Result<Certificate> {
        Ok(Certificate(hmac_sha256(&self.0[..], CERTIFICATE_INFO)?))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Why [`decode_hex_key`] refused.
pub(crate) enum HexKeyError {
    /// What is wrong with the text, in words that never quote it.
    Malformed(&'static str),
    /// Guarded memory for the key could not be allocated.
    Memory(Error),
}

/// Decodes a 32-byte key written as 64 hex digits (certificates, backup
/// keys) straight into guarded memory. Surrounding whitespace is ignored
/// (files end in newlines); anything else that is not exactly 64 hex digits
/// is refused with a reason that never quotes the input.
pub(crate) fn decode_hex_key(text: &str) -> std::result::Result<Key32, HexKeyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(HexKeyError::Malformed("it is empty"));
    }
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(HexKeyError::Malformed(
            "it contains characters that are not hexadecimal",
        ));
    }
    if text.len() != 64 {
        return Err(HexKeyError::Malformed("it is not 64 characters long"));
    }
    let mut key = Key32::zeroed().map_err(HexKeyError::Memory)?;
    hex::decode_to_slice(text, &mut key[..])
        .map_err(|_| HexKeyError::Malformed("it is not valid hexadecimal"))?;
    Ok(key)
}

/// The operator's 32-byte certificate (64 hex characters outside).
pub struct Certificate(Key32);

impl Certificate {
    /// Parses the 64-hex form (see [`decode_hex_key`]).
    pub fn parse_hex(text: &str) -> Result<Self> {
        match decode_hex_key(text) {
            Ok(key) => Ok(Self(key)),
            Err(HexKeyError::Malformed(why)) => Err(Error::MalformedCertificate(why)),
            Err(HexKeyError::Memory(e)) => Err(e),
        }
    }

    /// The 64-hex text shown once to the operator at bootstrap.
    pub fn to_hex_for_operator(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(&self.0[..]))
    }

    /// A public 16-byte identifier of the certificate stored in the file
    /// header: `SHA-256("reddb-certificate-id-v1" || certificate)[..16]`.
    /// It lets `open` say "wrong certificate" before spending Argon2 time;
    /// the certificate is 256 uniformly random bits, so the identifier
    /// gives an attacker nothing to search.
    pub fn fingerprint(&self) -> [u8; 16] {
        let mut h = Sha256::new();
        h.update(b"reddb-certificate-id-v1");
        h.update(&self.0[..]);
        let d = h.finalize();
        let mut out = [0u8; 16];
        if let Some(head) = d.first_chunk::<16>() {
            out = *head;
        }
        out
    }

    /// `vault_key = Argon2id(certificate, salt, m=16 MiB, t=3, p=1,
    /// X="reddb-vault-seal", 32 bytes)`.
    pub(crate) fn derive_vault_key(&self, salt: &[u8; 16]) -> Result<VaultKey> {
        let data = argon2::AssociatedData::new(VAULT_SEAL_INFO)
            .map_err(|e| Error::Internal(format!("argon2 associated data: {e}")))?;
        let params = argon2::ParamsBuilder::new()
            .m_cost(VAULT_KDF_M_KIB)
            .t_cost(VAULT_KDF_T)
            .p_cost(VAULT_KDF_P)
            .data(data)
            .output_len(32)
            .build()
            .map_err(|e| Error::Internal(format!("argon2 params: {e}")))?;
        let kdf = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = Key32::zeroed()?;
        kdf.hash_password_into(&self.0[..], salt, &mut key[..])
            .map_err(|e| Error::Internal(format!("argon2: {e}")))?;
        Ok(VaultKey(key))
    }
}

/// The raw bytes, for certificate shares ([`crate::crypto::shares`]) only:
/// split reads them into its guarded polynomial, combine builds a
/// certificate from the guarded result. They never leave guarded memory.
impl Certificate {
    pub(crate) fn from_key(key: Key32) -> Self {
        Self(key)
    }

    pub(crate) fn key_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The AES-256-GCM key of the vault pages, derived at every start.
pub(crate) struct VaultKey(pub(crate) Key32);

/// Random key from which the page and meta keys are derived.
pub struct DataKey(pub(crate) Key32);

impl DataKey {
    pub fn generate() -> Result<Self> {
        Ok(Self(Key32::random()?))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(Self(Key32::from_slice(bytes)?))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn page_key(&self) -> Result<Key32> {
        hmac_sha256(&self.0[..], b"reddb-page-key-v1")
    }

    pub(crate) fn meta_key(&self) -> Result<Key32> {
        hmac_sha256(&self.0[..], b"reddb-meta-key-v1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_is_hmac_of_master_secret() {
        let master = MasterSecret(Key32::from_slice(&[7u8; 32]).unwrap());
        let cert = master.certificate().unwrap();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[7u8; 32]).unwrap();
        mac.update(b"reddb-certificate-v1");
        let expect = hex::encode(mac.finalize().into_bytes());
        assert_eq!(cert.to_hex_for_operator().as_str(), expect);
    }

    #[test]
    fn parse_refuses_each_malformed_shape() {
        let ok = "ab".repeat(32);
        assert!(Certificate::parse_hex(&ok).is_ok());
        assert!(Certificate::parse_hex(&format!("{ok}\n")).is_ok());
        for bad in [
            "",
            "   ",
            &ok[..63],
            &format!("{ok}0"),
            &format!("{}zz", &ok[..62]),
        ] {
            let err = Certificate::parse_hex(bad).err().unwrap();
            assert!(matches!(err, Error::MalformedCertificate(_)), "{bad:?}");
            assert!(!err.to_string().contains(&ok[..10]));
        }
    }

    #[test]
    fn vault_key_depends_on_salt_and_certificate() {
        let a = Certificate::parse_hex(&"11".repeat(32)).unwrap();
        let b = Certificate::parse_hex(&"12".repeat(32)).unwrap();
        let k1 = a.derive_vault_key(&[1u8; 16]).unwrap();
        let k2 = a.derive_vault_key(&[2u8; 16]).unwrap();
        let k3 = b.derive_vault_key(&[1u8; 16]).unwrap();
        let k1b = a.derive_vault_key(&[1u8; 16]).unwrap();
        assert_eq!(&k1.0[..], &k1b.0[..]);
        assert_ne!(&k1.0[..], &k2.0[..]);
        assert_ne!(&k1.0[..], &k3.0[..]);
    }
}
