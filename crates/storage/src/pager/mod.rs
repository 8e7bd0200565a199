//! The pager: fixed-size pages over one file, and the double-written meta.
//!
//! It knows page numbers, not meaning: it reads and writes whole pages,
//! issues the durability barrier, and keeps the two meta copies (pages 0
//! and 1) so that the newest valid one wins and a torn write of one copy
//! never loses the other. It seals and opens the meta state with a key it is
//! handed and never holds a key of its own.
//!
//! Fsync discipline (the whole of it; `docs/FORMAT.md` argues from it):
//! 1. A meta write goes to the slot holding the older generation first,
//!    then `sync`, then the other slot, then `sync`. At every instant at
//!    least one copy is complete and current-or-previous.
//! 2. The store syncs after writing a group of log pages and before any
//!    reply for a commit in that group is released.
//! 3. A new log chain (compaction) is synced before the meta that points to
//!    it is written; old chain pages are reused only after that meta is
//!    synced in both slots.
//! 4. Vault pages: mirror (3) first, `sync`, live (2), `sync`.

pub mod file;
pub(crate) mod io;
#[cfg(test)]
pub(crate) mod mem_file;
pub mod meta;

use crate::crypto::seal::{AeadKey, AuthFailed, NONCE_LEN, TAG_LEN};
use crate::error::{Error, Result};
pub use io::{FileIo, PageIo, SyncBarrier};
pub use meta::{FileHeader, MetaState};
use meta::{MetaCopy, MetaError};

pub const VAULT_LIVE_PAGE: u64 = 2;
pub const VAULT_MIRROR_PAGE: u64 = 3;
pub const FIRST_DATA_PAGE: u64 = 4;

pub struct Pager {
    io: Box<dyn PageIo>,
    header: FileHeader,
    /// Valid meta copies by slot, as last read or written.
    copies: [Option<MetaCopy>; 2],
}

impl Pager {
    /// Initialises an empty file as a fresh (not bootstrapped) database.
    pub fn create(mut io: Box<dyn PageIo>, page_size: u32) -> Result<Self> {
        if !meta::valid_page_size(page_size) {
            return Err(Error::InvalidInput(format!(
                "page size {page_size} is not a power of two between 4096 and 65536"
            )));
        }
        if io
            .len()
            .map_err(|e| Error::io("cannot stat database file", e))?
            != 0
        {
            return Err(Error::Internal("create on a non-empty file".into()));
        }
        let header = FileHeader {
            page_size,
            file_id: crate::crypto::random::array()?,
            bootstrapped: false,
            cert_id: [0; 16],
        };
        let mut pager = Self {
            io,
            header,
            copies: [None, None],
        };
        pager.write_meta(header, None)?;
        Ok(pager)
    }

    /// Opens an existing database file: reads both meta copies and keeps
    /// the valid ones. The sealed state is opened later, with the key, by
    /// [`Pager::unseal_meta`].
    pub fn open(mut io: Box<dyn PageIo>) -> Result<Self> {
        let len = io
            .len()
            .map_err(|e| Error::io("cannot stat database file", e))?;
        if len == 0 {
            return Err(Error::Internal("open on an empty file".into()));
        }
        let mut first = vec![0u8; meta::MAX_PAGE_SIZE as usize];
        let n = io
            .read_at(0, &mut first)
            .map_err(|e| Error::io("cannot read database header", e))?;
        first.truncate(n);
        let copy0 = meta::decode(0, &first);
        // Where copy 1 lives depends on the page size; if copy 0 cannot say,
        // try every supported size and accept a copy that agrees with itself.
        // A damaged copy 0 cannot say: its page-size field may be damaged too.
        let mut copy1 = Err(MetaError::Truncated);
        let sizes: Vec<u32> = match &copy0 {
            Ok(c) => vec![c.header.page_size],
            Err(_) => (12..=16).map(|s| 1u32 << s).collect(),
        };
        for size in sizes {
            let mut page = vec![0u8; size as usize];
            let n = io
                .read_at(u64::from(size), &mut page)
                .map_err(|e| Error::io("cannot read database header", e))?;
            page.truncate(n);
            let candidate = meta::decode(1, &page);
            if matches!(&candidate, Ok(c) if c.header.page_size == size) {
                copy1 = candidate;
                break;
            }
            if copy1.is_err() {
                copy1 = candidate;
            }
        }
        let copies = match (copy0, copy1) {
            (Ok(a), Ok(b)) => {
                if a.header.file_id != b.header.file_id || a.header.page_size != b.header.page_size
                {
                    return Err(Error::Corrupted(
                        "the two meta pages belong to different files".into(),
                    ));
                }
                [Some(a), Some(b)]
            }
            (Ok(a), Err(_)) => [Some(a), None],
            (Err(_), Ok(b)) => [None, Some(b)],
            (Err(e0), Err(e1)) => return Err(explain_meta_failure(e0, e1, len)),
        };
        let header = newest(&copies)
            .map(|(_, c)| c.header)
            .ok_or_else(|| Error::Internal("no meta copy".into()))?;
        Ok(Self { io, header, copies })
    }

    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    pub fn page_size(&self) -> usize {
        self.header.page_size as usize
    }

