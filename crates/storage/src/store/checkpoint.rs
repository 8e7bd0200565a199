//! The incremental checkpoint: compaction in small steps at the tail of the
//! live chain, so `BGSAVE` and the automatic compaction never stall the
//! event loop for longer than one step.
//!
//! [`Store::begin_checkpoint`] writes a `CheckpointBegin` frame as the first
//! frame of a fresh page `H` and lists every key live at that moment. Each
//! [`Store::checkpoint_step`] then re-puts a bounded batch of the listed keys
//! with their *current* entries, as `CheckpointEntries` frames appended to
//! the chain after every commit already staged. When the list is exhausted
//! it writes `CheckpointEnd`, syncs, and moves the meta's log head to `H`;
//! the pages before `H` are then free.
//!
//! Why the chain from `H` alone replays to the same state (docs/FORMAT.md
//! §10 has the full argument): a key created or rewritten after `H` has its
//! whole history after `H`; a listed key is re-put whole before the end
//! frame, so what follows the re-put is applied to the right entry, and
//! what precedes it (an edit of an entry whose `Put` lies before `H`)
//! meets no entry on replay and changes nothing (edits are total); a listed
//! key absent when its turn comes (deleted, or expired) is not re-put and
//! stays absent. `SWAPDB` during a checkpoint swaps the two databases'
//! remaining lists, as it swaps their contents.
//!
//! Until the meta moves, the old head stays valid: the begin, entries and
//! end frames replay from it as no-ops (an entry re-put carries the value
//! its key holds at that point of the chain). Pages written by a step are
//! not synced on their own: they belong to the same group as the next
//! commit's pages (no group-start flag), and that commit's sync, or the
//! final one, covers them.
//!
//! This module must never change the state: a checkpoint only re-writes
//! what memory already holds.

use super::record::{self, FrameKind, Namespace, MAX_FRAME_BODY};
use super::state::SPACES;
use super::{ChainCursor, Store, SNAPSHOT_FRAME_BODY};
use crate::codec::Writer;
use crate::error::{Error, Result};
use crate::pager::{MetaState, FIRST_DATA_PAGE};

/// Keys still to re-put for one namespace: `len u32 | key` from `offset` on.
#[derive(Debug, Default)]
struct KeyQueue {
    buf: Vec<u8>,
    offset: usize,
}

impl KeyQueue {
    fn push(&mut self, key: &[u8]) {
        self.buf
            .extend_from_slice(&(key.len() as u32).to_be_bytes());
        self.buf.extend_from_slice(key);
    }

    fn is_empty(&self) -> bool {
        self.offset >= self.buf.len()
    }

    fn pop(&mut self) -> Option<&[u8]> {
        let len_bytes: [u8; 4] = self
            .buf
            .get(self.offset..self.offset + 4)?
            .try_into()
            .ok()?;
        let start = self.offset + 4;
        let end = start.checked_add(u32::from_be_bytes(len_bytes) as usize)?;
        let key = self.buf.get(start..end)?;
        self.offset = end;
        Some(key)
    }
}

/// An incremental checkpoint in progress.
#[derive(Debug)]
pub(super) struct Checkpoint {
    /// One queue per namespace, in [`Namespace::ALL`] order. Steps take
    /// from the first that is not empty (a swap may refill an earlier one).
    queues: Vec<KeyQueue>,
    /// The page holding the begin frame: the chain's head once done.
    head: ChainCursor,
    /// Index of `head.page` in [`Store::chain`].
    chain_index: usize,
    /// The commit sequence number the begin frame carries.
    base_commit_seq: u64,
}

impl Checkpoint {
    /// `SWAPDB`: what remains to re-put of each database moves with it.
    pub(super) fn swap(&mut self, a: Namespace, b: Namespace) {
        if a.index() < self.queues.len() && b.index() < self.queues.len() {
            self.queues.swap(a.index(), b.index());
        }
    }
}

/// What a checkpoint step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointProgress {
    /// No checkpoint is running.
    Idle,
    /// Entries were re-put; more remain.
    Running,
    /// The last entries were written and the log head moved.
    Completed,
}

impl Store {
    /// Whether an incremental checkpoint is running.
    pub fn checkpoint_running(&self) -> bool {
        self.checkpoint.is_some()
    }

    /// Starts an incremental checkpoint (see the module docs); false when
    /// one is already running. Lists every live key (a copy of the keys,
    /// not of the values).
    pub fn begin_checkpoint(&mut self, now_ms: u64) -> Result<bool> {
        self.check_writable()?;
        if self.checkpoint.is_some() {
            return Ok(false);
        }
        let mut queues: Vec<KeyQueue> = (0..SPACES).map(|_| KeyQueue::default()).collect();
        for ns in Namespace::ALL {
            if let Some(q) = queues.get_mut(ns.index()) {
                for (key, _) in self.state.iter(ns, now_ms) {
                    q.push(key);
                }
            }
        }
        // Whatever is staged goes first, so the begin frame starts a page.
        let pending = std::mem::take(&mut self.pending);
        self.unsynced_commits |= !pending.is_empty();
        self.write_unsynced(&pending)?;
        let base = self.next_commit_seq - 1;
        let head = self.cursor;
        let chain_index = self.chain.len();
        let mut begin = Vec::new();
        record::encode_frame(&mut begin, FrameKind::CheckpointBegin, base, &[]);
        self.write_unsynced(&begin)?;
        self.checkpoint = Some(Checkpoint {
            queues,
            head,
            chain_index,
            base_commit_seq: base,
        });
        Ok(true)
    }

