//! `SimDisk`: a fault-injecting, in-memory [`PageIo`] that simulates power
//! loss.
//!
//! The disk keeps two images:
//!
//! * the *current* image, which is what reads see: every `write_at` and
//!   `set_len` is applied to it at once, like a page cache;
//! * the *durable* image, which is what survives a power cut. It is updated
//!   only by `sync`, which makes every pending operation durable at once.
//!
//! Every `write_at` and `set_len` since the last `sync` is also kept, in
//! order, in a pending list. [`SimDisk::crash`] throws away the current image
//! and builds a new one from the durable image plus the pending operations,
//! each decided independently and at random:
//!
//! * a write is dropped, applied fully, or torn: only some of its 512-byte
//!   sectors reach the disk (a prefix or any subset), and sometimes one of
//!   them holds random garbage instead. (Garbage goes beyond the format's
//!   stated crash assumption, which only mixes old and new bytes; it models
//!   a device that writes junk as it loses power.) A dropped or torn write
//!   past the old end of file may still extend the file with zeros (the
//!   size reached the disk, the data did not);
//! * a `set_len` is applied immediately to the current image and, at a crash,
//!   either kept or lost (it is durable only after the next `sync`).
//!
//! To stop the store *inside* an operation (in the middle of a flush, a
//! compaction or a meta write), [`SimDisk::fail_after`] arms a counter: after
//! that many more successful `write_at`/`sync`/`set_len` calls, the next one
//! fails with an I/O error, and so does every later one, as if the machine
//! had lost power at that instant. The failing write is still recorded as
//! pending (the power cut may have caught it half-written).
//!
//! The disk is shared through `Arc<Mutex<..>>`: the test keeps a [`SimDisk`]
//! handle after handing a `Box<dyn PageIo>` from [`SimDisk::io`] to the pager.
//!
//! It also checks the nonce discipline of sealed data pages: with
//! [`SimDisk::track_nonces`] on, every whole data page written is indexed by
//! its clear prefix that names the key and nonce it was sealed with (for a
//! log page: session id and nonce), and a prefix written again with
//! different page bytes or at another page number is recorded as a violation
//! (AES-GCM nonce reuse). The index survives crashes, because an attacker who
//! copied the disk before the crash saw the old ciphertext.

use super::rng::Rng;
use reddb::pager::{PageIo, SyncBarrier};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// Size of the unit a torn write is made of.
pub const SECTOR: usize = 512;

#[derive(Debug, Clone)]
enum Pending {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

/// What a crash did to the pending operations (for failure messages).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrashReport {
    pub dropped: usize,
    pub applied: usize,
    pub torn: usize,
    pub set_len_kept: usize,
    pub set_len_lost: usize,
}

#[derive(Debug, Default)]
struct Inner {
    durable: Vec<u8>,
    current: Vec<u8>,
    pending: Vec<Pending>,
    /// `Some(n)`: `n` more mutating calls succeed, then all fail.
    fail_after: Option<u64>,
    tripped: bool,
    writes: u64,
    syncs: u64,
    crashes: u64,
    /// `(page size, first data page, key-and-nonce prefix length)` when
    /// nonce tracking is on.
    nonce_pages: Option<(usize, u64, usize)>,
    /// key-and-nonce prefix -> (page number, hash of the page bytes)
    nonces: HashMap<Vec<u8>, (u64, u64)>,
    violations: Vec<String>,
}

/// How a mutating call fares against the armed fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admit {
    /// The call happens.
    Go,
    /// The power is cut during this call: it is in flight (its effect may
    /// or may not reach the disk) and it reports an error.
    Cut,
    /// The power is already off: nothing happens.
    Dead,
}

impl Inner {
    /// Counts one mutating call against the armed fault.
    fn admit(&mut self) -> Admit {
        if self.tripped {
            return Admit::Dead;
        }
        match self.fail_after {
            Some(0) => {
                self.tripped = true;
                Admit::Cut
            }
            Some(n) => {
                self.fail_after = Some(n - 1);
                Admit::Go
            }
            None => Admit::Go,
        }
    }

