//! The global buffer budget (`--max-buffer-memory`) and its waiting line.
//!
//! Reading is bounded three ways. Each connection has its own cap (the
//! HTTP head and body limits, the wire query buffer). Each read is parsed
//! at once by a resumable parser, so a request that trickles in one byte
//! per read costs linear time, and an HTTP head is vetted before its body
//! is buffered (a body over 16 KiB needs credentials that authenticate).
//! And every connection's buffered bytes (input, pending output, parsed
//! parts of an incomplete request) count against one global budget: past
//! it the loop stops reading sockets, keeps answering what it already
//! holds, and remembers each connection it skipped in a first-in,
//! first-out line. A connection with no request in progress may still read
//! one chunk, so small requests keep being served; one with part of a
//! request buffered waits in line. When the budget frees, the line is read
//! in order; while it stays spent, the connection at the head of the line
//! alone may read past the budget (up to its own cap) until one of its
//! requests is complete, so every connection makes progress in turn and
//! the total stays within the budget, plus one chunk per connection, plus
//! one connection's cap. The connection at the head is closed if it sends
//! nothing for the request timeout (`timers.rs`).
//!
//! Owns the count of buffered bytes, the line, the reserve (who may read
//! past a spent budget) and the connections to read again once their own
//! cap has room. Must never read a socket itself (it says whether
//! `connection.rs` may) nor let any connection but the reserve's holder
//! read past a spent budget.

use super::connection::{Conn, Conns};
use super::EventLoop;
use std::collections::VecDeque;
use std::time::Instant;

/// What a connection may do about its socket now.
pub(super) enum Admit {
    Read,
    /// Nothing to read for now (closing, its own cap reached, waiting in
    /// line).
    Stop,
    /// The budget is spent: join the line.
    Pause,
}

/// The head of the line, as [`EventLoop::resume_reads`] finds it.
enum Head {
    /// No connection waits.
    Empty,
    /// Its connection closed or left the line: the entry was dropped.
    Gone,
    /// The budget is spent and another connection holds the reserve.
    Blocked,
    /// Taken off the line: it may read now.
    Ready(usize),
}

/// The one connection allowed to read past a spent budget.
#[derive(Debug, Clone, Copy)]
struct Reserve {
    slot: usize,
    generation: u64,
    since: Instant,
}

pub(super) struct Budget {
    /// `--max-buffer-memory`.
    max: usize,
    /// Bytes held by all connections (the sum of their `accounted`).
    buffered: usize,
    /// Connections whose reads the budget paused, oldest first (slot and
    /// generation; entries of closed connections are skipped).
    stalled: VecDeque<(usize, u64)>,
    /// Who may read past the spent budget.
    reserve: Option<Reserve>,
    /// Connections whose own cap stopped a read and that now have room.
    reread: Vec<usize>,
    /// Connections in `stalled` that still wait.
    waiting: usize,
    /// The connection taken from the line and being read now.
    resuming: Option<usize>,
}

impl Budget {
    pub(super) fn new(max: usize) -> Self {
        Self {
            max,
            buffered: 0,
            stalled: VecDeque::new(),
            reserve: None,
            reread: Vec::new(),
            waiting: 0,
            resuming: None,
        }
    }

    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// Bytes held by all connections.
    pub(super) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Connections waiting in line.
    pub(super) fn waiting(&self) -> usize {
        self.waiting
    }

    fn spent(&self) -> bool {
        self.buffered >= self.max
    }

    /// Brings the count up to date with what `c` holds now.
    pub(super) fn account(&mut self, c: &mut Conn) {
        let now = c.usage();
        self.buffered = self
            .buffered
            .saturating_sub(c.accounted)
            .saturating_add(now);
        c.accounted = now;
    }

    /// `c`, in `slot`, closed: its bytes, its place in line and its
    /// reserve are given back.
    pub(super) fn forget(&mut self, slot: usize, c: &Conn) {
        self.buffered = self.buffered.saturating_sub(c.accounted);
        if c.queued.is_some() {
            self.waiting = self.waiting.saturating_sub(1);
        }
        self.release(slot);
    }

    /// `slot` completed a request (or holds none): the reserve moves on.
    pub(super) fn release(&mut self, slot: usize) {
        if self.reserve.is_some_and(|r| r.slot == slot) {
            self.reserve = None;
        }
    }

    /// `slot`'s own cap stopped a read and it has room again.
    pub(super) fn reread_later(&mut self, slot: usize) {
        self.reread.push(slot);
    }

