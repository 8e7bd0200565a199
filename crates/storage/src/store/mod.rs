//! The encrypted store: an append-only chain of sealed log pages replayed
//! into in-memory namespaces, with group commit and compaction.
//!
//! The store knows records, not meaning, and pages only through the
//! [`Pager`]. A write is a [`Mutation`] batch: [`Store::apply`] encodes it as
//! one commit frame into the pending buffer and applies it to memory;
//! [`Store::flush`] writes every pending frame as new log pages (never
//! overwriting a page of the live chain) and issues one `sync` for all of
//! them. Callers release replies only after `flush` returns (group commit).
//! A failed flush poisons the store: the process must stop, because memory
//! now holds changes the disk may not.
//!
//! Costs: a commit costs pages proportional to its own size; opening costs
//! one pass over the chain, which [`Store::compact`] keeps proportional to
//! the live data by rewriting it as a snapshot chain.

mod cells;
mod checkpoint;
pub mod edit;
pub mod log;
pub mod record;
pub mod small_collection;
pub mod sorted_set;
pub(crate) mod state;

use crate::crypto::keys::{hmac_sha256, DataKey, Key32};
use crate::crypto::seal::AeadKey;
use crate::error::{Error, Result};
use crate::pager::{FileHeader, MetaState, Pager, FIRST_DATA_PAGE};
pub use checkpoint::CheckpointProgress;
use log::{LogPageError, LogPageHeader, FLAG_GROUP_START};
use record::{FrameKind, Mutation, Namespace, RecordError};
pub use state::{Entry, EntryRef, State};
use std::collections::{BTreeSet, HashSet};

/// Largest snapshot frame body written by compaction.
const SNAPSHOT_FRAME_BODY: usize = 1024 * 1024;
/// Bytes of snapshot frames a compaction seals and writes at a time (a few
/// frames; each batch starts on a fresh page, as every write does).
const SNAPSHOT_WRITE_BATCH: usize = 4 * 1024 * 1024;
/// How far past the end of the file a `next_page` may point (reserved,
/// not yet written pages).
const NEXT_PAGE_SLACK: u64 = 16;
/// Session keys held at once while scanning for damage.
const MAX_SCAN_SESSIONS: usize = 64;
/// Log size below which compaction never runs.
const COMPACT_MIN_LOG_BYTES: u64 = 8 * 1024 * 1024;

/// The keys derived from the data key: the page key (from which each
/// session's key is derived) and the meta key.
pub struct StoreKeys {
    page_base: Key32,
    pub meta: AeadKey,
}

impl StoreKeys {
    pub fn derive(data_key: &DataKey) -> Result<Self> {
        Ok(Self {
            page_base: data_key.page_key()?,
            meta: AeadKey::new(&data_key.meta_key()?)?,
        })
    }

    /// `HMAC-SHA-256(page_key, "reddb-session-key-v1" | session)`.
    pub(crate) fn session_key(&self, session: &[u8; log::SESSION_LEN]) -> Result<AeadKey> {
        let mut msg = Vec::with_capacity(20 + log::SESSION_LEN);
        msg.extend_from_slice(b"reddb-session-key-v1");
        msg.extend_from_slice(session);
        AeadKey::new(&hmac_sha256(&self.page_base[..], &msg)?)
    }
}

/// What replay has seen so far of the chain's opening.
struct ReplayProgress {
    /// The chain's snapshot (or checkpoint) is complete: every entry live
    /// at its start has been put.
    snapshot_done: bool,
    /// Frames applied so far.
    frames: u64,
    /// The chain opens with a checkpoint's begin frame.
    checkpoint_head: bool,
}

/// Where the next log page goes and what it must carry.
#[derive(Debug, Clone, Copy)]
struct ChainCursor {
    page: u64,
    seq: u64,
    prev_tag: [u8; 16],
}

/// Counters for `red check`, metrics and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub chain_pages: usize,
    pub free_pages: usize,
    pub file_pages: u64,
    pub commits_replayed: u64,
    pub next_commit_seq: u64,
    pub epoch: u32,
    pub live_bytes: usize,
    pub compactions: u64,
    pub flushes: u64,
    pub pages_written: u64,
}

