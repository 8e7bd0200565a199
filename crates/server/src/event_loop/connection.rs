//! Connections: the [`Conn`] type and the slab that holds them, reading a
//! socket (one chunk at a time, each parsed and run before the next),
//! writing replies, the write interest, and closing.
//!
//! Must never parse or answer a request (that is `http_conn.rs` and
//! `wire_conn.rs`, reached through `protocol.rs`), decide whether the
//! budget lets a read go ahead (`budget.rs` does), or write a reply before
//! the sync that covers it: output is written only once the turn has
//! classified it ([`Conn::classify_output`]) and only up to the first
//! bytes held for a sync still running (see `commit.rs`).

use super::budget::Admit;
use super::protocol::{Kind, Protocol};
use super::{EventLoop, FIRST_CONN};
use mio::net::TcpStream;
use mio::{Interest, Token};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

/// Bytes read from a socket at a time; each read is parsed before the next.
pub(super) const READ_CHUNK: usize = 16 * 1024;

/// An empty buffer holding more capacity than this gives it back, so idle
/// connections hold (and count against the budget) next to nothing.
const KEEP_EMPTY: usize = 4 * 1024;

/// A buffer larger than this that is three-quarters unused is shrunk.
const KEEP_PARTIAL: usize = 64 * 1024;

/// Output already written past this is dropped from the front of a buffer
/// that still holds unwritten bytes.
const DROP_WRITTEN: usize = 64 * 1024;

pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) peer: SocketAddr,
    pub(super) generation: u64,
    pub(super) inbuf: Vec<u8>,
    pub(super) outbuf: Vec<u8>,
    pub(super) written: usize,
    /// Output up to here was classified by the end of a turn: free to
    /// write, or held below. Bytes past it are this turn's, not yet
    /// classified, and wait.
    classified: usize,
    /// The gathering window that waits for this connection's next input
    /// (`commit.rs`; 0: none).
    pub(super) awaited_in: u64,
    /// Held output: from each offset on, the bytes wait until the commit
    /// named is durable (offsets ascending, commits ascending).
    held: VecDeque<(usize, u64)>,
    /// The worker job running for the request at the head of the pipe.
    pub(super) job: Option<u64>,
    pub(super) close_after_write: bool,
    pub(super) peer_closed: bool,
    writable_interest: bool,
    pub(super) last_activity: Instant,
    pub(super) partial_since: Option<Instant>,
    /// HTTP or wire, with the protocol's per-connection state.
    pub(super) protocol: Protocol,
    /// The peer's FIN was reported with an event: read to EOF.
    pub(super) hup: bool,
    /// The last read stopped before the socket was drained (its own cap or
    /// the global budget): no edge will announce what is left, so read
    /// again when there is room.
    pub(super) unread: bool,
    /// Since when the connection waits in the loop's line for the buffer
    /// budget (its request timeout does not run meanwhile).
    pub(super) queued: Option<Instant>,
    /// Bytes this connection counts in the loop's buffer budget.
    pub(super) accounted: usize,
    /// Running its input stopped because too much output was unsent: once
    /// the output drains, its input must be run again. No event says so
    /// when a write takes everything at once (no writable edge follows).
    pub(super) output_stalled: bool,
}

impl Conn {
    fn new(stream: TcpStream, peer: SocketAddr, generation: u64, protocol: Protocol) -> Self {
        Self {
            stream,
            peer,
            generation,
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            written: 0,
            classified: 0,
            awaited_in: 0,
            held: VecDeque::new(),
            job: None,
            close_after_write: false,
            peer_closed: false,
            writable_interest: false,
            last_activity: Instant::now(),
            partial_since: None,
            protocol,
            hup: false,
            unread: false,
            queued: None,
            accounted: 0,
            output_stalled: false,
        }
    }

    /// Bytes held for this connection: buffer capacities and what the
    /// parser keeps of an incomplete request.
    pub(super) fn usage(&self) -> usize {
        self.inbuf.capacity() + self.outbuf.capacity() + self.protocol.held_bytes()
    }

    /// Output queued but not yet written.
    pub(super) fn unsent(&self) -> usize {
        self.outbuf.len() - self.written
    }

