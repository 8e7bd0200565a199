//! Codec of the two meta pages (pages 0 and 1): the file header and the
//! sealed meta state. Pure: bytes in, typed value or typed error out.
//!
//! Layout of each copy (all integers big-endian; see `docs/FORMAT.md`):
//!
//! ```text
//! 0    8  magic "REDDB\x1a\r\n"
//! 8    2  format version (1)
//! 10   4  page size in bytes (power of two, 4096..=65536)
//! 14   2  reserved, zero
//! 16  16  file id (random at creation)
//! 32   1  state: 0 = fresh, 1 = bootstrapped
//! 33   7  reserved, zero
//! 40  16  certificate id (zero while fresh)
//! 56   8  generation (the valid copy with the highest one wins)
//! 64  32  digest: SHA-256("reddb-meta-digest-v1" | page no u64 | bytes 0..64 | bytes 96..98+n)
//! 96   2  n = sealed length (0 while fresh)
//! 98   n  sealed meta: nonce(12) | ciphertext | tag(16)
//! ...     zero up to the page size
//! ```

use crate::codec::{Reader, Writer};
use sha2::{Digest, Sha256};

pub(crate) const MAGIC: [u8; 8] = *b"REDDB\x1a\r\n";
pub const FORMAT_VERSION: u16 = 1;
pub(crate) const MIN_PAGE_SIZE: u32 = 4096;
pub(crate) const MAX_PAGE_SIZE: u32 = 65536;
pub const DEFAULT_PAGE_SIZE: u32 = 4096;
const DIGEST_OFFSET: usize = 64;
const SEALED_LEN_OFFSET: usize = 96;
const SEALED_OFFSET: usize = 98;
/// Plaintext length of [`MetaState`].
pub const META_STATE_LEN: usize = 4 + 8 + 8 + 16 + 8;
pub const SEALED_META_LEN: usize = 12 + META_STATE_LEN + 16;

/// The part of the header that is the same in both copies and never
/// changes after bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    pub page_size: u32,
    pub file_id: [u8; 16],
    pub bootstrapped: bool,
    pub cert_id: [u8; 16],
}

/// One decoded copy of the meta page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaCopy {
    pub header: FileHeader,
    pub generation: u64,
    /// `nonce | ciphertext | tag`, present once bootstrapped.
    pub sealed: Option<Vec<u8>>,
    /// Bytes 0..64, bound into the seal's associated data.
    pub prefix: [u8; 64],
}

/// Why a copy was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaError {
    /// Too short to hold a header.
    Truncated,
    /// Does not start with the reddb magic.
    NotReddb,
    /// Written by a format version this build does not read.
    UnsupportedVersion(u16),
    /// Page size outside the supported range.
    BadPageSize(u32),
    /// Digest mismatch: a torn or damaged copy.
    BadDigest,
    /// Structurally impossible values in a copy whose digest matched.
    Invalid(&'static str),
}

/// The state sealed inside the meta copy (authenticated and encrypted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaState {
    /// Nonce epoch: bumped and made durable at every open for writing,
    /// before any data page is sealed in it.
    pub epoch: u32,
    /// First page of the commit-log chain.
    pub log_head_page: u64,
    /// Sequence number that page must carry.
    pub log_head_seq: u64,
    /// The `prev_tag` the head page must carry.
    pub log_anchor: [u8; 16],
    /// Commit sequence number of the last commit folded into the chain's
    /// snapshot; the chain's first commit frame carries the next one.
    pub base_commit_seq: u64,
}

impl MetaState {
    pub fn encode(&self) -> [u8; META_STATE_LEN] {
        let mut w = Writer::with_capacity(META_STATE_LEN);
        w.u32(self.epoch)
            .u64(self.log_head_page)
            .u64(self.log_head_seq)
            .put(&self.log_anchor)
            .u64(self.base_commit_seq);
        let mut out = [0u8; META_STATE_LEN];
        out.copy_from_slice(w.as_slice());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes);
        let out = MetaState {
            epoch: r.u32()?,
            log_head_page: r.u64()?,
            log_head_seq: r.u64()?,
            log_anchor: r.array()?,
            base_commit_seq: r.u64()?,
        };
        r.is_empty().then_some(out)
    }
}

