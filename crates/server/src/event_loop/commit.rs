//! The group commit: what the turns staged is written as one group of log
//! pages and synced once; a reply leaves only when every commit it could
//! have seen is durable, reads included. The compaction trigger, checked
//! after each group is written; and the steps of a running checkpoint
//! (`BGSAVE` or an automatic compaction), one bounded step per turn after
//! the replies.
//!
//! The sync runs on the sync thread (`crate::sync_thread`), not on the
//! loop: at the end of a turn, if no sync is running, the loop writes the
//! staged commits' pages and hands their `fdatasync` to the thread, then
//! goes on serving. Each connection's output of the turn is classified
//! then: free when every commit applied so far is durable, otherwise held
//! until the last of them is ([`Conn::classify_output`]). Commits staged
//! while a sync runs are written as the next group once it returns, so
//! one sync runs at a time, and a group's first page is written only after
//! every earlier page is durable (what recovery relies on, docs/FORMAT.md
//! §6.2). Where the thread cannot take a sync (no barrier for the file),
//! the turn syncs in line, as before.
//!
//! With `--fsync everysec` the order is relaxed: replies are written first
//! and the store is flushed once a second (or sooner when many commands
//! are pending), so up to about a second of acknowledged writes can be
//! lost in a crash (see docs/OPERATIONS.md).
//!
//! Must never write a reply before the sync that covers it (except under
//! the operator's explicit `everysec`), keep going after a failed write or
//! sync (the loop stops without acknowledging it), or reach into the
//! store: the database writes, syncs and decides whether to compact.
//!
//! [`Conn::classify_output`]: super::connection::Conn::classify_output

use super::EventLoop;
use crate::sync_thread::{Outcome, SyncThread};
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
    /// The thread that runs the syncs (`None`: every sync runs in line).
    syncer: Option<SyncThread>,
    /// A sync runs on the thread: when its group's write began.
    in_flight: Option<Instant>,
    /// Connections that hold output for a sync (duplicates allowed).
    holding: Vec<usize>,
    /// The gathering window after a sync released replies.
    gather: Gather,
}

/// After a sync releases replies, the next group waits a little for the
/// clients that got them: a client that waits for each reply (no
/// pipeline) sends its next command right away, and if the next sync
/// started without it, it would wait for that sync and then its own —
/// every client two syncs a command, in cohorts that take turns. The
/// window ends when every released connection has sent something, when
/// nothing is staged, or after [`GATHER_SHARE`] of the last sync's time
/// (at most [`GATHER_MAX`]), whichever comes first; the loop polls
/// without sleeping meanwhile (an epoll timeout is whole milliseconds).
/// PostgreSQL's `commit_delay` makes the same trade.
#[derive(Default)]
struct Gather {
    /// Which window a connection's `awaited_in` names (0: none yet).
    window: u64,
    /// Released connections of this window that have sent nothing since.
    awaiting: usize,
    /// When the window ends.
    until: Option<Instant>,
}

/// The gathering window is this share of the last sync's time.
const GATHER_SHARE: u32 = 2;

/// The longest gathering window.
const GATHER_MAX: Duration = Duration::from_millis(1);

impl Commit {
    pub(super) fn new(syncer: Option<SyncThread>) -> Self {
        Self {
            last_flush: Instant::now(),
            unflushed: 0,
            next_step_at: None,
            syncer,
            in_flight: None,
            holding: Vec::new(),
            gather: Gather::default(),
        }
    }

    /// A wire command ran (and may have staged a write).
    pub(super) fn command_staged(&mut self) {
        self.unflushed += 1;
    }
}

/// The sync thread ended with a sync in flight: its commits cannot be
/// acknowledged, so the loop stops.
fn sync_thread_gone() -> reddb_storage::error::Error {
    log_error!("the sync thread is gone, stopping without acknowledging its commits");
    reddb_storage::error::Error::Internal("the sync thread is gone".into())
}

impl EventLoop {
    /// The end of a turn: the group commit and the replies, in the order
    /// the fsync policy sets.
    pub(super) fn commit_and_write(&mut self, now: Instant) -> Result<()> {
        if self.limits.fsync == FsyncPolicy::EverySec {
            // Replies first; the flush follows at least once a second.
            self.classify_turn_output(0);
            self.write_dirty();
            if self.stopping
                || self.commit.unflushed >= EVERYSEC_MAX_UNFLUSHED
                || now.duration_since(self.commit.last_flush) >= EVERYSEC
            {
                self.group_commit()?;
            }
        } else {
            self.start_group_commit()?;
            let needs = match self.service.database() {
                Some(db) => {
                    let (last, durable) = db.commit_seqs();
                    if last > durable {
                        last
                    } else {
                        0
                    }
                }
                None => 0,
            };
            self.classify_turn_output(needs);
            self.write_dirty();
        }
        Ok(())
    }

    /// This turn's output on every connection that has some: free
    /// (`needs == 0`), or held until commit `needs` is durable.
    fn classify_turn_output(&mut self, needs: u64) {
        for &slot in &self.dirty {
            if let Some(c) = self.conns.get_mut(slot) {
                if c.classify_output(needs) {
                    self.commit.holding.push(slot);
                }
            }
        }
    }