pub struct Store {
    pager: Pager,
    keys: StoreKeys,
    /// This open's random session id and the key it seals pages with.
    session: [u8; log::SESSION_LEN],
    session_key: AeadKey,
    meta: MetaState,
    state: State,
    chain: Vec<u64>,
    cursor: ChainCursor,
    next_commit_seq: u64,
    nonce_counter: u64,
    free: BTreeSet<u64>,
    end_page: u64,
    pending: Vec<u8>,
    writable: bool,
    poisoned: bool,
    stats: StoreStats,
    /// The incremental checkpoint in progress (`checkpoint.rs`).
    checkpoint: Option<checkpoint::Checkpoint>,
    /// Pages were written since the last sync: the next pages continue
    /// their group (no group-start flag).
    unsynced: bool,
    /// Some of those pages hold commits (a checkpoint step wrote what was
    /// staged): the next flush must sync even with nothing staged.
    unsynced_commits: bool,
    /// Memory holds puts made by [`Store::put_for_snapshot`] that no log
    /// page has: only [`Store::compact`] may write next.
    unlogged_puts: bool,
    /// Log page writes so far (each `write_chain`): a [`SyncTicket`]
    /// remembers the count, so its sync knows whether pages were written
    /// after it was issued.
    page_writes: u64,
    /// The last commit whose frame has left `pending` for the log.
    written_commit_seq: u64,
    /// The last commit known to be on disk (a sync after its write).
    durable_commit_seq: u64,
}

/// A group written by [`Store::write_staged`] whose sync runs elsewhere
/// (the server's sync thread): hand it back to [`Store::synced`] with the
/// sync's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncTicket {
    session: [u8; log::SESSION_LEN],
    page_writes: u64,
    commit_seq: u64,
}

impl SyncTicket {
    /// Every commit up to this one is durable once the sync succeeded.
    pub fn commit_seq(&self) -> u64 {
        self.commit_seq
    }
}

impl Store {
    /// A new, empty store on a freshly created file (bootstrap). Nothing is
    /// written until [`Store::flush`] and [`Store::commit_header`].
    pub fn initialize(pager: Pager, keys: StoreKeys) -> Result<Self> {
        let meta = MetaState {
            epoch: 1,
            log_head_page: FIRST_DATA_PAGE,
            log_head_seq: 0,
            log_anchor: crate::crypto::random::array()?,
            base_commit_seq: 0,
        };
        let mut store = Self::with_new_session(pager, keys, meta, true, FIRST_DATA_PAGE + 1)?;
        store.stats.epoch = 1;
        Ok(store)
    }

    /// A store over `meta` with nothing replayed yet and a fresh session
    /// (a random session id, never reused, and its key): the log continues
    /// at the head `meta` names.
    fn with_new_session(
        pager: Pager,
        keys: StoreKeys,
        meta: MetaState,
        writable: bool,
        end_page: u64,
    ) -> Result<Self> {
        let session = crate::crypto::random::array()?;
        let session_key = keys.session_key(&session)?;
        Ok(Self {
            pager,
            keys,
            session,
            session_key,
            meta,
            state: State::default(),
            chain: Vec::new(),
            cursor: ChainCursor {
                page: meta.log_head_page,
                seq: meta.log_head_seq,
                prev_tag: meta.log_anchor,
            },
            next_commit_seq: meta.base_commit_seq + 1,
            nonce_counter: 0,
            free: BTreeSet::new(),
            end_page,
            pending: Vec::new(),
            writable,
            poisoned: false,
            stats: StoreStats::default(),
            checkpoint: None,
            unsynced: false,
            unsynced_commits: false,
            unlogged_puts: false,
            page_writes: 0,
            written_commit_seq: meta.base_commit_seq,
            durable_commit_seq: meta.base_commit_seq,
        })
    }

    /// Opens a bootstrapped file: authenticates the meta, replays the log
    /// chain, and — when `writable` — makes a new nonce epoch durable
    /// before anything can be sealed in it.
    pub fn open(pager: Pager, keys: StoreKeys, writable: bool) -> Result<Self> {
        Self::open_with(pager, keys, writable, false)
    }

    /// [`Store::open`] for a file whose history must hold at least one
    /// commit (a database bootstrapped by [`crate::database::Database`],
    /// which syncs its bootstrap commit before the header says
    /// "bootstrapped"): a chain that replays none has lost pages no crash
    /// can lose, and is refused before anything is written.
    pub(crate) fn open_with(
        pager: Pager,
        keys: StoreKeys,
        writable: bool,
        require_commit: bool,
    ) -> Result<Self> {
        let meta = pager.unseal_meta(&keys.meta)?;
        let mut store = Self::with_new_session(pager, keys, meta, writable, FIRST_DATA_PAGE)?;
        store.replay()?;
        if require_commit && store.next_commit_seq == 1 {
            return Err(Error::Corrupted(
                "the log holds no commit, yet a bootstrapped file always holds its \
                 bootstrap commit: its first log page is damaged or missing"
                    .into(),
            ));
        }
        store.rebuild_free_list()?;
        // Everything replayed was read back from the disk.
        store.written_commit_seq = store.next_commit_seq - 1;
        store.durable_commit_seq = store.written_commit_seq;
        if writable {
            let epoch = store
                .pager
                .max_epoch(&store.keys.meta)
                .max(store.meta.epoch)
                .checked_add(1)
                .ok_or_else(|| Error::Corrupted("nonce epoch exhausted".into()))?;
            store.meta.epoch = epoch;
            let header = *store.pager.header();
            store
                .pager
                .write_meta(header, Some((&store.meta, &store.keys.meta)))?;
        }
        store.stats.epoch = store.meta.epoch;
        Ok(store)
    }