fn digest(page_no: u64, page: &[u8], sealed_len: usize) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"reddb-meta-digest-v1");
    h.update(page_no.to_be_bytes());
    h.update(page.get(..DIGEST_OFFSET).unwrap_or(&[]));
    h.update(
        page.get(SEALED_LEN_OFFSET..SEALED_OFFSET + sealed_len)
            .unwrap_or(&[]),
    );
    let mut out = [0u8; 32];
    out.copy_from_slice(&h.finalize()[..]);
    out
}

/// Reads only the page size, to know where copy 1 starts.
pub fn peek_page_size(bytes: &[u8]) -> Result<u32, MetaError> {
    let mut r = Reader::new(bytes);
    let magic: [u8; 8] = r.array().ok_or(MetaError::Truncated)?;
    if magic != MAGIC {
        return Err(MetaError::NotReddb);
    }
    let version = r.u16().ok_or(MetaError::Truncated)?;
    if version != FORMAT_VERSION {
        return Err(MetaError::UnsupportedVersion(version));
    }
    let page_size = r.u32().ok_or(MetaError::Truncated)?;
    if !valid_page_size(page_size) {
        return Err(MetaError::BadPageSize(page_size));
    }
    Ok(page_size)
}

pub fn valid_page_size(size: u32) -> bool {
    (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&size) && size.is_power_of_two()
}

/// Decodes the meta copy stored at `page_no` (0 or 1).
pub fn decode(page_no: u64, page: &[u8]) -> Result<MetaCopy, MetaError> {
    let page_size = peek_page_size(page)?;
    if page.len() < page_size as usize {
        return Err(MetaError::Truncated);
    }
    let mut r = Reader::new(page);
    r.take(14).ok_or(MetaError::Truncated)?;
    let reserved = r.u16().ok_or(MetaError::Truncated)?;
    let file_id: [u8; 16] = r.array().ok_or(MetaError::Truncated)?;
    let state = r.u8().ok_or(MetaError::Truncated)?;
    let reserved2: [u8; 7] = r.array().ok_or(MetaError::Truncated)?;
    let cert_id: [u8; 16] = r.array().ok_or(MetaError::Truncated)?;
    let generation = r.u64().ok_or(MetaError::Truncated)?;
    let stored_digest: [u8; 32] = r.array().ok_or(MetaError::Truncated)?;
    let sealed_len = r.u16().ok_or(MetaError::Truncated)? as usize;
    if SEALED_OFFSET + sealed_len > page_size as usize {
        return Err(MetaError::BadDigest);
    }
    if digest(page_no, page, sealed_len) != stored_digest {
        return Err(MetaError::BadDigest);
    }
    if reserved != 0 || reserved2 != [0u8; 7] {
        return Err(MetaError::Invalid("reserved header bytes are not zero"));
    }
    let bootstrapped = match state {
        0 => false,
        1 => true,
        _ => return Err(MetaError::Invalid("unknown file state")),
    };
    let sealed = r.take(sealed_len).ok_or(MetaError::Truncated)?;
    // The padding after the sealed state is not checked: a copy's validity
    // must rest on the digest alone. A torn write can turn damaged padding
    // back into zeros without touching the digested bytes, which would
    // revive a copy that recovery had already rejected.
    let sealed = match (bootstrapped, sealed_len) {
        (false, 0) => None,
        (true, SEALED_META_LEN) => Some(sealed.to_vec()),
        _ => {
            return Err(MetaError::Invalid(
                "sealed meta length does not match the state",
            ))
        }
    };
    let mut prefix = [0u8; 64];
    prefix.copy_from_slice(page.get(..64).ok_or(MetaError::Truncated)?);
    Ok(MetaCopy {
        header: FileHeader {
            page_size,
            file_id,
            bootstrapped,
            cert_id,
        },
        generation,
        sealed,
        prefix,
    })
}

