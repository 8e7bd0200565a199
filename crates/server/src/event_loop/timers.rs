//! What the loop does by the clock: once a second, the idle and request
//! timeouts (408 for a slow HTTP request, closing for the rest), the sweep
//! of expired entries, the audit summaries, the expiry of unseal shares
//! and returning freed heap memory after writes (`heap_return.rs`); the systemd watchdog ping at half its interval; and, every
//! turn, the timeouts of blocked wire clients (`blocked.rs` answers them).
//!
//! Must never block or do work proportional to the data (the sweep takes
//! at most [`SWEEP_LIMIT`] entries a second), nor time out a connection
//! that waits for the server: one with work on the pool, or one waiting in
//! line for the buffer budget.

use super::connection::Conn;
use super::heap_return::{self, HeapReturn};
use super::{EventLoop, LoopLimits};
use crate::notify;
use std::time::{Duration, Instant};

/// How often the timeouts and the sweeps run.
const TICK: Duration = Duration::from_secs(1);

/// Expired entries dropped from memory per tick, at most.
pub(super) const SWEEP_LIMIT: usize = 1000;

pub(super) struct Timers {
    last_tick: Instant,
    last_watchdog: Instant,
    /// The watchdog interval systemd asked for, if any.
    watchdog: Option<Duration>,
    heap: HeapReturn,
}

impl Timers {
    pub(super) fn new(watchdog: Option<Duration>) -> Self {
        let now = Instant::now();
        Self {
            last_tick: now,
            last_watchdog: now,
            watchdog,
            heap: HeapReturn::default(),
        }
    }

    /// The clocks start with the loop.
    pub(super) fn restart(&mut self, now: Instant) {
        self.last_tick = now;
        self.last_watchdog = now;
    }
}

/// What a timeout does to a connection.
enum Overdue {
    /// Answer 408 and close (an HTTP request that did not arrive in time).
    TimeOut,
    /// Close without a word.
    Close,
}

/// Whether `c` is overdue at `now`. `reserve` is when `c` took the
/// budget's reserve, if it holds it.
fn overdue(
    c: &Conn,
    now: Instant,
    limits: &LoopLimits,
    reserve: Option<Instant>,
) -> Option<Overdue> {
    // Work on the pool, or waiting in line for the buffer budget, is the
    // server's doing: no timeout runs meanwhile.
    if c.job.is_some() || c.queued.is_some() {
        return None;
    }
    let slow = || {
        if c.protocol.is_wire() {
            Overdue::Close
        } else {
            Overdue::TimeOut
        }
    };
    // The connection reading past a spent budget holds what everyone
    // else waits for: if it sends nothing for the request timeout, it
    // goes, authenticated or not.
    if let Some(since) = reserve {
        if now.duration_since(c.last_activity.max(since)) > limits.request_timeout {
            return Some(slow());
        }
    }
    // Authenticated wire clients (pools) may stay idle and upload large
    // values slowly, as with Redis's default `timeout 0`; anonymous ones
    // get the HTTP limits.
    if c.protocol.is_authenticated() {
        return None;
    }
    let idle = now.duration_since(c.last_activity) > limits.idle_timeout;
    if c.partial_since
        .is_some_and(|t| now.duration_since(t) > limits.request_timeout)
    {
        Some(slow())
    } else if c.inbuf.is_empty() && c.outbuf.is_empty() && idle {
        Some(Overdue::Close)
    } else if c.written < c.outbuf.len() && idle {
        // Replies the peer has not read for the idle timeout: it would
        // hold its buffers (and budget) for ever.
        Some(Overdue::Close)
    } else {
        None
    }
}

impl EventLoop {
    /// Runs what is due at `now`.
    pub(super) fn run_timers(&mut self, now: Instant) {
        self.time_out_blocked(now);
        if now.duration_since(self.timers.last_tick) >= TICK {
            self.timers.last_tick = now;
            self.tick(now);
        }
        if let Some(w) = self.timers.watchdog {
            if now.duration_since(self.timers.last_watchdog) >= w / 2 {
                notify::watchdog();
                self.timers.last_watchdog = now;
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        let limits = self.limits;
        let holder = self.budget.holder(&self.conns);
        let mut to_close = Vec::new();
        let mut timed_out = Vec::new();
        for (slot, c) in self.conns.iter() {
            let reserve = holder.filter(|(h, _)| *h == slot).map(|(_, since)| since);
            match overdue(c, now, &limits, reserve) {
                Some(Overdue::TimeOut) => timed_out.push(slot),
                Some(Overdue::Close) => to_close.push(slot),
                None => {}
            }
        }
        for slot in timed_out {
            self.answer_request_timeout(slot);
        }
        for slot in to_close {
            self.close(slot);
        }
        self.sweep_expired();
        self.check_subscribers(now);
        self.service.flush_audit_summaries();
        self.service.expire_unseal_shares(now);
        if let Some(db) = self.service.database_mut() {
            if self.timers.heap.due(db.pages_written()) {
                heap_return::trim();
            }
        }
    }
}