    /// Highest generation among the valid copies.
    pub fn generation(&self) -> u64 {
        newest(&self.copies).map(|(_, c)| c.generation).unwrap_or(0)
    }

    /// Opens the sealed meta state of the newest valid copy. A copy whose
    /// digest matched but whose seal does not verify was altered by someone
    /// who could recompute the digest: that is tampering, not a torn write.
    pub fn unseal_meta(&self, key: &AeadKey) -> Result<MetaState> {
        let (slot, copy) =
            newest(&self.copies).ok_or_else(|| Error::Internal("no meta copy".into()))?;
        let sealed = copy.sealed.as_deref().ok_or(Error::NotBootstrapped)?;
        let aad = meta::seal_aad(slot, &copy.prefix);
        let state = open_sealed(key, &aad, sealed)
            .and_then(|plain| MetaState::decode(&plain).ok_or(AuthFailed))
            .map_err(|_| Error::Tampered(format!("meta page {slot} does not authenticate")))?;
        // The other copy, if valid, must also authenticate; its epoch counts
        // toward the next epoch so a nonce epoch is never reused.
        Ok(state)
    }

    /// Highest epoch recorded in any copy that authenticates under `key`.
    pub(crate) fn max_epoch(&self, key: &AeadKey) -> u32 {
        self.copies
            .iter()
            .enumerate()
            .filter_map(|(slot, c)| {
                let c = c.as_ref()?;
                let sealed = c.sealed.as_deref()?;
                let aad = meta::seal_aad(slot as u64, &c.prefix);
                let plain = open_sealed(key, &aad, sealed).ok()?;
                MetaState::decode(&plain).map(|s| s.epoch)
            })
            .max()
            .unwrap_or(0)
    }

    /// Writes `header` and the sealed `state` to both meta slots: the older
    /// slot first, sync, then the other, sync.
    pub fn write_meta(
        &mut self,
        header: FileHeader,
        sealed_state: Option<(&MetaState, &AeadKey)>,
    ) -> Result<()> {
        let older_first = match (&self.copies[0], &self.copies[1]) {
            (Some(a), Some(b)) if a.generation > b.generation => [1u64, 0],
            (Some(_), None) => [1, 0],
            _ => [0, 1],
        };
        let mut generation = self.generation();
        for slot in older_first {
            generation += 1;
            let prefix = meta::encode_prefix(&header, generation);
            let sealed = match sealed_state {
                Some((state, key)) => {
                    let aad = meta::seal_aad(slot, &prefix);
                    Some(seal_random_nonce(key, &aad, &state.encode())?)
                }
                None => None,
            };
            let page = meta::encode(slot, &prefix, sealed.as_deref(), header.page_size);
            self.io
                .write_at(slot * u64::from(header.page_size), &page)
                .map_err(|e| Error::io("cannot write meta page", e))?;
            self.sync()?;
            if let Some(copy) = self.copies.get_mut(slot as usize) {
                *copy = Some(MetaCopy {
                    header,
                    generation,
                    sealed,
                    prefix,
                });
            }
        }
        self.header = header;
        Ok(())
    }