    /// Writes the staged commits as a group and hands its sync to the
    /// sync thread, unless a sync is running (the group then waits for it)
    /// or there is nothing to sync; syncs in line where the thread cannot.
    fn start_group_commit(&mut self) -> Result<()> {
        if self.commit.in_flight.is_some() || self.gathering(Instant::now()) {
            return Ok(());
        }
        self.commit.gather.until = None;
        let Some(syncer) = &self.commit.syncer else {
            return self.group_commit();
        };
        let Some(db) = self.service.database_mut() else {
            return Ok(());
        };
        let started = Instant::now();
        let ticket = match db.write_staged() {
            Ok(Some(ticket)) => ticket,
            Ok(None) => {
                // Nothing waits for a sync: whatever is held (a sync in
                // line, e.g. `SAVE`'s, covered it) may leave.
                self.release_held(None);
                return Ok(());
            }
            Err(e) => {
                log_error!("commit failed, stopping without acknowledging it: {e}");
                return Err(e);
            }
        };
        let handed = match db.sync_barrier() {
            Ok(barrier) => syncer.submit(ticket, barrier),
            Err(_) => false,
        };
        if !handed {
            // The flush finds the written pages unsynced and syncs them
            // (and checks whether a compaction is due); what was held for
            // them may leave.
            self.group_commit()?;
            self.release_held(None);
            return Ok(());
        }
        self.commit.in_flight = Some(started);
        if let Some(db) = self.service.database_mut() {
            if let Some(took) = db.checkpoint_if_due()? {
                log_info!(
                    "compaction: checkpoint started (keys listed in {} ms)",
                    took.as_millis()
                );
            }
        }
        Ok(())
    }

    /// Takes the running sync's outcome if it is back: its commits are
    /// durable (the output held for them leaves this turn), or the loop
    /// stops without acknowledging them.
    pub(super) fn collect_synced(&mut self) -> Result<()> {
        let Some(syncer) = &self.commit.syncer else {
            return Ok(());
        };
        match syncer.try_outcome() {
            Ok(Some(o)) => self.finish_sync(o),
            Ok(None) => Ok(()),
            // Only a sync in flight is lost with it: without one, the next
            // group finds the thread gone and syncs in line.
            Err(_) if self.commit.in_flight.is_none() => Ok(()),
            Err(_) => Err(sync_thread_gone()),
        }
    }

    /// Waits for the running sync, if any (the loop is stopping).
    pub(super) fn wait_for_sync(&mut self) -> Result<()> {
        if self.commit.in_flight.is_none() {
            return Ok(());
        }
        let outcome = self
            .commit
            .syncer
            .as_ref()
            .and_then(SyncThread::wait_outcome);
        match outcome {
            Some(o) => self.finish_sync(o),
            None => Err(sync_thread_gone()),
        }
    }

    fn finish_sync(&mut self, outcome: Outcome) -> Result<()> {
        let started = self.commit.in_flight.take();
        let Some(db) = self.service.database_mut() else {
            return Ok(());
        };
        if let Err(e) = db.synced(outcome.ticket, outcome.result) {
            log_error!("commit failed, stopping without acknowledging it: {e}");
            return Err(e);
        }
        let took = started.map(|started| started.elapsed());
        if let Some(took) = took {
            self.metrics.commit(took);
        }
        let window = self.commit.gather.window + 1;
        let released = self.release_held(Some(window));
        if released > 0 {
            let length = (took.unwrap_or_default() / GATHER_SHARE).min(GATHER_MAX);
            self.commit.gather = Gather {
                window,
                awaiting: released,
                until: Some(Instant::now() + length),
            };
        }
        Ok(())
    }

    /// Whether the next group waits for released clients (see [`Gather`]):
    /// staged commits, no sync running, the window open and a released
    /// connection yet to send.
    pub(super) fn gathering(&self, now: Instant) -> bool {
        let g = &self.commit.gather;
        g.awaiting > 0
            && g.until.is_some_and(|until| now < until)
            && self.commit.in_flight.is_none()
            && self.service.database().is_some_and(|db| {
                let (last, durable) = db.commit_seqs();
                last > durable
            })
    }

    /// Input arrived on `slot`, or it closed: a released connection the
    /// gathering window waited for is in.
    pub(super) fn arrived(&mut self, slot: usize) {
        let window = self.commit.gather.window;
        if let Some(c) = self.conns.get_mut(slot) {
            if c.awaited_in == window && window != 0 {
                c.awaited_in = 0;
                self.commit.gather.awaiting = self.commit.gather.awaiting.saturating_sub(1);
            }
        }
    }

    /// Frees the output held for commits that are durable now; returns
    /// how many connections got some. With `window`, those connections are
    /// the ones that gathering window waits for.
    fn release_held(&mut self, window: Option<u64>) -> usize {
        if self.commit.holding.is_empty() {
            return 0;
        }
        let Some(db) = self.service.database() else {
            return 0;
        };
        let durable = db.commit_seqs().1;
        let mut holding = std::mem::take(&mut self.commit.holding);
        holding.sort_unstable();
        holding.dedup();
        let mut released = 0;
        for slot in holding {
            let Some(c) = self.conns.get_mut(slot) else {
                continue;
            };
            if c.release_output(durable) {
                self.dirty.push(slot);
                if let Some(window) = window {
                    c.awaited_in = window;
                }
                released += 1;
            }
            if c.holds_output() {
                self.commit.holding.push(slot);
            }
        }
        released
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
