//! The group commit: the store is flushed once per turn (one sync for
//! every write staged in that turn) and only then are the turn's replies
//! written, reads included; and the compaction trigger, checked after each
//! group commit.
//!
//! With `--fsync everysec` the order is relaxed: replies are written first
//! and the store is flushed once a second (or sooner when many commands
//! are pending), so up to about a second of acknowledged writes can be
//! lost in a crash (see docs/OPERATIONS.md).
//!
//! Must never write a reply before the flush that covers it (except under
//! the operator's explicit `everysec`), keep going after a failed flush
//! (the loop stops without acknowledging it), or reach into the store: the
//! database flushes and decides whether to compact.

use super::EventLoop;
use crate::FsyncPolicy;
use reddb_storage::error::Result;
use reddb_storage::{log_error, log_info};
use std::time::{Duration, Instant};

/// Under `--fsync everysec`, flush early once this many wire commands are
/// waiting for a flush.
const EVERYSEC_MAX_UNFLUSHED: u64 = 100_000;

/// Under `--fsync everysec`, the longest between two flushes.
const EVERYSEC: Duration = Duration::from_secs(1);

/// When the store was last flushed, and how much waits for the next flush.
pub(super) struct Commit {
    last_flush: Instant,
    /// Wire commands run since the last flush.
    unflushed: u64,
}

impl Commit {
    pub(super) fn new() -> Self {
        Self {
            last_flush: Instant::now(),
            unflushed: 0,
        }
    }

    /// A wire command ran (and may have staged a write).
    pub(super) fn command_staged(&mut self) {
        self.unflushed += 1;
    }
}

impl EventLoop {
    /// The end of a turn: the group commit and the replies, in the order
    /// the fsync policy sets.
    pub(super) fn commit_and_write(&mut self, now: Instant) -> Result<()> {
        if self.limits.fsync == FsyncPolicy::EverySec {
            // Replies first; the flush follows at least once a second.
            self.write_dirty();
            if self.stopping
                || self.commit.unflushed >= EVERYSEC_MAX_UNFLUSHED
                || now.duration_since(self.commit.last_flush) >= EVERYSEC
            {
                self.group_commit()?;
            }
        } else {
            self.group_commit()?;
            self.write_dirty();
        }
        Ok(())
    }

    /// Flushes what the turn staged, then compacts if the log is due.
    pub(super) fn group_commit(&mut self) -> Result<()> {
        self.commit.last_flush = Instant::now();
        self.commit.unflushed = 0;
        let Some(db) = self.service.database_mut() else {
            return Ok(());
        };
        match db.flush_staged() {
            Ok(Some(took)) => self.metrics.commit(took),
            Ok(None) => {}
            Err(e) => {
                log_error!("commit failed, stopping without acknowledging it: {e}");
                return Err(e);
            }
        }
        if let Some(took) = db.compact_if_due()? {
            log_info!("compaction done in {} ms", took.as_millis());
        }
        Ok(())
    }
}