    fn record_nonces(&mut self, offset: u64, data: &[u8]) {
        let Some((page_size, first_page, id_len)) = self.nonce_pages else {
            return;
        };
        let ps = page_size as u64;
        if !offset.is_multiple_of(ps) {
            return;
        }
        for (i, page) in data.chunks(page_size).enumerate() {
            let page_no = offset / ps + i as u64;
            if page.len() != page_size || page_no < first_page {
                continue;
            }
            let nonce = page[..id_len].to_vec();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            page.hash(&mut h);
            let digest = h.finish();
            match self.nonces.get(&nonce) {
                None => {
                    self.nonces.insert(nonce, (page_no, digest));
                }
                Some(&(p, d)) if p == page_no && d == digest => {}
                Some(&(p, _)) => self.violations.push(format!(
                    "nonce {} used for page {p} and again, with other bytes, for page {page_no}",
                    hex(&nonce)
                )),
            }
        }
    }
}

fn power_cut(what: &str) -> io::Error {
    io::Error::other(format!("simulated power cut during {what}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_into(image: &mut Vec<u8>, offset: usize, data: &[u8]) {
    let end = offset + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[offset..end].copy_from_slice(data);
}

/// A handle on one simulated disk; cheap to clone.
#[derive(Clone, Default)]
pub struct SimDisk(Arc<Mutex<Inner>>);

impl SimDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    /// A disk whose durable (and current) contents are `image`.
    pub fn from_image(image: Vec<u8>) -> Self {
        let disk = Self::default();
        {
            let mut d = disk.lock();
            d.current = image.clone();
            d.durable = image;
        }
        disk
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A `PageIo` over this disk, to give to `Pager::create`/`Pager::open`.
    pub fn io(&self) -> Box<dyn PageIo> {
        Box::new(SimIo(Arc::clone(&self.0)))
    }

    /// What reads see now (durable image plus every pending operation).
    pub fn image(&self) -> Vec<u8> {
        self.lock().current.clone()
    }

    /// What would survive a power cut that drops every pending operation.
    pub fn durable_image(&self) -> Vec<u8> {
        self.lock().durable.clone()
    }

    /// After `ops` more successful `write_at`/`sync`/`set_len` calls, the
    /// next one and every later one fail (a power cut at that instant).
    pub fn fail_after(&self, ops: u64) {
        let mut d = self.lock();
        d.fail_after = Some(ops);
        d.tripped = false;
    }

    /// Removes an armed fault that has not fired yet.
    pub fn disarm(&self) {
        let mut d = self.lock();
        d.fail_after = None;
    }

    /// Whether the armed fault has fired.
    pub fn tripped(&self) -> bool {
        self.lock().tripped
    }

    /// Operations not yet covered by a `sync`.
    pub fn pending_ops(&self) -> usize {
        self.lock().pending.len()
    }

    /// `(write_at calls, sync calls, crashes)` so far.
    pub fn counters(&self) -> (u64, u64, u64) {
        let d = self.lock();
        (d.writes, d.syncs, d.crashes)
    }

    /// Turns on the nonce-reuse check for data pages (see the module docs):
    /// the first `id_len` bytes of each page written at or after
    /// `first_data_page` name its key and nonce.
    pub fn track_nonces(&self, page_size: usize, first_data_page: u64, id_len: usize) {
        self.lock().nonce_pages = Some((page_size, first_data_page, id_len));
    }

    /// Every nonce reuse seen so far.
    pub fn nonce_violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    /// Simulates a power cut: the new contents are the durable image plus a
    /// random fate for each pending operation (see the module docs). Clears
    /// the armed fault so the disk works again for the recovery.
    pub fn crash(&self, rng: &mut Rng) -> CrashReport {
        let mut d = self.lock();
        let mut image = std::mem::take(&mut d.durable);
        let mut report = CrashReport::default();
        for op in std::mem::take(&mut d.pending) {
            match op {
                Pending::SetLen(len) => {
                    if rng.chance(1, 2) {
                        image.resize(len as usize, 0);
                        report.set_len_kept += 1;
                    } else {
                        report.set_len_lost += 1;
                    }
                }
                Pending::Write { offset, data } => {
                    let offset = offset as usize;
                    let end = offset + data.len();
                    match rng.below(3) {
                        0 => {
                            report.dropped += 1;
                            if end > image.len() && rng.chance(1, 3) {
                                image.resize(end, 0);
                            }
                        }
                        1 => {
                            report.applied += 1;
                            write_into(&mut image, offset, &data);
                        }
                        _ => {
                            report.torn += 1;
                            let sectors = data.len().div_ceil(SECTOR);
                            // A prefix of the sectors, or a random subset.
                            let prefix = rng.chance(1, 2);
                            let cut = rng.range(0, sectors + 1);
                            let garbage = if rng.chance(1, 3) {
                                Some(rng.range(0, sectors.max(1)))
                            } else {
                                None
                            };
                            for s in 0..sectors {
                                let lo = s * SECTOR;
                                let hi = (lo + SECTOR).min(data.len());
                                let keep = if prefix { s < cut } else { rng.chance(1, 2) };
                                if garbage == Some(s) {
                                    let junk = rng.bytes(hi - lo);
                                    write_into(&mut image, offset + lo, &junk);
                                } else if keep {
                                    write_into(&mut image, offset + lo, &data[lo..hi]);
                                }
                            }
                            if end > image.len() && rng.chance(1, 2) {
                                image.resize(end, 0);
                            }
                        }
                    }
                }
            }
        }
        d.current = image.clone();
        d.durable = image;
        d.fail_after = None;
        d.tripped = false;
        d.crashes += 1;
        report
    }
}

/// The `PageIo` the pager owns.
struct SimIo(Arc<Mutex<Inner>>);

impl SimIo {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PageIo for SimIo {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let d = self.lock();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(d.current.len());
        let n = buf.len().min(d.current.len() - start);
        buf[..n].copy_from_slice(&d.current[start..start + n]);
        Ok(n)
    }

    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        let mut d = self.lock();
        d.writes += 1;
        let admit = d.admit();
        if admit != Admit::Dead {
            d.record_nonces(offset, buf);
            write_into(&mut d.current, offset as usize, buf);
            d.pending.push(Pending::Write {
                offset,
                data: buf.to_vec(),
            });
        }
        match admit {
            Admit::Go => Ok(()),
            _ => Err(power_cut("write_at")),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_pending()
    }

    fn barrier(&self) -> io::Result<Box<dyn SyncBarrier>> {
        Ok(Box::new(SimIo(Arc::clone(&self.0))))
    }

    fn len(&mut self) -> io::Result<u64> {
        Ok(self.lock().current.len() as u64)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.set_len_pending(len)
    }
}

/// The barrier the server's sync thread would run: the same disk's sync.
impl SyncBarrier for SimIo {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_pending()
    }
}

impl SimIo {
    fn sync_pending(&mut self) -> io::Result<()> {
        let mut d = self.lock();
        d.syncs += 1;
        // A sync cut short leaves the pending writes pending: the crash
        // decides each one (which includes "all of them made it").
        if d.admit() != Admit::Go {
            return Err(power_cut("sync"));
        }
        d.durable = d.current.clone();
        d.pending.clear();
        Ok(())
    }

    fn set_len_pending(&mut self, len: u64) -> io::Result<()> {
        let mut d = self.lock();
        let admit = d.admit();
        if admit != Admit::Dead {
            d.current.resize(len as usize, 0);
            d.pending.push(Pending::SetLen(len));
        }
        match admit {
            Admit::Go => Ok(()),
            _ => Err(power_cut("set_len")),
        }
    }
}
