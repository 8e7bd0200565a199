//! Giving the heap memory a burst of writes freed back to the system.
//!
//! glibc's `free` returns memory only from the top of the heap: what a
//! burst's short-lived buffers (a pipelined batch's commands, staged
//! transactions, commit frames) free below a block that lives on stays
//! resident (after a million `SET`s through `redis-cli --pipe`, tens of
//! MB; `bench/memory_compare.sh` reads RSS after the tick). `malloc_trim(0)` releases every whole free page of the heap
//! (`madvise(MADV_DONTNEED)`), so the loop calls it once the writes that
//! made such holes are over: at a once-a-second tick that follows a second
//! with almost no writes, when there were writes since the last trim.
//! Never under a steady write load: there the freed memory is reused at
//! once, and trimming it only makes the next allocations fault their pages
//! in again (a trim each second during back-to-back `BGSAVE`s took GET's
//! p99 from about 2x to 4x idle). A trim costs time in proportion to the
//! heap's free chunks, at most once a second.
//!
//! Must never trim on every turn or in proportion to the requests served:
//! the decision is two subtractions, the trim at most once a tick.

/// Pages written in one second below which the store counts as quiet.
const QUIET_PAGES_PER_TICK: u64 = 64;

#[derive(Debug, Default)]
pub(super) struct HeapReturn {
    pages_at_last_trim: u64,
    pages_at_last_tick: u64,
}

impl HeapReturn {
    /// Whether to trim now, given the store's pages written so far (and
    /// notes the tick).
    pub(super) fn due(&mut self, pages_written: u64) -> bool {
        let since_trim = pages_written.saturating_sub(self.pages_at_last_trim);
        let this_tick = pages_written.saturating_sub(self.pages_at_last_tick);
        self.pages_at_last_tick = pages_written;
        // Writes since the last trim worth a trim, and a quiet second.
        let due = since_trim >= QUIET_PAGES_PER_TICK && this_tick < QUIET_PAGES_PER_TICK;
        if due {
            self.pages_at_last_trim = pages_written;
        }
        due
    }
}

/// Releases the heap's free pages to the system.
pub(super) fn trim() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes a size only and touches nothing but the
    // allocator's free chunks.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_quiet_after_writes_never_under_them() {
        let mut h = HeapReturn::default();
        assert!(!h.due(0), "nothing written: nothing to return");
        assert!(!h.due(1000), "a busy second");
        assert!(h.due(1010), "quiet after writes");
        assert!(!h.due(1010), "nothing written since");
        assert!(!h.due(1020), "a trickle (audit events) is not a burst");
        for second in 1..100 {
            assert!(!h.due(1020 + second * 5000), "a steady load never trims");
        }
        assert!(h.due(1020 + 99 * 5000 + 3), "quiet again");
    }
}
