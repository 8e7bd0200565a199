//! Delivering pub/sub messages (and keyspace notifications) to the
//! subscribed connections: which connection each subscriber is, copying
//! the wire protocol's outbox ([`crate::wire::pubsub::PubSub`]) into their
//! output buffers in publish order, the per-subscriber output limit, and
//! the `expired` notifications and tracking invalidations of the expiry
//! sweep. Tracking invalidations (`CLIENT TRACKING`) travel the same way.
//!
//! Messages are copied after each command (and after the sweep), so they
//! leave with the turn's replies, after its group commit. The publisher
//! never waits: a subscriber whose unsent output passes Redis's
//! `client-output-buffer-limit pubsub 32mb 8mb 60` (more than 32 MiB, or
//! more than 8 MiB for 60 seconds) is disconnected and counted. Output
//! buffers count against the loop's buffer budget (`budget.rs`) when they
//! are written; past it, the loop stops reading, so no more is published.
//! A subscriber whose credential ended since its last command is logged
//! out and disconnected before it is sent anything more; one whose
//! policies name channel actions is sent only the messages of channels
//! they allow (`channel:subscribe`).
//!
//! Must never write to a socket (`connection.rs` does) nor decide who is
//! subscribed to what (the wire module does).

use super::protocol::Protocol;
use super::timers::SWEEP_LIMIT;
use super::EventLoop;
use crate::wire::keyspace_events;
use reddb_service::policy::Action;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Unsent output past which a subscriber is disconnected at once.
const HARD_LIMIT: usize = 32 * 1024 * 1024;
/// Unsent output a subscriber may hold for at most [`SOFT_SECONDS`].
const SOFT_LIMIT: usize = 8 * 1024 * 1024;
const SOFT_SECONDS: Duration = Duration::from_secs(60);

/// Where a subscriber's connection is, and since when its output has
/// stayed past the soft limit.
struct SubscriberSlot {
    slot: usize,
    generation: u64,
    over_soft_since: Option<Instant>,
}

/// The connections of the wire clients that may receive messages.
#[derive(Default)]
pub(super) struct Subscribers {
    by_id: HashMap<u64, SubscriberSlot>,
}

impl EventLoop {
    /// After a command of `slot`: remembers its connection if it is now a
    /// subscriber, then delivers what was published.
    pub(super) fn after_pubsub_command(&mut self, slot: usize) {
        if let Some(c) = self.conns.get(slot) {
            if let Protocol::Wire(s) = &c.protocol {
                if self.wire.receives_pushes(s.id) {
                    self.subscribers
                        .by_id
                        .entry(s.id)
                        .or_insert(SubscriberSlot {
                            slot,
                            generation: c.generation,
                            over_soft_since: None,
                        });
                }
            }
        }
        self.deliver_published();
    }

    /// Copies every queued message to its subscriber's output, then
    /// applies the output limit to the subscribers that received one.
    pub(super) fn deliver_published(&mut self) {
        let deliveries = self.wire.pubsub.take_outbox();
        if deliveries.is_empty() {
            return;
        }
        let mut received: Vec<u64> = Vec::new();
        let mut over: Vec<u64> = Vec::new();
        // Each receiver's credential is checked once per batch.
        let mut checked: HashMap<u64, bool> = HashMap::new();
        for d in deliveries {
            let Some(at) = self.subscribers.by_id.get(&d.to) else {
                continue;
            };
            let (slot, generation) = (at.slot, at.generation);
            let Some(c) = self
                .conns
                .get_mut(slot)
                .filter(|c| c.generation == generation && !c.close_after_write)
            else {
                continue;
            };
            let Protocol::Wire(session) = &mut c.protocol else {
                continue;
            };
            let live = *checked
                .entry(d.to)
                .or_insert_with(|| self.wire.still_authenticated(session, &mut self.service));
            if !live {
                c.close_after_write = true;
                continue;
            }
            if d.is_message() && self.wire.pubsub.is_governed(d.to) {
                // A pattern may match channels its policy denies.
                let allowed = session.principal.as_ref().is_some_and(|p| {
                    self.service
                        .channel_allowed(p, Action::ChannelSubscribe, &d.channel)
                });
                if !allowed {
                    continue;
                }
            }
            if c.unsent().saturating_add(d.bytes.len()) > HARD_LIMIT {
                // Past the limit within one batch (a `MULTI` of many
                // publishes): nothing more is copied; the check below
                // disconnects it.
                over.push(d.to);
                continue;
            }
            c.outbuf.extend_from_slice(&d.bytes);
            if received.last() != Some(&d.to) {
                received.push(d.to);
            }
        }
        received.sort_unstable();
        received.dedup();
        over.sort_unstable();
        over.dedup();
        let now = Instant::now();
        for id in over {
            self.disconnect_slow(id);
        }
        for id in received {
            self.limit_subscriber(id, now);
        }
        for (id, live) in checked {
            if !live {
                if let Some(at) = self.subscribers.by_id.remove(&id) {
                    self.mark_dirty(at.slot);
                }
            }
        }
    }

