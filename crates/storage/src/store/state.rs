//! The in-memory namespaces the commit log replays into.
//!
//! One hash map per [`Namespace`]. Entries carry an absolute expiry; an
//! expired entry is invisible to every read at once (lazy check) and is
//! removed from memory by [`State::sweep_expired`] (active sweep). Expiry
//! needs no log record: replaying a `Put` whose expiry has passed yields the
//! same absence.

use super::edit::Edit;
use super::record::{Mutation, Namespace, Value};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Value,
    /// Unix milliseconds; 0 = never expires.
    pub expires_at_ms: u64,
    /// `value.payload_len()`, kept so edits and limits never walk a value.
    payload: usize,
}

impl Entry {
    pub fn new(value: Value, expires_at_ms: u64) -> Self {
        let payload = value.payload_len();
        Self {
            value,
            expires_at_ms,
            payload,
        }
    }

    pub fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at_ms == 0 || self.expires_at_ms > now_ms
    }

    /// The value's payload bytes ([`Value::payload_len`], without the walk).
    pub fn payload_len(&self) -> usize {
        self.payload
    }

    /// Applies an edit in place (`Expire` sets the expiry); returns the
    /// payload bytes added and removed.
    pub fn apply_edit(&mut self, edit: &Edit) -> (usize, usize) {
        if let Edit::Expire(at) = edit {
            self.expires_at_ms = *at;
            return (0, 0);
        }
        let (grew, shrank) = edit.apply_to(&mut self.value);
        self.payload = self.payload.saturating_add(grew).saturating_sub(shrank);
        (grew, shrank)
    }
}

/// Approximate bytes one entry costs in a snapshot.
fn entry_cost(key: &[u8], entry: &Entry) -> usize {
    key.len() + entry.payload + 24
}

type Space = HashMap<Vec<u8>, Entry>;

/// One map per namespace, in [`Namespace::ALL`] order.
const SPACES: usize = Namespace::ALL.len();

#[derive(Debug, Default)]
pub struct State {
    spaces: [Space; SPACES],
    live_bytes: usize,
}

impl State {
    fn space(&self, ns: Namespace) -> Option<&Space> {
        self.spaces.get(ns.index())
    }

    pub fn apply(&mut self, m: Mutation) {
        match m {
            Mutation::Put {
                ns,
                key,
                value,
                expires_at_ms,
            } => {
                let entry = Entry::new(value, expires_at_ms);
                let Some(space) = self.spaces.get_mut(ns.index()) else {
                    return;
                };
                self.live_bytes += entry_cost(&key, &entry);
                if let Some(old) = space.get(&key) {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(&key, old));
                }
                space.insert(key, entry);
            }
            Mutation::Delete { ns, key } => {
                if let Some(old) = self.spaces.get_mut(ns.index()).and_then(|s| s.remove(&key)) {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(&key, &old));
                }
            }
            Mutation::Clear { ns } => {
                let space = self
                    .spaces
                    .get_mut(ns.index())
                    .map(std::mem::take)
                    .unwrap_or_default();
                for (k, e) in &space {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(k, e));
                }
            }
            Mutation::Edit { ns, key, edit } => self.apply_edit(ns, &key, &edit),
            Mutation::Swap { a, b } => {
                if a.index() < SPACES && b.index() < SPACES {
                    self.spaces.swap(a.index(), b.index());
                }
            }
        }
    }

    /// An edit of the entry under `key`; nothing when there is none (see
    /// `edit.rs` for why replay never meets that).
    fn apply_edit(&mut self, ns: Namespace, key: &[u8], edit: &Edit) {
        let Some(space) = self.spaces.get_mut(ns.index()) else {
            return;
        };
        let Some(entry) = space.get_mut(key) else {
            return;
        };
        let (grew, shrank) = entry.apply_edit(edit);
        self.live_bytes = self.live_bytes.saturating_add(grew).saturating_sub(shrank);
        if entry.value.is_empty_collection() {
            if let Some(old) = space.remove(key) {
                self.live_bytes = self.live_bytes.saturating_sub(entry_cost(key, &old));
            }
        }
    }

    /// The entry under `key` if it exists and has not expired.
    pub fn get(&self, ns: Namespace, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.space(ns)?.get(key).filter(|e| e.is_live(now_ms))
    }

    /// Every live entry of a namespace (unordered).
    pub fn iter(&self, ns: Namespace, now_ms: u64) -> impl Iterator<Item = (&Vec<u8>, &Entry)> {
        self.space(ns)
            .into_iter()
            .flat_map(|s| s.iter())
            .filter(move |(_, e)| e.is_live(now_ms))
    }

    /// Entries held in memory for a namespace, expired-but-unswept included.
    pub fn held(&self, ns: Namespace) -> usize {
        self.space(ns).map_or(0, HashMap::len)
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
        self.sweep_expired_reporting(now_ms, limit, |_, _| {})
    }

    /// [`State::sweep_expired`], telling `removed` each key it drops with
    /// its namespace (keyspace notifications name the expired keys).
    pub fn sweep_expired_reporting(
        &mut self,
        now_ms: u64,
        limit: usize,
        mut report: impl FnMut(Namespace, &[u8]),
    ) -> usize {
        let mut removed = 0;
        for (index, space) in self.spaces.iter_mut().enumerate() {
            if removed >= limit {
                break;
            }
            let dead: Vec<Vec<u8>> = space
                .iter()
                .filter(|(_, e)| !e.is_live(now_ms))
                .map(|(k, _)| k.clone())
                .take(limit - removed)
                .collect();
            let ns = Namespace::ALL.get(index).copied();
            for k in dead {
                if let Some(old) = space.remove(&k) {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(&k, &old));
                    removed += 1;
                    if let Some(ns) = ns {
                        report(ns, &k);
                    }
                }
            }
        }
        removed
    }
}
