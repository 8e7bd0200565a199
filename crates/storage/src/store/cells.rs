//! Size-classed cells: the memory the state packs each string entry into
//! (key, value and expiry in one cell, see `state.rs`), without a heap
//! allocation per entry.
//!
//! A request of `n` bytes gets a cell of `n` rounded up to 8 bytes, cut
//! from 256 KiB pages that hold cells of that one size; records over
//! [`MAX_CELL`] bytes get an allocation of their own. So a 100-byte value
//! under a 14-byte key costs 120 bytes, where two `malloc` blocks (key and
//! value, each with glibc's header and 16-byte rounding) cost 144, and
//! the value's vector and the key's box another 40 in the entry.
//!
//! Pages are anonymous mappings of their own ([`MappedPage`]), not heap
//! blocks: the heap's short-lived buffers (a pipelined batch's commands,
//! a commit's frames) then never sit between long-lived cells, so the
//! memory they free goes back to the system instead of staying as holes
//! (with pages on the heap, loading a million keys through
//! `redis-cli --pipe` left several MB of such holes). A page is excluded from
//! core dumps (`MADV_DONTDUMP`), and its untouched part costs no memory.
//!
//! A freed cell is zeroed at once (a deleted secret does not linger in
//! it) and reused before a class grows; a class whose cells are all free
//! gives its pages back but one. Pages of a class that is only partly used stay
//! (a workload that moves from one size to another keeps the old size's
//! pages until they empty), which `INFO memory`'s RSS shows.
//!
//! Everything here is safe code: a [`CellId`] is a class and an index,
//! and every access is a checked slice.

/// Cell sizes are multiples of this.
const GRANULE: usize = 8;
/// The largest record kept in a cell; larger ones get their own block.
pub(crate) const MAX_CELL: usize = 1024;
/// Classes of cells: class `c` holds cells of `(c + 1) * GRANULE` bytes.
const CLASSES: usize = MAX_CELL / GRANULE;
/// Bytes of one page of cells (a multiple of the system's page size).
const PAGE_BYTES: usize = 256 * 1024;
/// The class number [`CellId`] gives a record with a block of its own.
const LARGE: u32 = CLASSES as u32;

/// Where a record lives: its class and its index in the class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CellId {
    class: u32,
    index: u32,
}

impl CellId {
    /// The id as 40 bits (class in bits 32..40), for the state's 8-byte
    /// slots.
    pub(crate) fn to_bits(self) -> u64 {
        (u64::from(self.class) << 32) | u64::from(self.index)
    }

    pub(crate) fn from_bits(bits: u64) -> Self {
        Self {
            class: ((bits >> 32) & 0xff) as u32,
            index: bits as u32,
        }
    }
}

/// One page of cells: a private anonymous mapping of [`PAGE_BYTES`],
/// zero until written, unmapped when dropped.
struct MappedPage {
    start: std::ptr::NonNull<u8>,
}

// SAFETY: a MappedPage owns its mapping exclusively, like Box<[u8]>.
unsafe impl Send for MappedPage {}
// SAFETY: shared access only hands out &[u8], like Box<[u8]>.
unsafe impl Sync for MappedPage {}

impl MappedPage {
    fn new() -> Self {
        // SAFETY: an anonymous private mapping (no file, no fixed
        // address) only creates memory; the result is checked below.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        let Some(start) =
            std::ptr::NonNull::new(start.cast::<u8>()).filter(|_| start != libc::MAP_FAILED)
        else {
            // As a failed `Vec` allocation does: memory is exhausted.
            std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u8; PAGE_BYTES]>());
        };
        // SAFETY: the range is the mapping just made; the advice only
        // leaves it out of core dumps (a failure changes nothing else).
        unsafe {
            libc::madvise(start.as_ptr().cast(), PAGE_BYTES, libc::MADV_DONTDUMP);
        }
        Self { start }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `start` is a live mapping of PAGE_BYTES readable bytes
        // (zero or written through `bytes_mut`), owned by `self`.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), PAGE_BYTES) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr(), PAGE_BYTES) }
    }
}

impl Drop for MappedPage {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once; no slice of
        // it outlives `self`.
        unsafe {
            libc::munmap(self.start.as_ptr().cast(), PAGE_BYTES);
        }
    }
}

impl std::fmt::Debug for MappedPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MappedPage")
    }
}

#[derive(Debug, Default)]
struct Class {
    pages: Vec<MappedPage>,
    /// Freed cells, reused first.
    free: Vec<u32>,
    /// Cells ever handed out (the next new cell's index).
    made: u32,
}

/// The cells of one namespace.
#[derive(Debug, Default)]
pub(crate) struct Cells {
    /// Made on the first allocation ([`CLASSES`] entries).
    classes: Vec<Class>,
    large: Vec<Option<Box<[u8]>>>,
    large_free: Vec<u32>,
}

/// The cell size of class `class`.
fn cell_size(class: usize) -> usize {
    (class + 1) * GRANULE
}

/// Cells in one page of class `class` (at least 256: cells are at most
/// [`MAX_CELL`] bytes).
fn cells_per_page(class: usize) -> usize {
    PAGE_BYTES / cell_size(class)
}