    /// Every second: the output limit of every subscriber, so one that
    /// stays past the soft limit is disconnected even if nothing more is
    /// published to it; forgets the connections that are gone.
    pub(super) fn check_subscribers(&mut self, now: Instant) {
        let ids: Vec<u64> = self.subscribers.by_id.keys().copied().collect();
        for id in ids {
            if !self.wire.receives_pushes(id) {
                self.subscribers.by_id.remove(&id);
                continue;
            }
            self.limit_subscriber(id, now);
        }
    }

    /// Disconnects subscriber `id` when its unsent output passed the
    /// limits; otherwise marks it to be written.
    fn limit_subscriber(&mut self, id: u64, now: Instant) {
        let Some(at) = self.subscribers.by_id.get_mut(&id) else {
            return;
        };
        let Some(c) = self
            .conns
            .get(at.slot)
            .filter(|c| c.generation == at.generation)
        else {
            self.subscribers.by_id.remove(&id);
            return;
        };
        let unsent = c.unsent();
        let over_soft_too_long = if unsent > SOFT_LIMIT {
            let since = *at.over_soft_since.get_or_insert(now);
            now.duration_since(since) >= SOFT_SECONDS
        } else {
            at.over_soft_since = None;
            false
        };
        let slot = at.slot;
        if unsent > HARD_LIMIT || over_soft_too_long {
            self.disconnect_slow(id);
        } else {
            self.mark_dirty(slot);
        }
    }

    /// Closes subscriber `id`'s connection for leaving too much output
    /// unread, and counts it.
    fn disconnect_slow(&mut self, id: u64) {
        let Some(at) = self.subscribers.by_id.remove(&id) else {
            return;
        };
        let Some(unsent) = self
            .conns
            .get(at.slot)
            .filter(|c| c.generation == at.generation)
            .map(super::connection::Conn::unsent)
        else {
            return;
        };
        self.wire.pubsub.slow_disconnected += 1;
        reddb_storage::log_notice!(
            "wire subscriber {id} disconnected: {unsent} bytes of its output unread (pub/sub output limit)"
        );
        self.close(at.slot);
    }

    /// The expiry sweep: drops expired entries and, when keyspace
    /// notifications are on, publishes `expired` for each keyspace key.
    pub(super) fn sweep_expired(&mut self) {
        let flags = self.wire.settings.notify_keyspace_events;
        let tracking = self.wire.tracks_keys();
        let Some(db) = self.service.database_mut() else {
            return;
        };
        if flags == 0 && !tracking {
            db.sweep_expired(SWEEP_LIMIT);
            return;
        }
        let mut dropped = Vec::new();
        db.sweep_expired_reporting(SWEEP_LIMIT, |ns, key| {
            if let Some(n) = ns.keyspace_db() {
                dropped.push((n, key.to_vec()));
            }
        });
        let mut events = Vec::new();
        let mut keys = Vec::new();
        for (n, key) in dropped {
            // A command that met it first announced it already.
            if self.wire.lazy_expired.swept(n, &key) {
                events.push(keyspace_events::expired(n, &key));
            }
            if tracking {
                keys.push(key);
            }
        }
        keyspace_events::publish(&mut self.wire.pubsub, flags, &events);
        self.wire.expired_keys(&keys);
        self.deliver_published();
    }
}