    /// Reads page `no` into `buf` (one page long). Returns `false` when the
    /// page lies (partly) beyond the end of the file.
    pub(crate) fn read_page(&mut self, no: u64, buf: &mut [u8]) -> Result<bool> {
        let size = self.page_size();
        if buf.len() != size {
            return Err(Error::Internal("read buffer is not one page".into()));
        }
        let n = self
            .io
            .read_at(no.saturating_mul(size as u64), buf)
            .map_err(|e| Error::io(format!("cannot read page {no}"), e))?;
        Ok(n == size)
    }

    /// Writes one or more consecutive pages starting at `no`.
    pub(crate) fn write_pages(&mut self, no: u64, pages: &[u8]) -> Result<()> {
        if !pages.len().is_multiple_of(self.page_size()) {
            return Err(Error::Internal("write is not whole pages".into()));
        }
        self.io
            .write_at(no.saturating_mul(self.page_size() as u64), pages)
            .map_err(|e| Error::io(format!("cannot write page {no}"), e))
    }

    pub fn sync(&mut self) -> Result<()> {
        self.io
            .sync()
            .map_err(|e| Error::io("cannot sync database file", e))
    }

    /// The file's durability barrier for another thread ([`PageIo::barrier`]).
    pub fn barrier(&self) -> std::io::Result<Box<dyn SyncBarrier>> {
        self.io.barrier()
    }

    /// Number of whole or partial pages in the file.
    pub(crate) fn page_count(&mut self) -> Result<u64> {
        let len = self
            .io
            .len()
            .map_err(|e| Error::io("cannot stat database file", e))?;
        Ok(len.div_ceil(self.page_size() as u64))
    }

    /// Cuts the file to `pages` pages (never below the four fixed pages).
    pub(crate) fn truncate_pages(&mut self, pages: u64) -> Result<()> {
        let pages = pages.max(FIRST_DATA_PAGE);
        self.io
            .set_len(pages * self.page_size() as u64)
            .map_err(|e| Error::io("cannot truncate database file", e))
    }
}

fn newest(copies: &[Option<MetaCopy>; 2]) -> Option<(u64, &MetaCopy)> {
    match (&copies[0], &copies[1]) {
        (Some(a), Some(b)) => Some(if b.generation > a.generation {
            (1, b)
        } else {
            (0, a)
        }),
        (Some(a), None) => Some((0, a)),
        (None, Some(b)) => Some((1, b)),
        (None, None) => None,
    }
}

fn explain_meta_failure(e0: MetaError, e1: MetaError, len: u64) -> Error {
    match (e0, e1) {
        (MetaError::NotReddb, MetaError::NotReddb)
        | (MetaError::NotReddb, MetaError::Truncated) => {
            Error::UnsupportedFormat("not a reddb database file (no reddb header)".into())
        }
        (MetaError::UnsupportedVersion(v), _) | (_, MetaError::UnsupportedVersion(v)) => {
            Error::UnsupportedFormat(format!(
                "format version {v} is not supported by this build (it reads version {})",
                meta::FORMAT_VERSION
            ))
        }
        (MetaError::BadPageSize(s), _) | (_, MetaError::BadPageSize(s)) => {
            Error::UnsupportedFormat(format!("page size {s} is not supported"))
        }
        _ if len < 2 * u64::from(meta::MIN_PAGE_SIZE) => Error::Corrupted(format!(
            "file is truncated ({len} bytes, shorter than its header)"
        )),
        _ => Error::Corrupted("both meta pages (0 and 1) are damaged".into()),
    }
}

/// Seals `plain` with a fresh random nonce: `nonce | ciphertext | tag`.
pub(crate) fn seal_random_nonce(key: &AeadKey, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
    let nonce: [u8; NONCE_LEN] = crate::crypto::random::array()?;
    let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plain);
    let tag = key.seal(&nonce, aad, out.get_mut(NONCE_LEN..).unwrap_or(&mut []))?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens `nonce | ciphertext | tag`.
pub(crate) fn open_sealed(
    key: &AeadKey,
    aad: &[u8],
    sealed: &[u8],
) -> std::result::Result<Vec<u8>, AuthFailed> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(AuthFailed);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| AuthFailed)?;
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| AuthFailed)?;
    let mut plain = body.to_vec();
    key.open(&nonce, aad, &mut plain, &tag)?;
    Ok(plain)
}