    /// The holder of the reserve, if it is still connected, and since when
    /// it holds it.
    pub(super) fn holder(&mut self, conns: &Conns) -> Option<(usize, Instant)> {
        let r = self.reserve?;
        if conns.holds(r.slot, r.generation) {
            Some((r.slot, r.since))
        } else {
            self.reserve = None;
            None
        }
    }
}

impl EventLoop {
    /// Brings the budget up to date with what `slot` holds now.
    pub(super) fn account(&mut self, slot: usize) {
        if let Some(c) = self.conns.get_mut(slot) {
            self.budget.account(c);
        }
    }

    /// Whether `slot` may read from its socket now. While the budget is
    /// spent, or others wait in line for it, a connection with part of a
    /// request buffered joins the line unless it holds the reserve.
    pub(super) fn admit(&mut self, slot: usize) -> Admit {
        let b = &mut self.budget;
        let over = b.spent() || (b.waiting > 0 && b.resuming != Some(slot));
        let holder = b.holder(&self.conns).map(|(s, _)| s) == Some(slot);
        let cap = self.limits.http;
        let Some(c) = self.conns.get_mut(slot) else {
            return Admit::Stop;
        };
        // A closing connection's input is never needed: leave it unread.
        if c.close_after_write || c.peer_closed || c.queued.is_some() {
            return Admit::Stop;
        }
        if c.inbuf.len() >= c.protocol.input_cap(&cap) {
            c.unread = true;
            return Admit::Stop;
        }
        // A connection with no request in progress may always read one
        // chunk: small requests (a PING, a login, a health check) are
        // served at once, complete, and give their bytes back; only an
        // incomplete one waits in line for more.
        if over && !holder && !c.inbuf.is_empty() {
            return Admit::Pause;
        }
        Admit::Read
    }

    /// The budget is spent: `slot` waits in line, its socket unread.
    pub(super) fn pause(&mut self, slot: usize) {
        let Some(c) = self.conns.get_mut(slot) else {
            return;
        };
        c.unread = true;
        if c.queued.is_none() {
            c.queued = Some(Instant::now());
            self.budget.stalled.push_back((slot, c.generation));
            self.budget.waiting += 1;
            self.metrics.read_paused();
        }
    }

    /// Takes `slot` out of the line; the time it waited does not count
    /// against its request timeout.
    fn unqueue(&mut self, slot: usize) {
        let Some(c) = self.conns.get_mut(slot) else {
            return;
        };
        if let Some(since) = c.queued.take() {
            let waited = since.elapsed();
            c.partial_since = c.partial_since.map(|t| t.checked_add(waited).unwrap_or(t));
            self.budget.waiting = self.budget.waiting.saturating_sub(1);
        }
    }

    /// Whether [`EventLoop::resume_reads`] has a read to make now.
    pub(super) fn reads_ready(&mut self) -> bool {
        let b = &mut self.budget;
        if !b.reread.is_empty() {
            return true;
        }
        if b.waiting == 0 {
            return false;
        }
        !b.spent() || b.holder(&self.conns).is_none()
    }

    /// Reads what the per-connection caps and the budget left unread:
    /// connections with room again below their own cap, then the line in
    /// order — every waiting connection while the budget allows, else the
    /// head of the line alone, with the reserve.
    pub(super) fn resume_reads(&mut self) {
        for slot in std::mem::take(&mut self.budget.reread) {
            if self
                .conns
                .get(slot)
                .is_some_and(|c| c.unread && c.queued.is_none())
            {
                self.read_and_process(slot);
            }
        }
        // Each waiting connection is taken at most once per turn.
        let mut turns = self.budget.stalled.len();
        while turns > 0 {
            turns -= 1;
            let slot = match self.head_of_line() {
                Head::Ready(slot) => slot,
                Head::Gone => continue,
                Head::Empty | Head::Blocked => break,
            };
            self.unqueue(slot);
            self.budget.resuming = Some(slot);
            self.read_and_process(slot);
            self.budget.resuming = None;
        }
    }

    /// Takes the head of the line off it when it may read now (with the
    /// reserve, when the budget is spent).
    fn head_of_line(&mut self) -> Head {
        let b = &mut self.budget;
        let Some(&(slot, generation)) = b.stalled.front() else {
            return Head::Empty;
        };
        let waiting = self
            .conns
            .get(slot)
            .is_some_and(|c| c.generation == generation && c.queued.is_some());
        if !waiting {
            b.stalled.pop_front();
            return Head::Gone;
        }
        if b.spent() {
            if b.holder(&self.conns).is_some() {
                return Head::Blocked;
            }
            b.reserve = Some(Reserve {
                slot,
                generation,
                since: Instant::now(),
            });
        }
        b.stalled.pop_front();
        Head::Ready(slot)
    }
}