/// The plaintext prefix (bytes 0..64) of a copy.
pub fn encode_prefix(header: &FileHeader, generation: u64) -> [u8; 64] {
    let mut w = Writer::with_capacity(64);
    w.put(&MAGIC)
        .u16(FORMAT_VERSION)
        .u32(header.page_size)
        .u16(0)
        .put(&header.file_id)
        .u8(u8::from(header.bootstrapped))
        .put(&[0u8; 7])
        .put(&header.cert_id)
        .u64(generation);
    let mut out = [0u8; 64];
    out.copy_from_slice(w.as_slice());
    out
}

/// Associated data of the sealed meta of copy `page_no`.
pub fn seal_aad(page_no: u64, prefix: &[u8; 64]) -> Vec<u8> {
    let mut w = Writer::with_capacity(13 + 8 + 64);
    w.put(b"reddb-meta-v1").u64(page_no).put(prefix);
    w.into_vec()
}

/// Encodes a whole meta page. `sealed` is `nonce | ciphertext | tag`.
pub fn encode(page_no: u64, prefix: &[u8; 64], sealed: Option<&[u8]>, page_size: u32) -> Vec<u8> {
    let mut page = vec![0u8; page_size as usize];
    let sealed = sealed.unwrap_or(&[]);
    if let Some(dst) = page.get_mut(..64) {
        dst.copy_from_slice(prefix);
    }
    let len = u16::try_from(sealed.len()).unwrap_or(0);
    if let Some(dst) = page.get_mut(SEALED_LEN_OFFSET..SEALED_OFFSET) {
        dst.copy_from_slice(&len.to_be_bytes());
    }
    if let Some(dst) = page.get_mut(SEALED_OFFSET..SEALED_OFFSET + sealed.len()) {
        dst.copy_from_slice(sealed);
    }
    let d = digest(page_no, &page, sealed.len());
    if let Some(dst) = page.get_mut(DIGEST_OFFSET..DIGEST_OFFSET + 32) {
        dst.copy_from_slice(&d);
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> FileHeader {
        FileHeader {
            page_size: 4096,
            file_id: [1; 16],
            bootstrapped: true,
            cert_id: [2; 16],
        }
    }

    #[test]
    fn round_trip() {
        let prefix = encode_prefix(&header(), 9);
        let sealed = vec![7u8; SEALED_META_LEN];
        let page = encode(1, &prefix, Some(&sealed), 4096);
        let copy = decode(1, &page).unwrap();
        assert_eq!(copy.header, header());
        assert_eq!(copy.generation, 9);
        assert_eq!(copy.sealed.as_deref(), Some(&sealed[..]));
        assert_eq!(
            decode(0, &page),
            Err(MetaError::BadDigest),
            "copy bound to its slot"
        );
    }

    #[test]
    fn every_byte_flip_is_refused_or_harmless() {
        let prefix = encode_prefix(&header(), 3);
        let page = encode(0, &prefix, Some(&[5u8; SEALED_META_LEN]), 4096);
        for i in 0..(SEALED_OFFSET + SEALED_META_LEN) {
            let mut p = page.clone();
            p[i] ^= 0x40;
            assert!(decode(0, &p).is_err(), "flip at {i} accepted");
        }
    }

    #[test]
    fn meta_state_round_trip() {
        let s = MetaState {
            epoch: 4,
            log_head_page: 77,
            log_head_seq: 1000,
            log_anchor: [9; 16],
            base_commit_seq: 12,
        };
        assert_eq!(MetaState::decode(&s.encode()), Some(s));
        assert_eq!(MetaState::decode(&s.encode()[1..]), None);
    }
}
