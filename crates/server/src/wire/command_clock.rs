//! The clock wire commands read: when the running command started (for
//! `INFO commandstats`, `SLOWLOG`, `CLIENT LIST`'s idle time) and the Unix
//! time in milliseconds it runs at (expiry, credential lifetimes).
//!
//! Reading a clock costs a system-call-sized vDSO call on a virtual
//! machine; five reads per command were a tenth of a pipelined `GET`'s
//! time. Here a command costs at most two reads (its start and its end)
//! and, inside one pipelined batch of a connection, one: the end of a
//! command is the start of the next (only the next one's parsing lies
//! between). The Unix time is not read per command: it is derived from the
//! monotonic start and a wall-clock reading taken once per loop turn
//! ([`CommandClock::resync`]), so a wall-clock step shows within a turn.

use reddb_storage::database::now_ms;
use std::time::{Duration, Instant};

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct CommandClock {
    /// The monotonic and the wall clock, read together at the last resync.
    base: Instant,
    base_unix_ms: u64,
    /// The start of the command running now, once read.
    open: Option<Instant>,
    /// Inside a batch: the end of its last command, the next one's start.
    batch_end: Option<Instant>,
    in_batch: bool,
}

impl CommandClock {
    pub(crate) fn new() -> Self {
        Self {
            base: Instant::now(),
            base_unix_ms: now_ms(),
            open: None,
            batch_end: None,
            in_batch: false,
        }
    }

    /// Reads the wall clock again (once per loop turn).
    pub(crate) fn resync(&mut self) {
        self.base = Instant::now();
        self.base_unix_ms = now_ms();
    }

    /// A connection's pipelined commands start running back to back.
    pub(crate) fn open_batch(&mut self) {
        self.in_batch = true;
        self.batch_end = None;
    }

    /// The batch ended: the next command reads the clock.
    pub(crate) fn close_batch(&mut self) {
        self.in_batch = false;
        self.batch_end = None;
    }

    /// When the running command started; the first call of a command
    /// reads the clock (or takes the batch's last end).
    pub(crate) fn start(&mut self) -> Instant {
        if let Some(t) = self.open {
            return t;
        }
        // Only ever set inside a batch (`finish`), cleared when it closes.
        let t = self.batch_end.take().unwrap_or_else(Instant::now);
        self.open = Some(t);
        t
    }

    /// Ends the running command: how long it ran.
    pub(crate) fn finish(&mut self) -> Duration {
        let now = Instant::now();
        let took = self
            .open
            .take()
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        self.batch_end = self.in_batch.then_some(now);
        took
    }

    /// Forgets the running command's start without reading the clock
    /// (a command refused before it ran).
    pub(crate) fn end_command(&mut self) {
        self.open = None;
    }

    /// Unix milliseconds at `at` (a start this clock gave).
    pub(crate) fn unix_ms(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.base).as_millis();
        self.base_unix_ms
            .saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
    }

    /// Unix milliseconds at the running command's start, or now when no
    /// command runs (a subscriber's delivery).
    pub(crate) fn command_unix_ms(&self) -> u64 {
        self.open.map_or_else(now_ms, |at| self.unix_ms(at))
    }

    /// The running command's start, or now when no command runs.
    pub(crate) fn current(&self) -> Instant {
        self.open.unwrap_or_else(Instant::now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_reads_its_start_once() {
        let mut c = CommandClock::new();
        let a = c.start();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(c.start(), a, "the same command keeps its start");
        let took = c.finish();
        assert!(took >= Duration::from_millis(2));
        let b = c.start();
        assert!(b > a, "outside a batch the next command reads the clock");
    }

    #[test]
    fn in_a_batch_the_next_command_starts_where_the_last_ended() {
        let mut c = CommandClock::new();
        c.open_batch();
        c.start();
        c.finish();
        let end = c.batch_end.expect("an end inside a batch");
        assert_eq!(c.start(), end);
        c.finish();
        c.close_batch();
        c.end_command();
        std::thread::sleep(Duration::from_millis(2));
        let later = c.start();
        assert!(later.saturating_duration_since(end) >= Duration::from_millis(2));
    }

    #[test]
    fn unix_time_follows_the_monotonic_start() {
        let mut c = CommandClock::new();
        let before = now_ms();
        c.resync();
        std::thread::sleep(Duration::from_millis(5));
        c.start();
        let ms = c.command_unix_ms();
        let after = now_ms();
        assert!(
            ms >= before + 5 && ms <= after,
            "{before} <= {ms} <= {after}"
        );
    }
}