    /// Where writing must stop: the first held bytes, else the end of what
    /// was classified.
    fn write_limit(&self) -> usize {
        self.held
            .front()
            .map_or(self.classified, |&(from, _)| from)
            .min(self.outbuf.len())
    }

    /// Whether output is left that may be written now (the socket took
    /// less than all of it).
    pub(super) fn writable_unsent(&self) -> bool {
        self.written < self.write_limit()
    }

    /// The end of a turn: this turn's output (appended since the last
    /// call) may leave once commit `needs` is durable; `needs == 0` frees
    /// it. Returns whether the connection now holds output.
    pub(super) fn classify_output(&mut self, needs: u64) -> bool {
        let end = self.outbuf.len();
        if needs > 0 && end > self.classified && self.held.back().is_none_or(|&(_, c)| c != needs) {
            self.held.push_back((self.classified, needs));
        }
        self.classified = end;
        !self.held.is_empty()
    }

    /// Whether output waits for a sync.
    pub(super) fn holds_output(&self) -> bool {
        !self.held.is_empty()
    }

    /// Commit `durable` is on disk: output held for it or earlier is
    /// free. Returns whether any was freed.
    pub(super) fn release_output(&mut self, durable: u64) -> bool {
        let mut freed = false;
        while self.held.front().is_some_and(|&(_, c)| c <= durable) {
            self.held.pop_front();
            freed = true;
        }
        freed
    }

    /// Marks everything appended so far as free to write at once: output
    /// that says nothing of the data (a `BUSY` reply during a script), on
    /// a connection with nothing unclassified before it.
    pub(super) fn free_output_since(&mut self, before: usize) {
        if self.classified >= before {
            self.classified = self.outbuf.len();
        }
    }

    /// Writes what the socket takes of the output that may leave now;
    /// drops what was written and gives back unused capacity. Returns
    /// whether the socket failed.
    pub(super) fn write_out(&mut self) -> bool {
        let mut failed = false;
        let limit = self.write_limit();
        while self.written < limit {
            match self
                .stream
                .write(self.outbuf.get(self.written..limit).unwrap_or(&[]))
            {
                Ok(0) => {
                    failed = true;
                    break;
                }
                Ok(n) => {
                    self.written += n;
                    self.last_activity = Instant::now();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if self.written == self.outbuf.len() {
            self.outbuf.clear();
            self.forget_written(self.written);
        } else if self.written > DROP_WRITTEN {
            self.outbuf.drain(..self.written);
            self.forget_written(self.written);
        }
        trim(&mut self.outbuf);
        failed
    }

    /// `n` written bytes left the front of the output: the offsets that
    /// point into it move back.
    fn forget_written(&mut self, n: usize) {
        self.written -= n;
        self.classified = self.classified.saturating_sub(n);
        for (from, _) in self.held.iter_mut() {
            *from = from.saturating_sub(n);
        }
    }
}

/// Gives back the capacity of a buffer that no longer needs it.
pub(super) fn trim(buf: &mut Vec<u8>) {
    if buf.is_empty() {
        if buf.capacity() > KEEP_EMPTY {
            *buf = Vec::new();
        }
    } else if buf.capacity() > KEEP_PARTIAL && buf.len() < buf.capacity() / 4 {
        buf.shrink_to(buf.len().saturating_mul(2));
    }
}

/// Every connection, by slot (its token is `FIRST_CONN + slot`); a slot is
/// reused after its connection closed, the generation tells them apart.
pub(super) struct Conns {
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
    live: usize,
    next_generation: u64,
}

impl Default for Conns {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            next_generation: 1,
        }
    }
}

impl Conns {
    pub(super) fn get(&self, slot: usize) -> Option<&Conn> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    pub(super) fn get_mut(&mut self, slot: usize) -> Option<&mut Conn> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    /// Whether `slot` still holds the connection of `generation`.
    pub(super) fn holds(&self, slot: usize, generation: u64) -> bool {
        self.get(slot).is_some_and(|c| c.generation == generation)
    }