    /// Re-puts about `budget` bytes of listed entries (at least one), after
    /// whatever commits are staged; finishes the checkpoint when the list
    /// is exhausted. Writes without syncing, except the final step.
    pub fn checkpoint_step(&mut self, now_ms: u64, budget: usize) -> Result<CheckpointProgress> {
        let Some(mut cp) = self.checkpoint.take() else {
            return Ok(CheckpointProgress::Idle);
        };
        self.check_writable()?;
        let base = self.next_commit_seq - 1;
        let mut stream = std::mem::take(&mut self.pending);
        self.unsynced_commits |= !stream.is_empty();
        let mut body = Writer::new();
        let mut count = 0u32;
        let mut written = 0usize;
        let frame_limit = SNAPSHOT_FRAME_BODY.min(MAX_FRAME_BODY);
        while written < budget.max(1) {
            let Some(ns) = Namespace::ALL
                .into_iter()
                .find(|ns| cp.queues.get(ns.index()).is_some_and(|q| !q.is_empty()))
            else {
                break;
            };
            let Some(key) = cp.queues.get_mut(ns.index()).and_then(KeyQueue::pop) else {
                // A malformed queue (cannot happen): drop what is left.
                if let Some(q) = cp.queues.get_mut(ns.index()) {
                    q.offset = q.buf.len();
                }
                continue;
            };
            let Some(entry) = self.state.get(ns, key, now_ms) else {
                continue; // deleted or expired since it was listed
            };
            let before = body.len();
            record::encode_put(&mut body, ns, key, &entry.value, entry.expires_at_ms);
            written += body.len() - before;
            count += 1;
            if body.len() >= frame_limit {
                record::encode_frame_of(
                    &mut stream,
                    FrameKind::CheckpointEntries,
                    base,
                    count,
                    body.as_slice(),
                );
                body = Writer::new();
                count = 0;
            }
        }
        if count > 0 {
            record::encode_frame_of(
                &mut stream,
                FrameKind::CheckpointEntries,
                base,
                count,
                body.as_slice(),
            );
        }
        let done = cp.queues.iter().all(KeyQueue::is_empty);
        if !done {
            self.write_unsynced(&stream)?;
            self.checkpoint = Some(cp);
            return Ok(CheckpointProgress::Running);
        }
        record::encode_frame(&mut stream, FrameKind::CheckpointEnd, base, &[]);
        self.write_unsynced(&stream)?;
        self.finish_checkpoint(&cp)?;
        Ok(CheckpointProgress::Completed)
    }

    /// Syncs everything written, moves the meta's log head to the begin
    /// frame's page and frees the pages before it.
    fn finish_checkpoint(&mut self, cp: &Checkpoint) -> Result<()> {
        let new_meta = MetaState {
            epoch: self.meta.epoch,
            log_head_page: cp.head.page,
            log_head_seq: cp.head.seq,
            log_anchor: cp.head.prev_tag,
            base_commit_seq: cp.base_commit_seq,
        };
        let header = *self.pager.header();
        let switched = self.pager.sync().and_then(|()| {
            self.pager
                .write_meta(header, Some((&new_meta, &self.keys.meta)))
        });
        if let Err(e) = switched {
            self.poisoned = true;
            return Err(e);
        }
        self.unsynced = false;
        self.unsynced_commits = false;
        if self.chain.get(cp.chain_index) != Some(&cp.head.page) {
            self.poisoned = true;
            return Err(Error::Internal(
                "checkpoint head is not where the chain says it began".into(),
            ));
        }
        let old: Vec<u64> = self.chain.drain(..cp.chain_index).collect();
        self.free.extend(old);
        self.meta = new_meta;
        self.stats.compactions += 1;
        self.give_back_trailing_pages()
    }

    /// Seals `stream` at the chain's tail without syncing: the pages join
    /// the group the next sync ends (no group-start flag after them).
    pub(super) fn write_unsynced(&mut self, stream: &[u8]) -> Result<()> {
        if stream.is_empty() {
            return Ok(());
        }
        let start = self.cursor;
        match self.write_chain(start, stream) {
            Ok((pages, cursor)) => {
                self.chain.extend(pages);
                self.cursor = cursor;
                self.unsynced = true;
                Ok(())
            }
            Err(e) => {
                self.poisoned = true;
                Err(e)
            }
        }
    }

    /// Returns free pages at the end of the file to the file system.
    pub(super) fn give_back_trailing_pages(&mut self) -> Result<()> {
        let mut end = self.end_page;
        while end > FIRST_DATA_PAGE && self.free.contains(&(end - 1)) {
            end -= 1;
            self.free.remove(&end);
        }
        if end < self.end_page {
            self.end_page = end;
            self.pager.truncate_pages(end)?;
        }
        Ok(())
    }
}
