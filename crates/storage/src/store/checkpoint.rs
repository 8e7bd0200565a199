//! The incremental checkpoint: compaction in small steps at the tail of the
//! live chain, so `BGSAVE` and the automatic compaction never stall the
//! event loop for longer than one step.
//!
//! [`Store::begin_checkpoint`] writes a `CheckpointBegin` frame as the first
//! frame of a fresh page `H` and notes how many slots each namespace has
//! (the state keeps every entry in one slot for its whole life, see
//! `state.rs`). Each [`Store::checkpoint_step`] then walks a bounded run of
//! those slots and re-puts each entry it finds with its *current* value, as
//! `CheckpointEntries` frames appended to the chain after every commit
//! already staged. When every slot noted has been walked it writes
//! `CheckpointEnd`, syncs, and moves the meta's log head to `H`; the pages
//! before `H` are then free. Beginning costs nothing proportional to the
//! data: no key is copied.
//!
//! Why the chain from `H` alone replays to the same state (docs/FORMAT.md
//! §10 has the full argument): a key created or rewritten after `H` has its
//! whole history after `H`; a listed key is re-put whole before the end
//! frame, so what follows the re-put is applied to the right entry, and
//! what precedes it (an edit of an entry whose `Put` lies before `H`)
//! meets no entry on replay and changes nothing (edits are total); a listed
//! key absent when its turn comes (deleted, or expired) is not re-put and
//! stays absent. "Listed" means: in a slot below the count noted at the
//! begin — an entry never leaves its slot, so the walk meets each of them
//! once. `SWAPDB` during a checkpoint swaps the two databases' walks, as it
//! swaps their contents.
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

/// An incremental checkpoint in progress.
#[derive(Debug)]
pub(super) struct Checkpoint {
    /// Per namespace, in [`Namespace::ALL`] order: the next slot to walk
    /// and the slot count at the begin (later slots hold later entries).
    walks: Vec<(usize, usize)>,
    /// The page holding the begin frame: the chain's head once done.
    head: ChainCursor,
    /// Index of `head.page` in [`Store::chain`].
    chain_index: usize,
    /// The commit sequence number the begin frame carries.
    base_commit_seq: u64,
}

impl Checkpoint {
    /// `SWAPDB`: what remains to walk of each database moves with it.
    pub(super) fn swap(&mut self, a: Namespace, b: Namespace) {
        if a.index() < self.walks.len() && b.index() < self.walks.len() {
            self.walks.swap(a.index(), b.index());
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
    /// one is already running.
    pub fn begin_checkpoint(&mut self) -> Result<bool> {
        self.check_writable()?;
        self.check_no_unlogged_puts()?;
        if self.checkpoint.is_some() {
            return Ok(false);
        }
        let walks = (0..SPACES)
            .map(|i| {
                let slots = Namespace::ALL
                    .get(i)
                    .and_then(|ns| self.state.space_of(*ns))
                    .map_or(0, |space| space.slot_count());
                (0, slots)
            })
            .collect();
        // Whatever is staged goes first, so the begin frame starts a page.
        let pending = self.take_pending();
        self.unsynced_commits |= !pending.is_empty();
        self.write_unsynced(&pending)?;
        let base = self.next_commit_seq - 1;
        let head = self.cursor;
        let chain_index = self.chain.len();
        let mut begin = Vec::new();
        record::encode_frame(&mut begin, FrameKind::CheckpointBegin, base, &[]);
        self.write_unsynced(&begin)?;
        self.checkpoint = Some(Checkpoint {
            walks,
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
        let mut stream = self.take_pending();
        self.unsynced_commits |= !stream.is_empty();
        let mut body = Writer::new();
        let mut count = 0u32;
        let mut written = 0usize;
        let frame_limit = SNAPSHOT_FRAME_BODY.min(MAX_FRAME_BODY);
        'walk: for ns in Namespace::ALL {
            let (Some(walk), Some(space)) = (cp.walks.get_mut(ns.index()), self.state.space_of(ns))
            else {
                continue;
            };
            // A namespace cleared since the begin has fewer slots: its
            // entries of the begin are gone (the clear is logged).
            let end = walk.1.min(space.slot_count());
            while walk.0 < end {
                if written >= budget.max(1) {
                    break 'walk;
                }
                let slot = walk.0;
                walk.0 += 1;
                let Some((key, entry)) = space.slot(slot) else {
                    continue; // a freed slot
                };
                if !entry.is_live(now_ms) {
                    continue; // expired: absent, and stays so
                }
                let before = body.len();
                record::encode_put(&mut body, ns, key, entry.value, entry.expires_at_ms);
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
            walk.0 = walk.0.max(walk.1);
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
        let done = cp.walks.iter().all(|(next, end)| next >= end);
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
        self.all_synced();
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