    /// Open connections.
    pub(super) fn live(&self) -> usize {
        self.live
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, &Conn)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, c)| c.as_ref().map(|c| (slot, c)))
    }

    /// Whether any connection has output left to write.
    pub(super) fn output_pending(&self) -> bool {
        self.iter().any(|(_, c)| c.written < c.outbuf.len())
    }

    /// A slot for a new connection.
    fn vacant(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        })
    }

    /// Returns a slot from [`Conns::vacant`] that was not filled.
    fn give_back(&mut self, slot: usize) {
        self.free.push(slot);
    }

    /// Puts a new connection of `protocol` in `slot` (from
    /// [`Conns::vacant`]).
    fn fill(&mut self, slot: usize, stream: TcpStream, peer: SocketAddr, protocol: Protocol) {
        let generation = self.next_generation;
        self.next_generation += 1;
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(Conn::new(stream, peer, generation, protocol));
            self.live += 1;
        }
    }

    /// Takes the connection out of `slot` for a while, the slot kept for
    /// it ([`Conns::restore`] puts it back): a script's connection while
    /// the slab is lent to the busy watch (`busy_script.rs`).
    pub(super) fn lend(&mut self, slot: usize) -> Option<Conn> {
        self.slots.get_mut(slot).and_then(Option::take)
    }

    /// Puts back a connection from [`Conns::lend`].
    pub(super) fn restore(&mut self, slot: usize, conn: Conn) {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(conn);
        }
    }

    /// Removes the connection in `slot`; the slot is free again.
    fn take(&mut self, slot: usize) -> Option<Conn> {
        let c = self.slots.get_mut(slot).and_then(Option::take)?;
        self.free.push(slot);
        self.live = self.live.saturating_sub(1);
        Some(c)
    }
}

/// What one read of a socket brought.
enum Got {
    /// Bytes, appended to the input; `drained` when the read emptied the
    /// socket and no other read is needed until the next event.
    Bytes { drained: bool },
    /// End of file or a failed read: the peer is gone.
    Closed,
    /// Nothing for now (`EAGAIN`).
    Empty,
    /// Interrupted by a signal: read again.
    Retry,
    /// The connection is gone.
    Gone,
}

impl EventLoop {
    pub(super) fn mark_dirty(&mut self, slot: usize) {
        self.dirty.push(slot);
    }

    /// Registers a connection accepted by a listener and reads what it sent
    /// already. A connection that cannot be registered is dropped.
    pub(super) fn add_connection(&mut self, mut stream: TcpStream, peer: SocketAddr, kind: Kind) {
        let _ = stream.set_nodelay(true);
        let slot = self.conns.vacant();
        if self
            .poll
            .registry()
            .register(&mut stream, Token(FIRST_CONN + slot), Interest::READABLE)
            .is_err()
        {
            self.conns.give_back(slot);
            return;
        }
        // Only now: a wire session counts in the wire protocol's stats.
        let protocol = self.new_protocol(kind, peer);
        self.conns.fill(slot, stream, peer, protocol);
        self.read_and_process(slot);
    }

    /// Reads the socket one chunk at a time, parsing and running each
    /// chunk before the next is read, until it is drained or a cap, the
    /// budget or a decision to close stops it.
    pub(super) fn read_and_process(&mut self, slot: usize) {
        // Whether the connection changed since it was last processed
        // (nothing read yet in this call, an EOF, a read error).
        let mut unprocessed = true;
        loop {
            match self.admit(slot) {
                Admit::Read => {}
                Admit::Stop => break,
                Admit::Pause => {
                    self.pause(slot);
                    break;
                }
            }
            match self.read_chunk(slot) {
                Got::Bytes { drained } => {
                    self.arrived(slot);
                    self.account(slot);
                    self.process(slot);
                    unprocessed = false;
                    if drained {
                        break;
                    }
                }
                Got::Closed => {
                    unprocessed = true;
                    break;
                }
                Got::Empty => break,
                Got::Retry => continue,
                Got::Gone => return,
            }
        }
        if unprocessed {
            self.process(slot);
        }
        // Nothing of a request left to complete: the reserve moves on.
        if self.conns.get(slot).is_none_or(|c| c.inbuf.is_empty()) {
            self.budget.release(slot);
        }
        self.mark_dirty(slot);
    }

