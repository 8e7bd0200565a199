//! Codec of a sealed commit-log page.
//!
//! ```text
//! page      = session(16) | nonce(12) | ciphertext(page_size - 44) | tag(16)
//! key       = HMAC-SHA-256(page_key, "reddb-session-key-v1" | session)
//! nonce     = epoch u32 | counter u64          (never repeats: docs/FORMAT.md)
//! aad       = "reddb-page-v1" | session(16) | file_id(16) | page_no u64 | kind u8 (1 = log)
//! plaintext = seq u64 | prev_tag(16) | next_page u64 | flags u8 | used u16
//!             | stream bytes (used) | zero padding
//! ```
//! `session` is 16 random bytes drawn at every open for writing: each
//! session seals under its own key, so even a file restored from an old copy
//! and written again cannot repeat a (key, nonce) pair of the newer copy.
//! `seq`, `prev_tag` and `next_page` chain the pages of one log: a page
//! belongs to the chain only if it opens under this file's key at this page
//! number, carries the expected `seq`, and names the previous page's tag.
//! `flags` bit 0 (`GROUP_START`) marks the first page of a group commit:
//! any incomplete frame before it belongs to a torn group and is dropped.

use crate::codec::{Reader, Writer};
use crate::crypto::seal::{AeadKey, NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};

pub(crate) const KIND_LOG: u8 = 1;
pub const SESSION_LEN: usize = 16;
pub const HEADER_LEN: usize = 8 + 16 + 8 + 1 + 2;
pub const FLAG_GROUP_START: u8 = 1;

/// Stream bytes one page carries.
pub fn stream_capacity(page_size: usize) -> usize {
    page_size.saturating_sub(SESSION_LEN + NONCE_LEN + TAG_LEN + HEADER_LEN)
}

/// The session id in the clear prefix of a page (which key opens it).
pub fn session_of(page: &[u8]) -> Option<[u8; SESSION_LEN]> {
    page.get(..SESSION_LEN)?.try_into().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPageHeader {
    pub seq: u64,
    pub prev_tag: [u8; 16],
    pub next_page: u64,
    pub flags: u8,
}

/// Why a page is not the next page of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogPageError {
    /// Did not authenticate (torn, stale from another key, or altered).
    Unauthentic,
    /// Authenticated but its header is impossible (a bug or a broken key).
    Malformed,
}

pub(crate) fn aad(
    session: &[u8; SESSION_LEN],
    file_id: &[u8; 16],
    page_no: u64,
    kind: u8,
) -> [u8; 13 + SESSION_LEN + 16 + 8 + 1] {
    let mut w = Writer::with_capacity(54);
    w.put(b"reddb-page-v1")
        .put(session)
        .put(file_id)
        .u64(page_no)
        .u8(kind);
    let mut out = [0u8; 54];
    out.copy_from_slice(w.as_slice());
    out
}

pub fn nonce(epoch: u32, counter: u64) -> [u8; NONCE_LEN] {
    let mut out = [0u8; NONCE_LEN];
    out[..4].copy_from_slice(&epoch.to_be_bytes());
    out[4..].copy_from_slice(&counter.to_be_bytes());
    out
}

/// Builds and seals one log page; returns the page bytes and its tag.
#[allow(clippy::too_many_arguments)] // one flat call mirrors the page layout
pub fn seal(
    key: &AeadKey,
    session: &[u8; SESSION_LEN],
    file_id: &[u8; 16],
    page_no: u64,
    nonce: [u8; NONCE_LEN],
    header: &LogPageHeader,
    data: &[u8],
    page_size: usize,
) -> Result<(Vec<u8>, [u8; TAG_LEN])> {
    if data.len() > stream_capacity(page_size) {
        return Err(Error::Internal("log page overflow".into()));
    }
    let mut page = Vec::with_capacity(page_size);
    page.extend_from_slice(session);
    page.extend_from_slice(&nonce);
    let mut w = Writer::with_capacity(HEADER_LEN);
    w.u64(header.seq)
        .put(&header.prev_tag)
        .u64(header.next_page)
        .u8(header.flags)
        .u16(data.len() as u16);
    page.extend_from_slice(w.as_slice());
    page.extend_from_slice(data);
    page.resize(page_size - TAG_LEN, 0);
    let tag = key.seal(
        &nonce,
        &aad(session, file_id, page_no, KIND_LOG),
        page.get_mut(SESSION_LEN + NONCE_LEN..).unwrap_or(&mut []),
    )?;
    page.extend_from_slice(&tag);
    Ok((page, tag))
}

/// Opens one log page with the key of its session (see [`session_of`]):
/// header, stream bytes, and the page's tag.
pub fn open(
    key: &AeadKey,
    file_id: &[u8; 16],
    page_no: u64,
    page: &[u8],
) -> std::result::Result<(LogPageHeader, Vec<u8>, [u8; TAG_LEN]), LogPageError> {
    if page.len() < SESSION_LEN + NONCE_LEN + HEADER_LEN + TAG_LEN {
        return Err(LogPageError::Unauthentic);
    }
    let (session, page) = page.split_at(SESSION_LEN);
    let session: [u8; SESSION_LEN] = session.try_into().map_err(|_| LogPageError::Unauthentic)?;
    let (nonce, rest) = page.split_at(NONCE_LEN);
    let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| LogPageError::Unauthentic)?;
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| LogPageError::Unauthentic)?;
    let mut plain = body.to_vec();
    key.open(
        &nonce,
        &aad(&session, file_id, page_no, KIND_LOG),
        &mut plain,
        &tag,
    )
    .map_err(|_| LogPageError::Unauthentic)?;
    let mut r = Reader::new(&plain);
    let header = LogPageHeader {
        seq: r.u64().ok_or(LogPageError::Malformed)?,
        prev_tag: r.array().ok_or(LogPageError::Malformed)?,
        next_page: r.u64().ok_or(LogPageError::Malformed)?,
        flags: r.u8().ok_or(LogPageError::Malformed)?,
    };
    let used = usize::from(r.u16().ok_or(LogPageError::Malformed)?);
    let data = r.take(used).ok_or(LogPageError::Malformed)?.to_vec();
    Ok((header, data, tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::Key32;

    /// Regression (found by the `log_page` fuzz target): the clear session
    /// prefix must be authenticated by the page itself, not only through
    /// the key it selects.
    #[test]
    fn every_bit_of_the_page_including_the_session_prefix_is_authenticated() {
        let key = AeadKey::new(&Key32::from_slice(&[5u8; 32]).unwrap()).unwrap();
        let header = LogPageHeader {
            seq: 3,
            prev_tag: [1; 16],
            next_page: 9,
            flags: FLAG_GROUP_START,
        };
        let (page, _) = seal(
            &key,
            &[2; 16],
            &[4; 16],
            7,
            nonce(1, 2),
            &header,
            b"frames",
            4096,
        )
        .unwrap();
        assert!(open(&key, &[4; 16], 7, &page).is_ok());
        for byte in [0usize, 15, 16, 27, 28, 100, 4095] {
            let mut bad = page.clone();
            bad[byte] ^= 0x01;
            assert_eq!(
                open(&key, &[4; 16], 7, &bad),
                Err(LogPageError::Unauthentic),
                "byte {byte}"
            );
        }
    }
}
