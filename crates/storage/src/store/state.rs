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

type Space = HashMap<Vec<u8>, Entry>;

/// The map of one namespace (a field borrow, so `live_bytes` stays usable).
fn space_mut(spaces: &mut [Space; 5], ns: Namespace) -> &mut Space {
    let [vault, secrets, config, keyspace, audit] = spaces;
    match ns {
        Namespace::Vault => vault,
        Namespace::Secrets => secrets,
        Namespace::Config => config,
        Namespace::Keyspace => keyspace,
        Namespace::Audit => audit,
    }
}

#[derive(Debug, Default)]
pub struct State {
    spaces: [Space; 5],
    live_bytes: usize,
}

impl State {
    fn space(&self, ns: Namespace) -> &Space {
        let [vault, secrets, config, keyspace, audit] = &self.spaces;
        match ns {
            Namespace::Vault => vault,
            Namespace::Secrets => secrets,
            Namespace::Config => config,
            Namespace::Keyspace => keyspace,
            Namespace::Audit => audit,
        }
    }

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
                let space = space_mut(&mut self.spaces, ns);
                if let Some(old) = space.get(&key) {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(&key, old));
                }
                space.insert(key, entry);
            }
            Mutation::Delete { ns, key } => {
                if let Some(old) = space_mut(&mut self.spaces, ns).remove(&key) {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(&key, &old));
                }
            }
            Mutation::Clear { ns } => {
                let space = std::mem::take(space_mut(&mut self.spaces, ns));
                for (k, e) in &space {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(k, e));
                }
            }
        }
    }

    /// The entry under `key` if it exists and has not expired.
    pub fn get(&self, ns: Namespace, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.space(ns).get(key).filter(|e| e.is_live(now_ms))
    }

    /// Every live entry of a namespace (unordered).
    pub fn iter(&self, ns: Namespace, now_ms: u64) -> impl Iterator<Item = (&Vec<u8>, &Entry)> {
        self.space(ns)
            .iter()
            .filter(move |(_, e)| e.is_live(now_ms))
    }

    /// Entries held in memory for a namespace, expired-but-unswept included.
    pub fn held(&self, ns: Namespace) -> usize {
        self.space(ns).len()
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
