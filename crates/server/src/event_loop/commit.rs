//! The group commit: the store is flushed once per turn (one sync for
//! every write staged in that turn) and only then are the turn's replies
//! written, reads included; the compaction trigger, checked after each
//! group commit; and the steps of a running checkpoint (`BGSAVE` or an
//! automatic compaction), one bounded step per turn after the replies.
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
use reddb_storage::store::CheckpointProgress;
use reddb_storage::{log_error, log_info};
use std::time::{Duration, Instant};

/// Under `--fsync everysec`, flush early once this many wire commands are
/// waiting for a flush.
const EVERYSEC_MAX_UNFLUSHED: u64 = 100_000;

/// Under `--fsync everysec`, the longest between two flushes.
const EVERYSEC: Duration = Duration::from_secs(1);

/// Entry bytes a checkpoint step re-puts per turn: small, so a step delays
/// the next turn's requests by a fraction of a millisecond. A turn without
/// events is no reason for a bigger step: right after replies are written,
/// the clients have not answered yet, so "no events" is the common case
/// under load too. Steps are paced by [`CHECKPOINT_REST`].
const CHECKPOINT_STEP: usize = 64 * 1024;

/// After a checkpoint step that took `t`, the loop serves for
/// `CHECKPOINT_REST * t` before the next one: the checkpoint takes at most
/// a quarter of the loop's time, so requests that arrive while it runs
/// queue behind a quarter more work, not behind as much again (a
/// `BGSAVE` of 1,000,000 keys under load took the loop's other half and
/// doubled the readers' p99). An idle server checkpoints at a quarter
/// speed too: the loop sleeps until the next step is due.
const CHECKPOINT_REST: u32 = 3;

/// When the store was last flushed, and how much waits for the next flush.
pub(super) struct Commit {
    last_flush: Instant,
    /// Wire commands run since the last flush.
    unflushed: u64,
    /// When the next checkpoint step may run (see [`CHECKPOINT_REST`]).
    next_step_at: Option<Instant>,
}

impl Commit {
    pub(super) fn new() -> Self {
        Self {
            last_flush: Instant::now(),
            unflushed: 0,
            next_step_at: None,
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
        if let Some(took) = db.checkpoint_if_due()? {
            log_info!(
                "compaction: checkpoint started (keys listed in {} ms)",
                took.as_millis()
            );
        }
        Ok(())
    }

    /// Runs one step of the checkpoint in progress, if any. Its pages are
    /// synced by the next group commit or by its own last step (see
    /// `reddb_storage::store`).
    pub(super) fn checkpoint_step(&mut self) -> Result<()> {
        let Some(db) = self.service.database_mut() else {
            return Ok(());
        };
        if !db.store().checkpoint_running() {
            return Ok(());
        }
        let start = Instant::now();
        if self.commit.next_step_at.is_some_and(|at| start < at) {
            return Ok(());
        }
        let progress = db.checkpoint_step(CHECKPOINT_STEP);
        let end = Instant::now();
        self.commit.next_step_at = Some(end + (end - start) * CHECKPOINT_REST);
        match progress {
            Ok(CheckpointProgress::Completed) => {
                log_info!("compaction done: the checkpoint finished, the log now starts at it");
                self.wire.keyspace.last_save_unix = reddb_storage::database::now_ms() / 1000;
                self.wire.keyspace.changes_since_save = 0;
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => {
                log_error!("checkpoint failed, stopping: {e}");
                Err(e)
            }
        }
    }

    /// How long the loop may wait before the running checkpoint's next
    /// step is due (`None` when no checkpoint runs).
    pub(super) fn checkpoint_due_in(&self, now: Instant) -> Option<Duration> {
        let running = self
            .service
            .database()
            .is_some_and(|db| db.store().checkpoint_running());
        running.then(|| {
            self.commit
                .next_step_at
                .map_or(Duration::ZERO, |at| at.saturating_duration_since(now))
        })
    }
}
