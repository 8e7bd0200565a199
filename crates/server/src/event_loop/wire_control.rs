//! What wire commands ask of other connections, done by the loop after
//! each command: closing the connections `CLIENT KILL` chose, copying the
//! `MONITOR` feed to every monitoring connection (disconnecting one whose
//! unread output passes the output limit), and running the commands a
//! `CLIENT PAUSE` held once it ends (the loop's wait is cut to the pause's
//! end, so nothing sleeps and no thread blocks).
//!
//! Must never decide which connections a command names (the wire module
//! does) nor run a held command while the pause holds it.

use super::protocol::Protocol;
use super::EventLoop;
use std::ops::ControlFlow;
use std::time::Instant;

/// Where a connection is: its slot and generation.
pub(super) type SlotRef = (usize, u64);

impl EventLoop {
    /// After a command of `slot`: kills, a new monitor, the feed. `Break`
    /// when `slot` itself was killed (closed once its reply is written).
    pub(super) fn after_wire_command(&mut self, slot: usize) -> ControlFlow<()> {
        self.register_monitor(slot);
        self.feed_monitors();
        self.after_pubsub_command(slot);
        self.apply_kills(slot)
    }

    fn register_monitor(&mut self, slot: usize) {
        let Some(c) = self.conns.get(slot) else {
            return;
        };
        let is_monitor = matches!(&c.protocol, Protocol::Wire(s) if s.monitor);
        let entry = (slot, c.generation);
        if is_monitor && !self.monitor_slots.contains(&entry) {
            self.monitor_slots.push(entry);
        }
    }

    /// Copies the feed to each monitoring connection; drops the ones gone
    /// or out of `MONITOR`, and closes the ones over the output limit.
    fn feed_monitors(&mut self) {
        let feed = self.wire.take_monitor_feed();
        if feed.is_empty() {
            return;
        }
        let limit = self.limits.max_pending_output;
        let mut over = Vec::new();
        let conns = &mut self.conns;
        self.monitor_slots.retain(|&(slot, generation)| {
            let Some(c) = conns.get_mut(slot).filter(|c| c.generation == generation) else {
                return false;
            };
            if !matches!(&c.protocol, Protocol::Wire(s) if s.monitor) {
                return false;
            }
            c.outbuf.extend_from_slice(&feed);
            if c.unsent() > limit {
                over.push(slot);
                return false;
            }
            true
        });
        let fed: Vec<usize> = self.monitor_slots.iter().map(|&(s, _)| s).collect();
        for slot in fed {
            self.mark_dirty(slot);
        }
        for slot in over {
            reddb_storage::log_notice!(
                "wire MONITOR connection dropped: more than {limit} bytes of its output unread"
            );
            self.close(slot);
        }
    }

    /// Closes the connections `CLIENT KILL` chose; `current` (the one
    /// that ran the command) only after its reply.
    fn apply_kills(&mut self, current: usize) -> ControlFlow<()> {
        let ids = std::mem::take(&mut self.wire.kills);
        let mut flow = ControlFlow::Continue(());
        for id in ids {
            let slot = self.conns.iter().find_map(|(slot, c)| match &c.protocol {
                Protocol::Wire(s) if s.id == id => Some(slot),
                _ => None,
            });
            match slot {
                Some(slot) if slot == current => {
                    if let Some(c) = self.conns.get_mut(slot) {
                        c.close_after_write = true;
                    }
                    flow = ControlFlow::Break(());
                }
                Some(slot) => self.close(slot),
                None => {}
            }
        }
        flow
    }

    /// Whether held commands may run now (the loop must not wait).
    pub(super) fn postponed_ready(&mut self, now: Instant) -> bool {
        !self.postponed.is_empty() && self.wire.resume(now)
    }

    /// Runs the commands a pause held, once it is over, then whatever each
    /// connection sent after them.
    pub(super) fn resume_postponed(&mut self, now: Instant) {
        if !self.postponed_ready(now) {
            return;
        }
        for (slot, generation) in std::mem::take(&mut self.postponed) {
            if !self.conns.holds(slot, generation) {
                continue;
            }
            let held = match self.conns.get_mut(slot).map(|c| &mut c.protocol) {
                Some(Protocol::Wire(s)) => s.take_postponed(),
                _ => None,
            };
            let Some(args) = held else {
                continue;
            };
            let mut off = 0;
            let flow = self.run_wire_command(slot, args, &mut off);
            if flow.is_continue() {
                self.process(slot);
            }
            self.mark_dirty(slot);
        }
    }
}
