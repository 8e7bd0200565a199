//! The in-memory namespaces the commit log replays into.
//!
//! One hash map per [`Namespace`]. Entries carry an absolute expiry; an
//! expired entry is invisible to every read at once (lazy check) and is
//! removed from memory by [`State::sweep_expired`] (active sweep). Expiry
//! needs no log record: replaying a `Put` whose expiry has passed yields the
//! same absence.

use super::record::{Mutation, Namespace, Value};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Value,
    /// Unix milliseconds; 0 = never expires.
    pub expires_at_ms: u64,
}

impl Entry {
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at_ms == 0 || self.expires_at_ms > now_ms
    }
}

/// Approximate bytes one entry costs in a snapshot.
fn entry_cost(key: &[u8], entry: &Entry) -> usize {
    key.len() + entry.value.payload_len() + 24
}

#[derive(Debug, Default)]
pub struct State {
    spaces: [HashMap<Vec<u8>, Entry>; 5],
    live_bytes: usize,
}

impl State {
    pub fn apply(&mut self, m: Mutation) {
        match m {
            Mutation::Put {
                ns,
                key,
                value,
                expires_at_ms,
            } => {
                let entry = Entry {
                    value,
                    expires_at_ms,
                };
                self.live_bytes += entry_cost(&key, &entry);
                let space = &mut self.spaces[ns.index()];
                if let Some(old) = space.get(&key) {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(&key, old));
                }
                space.insert(key, entry);
            }
            Mutation::Delete { ns, key } => {
                if let Some(old) = self.spaces[ns.index()].remove(&key) {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(&key, &old));
                }
            }
            Mutation::Clear { ns } => {
                let space = std::mem::take(&mut self.spaces[ns.index()]);
                for (k, e) in &space {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(k, e));
                }
            }
        }
    }

    /// The entry under `key` if it exists and has not expired.
    pub fn get(&self, ns: Namespace, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.spaces[ns.index()]
            .get(key)
            .filter(|e| e.is_live(now_ms))
    }

    /// Every live entry of a namespace (unordered).
    pub fn iter(&self, ns: Namespace, now_ms: u64) -> impl Iterator<Item = (&Vec<u8>, &Entry)> {
        self.spaces[ns.index()]
            .iter()
            .filter(move |(_, e)| e.is_live(now_ms))
    }

    /// Entries held in memory for a namespace, expired-but-unswept included.
    pub fn held(&self, ns: Namespace) -> usize {
        self.spaces[ns.index()].len()
    }

    /// Live entries of a namespace (walks the namespace).
    pub fn count_live(&self, ns: Namespace, now_ms: u64) -> usize {
        self.iter(ns, now_ms).count()
    }

    pub fn live_bytes(&self) -> usize {
        self.live_bytes
    }

    /// Drops up to `limit` expired entries from memory; returns how many.
    pub fn sweep_expired(&mut self, now_ms: u64, limit: usize) -> usize {
        let mut removed = 0;
        for space in &mut self.spaces {
            if removed >= limit {
                break;
            }
            let dead: Vec<Vec<u8>> = space
                .iter()
                .filter(|(_, e)| !e.is_live(now_ms))
                .map(|(k, _)| k.clone())
                .take(limit - removed)
                .collect();
            for k in dead {
                if let Some(old) = space.remove(&k) {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(&k, &old));
                    removed += 1;
                }
            }
        }
        removed
    }
}