impl Cells {
    /// A zeroed cell of at least `len` bytes.
    pub(crate) fn alloc(&mut self, len: usize) -> CellId {
        if len > MAX_CELL {
            let block = vec![0u8; len].into_boxed_slice();
            return match self.large_free.pop() {
                Some(index) => {
                    if let Some(slot) = self.large.get_mut(index as usize) {
                        *slot = Some(block);
                    }
                    CellId {
                        class: LARGE,
                        index,
                    }
                }
                None => {
                    // Indexes are u32: four billion large records are far
                    // beyond any memory this runs in.
                    let index = u32::try_from(self.large.len()).unwrap_or(u32::MAX);
                    self.large.push(Some(block));
                    CellId {
                        class: LARGE,
                        index,
                    }
                }
            };
        }
        let class = len.max(1).div_ceil(GRANULE) - 1;
        if self.classes.is_empty() {
            self.classes.resize_with(CLASSES, Class::default);
        }
        let Some(c) = self.classes.get_mut(class) else {
            unreachable!("class {class} of a record of {len} <= {MAX_CELL} bytes exists");
        };
        let index = match c.free.pop() {
            Some(index) => index,
            None => {
                let index = c.made;
                if index as usize / cells_per_page(class) >= c.pages.len() {
                    c.pages.push(MappedPage::new());
                }
                c.made += 1;
                index
            }
        };
        CellId {
            class: class as u32,
            index,
        }
    }

    /// The cell's bytes (a cell may be longer than the record in it).
    pub(crate) fn get(&self, id: CellId) -> Option<&[u8]> {
        if id.class == LARGE {
            return self.large.get(id.index as usize)?.as_deref();
        }
        let (class, page, span) = Self::place(id);
        self.classes.get(class)?.pages.get(page)?.bytes().get(span)
    }

    pub(crate) fn get_mut(&mut self, id: CellId) -> Option<&mut [u8]> {
        if id.class == LARGE {
            return self.large.get_mut(id.index as usize)?.as_deref_mut();
        }
        let (class, page, span) = Self::place(id);
        self.classes
            .get_mut(class)?
            .pages
            .get_mut(page)?
            .bytes_mut()
            .get_mut(span)
    }

    /// Zeroes the cell and frees it; a class left with no cell in use
    /// gives its pages back but one.
    pub(crate) fn free(&mut self, id: CellId) {
        if id.class == LARGE {
            if let Some(slot) = self.large.get_mut(id.index as usize) {
                if let Some(mut block) = slot.take() {
                    block.fill(0);
                    self.large_free.push(id.index);
                }
            }
            if self.large_free.len() == self.large.len() {
                self.large = Vec::new();
                self.large_free = Vec::new();
            }
            return;
        }
        if let Some(cell) = self.get_mut(id) {
            cell.fill(0);
        } else {
            return;
        }
        let Some(c) = self.classes.get_mut(id.class as usize) else {
            return;
        };
        c.free.push(id.index);
        if c.free.len() == c.made as usize {
            // Every cell is free (and zero): the pages go back but the
            // first, so a key deleted and set again in turn (a lock, a
            // counter overwritten) does not map and unmap a page each time.
            c.pages.truncate(1);
            c.free = Vec::new();
            c.made = 0;
        }
    }

    /// The class, page and byte range of a (non-large) cell.
    fn place(id: CellId) -> (usize, usize, std::ops::Range<usize>) {
        let class = id.class as usize;
        let per_page = cells_per_page(class);
        let index = id.index as usize;
        let at = (index % per_page) * cell_size(class);
        (class, index / per_page, at..at + cell_size(class))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Cells behave as separate buffers: each keeps what was written to
        /// it whatever is allocated and freed around it, is at least the
        /// size asked, and comes back zeroed when reused.
        #[test]
        fn cells_keep_their_bytes_apart(ops in prop::collection::vec((0usize..2100, any::<u8>(), any::<bool>()), 1..300)) {
            let mut cells = Cells::default();
            let mut live: HashMap<u64, (CellId, usize, u8)> = HashMap::new();
            let mut n = 0u64;
            for (len, fill, drop_one) in ops {
                if drop_one && !live.is_empty() {
                    let k = *live.keys().next().unwrap();
                    let (id, _, _) = live.remove(&k).unwrap();
                    cells.free(id);
                    continue;
                }
                let id = cells.alloc(len);
                let cell = cells.get_mut(id).unwrap();
                prop_assert!(cell.len() >= len);
                prop_assert!(cell.iter().all(|b| *b == 0), "a reused cell was not zeroed");
                cell.fill(fill);
                prop_assert_eq!(CellId::from_bits(id.to_bits()), id);
                live.insert(n, (id, len, fill));
                n += 1;
                for (id, len, fill) in live.values() {
                    let cell = cells.get(*id).unwrap();
                    prop_assert!(cell.len() >= *len);
                    prop_assert!(cell.iter().all(|b| b == fill));
                }
            }
        }
    }

    #[test]
    fn a_class_with_no_cell_in_use_gives_its_pages_back_but_one() {
        let mut cells = Cells::default();
        let ids: Vec<CellId> = (0..2000).map(|_| cells.alloc(100)).collect();
        let class = ids[0].class as usize;
        assert_eq!(
            cells.classes[class].pages.len(),
            2000usize.div_ceil(cells_per_page(class))
        );
        for id in ids {
            cells.free(id);
        }
        assert_eq!(cells.classes[class].pages.len(), 1, "one page stays");
        // Set and deleted in turn: the page stays, nothing is mapped again.
        for _ in 0..3 {
            let id = cells.alloc(100);
            assert_eq!(cells.classes[class].pages.len(), 1);
            assert!(cells.get(id).unwrap().iter().all(|b| *b == 0));
            cells.free(id);
        }
        let big = cells.alloc(5000);
        assert_eq!(cells.get(big).unwrap().len(), 5000);
        cells.free(big);
        assert!(cells.large.is_empty());
    }
}
