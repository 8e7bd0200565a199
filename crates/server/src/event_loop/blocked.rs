//! Wire connections blocked in `BLPOP` and the other blocking list
//! commands: which connection each blocked client is, serving the clients
//! waiting on the keys a command just wrote (right after that command, so
//! before the writer's next pipelined command), answering those whose
//! timeout passed (every turn: the loop's poll wait never outlasts the
//! earliest deadline), forgetting one that disconnects, and running the
//! pipelined input of each client once it was answered.
//!
//! Who waits on which key, in what order, and what serving one means is
//! the wire protocol's ([`crate::wire::Shared`]'s registry); this file only
//! finds the connections. A served pop is a transaction like any other:
//! its reply waits in the client's output for the turn's group commit.
//!
//! Must never wait itself (no thread and no sleep per blocked client: the
//! loop's poll timeout is the only clock), run a blocked client's next
//! command before its blocked one is answered, or serve a client whose
//! connection has closed.

use super::protocol::Protocol;
use super::EventLoop;
use crate::wire::Served;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The connections of the blocked wire clients.
#[derive(Default)]
pub(super) struct BlockedClients {
    /// Client id → (slot, generation) of its connection.
    slots: HashMap<u64, (usize, u64)>,
    /// Connections answered since their input was last run, oldest first.
    answered: VecDeque<(usize, u64)>,
}

impl BlockedClients {
    /// Client `id`, in `slot` (of `generation`), blocked.
    pub(super) fn insert(&mut self, id: u64, slot: usize, generation: u64) {
        self.slots.insert(id, (slot, generation));
    }

    /// Client `id` is no longer blocked (answered elsewhere, or gone).
    pub(super) fn forget(&mut self, id: u64) {
        self.slots.remove(&id);
    }
}

impl EventLoop {
    /// Answers the clients `CLIENT UNBLOCK` named, then serves the clients
    /// waiting on the keys written since the last call, key by key, first
    /// blocked first; what a served `BLMOVE` pushes is served in the same
    /// pass.
    pub(super) fn serve_blocked(&mut self) {
        for (id, error) in self.wire.take_cancelled() {
            let Some(&(slot, generation)) = self.blocked.slots.get(&id) else {
                continue;
            };
            let Some(c) = self
                .conns
                .get_mut(slot)
                .filter(|c| c.generation == generation)
            else {
                continue;
            };
            if let Protocol::Wire(session) = &mut c.protocol {
                self.wire.cancel_blocked(session, error, &mut c.outbuf);
            }
            self.answered(id, slot, generation);
        }
        while let Some(key) = self.wire.next_ready_key() {
            // Databases where the key turned out to hold no list.
            let mut empty_in = Vec::new();
            for (db, id) in self.wire.waiting_on(&key) {
                if empty_in.contains(&db) {
                    continue;
                }
                let Some(&(slot, generation)) = self.blocked.slots.get(&id) else {
                    continue;
                };
                if !self.conns.holds(slot, generation) {
                    self.blocked.forget(id);
                    continue;
                }
                let Some(c) = self.conns.get_mut(slot) else {
                    continue;
                };
                let Protocol::Wire(session) = &mut c.protocol else {
                    continue;
                };
                let served =
                    self.wire
                        .serve_blocked(session, &mut self.service, &key, &mut c.outbuf);
                match served {
                    Served::Answered => self.answered(id, slot, generation),
                    Served::Waits => empty_in.push(db),
                }
            }
        }
    }

    /// Client `id` in `slot` was answered: its output goes out this turn
    /// and its pipelined input runs after.
    fn answered(&mut self, id: u64, slot: usize, generation: u64) {
        self.blocked.forget(id);
        self.blocked.answered.push_back((slot, generation));
        self.mark_dirty(slot);
    }

    /// Answers every blocked client whose timeout passed at `now` with nil.
    pub(super) fn time_out_blocked(&mut self, now: Instant) {
        for id in self.wire.expired_blocks(now) {
            let Some(&(slot, generation)) = self.blocked.slots.get(&id) else {
                continue;
            };
            let Some(c) = self
                .conns
                .get_mut(slot)
                .filter(|c| c.generation == generation)
            else {
                self.blocked.forget(id);
                continue;
            };
            if let Protocol::Wire(session) = &mut c.protocol {
                self.wire.time_out_blocked(session, &mut c.outbuf);
            }
            self.answered(id, slot, generation);
        }
    }

    /// How long the loop may wait before the next blocked client times
    /// out (`limit` when none does sooner).
    pub(super) fn until_block_deadline(&self, now: Instant, limit: Duration) -> Duration {
        self.wire
            .next_block_deadline()
            .map_or(limit, |at| at.saturating_duration_since(now).min(limit))
    }

    /// Runs the pipelined input of the clients answered this turn (which
    /// may answer more: their commands write keys too).
    pub(super) fn resume_answered(&mut self) {
        while let Some((slot, generation)) = self.blocked.answered.pop_front() {
            if self.conns.holds(slot, generation) {
                self.process(slot);
            }
        }
    }
}
