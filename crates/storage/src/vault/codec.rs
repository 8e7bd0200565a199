//! Codec of a vault page (pages 2 and 3), exactly as `docs/FORMAT.md` §5
//! lays out the header. Pure: bytes in, typed value or typed error out.
//!
//! ```text
//! 0    4  magic "RDBV"
//! 4    1  version (1)
//! 5   16  salt (Argon2id salt of the vault key)
//! 21   4  payload_len: length of the encrypted payload (big-endian)
//! 25  12  nonce (fresh random per write)
//! 37   n  ciphertext (n = payload_len)
//! 37+n 16 GCM tag
//! ...     zero up to the page size
//! ```
//! The associated data is the constant `b"reddb-vault"`.

use crate::codec::{Reader, Writer};

pub(crate) const MAGIC: [u8; 4] = *b"RDBV";
pub(crate) const VERSION: u8 = 1;
pub const AAD: &[u8] = b"reddb-vault";
pub const HEADER_LEN: usize = 4 + 1 + 16 + 4;
pub const OVERHEAD: usize = HEADER_LEN + 12 + 16;

/// A decoded (still encrypted) vault page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultPage<'a> {
    pub salt: [u8; 16],
    pub nonce: [u8; 12],
    pub ciphertext: &'a [u8],
    pub tag: [u8; 16],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultPageError {
    /// All zero or missing: no vault was ever written here.
    Empty,
    NotVault,
    UnsupportedVersion(u8),
    /// payload_len does not fit the page.
    BadLength,
}

/// Largest payload a page of `page_size` holds.
pub fn capacity(page_size: usize) -> usize {
    page_size.saturating_sub(OVERHEAD)
}

pub fn decode(page: &[u8]) -> Result<VaultPage<'_>, VaultPageError> {
    if page.iter().all(|b| *b == 0) {
        return Err(VaultPageError::Empty);
    }
    let mut r = Reader::new(page);
    let magic: [u8; 4] = r.array().ok_or(VaultPageError::NotVault)?;
    if magic != MAGIC {
        return Err(VaultPageError::NotVault);
    }
    let version = r.u8().ok_or(VaultPageError::NotVault)?;
    if version != VERSION {
        return Err(VaultPageError::UnsupportedVersion(version));
    }
    let salt = r.array().ok_or(VaultPageError::BadLength)?;
    let len = usize::try_from(r.u32().ok_or(VaultPageError::BadLength)?)
        .map_err(|_| VaultPageError::BadLength)?;
    let nonce = r.array().ok_or(VaultPageError::BadLength)?;
    let ciphertext = r.take(len).ok_or(VaultPageError::BadLength)?;
    let tag = r.array().ok_or(VaultPageError::BadLength)?;
    if r.rest().iter().any(|b| *b != 0) {
        return Err(VaultPageError::BadLength);
    }
    Ok(VaultPage {
        salt,
        nonce,
        ciphertext,
        tag,
    })
}

/// Encodes a vault page; `None` when the payload does not fit.
pub fn encode(page: &VaultPage<'_>, page_size: usize) -> Option<Vec<u8>> {
    if page.ciphertext.len() > capacity(page_size) {
        return None;
    }
    let mut w = Writer::with_capacity(page_size);
    w.put(&MAGIC)
        .u8(VERSION)
        .put(&page.salt)
        .u32(u32::try_from(page.ciphertext.len()).ok()?)
        .put(&page.nonce)
        .put(page.ciphertext)
        .put(&page.tag);
    let mut out = w.into_vec();
    out.resize(page_size, 0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let ct = [5u8; 106];
        let page = VaultPage {
            salt: [1; 16],
            nonce: [2; 12],
            ciphertext: &ct,
            tag: [3; 16],
        };
        let bytes = encode(&page, 4096).unwrap();
        assert_eq!(&bytes[..4], b"RDBV");
        assert_eq!(decode(&bytes).unwrap(), page);
        assert_eq!(decode(&[0u8; 4096]), Err(VaultPageError::Empty));
        let mut b = bytes.clone();
        b[4] = 9;
        assert_eq!(decode(&b), Err(VaultPageError::UnsupportedVersion(9)));
        let mut b = bytes.clone();
        b[21..25].copy_from_slice(&5000u32.to_be_bytes());
        assert_eq!(decode(&b), Err(VaultPageError::BadLength));
        assert!(encode(
            &VaultPage {
                ciphertext: &[0u8; 5000],
                ..page
            },
            4096
        )
        .is_none());
    }
}
