//! Running the wire (RESP2/RESP3) commands of a connection: parsing what
//! its input holds (resumably, within the session's query-buffer limit),
//! handing each command to [`Shared::handle`](crate::wire::Shared),
//! parking password work on the pool, handing a command that blocked to
//! `blocked.rs` (and serving the clients a command's writes wake), and the
//! protocol errors the loop itself writes (malformed input, a command past
//! the query buffer, the refusal while stopping). A blocked connection's
//! input waits; if its peer closes meanwhile, it stops waiting at once.
//!
//! Each call of `Shared::handle`, `Shared::auth_done` and `Shared::busy`
//! is made here once. Must never write to a socket (replies go to the
//! output buffer; `connection.rs` writes them, after the group commit
//! unless `--fsync everysec`).

use super::jobs::Finished;
use super::protocol::Protocol;
use super::EventLoop;
use crate::wire::Step;
use std::ops::ControlFlow;
use std::time::Instant;

/// A command in the wire protocol: its arguments.
type Args = Vec<Vec<u8>>;

impl EventLoop {
    /// Parses and runs as many pipelined wire commands as allowed. Bytes
    /// are dropped from the input once per call, not once per command, so
    /// a deep pipeline costs linear time.
    pub(super) fn process_wire(&mut self, slot: usize) {
        if self.conns.get(slot).is_none() {
            return;
        }
        let mut off = 0;
        // Back to back: each command starts where the last one ended.
        self.wire.clock.open_batch();
        while let Some(args) = self.next_wire_command(slot, &mut off) {
            if self.run_wire_command(slot, args, &mut off).is_break() {
                break;
            }
        }
        self.wire.clock.close_batch();
        if let Some(c) = self.conns.get_mut(slot) {
            let off = off.min(c.inbuf.len());
            c.inbuf.drain(..off);
        }
        self.mark_dirty(slot);
    }

    /// The next non-empty command from `off` in `slot`'s input, when the
    /// connection may run one now; moves `off` past what was consumed.
    /// Input that does not parse, or a command larger than the query
    /// buffer, is answered here and ends the connection.
    fn next_wire_command(&mut self, slot: usize, off: &mut usize) -> Option<Args> {
        let max_pending = self.limits.max_pending_output;
        loop {
            let c = self.conns.get_mut(slot)?;
            if c.unsent() > max_pending {
                c.output_stalled = true;
                return None;
            }
            if c.job.is_some() || c.close_after_write {
                return None;
            }
            let Protocol::Wire(session) = &mut c.protocol else {
                return None;
            };
            if session.is_blocked() {
                if c.peer_closed {
                    // Gone while blocked: it must not take an item.
                    self.blocked.forget(session.id);
                    self.wire.unblock(session);
                    c.close_after_write = true;
                }
                return None;
            }
            if session.is_postponed() {
                return None;
            }
            let rest = c.inbuf.get(*off..).unwrap_or(&[]);
            let rest_len = rest.len();
            let limits = session.limits();
            match session.parser.parse(rest, &limits) {
                Ok(None) => {
                    if rest_len >= session.max_query() {
                        c.outbuf.extend_from_slice(
                            b"-ERR Protocol error: command larger than the query buffer limit\r\n",
                        );
                        c.close_after_write = true;
                        *off = c.inbuf.len();
                        return None;
                    }
                    c.partial_since = if rest_len == 0 {
                        None
                    } else {
                        c.partial_since.or(Some(Instant::now()))
                    };
                    if c.peer_closed {
                        c.close_after_write = true;
                    }
                    return None;
                }
                Err(e) => {
                    c.outbuf
                        .extend_from_slice(format!("-ERR Protocol error: {e}\r\n").as_bytes());
                    c.close_after_write = true;
                    *off = c.inbuf.len();
                    return None;
                }
                Ok(Some((args, used))) => {
                    *off += used;
                    c.partial_since = None;
                    // A whole command arrived: the reserve moves on.
                    self.budget.release(slot);
                    if !args.is_empty() {
                        return Some(args);
                    }
                }
            }
        }
    }

    /// Runs one command. `Break` when nothing more of the connection's
    /// input may run.
    pub(super) fn run_wire_command(
        &mut self,
        slot: usize,
        args: Args,
        off: &mut usize,
    ) -> ControlFlow<()> {
        let stopping = self.stopping;
        let Some(c) = self.conns.get_mut(slot) else {
            return ControlFlow::Break(());
        };
        if stopping {
            c.outbuf
                .extend_from_slice(b"-ERR the server is shutting down\r\n");
            c.close_after_write = true;
            *off = c.inbuf.len();
            return ControlFlow::Break(());
        }
        self.commit.command_staged();
        self.metrics.wire_command();
        let step = if super::busy_script::may_run_script(&args) {
            self.run_script_command(slot, args)
        } else {
            let Protocol::Wire(session) = &mut c.protocol else {
                return ControlFlow::Break(());
            };
            self.wire
                .handle(session, &mut self.service, args, &mut c.outbuf)
        };
        let Some(c) = self.conns.get_mut(slot) else {
            return ControlFlow::Break(());
        };
        let Protocol::Wire(session) = &mut c.protocol else {
            return ControlFlow::Break(());
        };
        match step {
            Step::Continue => {}
            Step::Block => {
                let id = session.id;
                let generation = c.generation;
                self.blocked.insert(id, slot, generation);
                // (The MONITOR feed; a blocking command kills no one.)
                let _ = self.after_wire_command(slot);
                return ControlFlow::Break(());
            }
            Step::Close => {
                c.close_after_write = true;
                *off = c.inbuf.len();
                return ControlFlow::Break(());
            }
            Step::Postpone => {
                self.postponed.push((slot, c.generation));
                return ControlFlow::Break(());
            }
            Step::Defer(work) => {
                match self
                    .jobs
                    .submit(&mut self.service, slot, c.generation, work)
                {
                    Some(id) => c.job = Some(id),
                    None => self.wire.busy(session, &mut c.outbuf),
                }
            }
        }
        // Clients waiting on what the command wrote are answered before
        // its connection's next command runs.
        self.serve_blocked();
        if self.after_wire_command(slot).is_break() {
            if let Some(c) = self.conns.get_mut(slot) {
                *off = c.inbuf.len();
            }
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// The reply to a command whose password check came back from the
    /// pool.
    pub(super) fn deliver_wire(&mut self, slot: usize, result: Finished) {
        if let Some(c) = self.conns.get_mut(slot) {
            if let Protocol::Wire(session) = &mut c.protocol {
                self.wire
                    .auth_done(session, &mut self.service, result, &mut c.outbuf);
            }
        }
        self.mark_dirty(slot);
    }
}