    /// One read of `slot`'s socket into its input (through the loop's
    /// read buffer).
    fn read_chunk(&mut self, slot: usize) -> Got {
        let buf = &mut *self.read_buf;
        let Some(c) = self.conns.get_mut(slot) else {
            return Got::Gone;
        };
        let n = match c.stream.read(buf) {
            Ok(0) => {
                c.peer_closed = true;
                c.unread = false;
                return Got::Closed;
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                c.unread = false;
                return Got::Empty;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => return Got::Retry,
            Err(_) => {
                c.peer_closed = true;
                c.unread = false;
                c.inbuf.clear();
                c.protocol.reset_parser();
                return Got::Closed;
            }
        };
        c.inbuf.extend_from_slice(buf.get(..n).unwrap_or(&[]));
        c.last_activity = Instant::now();
        // A short read emptied the socket's receive queue; with
        // edge-triggered epoll, later bytes (or a FIN) raise a new
        // event, so skip the read that would only say EAGAIN. Unless a
        // FIN was already reported: then read on to see the EOF.
        let drained = n < buf.len() && !c.hup && c.protocol.is_wire();
        if drained {
            c.unread = false;
        }
        Got::Bytes { drained }
    }

    /// After a connection's input was consumed: give back unused capacity,
    /// update the budget, and read again if its own cap had stopped a read.
    pub(super) fn after_process(&mut self, slot: usize) {
        let http = self.limits.http;
        let Some(c) = self.conns.get_mut(slot) else {
            return;
        };
        let cap = c.protocol.input_cap(&http);
        trim(&mut c.inbuf);
        let room = c.unread && c.queued.is_none() && !c.close_after_write && c.inbuf.len() < cap;
        if room {
            self.budget.reread_later(slot);
        }
        self.account(slot);
    }

    /// Re-reads writable sockets after a backpressure stall.
    pub(super) fn resume_if_drained(&mut self, slot: usize) {
        let limit = self.limits.max_pending_output;
        if let Some(c) = self.conns.get_mut(slot) {
            if c.unsent() > limit {
                return;
            }
            c.output_stalled = false;
            if c.inbuf.is_empty() {
                return;
            }
        } else {
            return;
        }
        self.process(slot);
    }

    /// Runs the input of the connections whose output stalled it and has
    /// drained since (by this turn's writes, which raise no event).
    pub(super) fn resume_drained_output(&mut self) {
        for slot in std::mem::take(&mut self.output_drained) {
            self.resume_if_drained(slot);
        }
    }

    /// Writes the replies of every connection marked this turn.
    pub(super) fn write_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for slot in dirty {
            self.write_conn(slot);
        }
    }

    /// Writes `slot`'s output; closes it when it is done (a failed socket,
    /// or all written and nothing more to come); asks for a writable event
    /// while output is left.
    fn write_conn(&mut self, slot: usize) {
        let Some(c) = self.conns.get_mut(slot) else {
            return;
        };
        let failed = c.write_out();
        let drained = c.outbuf.is_empty();
        // Held output waits for a sync, not for the socket.
        let want_write = c.writable_unsent();
        let done = failed
            || (drained
                && c.job.is_none()
                && (c.close_after_write || (c.peer_closed && c.inbuf.is_empty())));
        if done {
            self.close(slot);
            return;
        }
        if c.output_stalled && c.unsent() <= self.limits.max_pending_output {
            self.output_drained.push(slot);
        }
        // Written replies give budget back.
        self.budget.account(c);
        if want_write != c.writable_interest {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ =
                self.poll
                    .registry()
                    .reregister(&mut c.stream, Token(FIRST_CONN + slot), interest);
            c.writable_interest = want_write;
        }
    }

    pub(super) fn close(&mut self, slot: usize) {
        self.arrived(slot);
        let Some(mut c) = self.conns.take(slot) else {
            return;
        };
        if let Protocol::Wire(session) = &mut c.protocol {
            self.blocked.forget(session.id);
            self.wire.disconnect(session);
        }
        self.budget.forget(slot, &c);
        let _ = self.poll.registry().deregister(&mut c.stream);
        let _ = c.stream.shutdown(std::net::Shutdown::Both);
    }
}