    /// Writes the file header and current meta to both slots (bootstrap's
    /// commit point; a rekey's, with a new certificate id). A failure
    /// poisons the store: the copies in memory no longer say what is on
    /// disk, so no later meta write may trust them.
    pub fn commit_header(&mut self, header: FileHeader) -> Result<()> {
        self.check_writable()?;
        let r = self
            .pager
            .write_meta(header, Some((&self.meta, &self.keys.meta)));
        if r.is_err() {
            self.poisoned = true;
        }
        r
    }

    /// Stops every later write (the caller met an I/O error outside the
    /// store, e.g. on a vault page): the process must be restarted.
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    pub fn header(&self) -> &FileHeader {
        self.pager.header()
    }

    pub(crate) fn pager_mut(&mut self) -> &mut Pager {
        &mut self.pager
    }

    fn replay(&mut self) -> Result<()> {
        let page_size = self.pager.page_size();
        let file_id = self.pager.header().file_id;
        let mut buf = vec![0u8; page_size];
        let mut stream: Vec<u8> = Vec::new();
        let mut visited = HashSet::new();
        // A chain written by compaction opens with a snapshot that ends in
        // an empty snapshot frame. Those pages were synced before the meta
        // pointed at them, so a chain that ends before that frame has lost
        // pages no crash can lose.
        let mut progress = ReplayProgress {
            snapshot_done: self.meta.base_commit_seq == 0,
            frames: 0,
            checkpoint_head: false,
        };
        // Pages of one session are contiguous in the chain and a session
        // never reappears after the next one starts: one key at a time.
        let mut reading: Option<([u8; log::SESSION_LEN], AeadKey)> = None;
        let file_pages = self.pager.page_count()?;
        loop {
            let page_no = self.cursor.page;
            if page_no < FIRST_DATA_PAGE || !visited.insert(page_no) {
                return Err(Error::Corrupted(format!(
                    "log chain points at page {page_no} a second time or into the fixed pages"
                )));
            }
            if !self.pager.read_page(page_no, &mut buf)? {
                break;
            }
            let Some(session) = log::session_of(&buf) else {
                break;
            };
            if reading.as_ref().map(|(s, _)| *s) != Some(session) {
                reading = Some((session, self.keys.session_key(&session)?));
            }
            let Some((_, key)) = &reading else { break };
            let (header, data, tag) = match log::open(key, &file_id, page_no, &buf) {
                Ok(v) => v,
                Err(LogPageError::Unauthentic) => break,
                Err(LogPageError::Malformed) => {
                    return Err(Error::Corrupted(format!(
                        "log page {page_no} authenticates but its header is impossible"
                    )))
                }
            };
            if header.seq != self.cursor.seq || header.prev_tag != self.cursor.prev_tag {
                break; // a stale page from an older chain or a torn group: end of log
            }
            if header.next_page < FIRST_DATA_PAGE
                || header.next_page > file_pages.saturating_add(NEXT_PAGE_SLACK)
            {
                return Err(Error::Corrupted(format!(
                    "log page {page_no} points at page {}, outside the file",
                    header.next_page
                )));
            }
            if header.flags & FLAG_GROUP_START != 0 {
                stream.clear();
            }
            stream.extend_from_slice(&data);
            let used = self.apply_frames(&stream, &mut progress)?;
            stream.drain(..used);
            self.chain.push(page_no);
            self.cursor = ChainCursor {
                page: header.next_page,
                seq: header.seq + 1,
                prev_tag: tag,
            };
        }
        // However the chain ended — a page that is not its continuation, or
        // one missing from the end of the file (a cut file) — later groups
        // elsewhere in the file mean durable pages were lost.
        self.refuse_if_later_groups_exist(file_pages)?;
        if !progress.snapshot_done {
            return Err(Error::Corrupted(
                "the log ends inside the snapshot or checkpoint written by compaction \
                 (a page of it is damaged or missing)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The chain ended on a page that is not its continuation, or that is
    /// missing from the end of the file. That is a torn last group (a
    /// crash) — unless some page in the file authenticates as the *start of
    /// a later group*: groups are written one after another, each only
    /// after the previous one was synced, so a later group start proves the
    /// group at the break was durable and has since been damaged (or cut
    /// off). Opening would silently drop acknowledged commits (a revoked key
    /// could come back), so refuse instead.
    fn refuse_if_later_groups_exist(&mut self, file_pages: u64) -> Result<()> {
        let page_size = self.pager.page_size();
        let file_id = self.pager.header().file_id;
        let in_chain: HashSet<u64> = self.chain.iter().copied().collect();
        let mut keys: std::collections::HashMap<[u8; log::SESSION_LEN], AeadKey> =
            std::collections::HashMap::new();
        let mut buf = vec![0u8; page_size];
        for page_no in FIRST_DATA_PAGE..file_pages {
            if in_chain.contains(&page_no) || !self.pager.read_page(page_no, &mut buf)? {
                continue;
            }
            let Some(session) = log::session_of(&buf) else {
                continue;
            };
            if !keys.contains_key(&session) {
                if keys.len() >= MAX_SCAN_SESSIONS {
                    keys.clear();
                }
                keys.insert(session, self.keys.session_key(&session)?);
            }
            let Some(key) = keys.get(&session) else {
                continue;
            };
            if let Ok((header, _, _)) = log::open(key, &file_id, page_no, &buf) {
                if header.seq > self.cursor.seq && header.flags & FLAG_GROUP_START != 0 {
                    return Err(Error::Corrupted(format!(
                        "log page {} (sequence {}) is damaged but later commits exist (page {page_no}); \
                         refusing to open rather than drop acknowledged writes",
                        self.cursor.page, self.cursor.seq
                    )));
                }
            }
        }
        Ok(())
    }

    /// Applies every complete frame at the start of `stream`; returns the
    /// bytes consumed.
    fn apply_frames(&mut self, stream: &[u8], progress: &mut ReplayProgress) -> Result<usize> {
        let mut pos = 0;
        loop {
            let rest = stream.get(pos..).unwrap_or(&[]);
            let (frame, used) = match record::decode_frame(rest) {
                Ok(Some(v)) => v,
                Ok(None) => return Ok(pos),
                Err(e) => return Err(corrupt_record(e)),
            };
            let first = progress.frames == 0;
            progress.frames += 1;
            match frame.kind {
                FrameKind::Commit => {
                    if frame.commit_seq != self.next_commit_seq {
                        return Err(Error::Corrupted(format!(
                            "commit {} found where commit {} was expected",
                            frame.commit_seq, self.next_commit_seq
                        )));
                    }
                    self.next_commit_seq += 1;
                    self.stats.commits_replayed += 1;
                }
                FrameKind::Snapshot => {
                    if self.stats.commits_replayed > 0 {
                        return Err(Error::Corrupted(
                            "snapshot frame after a commit frame".into(),
                        ));
                    }
                    if frame.commit_seq != self.meta.base_commit_seq {
                        return Err(Error::Corrupted("snapshot frame from another chain".into()));
                    }
                    if frame.mutations.is_empty() {
                        progress.snapshot_done = true;
                    }
                }
                FrameKind::CheckpointBegin
                | FrameKind::CheckpointEntries
                | FrameKind::CheckpointEnd => {
                    // A checkpoint frame carries the last commit before it.
                    if frame.commit_seq != self.next_commit_seq - 1 {
                        return Err(Error::Corrupted(format!(
                            "checkpoint frame after commit {} found where commit {} was the last",
                            frame.commit_seq,
                            self.next_commit_seq - 1
                        )));
                    }
                    match frame.kind {
                        FrameKind::CheckpointBegin if first && !progress.snapshot_done => {
                            progress.checkpoint_head = true;
                        }
                        FrameKind::CheckpointEnd if progress.checkpoint_head => {
                            progress.snapshot_done = true;
                        }
                        _ => {}
                    }
                }
            }
            for m in frame.mutations {
                self.state.apply(m);
            }
            pos += used;
        }
    }

    fn rebuild_free_list(&mut self) -> Result<()> {
        let used: HashSet<u64> = self
            .chain
            .iter()
            .copied()
            .chain([self.cursor.page])
            .collect();
        let end = self
            .pager
            .page_count()?
            .max(FIRST_DATA_PAGE)
            .max(used.iter().max().map_or(0, |m| m + 1));
        self.free = (FIRST_DATA_PAGE..end)
            .filter(|p| !used.contains(p))
            .collect();
        self.end_page = end;
        Ok(())
    }

    fn allocate(&mut self) -> u64 {
        if let Some(p) = self.free.pop_first() {
            return p;
        }
        let p = self.end_page;
        self.end_page += 1;
        p
    }

    /// Refuses when the store is read-only or stopped after a failed write.
    pub fn check_writable(&self) -> Result<()> {
        if self.poisoned {
            return Err(Error::Internal(
                "store stopped after a failed write; restart the server".into(),
            ));
        }
        if !self.writable {
            return Err(Error::Internal("store opened read-only".into()));
        }
        Ok(())
    }

    /// Validates and stages one atomic commit; applies it to memory. The
    /// commit is durable only after the next successful [`Store::flush`].
    pub fn apply(&mut self, mutations: Vec<Mutation>) -> Result<u64> {
        self.check_writable()?;
        for m in &mutations {
            record::validate(m).map_err(|e| Error::InvalidInput(format!("{e:?}")))?;
        }
        let seq = self.next_commit_seq;
        let before = self.pending.len();
        record::encode_frame(&mut self.pending, FrameKind::Commit, seq, &mutations);
        if self.pending.len() - before > record::FRAME_HEADER_LEN + record::MAX_FRAME_BODY {
            self.pending.truncate(before);
            return Err(Error::InvalidInput(format!(
                "a commit may hold at most {} MiB",
                record::MAX_FRAME_BODY / (1024 * 1024)
            )));
        }
        self.next_commit_seq += 1;
        for m in mutations {
            if let (Mutation::Swap { a, b }, Some(cp)) = (&m, self.checkpoint.as_mut()) {
                cp.swap(*a, *b);
            }
            self.state.apply(m);
        }
        Ok(seq)
    }

    /// Whether commits are waiting for a flush.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty() || self.unsynced_commits
    }

    /// Applies a put to memory only: nothing is staged or logged. It
    /// becomes durable with the next [`Store::compact`], together with every
    /// other such put, as one snapshot the meta switches to in one write —
    /// so a crash before that switch leaves none of them, and after it all
    /// (`red import`'s commit; docs/FORMAT.md §9.7). Until that compaction,
    /// [`Store::flush`] and checkpoints refuse: a commit logged on top of
    /// unlogged state would replay against a state that never existed.
    pub fn put_for_snapshot(&mut self, m: Mutation) -> Result<()> {
        self.check_writable()?;
        if !matches!(m, Mutation::Put { .. }) {
            return Err(Error::Internal("only puts can wait for a snapshot".into()));
        }
        record::validate(&m).map_err(|e| Error::InvalidInput(format!("{e:?}")))?;
        self.unlogged_puts = true;
        self.state.apply(m);
        Ok(())
    }

    /// Refuses a log write while memory holds unlogged puts.
    pub(crate) fn check_no_unlogged_puts(&self) -> Result<()> {
        if self.unlogged_puts {
            return Err(Error::Internal(
                "memory holds puts no log page has: only a compaction may write next".into(),
            ));
        }
        Ok(())
    }

    /// Writes every staged commit as new log pages and syncs once.
    pub fn flush(&mut self) -> Result<()> {
        if !self.has_pending() {
            return Ok(());
        }
        self.check_writable()?;
        self.check_no_unlogged_puts()?;
        let stream = self.take_pending();
        let start = self.cursor;
        let result = self
            .write_chain(start, &stream)
            .and_then(|(pages, cursor)| self.pager.sync().map(|_| (pages, cursor)));
        match result {
            Ok((pages, cursor)) => {
                self.chain.extend(pages);
                self.cursor = cursor;
                self.all_synced();
                self.stats.flushes += 1;
                Ok(())
            }
            Err(e) => {
                self.poisoned = true;
                Err(e)
            }
        }
    }

    /// [`Store::flush`] without its sync: writes every staged commit as
    /// new log pages and returns the ticket whose sync makes them (and
    /// every commit written before) durable, or `None` when nothing waits
    /// for a sync. The caller runs the sync — on another thread, through
    /// [`Store::barrier`] — and reports it to [`Store::synced`]; until then
    /// the pages stay unsynced, so later log writes continue their group
    /// (no `GROUP_START`, docs/FORMAT.md §6.2): a group start is only ever
    /// written when every page before it is known to be durable, which is
    /// what recovery's "a later group proves the break was durable" rests
    /// on. Replies for the commits must wait for that report.
    pub fn write_staged(&mut self) -> Result<Option<SyncTicket>> {
        if !self.has_pending() {
            return Ok(None);
        }
        self.check_writable()?;
        self.check_no_unlogged_puts()?;
        let stream = self.take_pending();
        self.write_unsynced(&stream)?;
        // The pages hold commits: the next flush syncs even with nothing
        // staged, until a sync of this ticket (or a later one) returns.
        self.unsynced_commits = true;
        self.stats.flushes += 1;
        Ok(Some(SyncTicket {
            session: self.session,
            page_writes: self.page_writes,
            commit_seq: self.written_commit_seq,
        }))
    }

    /// The sync of `ticket` returned `result`. Success makes its commits
    /// durable, and the pages written before it was issued; pages written
    /// since stay unsynced (their own sync follows). A failure poisons the
    /// store: memory holds commits the disk may not.
    pub fn synced(&mut self, ticket: SyncTicket, result: std::io::Result<()>) -> Result<()> {
        if ticket.session != self.session {
            return Err(Error::Internal(
                "a sync was reported to a store it was not issued by".into(),
            ));
        }
        if let Err(e) = result {
            self.poisoned = true;
            return Err(Error::io("cannot sync database file", e));
        }
        self.durable_commit_seq = self.durable_commit_seq.max(ticket.commit_seq);
        if self.page_writes == ticket.page_writes {
            self.unsynced = false;
            self.unsynced_commits = false;
        }
        Ok(())
    }

    /// The file's durability barrier, for a sync run on another thread
    /// ([`Store::write_staged`]).
    pub fn barrier(&self) -> std::io::Result<Box<dyn crate::pager::SyncBarrier>> {
        self.pager.barrier()
    }

    /// The last commit applied to memory (0 before the first).
    pub fn last_commit_seq(&self) -> u64 {
        self.next_commit_seq - 1
    }

    /// The last commit known to be on disk: a reply that saw memory as it
    /// is now may go out once this reaches [`Store::last_commit_seq`].
    pub fn durable_commit_seq(&self) -> u64 {
        self.durable_commit_seq
    }

    /// Takes the staged frames for writing: every commit applied so far is
    /// in them or already written.
    pub(super) fn take_pending(&mut self) -> Vec<u8> {
        self.written_commit_seq = self.next_commit_seq - 1;
        std::mem::take(&mut self.pending)
    }

    /// A sync covered every page written so far.
    pub(super) fn all_synced(&mut self) {
        self.unsynced = false;
        self.unsynced_commits = false;
        self.durable_commit_seq = self.written_commit_seq;
    }

    /// Seals `stream` into pages starting at `start`, allocating each next
    /// page as it goes. Returns the pages written and the new cursor.
    fn write_chain(
        &mut self,
        start: ChainCursor,
        stream: &[u8],
    ) -> Result<(Vec<u64>, ChainCursor)> {
        let page_size = self.pager.page_size();
        let file_id = self.pager.header().file_id;
        let capacity = log::stream_capacity(page_size);
        let mut cursor = start;
        let mut written = Vec::new();
        let mut run_start = cursor.page;
        let mut run: Vec<u8> = Vec::new();
        for (i, chunk) in stream.chunks(capacity).enumerate() {
            let next = self.allocate();
            let header = LogPageHeader {
                seq: cursor.seq,
                prev_tag: cursor.prev_tag,
                next_page: next,
                flags: if i == 0 && !self.unsynced {
                    FLAG_GROUP_START
                } else {
                    0
                },
            };
            let nonce = log::nonce(self.meta.epoch, self.nonce_counter);
            self.nonce_counter += 1;
            let (bytes, tag) = log::seal(
                &self.session_key,
                &self.session,
                &file_id,
                cursor.page,
                nonce,
                &header,
                chunk,
                page_size,
            )?;
            if !run.is_empty() && cursor.page != run_start + (run.len() / page_size) as u64 {
                self.pager.write_pages(run_start, &run)?;
                run.clear();
            }
            if run.is_empty() {
                run_start = cursor.page;
            }
            run.extend_from_slice(&bytes);
            written.push(cursor.page);
            cursor = ChainCursor {
                page: next,
                seq: cursor.seq + 1,
                prev_tag: tag,
            };
        }
        if !run.is_empty() {
            self.pager.write_pages(run_start, &run)?;
        }
        self.page_writes += 1;
        self.stats.pages_written += written.len() as u64;
        Ok((written, cursor))
    }

    /// Whether the log has grown enough past the live data to compact.
    pub(crate) fn should_compact(&self) -> bool {
        if self.checkpoint.is_some() {
            return false;
        }
        let log_bytes = (self.chain.len() * self.pager.page_size()) as u64;
        log_bytes > COMPACT_MIN_LOG_BYTES && log_bytes > 4 * self.state.live_bytes() as u64
    }

    /// Rewrites the live state as a new snapshot chain, switches the meta
    /// to it, and frees the old chain's pages.
    pub fn compact(&mut self, now_ms: u64) -> Result<()> {
        self.flush()?;
        self.check_writable()?;
        // A whole snapshot supersedes a checkpoint in progress. Its pages
        // must be durable before the new chain's first group is written (a
        // torn tail before a later group start reads as lost commits).
        self.checkpoint = None;
        if self.unsynced {
            if let Err(e) = self.pager.sync() {
                self.poisoned = true;
                return Err(e);
            }
            self.all_synced();
        }
        let base = self.next_commit_seq - 1;
        let anchor: [u8; 16] = crate::crypto::random::array()?;
        let head = self.allocate();
        let start = ChainCursor {
            page: head,
            seq: self.cursor.seq,
            prev_tag: anchor,
        };
        let new_meta = MetaState {
            epoch: self.meta.epoch,
            log_head_page: head,
            log_head_seq: start.seq,
            log_anchor: anchor,
            base_commit_seq: base,
        };
        let result = self
            .write_snapshot(start, base, now_ms)
            .and_then(|(pages, cursor)| {
                self.pager.sync()?;
                let header = *self.pager.header();
                self.pager
                    .write_meta(header, Some((&new_meta, &self.keys.meta)))?;
                Ok((pages, cursor))
            });
        let (pages, cursor) = match result {
            Ok(v) => v,
            Err(e) => {
                self.poisoned = true;
                return Err(e);
            }
        };
        let old_chain = std::mem::replace(&mut self.chain, pages);
        self.free.extend(old_chain);
        self.free.insert(self.cursor.page);
        self.cursor = cursor;
        self.meta = new_meta;
        self.all_synced();
        self.unlogged_puts = false;
        self.stats.compactions += 1;
        self.give_back_trailing_pages()
    }

    /// Writes every live entry as snapshot frames (and the empty frame
    /// that ends a snapshot) as a chain from `start`, without syncing.
    /// Frames are sealed and written [`SNAPSHOT_WRITE_BATCH`] bytes at a
    /// time, so memory holds one batch of them, not the whole snapshot.
    fn write_snapshot(
        &mut self,
        start: ChainCursor,
        base: u64,
        now_ms: u64,
    ) -> Result<(Vec<u64>, ChainCursor)> {
        // The state is read while `self` writes pages: lend it out and put
        // it back whatever happens (writing pages never touches it).
        let state = std::mem::take(&mut self.state);
        let result = self.write_snapshot_of(&state, start, base, now_ms);
        self.state = state;
        result
    }

    fn write_snapshot_of(
        &mut self,
        state: &State,
        start: ChainCursor,
        base: u64,
        now_ms: u64,
    ) -> Result<(Vec<u64>, ChainCursor)> {
        let mut pages = Vec::new();
        let mut cursor = start;
        let mut stream = Vec::new();
        let mut batch = Vec::new();
        let mut batch_len = 0;
        for ns in Namespace::ALL {
            for (key, entry) in state.iter(ns, now_ms) {
                let m = Mutation::Put {
                    ns,
                    key: key.to_vec(),
                    value: entry.value.to_value(),
                    expires_at_ms: entry.expires_at_ms,
                };
                batch_len += record::encoded_len(&m);
                batch.push(m);
                if batch_len >= SNAPSHOT_FRAME_BODY {
                    record::encode_frame(&mut stream, FrameKind::Snapshot, base, &batch);
                    batch.clear();
                    batch_len = 0;
                    if stream.len() >= SNAPSHOT_WRITE_BATCH {
                        self.write_snapshot_part(&mut cursor, &mut pages, &stream)?;
                        stream.clear();
                    }
                }
            }
        }
        if !batch.is_empty() {
            record::encode_frame(&mut stream, FrameKind::Snapshot, base, &batch);
        }
        // The end-of-snapshot marker that replay requires (see `replay`).
        record::encode_frame(&mut stream, FrameKind::Snapshot, base, &[]);
        self.write_snapshot_part(&mut cursor, &mut pages, &stream)?;
        Ok((pages, cursor))
    }

    /// Seals and writes one batch of snapshot frames after `cursor`.
    fn write_snapshot_part(
        &mut self,
        cursor: &mut ChainCursor,
        pages: &mut Vec<u64>,
        stream: &[u8],
    ) -> Result<()> {
        let (written, next) = self.write_chain(*cursor, stream)?;
        pages.extend(written);
        *cursor = next;
        // Later batches continue this group (one sync ends it): no
        // GROUP_START on their first page.
        self.unsynced = true;
        Ok(())
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Drops expired entries from memory (no log record is needed).
    pub fn sweep_expired(&mut self, now_ms: u64, limit: usize) -> usize {
        self.state.sweep_expired(now_ms, limit)
    }

    /// [`Store::sweep_expired`], telling `report` each key it drops.
    pub fn sweep_expired_reporting(
        &mut self,
        now_ms: u64,
        limit: usize,
        report: impl FnMut(Namespace, &[u8]),
    ) -> usize {
        self.state.sweep_expired_reporting(now_ms, limit, report)
    }

    pub fn get(&self, ns: Namespace, key: &[u8], now_ms: u64) -> Option<EntryRef<'_>> {
        self.state.get(ns, key, now_ms)
    }

    /// Log pages written since the store opened (a counter, no I/O).
    pub fn pages_written(&self) -> u64 {
        self.stats.pages_written
    }

    pub fn stats(&mut self) -> StoreStats {
        let mut s = self.stats.clone();
        s.chain_pages = self.chain.len();
        s.free_pages = self.free.len();
        s.file_pages = self.pager.page_count().unwrap_or(0);
        s.next_commit_seq = self.next_commit_seq;
        s.live_bytes = self.state.live_bytes();
        s.epoch = self.meta.epoch;
        s
    }
}

fn corrupt_record(e: RecordError) -> Error {
    Error::Corrupted(format!(
        "an authenticated log record does not decode: {e:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pager::mem_file::MemFile;
    use record::Value;

    fn keys() -> StoreKeys {
        StoreKeys::derive(&DataKey::from_bytes(&[9u8; 32]).unwrap()).unwrap()
    }

    fn put(i: u32) -> Mutation {
        Mutation::Put {
            ns: Namespace::Keyspace,
            key: format!("k{i}").into_bytes(),
            value: Value::Bytes(vec![b'v'; 100]),
            expires_at_ms: 0,
        }
    }

    /// Three groups of one commit each; returns the file and the chain.
    fn three_groups() -> (MemFile, Vec<u64>) {
        let file = MemFile::default();
        let pager = Pager::create(Box::new(file.clone()), 4096).unwrap();
        let mut store = Store::initialize(pager, keys()).unwrap();
        let mut h = *store.header();
        h.bootstrapped = true;
        store.commit_header(h).unwrap();
        for i in 0..3 {
            store.apply(vec![put(i)]).unwrap();
            store.flush().unwrap();
        }
        let chain = store.chain.clone();
        (file, chain)
    }

    fn reopen(file: &MemFile) -> Result<Store> {
        Store::open(Pager::open(Box::new(file.clone()))?, keys(), false)
    }

    #[test]
    fn damage_before_a_later_group_is_refused() {
        let (file, chain) = three_groups();
        assert_eq!(
            reopen(&file)
                .unwrap()
                .state()
                .count_live(Namespace::Keyspace, 0),
            3
        );
        let first = chain[0] as usize * 4096;
        file.0.lock().unwrap()[first + 100] ^= 1;
        match reopen(&file) {
            Err(Error::Corrupted(m)) => assert!(m.contains("later commits exist"), "{m}"),
            Err(e) => panic!("expected Corrupted, got {e}"),
            Ok(s) => panic!(
                "opened with {} keys",
                s.state().count_live(Namespace::Keyspace, 0)
            ),
        }
    }

    #[test]
    fn damage_to_the_last_group_reads_as_a_torn_write() {
        let (file, chain) = three_groups();
        let last = *chain.last().unwrap() as usize * 4096;
        file.0.lock().unwrap()[last + 100] ^= 1;
        let store = reopen(&file).unwrap();
        assert_eq!(store.state().count_live(Namespace::Keyspace, 0), 2);
    }

    #[test]
    fn puts_for_a_snapshot_are_written_only_by_the_compaction() {
        let (file, _) = three_groups();
        let mut store =
            Store::open(Pager::open(Box::new(file.clone())).unwrap(), keys(), true).unwrap();
        let delete = Mutation::Delete {
            ns: Namespace::Keyspace,
            key: b"k0".to_vec(),
        };
        assert!(store.put_for_snapshot(delete).is_err(), "only puts");
        for i in 10..20 {
            store.put_for_snapshot(put(i)).unwrap();
        }
        assert!(store.get(Namespace::Keyspace, b"k15", 0).is_some());
        // Nothing is logged on top of them, and a reopen does not see them.
        store.apply(vec![put(99)]).unwrap();
        assert!(store.flush().is_err());
        assert!(store.begin_checkpoint().is_err());
        drop(store);
        let before = reopen(&file).unwrap();
        assert_eq!(before.state().count_live(Namespace::Keyspace, 0), 3);
        drop(before);
        // A fresh open, the same puts, and the compaction: all of them.
        let mut store =
            Store::open(Pager::open(Box::new(file.clone())).unwrap(), keys(), true).unwrap();
        for i in 10..20 {
            store.put_for_snapshot(put(i)).unwrap();
        }
        store.compact(0).unwrap();
        store.apply(vec![put(20)]).unwrap();
        store.flush().unwrap();
        drop(store);
        assert_eq!(
            reopen(&file)
                .unwrap()
                .state()
                .count_live(Namespace::Keyspace, 0),
            14
        );
    }

    #[test]
    fn oversized_commit_is_refused_before_it_is_staged() {
        let (file, _) = three_groups();
        let mut store = Store::open(Pager::open(Box::new(file)).unwrap(), keys(), true).unwrap();
        let big: Vec<Mutation> = (0..5)
            .map(|i| Mutation::Put {
                ns: Namespace::Keyspace,
                key: format!("big{i}").into_bytes(),
                value: Value::Bytes(vec![0u8; 15 * 1024 * 1024]),
                expires_at_ms: 0,
            })
            .collect();
        assert!(matches!(store.apply(big), Err(Error::InvalidInput(_))));
        assert!(!store.has_pending());
        assert!(store.get(Namespace::Keyspace, b"big0", 0).is_none());
    }
}
