//! AES-256-GCM with the key schedule in guarded memory.
//!
//! [`AeadKey`] is the only way the crate encrypts. It seals and opens in
//! place with a caller-supplied 12-byte nonce and associated data; choosing
//! nonces (and arguing they never repeat under one key) is the caller's job
//! and is written down in `docs/FORMAT.md`. An authentication failure is a
//! plain [`AuthFailed`], which callers turn into `Tampered`, a wrong
//! certificate, or the end of a log.

use crate::crypto::keys::Key32;
use crate::crypto::locked::{scrub_stack, Locked};
use crate::error::{Error, Result};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit};

pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

/// The ciphertext or its tag did not verify under this key, nonce and AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFailed;

/// An AES-256-GCM key schedule living in guarded memory.
pub struct AeadKey {
    cipher: Locked<Aes256Gcm>,
}

impl AeadKey {
    pub fn new(key: &Key32) -> Result<Self> {
        let cipher = Aes256Gcm::new_from_slice(&key[..])
            .map_err(|_| Error::Internal("aes key length".into()))?;
        let cipher = Locked::new(cipher)?;
        scrub_stack();
        Ok(Self { cipher })
    }

    /// Encrypts `buf` in place and returns the tag.
    pub fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let tag = self
            .cipher
            .encrypt_inout_detached(&(*nonce).into(), aad, buf.into())
            .map_err(|_| Error::Internal("aes-gcm refused a message length".into()))?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&tag[..]);
        Ok(out)
    }

    /// Decrypts `buf` in place if `tag` verifies; on failure `buf` is left
    /// unspecified and must be discarded.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> std::result::Result<(), AuthFailed> {
        self.cipher
            .decrypt_inout_detached(&(*nonce).into(), aad, buf.into(), &(*tag).into())
            .map_err(|_| AuthFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_every_binding() {
        let key = AeadKey::new(&Key32::from_slice(&[3u8; 32]).unwrap()).unwrap();
        let nonce = [9u8; 12];
        let mut buf = b"attack at dawn".to_vec();
        let tag = key.seal(&nonce, b"aad", &mut buf).unwrap();
        assert_ne!(&buf[..], b"attack at dawn");
        let sealed = buf.clone();
        key.open(&nonce, b"aad", &mut buf, &tag).unwrap();
        assert_eq!(&buf[..], b"attack at dawn");
        let mut b = sealed.clone();
        assert_eq!(key.open(&nonce, b"aaX", &mut b, &tag), Err(AuthFailed));
        let mut b = sealed.clone();
        assert_eq!(key.open(&[8u8; 12], b"aad", &mut b, &tag), Err(AuthFailed));
        let mut b = sealed.clone();
        b[0] ^= 1;
        assert_eq!(key.open(&nonce, b"aad", &mut b, &tag), Err(AuthFailed));
        let other = AeadKey::new(&Key32::from_slice(&[4u8; 32]).unwrap()).unwrap();
        let mut b = sealed;
        assert_eq!(other.open(&nonce, b"aad", &mut b, &tag), Err(AuthFailed));
    }
}
