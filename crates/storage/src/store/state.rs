//! The in-memory namespaces the commit log replays into.
//!
//! One slot-numbered map per [`Namespace`] (see [`Space`]). Entries carry an absolute expiry; an
//! expired entry is invisible to every read at once (lazy check) and is
//! removed from memory by [`State::sweep_expired`] (active sweep). Expiry
//! needs no log record: replaying a `Put` whose expiry has passed yields the
//! same absence.

use super::edit::Edit;
use super::record::{Mutation, Namespace, Value};
use hashbrown::HashTable;
use std::hash::{BuildHasher, RandomState};

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

/// One namespace: entries in numbered slots, found by key through a hash
/// table of slot numbers.
///
/// A slot keeps its entry for the entry's whole life (an overwrite replaces
/// it in place; a delete frees the slot for a later insert), so walking the
/// slots in order visits every entry that existed when the walk began
/// exactly once, however many writes land in between. The incremental
/// checkpoint (`checkpoint.rs`) relies on that: it needs no list of keys.
/// The key is stored once, in its slot; the table holds 4-byte slot
/// numbers and hashes the slot's key when it grows.
#[derive(Debug, Default)]
pub(crate) struct Space {
    /// A key is boxed (two words, not a vector's three): its length never
    /// changes.
    slots: Vec<Option<(Box<[u8]>, Entry)>>,
    /// Freed slots, reused before the vector grows.
    free: Vec<u32>,
    index: HashTable<Indexed>,
    hasher: RandomState,
}

/// One key of the index: its slot and 32 bits of its key's hash. With the
/// hash kept, growing the table re-places entries without hashing (or
/// even reading) their keys — at start-up, replaying a million keys spent
/// half its time re-hashing them — and a probe compares keys only when
/// the 32 bits match.
#[derive(Debug, Clone, Copy)]
struct Indexed {
    slot: u32,
    hash: u32,
}

impl Indexed {
    /// The table's 64-bit hash, made of the kept 32 bits (hashbrown takes
    /// the bucket from the low bits and its tag from the top seven).
    fn table_hash(hash: u32) -> u64 {
        (u64::from(hash) << 32) | u64::from(hash)
    }
}

impl Space {
    /// The 32 bits of `key`'s (keyed) hash the index keeps.
    fn hash(&self, key: &[u8]) -> u32 {
        (self.hasher.hash_one(key) >> 32) as u32
    }

    fn slot_of(&self, key: &[u8]) -> Option<u32> {
        self.slot_with_hash(key, self.hash(key))
    }

    fn slot_with_hash(&self, key: &[u8], hash: u32) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(Indexed::table_hash(hash), |x| {
                x.hash == hash
                    && slots
                        .get(x.slot as usize)
                        .and_then(Option::as_ref)
                        .is_some_and(|(k, _)| **k == *key)
            })
            .map(|x| x.slot)
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&Entry> {
        let i = self.slot_of(key)?;
        self.slots.get(i as usize)?.as_ref().map(|(_, e)| e)
    }

    fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let i = self.slot_of(key)?;
        self.slots.get_mut(i as usize)?.as_mut().map(|(_, e)| e)
    }

    /// Puts `entry` under `key`; returns the entry it replaced.
    fn insert(&mut self, key: Vec<u8>, entry: Entry) -> Option<Entry> {
        let hash = self.hash(&key);
        if let Some(i) = self.slot_with_hash(&key, hash) {
            if let Some(Some((_, old))) = self.slots.get_mut(i as usize) {
                return Some(std::mem::replace(old, entry));
            }
        }
        let slot = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    *s = Some((key.into_boxed_slice(), entry));
                }
                i
            }
            None => {
                // Slot numbers are u32: past 4 billion entries in one
                // namespace the store is far beyond its memory anyway.
                let i = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                self.slots.push(Some((key.into_boxed_slice(), entry)));
                i
            }
        };
        self.index
            .insert_unique(Indexed::table_hash(hash), Indexed { slot, hash }, |x| {
                Indexed::table_hash(x.hash)
            });
        None
    }

    fn remove(&mut self, key: &[u8]) -> Option<(Vec<u8>, Entry)> {
        let hash = self.hash(key);
        let slots = &self.slots;
        let found = self.index.find_entry(Indexed::table_hash(hash), |x| {
            x.hash == hash
                && slots
                    .get(x.slot as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|(k, _)| **k == *key)
        });
        let (Indexed { slot: i, .. }, _) = found.ok()?.remove();
        self.free.push(i);
        let (k, e) = self.slots.get_mut(i as usize)?.take()?;
        Some((k.into_vec(), e))
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.slots.iter().flatten().map(|(k, e)| (&**k, e))
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// How many slots exist (used or free): a walk ends here.
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The entry in slot `i`, if the slot is used.
    pub(crate) fn slot(&self, i: usize) -> Option<(&[u8], &Entry)> {
        self.slots.get(i)?.as_ref().map(|(k, e)| (&**k, e))
    }
}

/// One map per namespace, in [`Namespace::ALL`] order.
pub(crate) const SPACES: usize = Namespace::ALL.len();

/// Slots the active sweep examines per expired entry it may drop: the
/// sweep's work per call is bounded by this times its limit, not by the
/// data.
const SWEEP_SLOTS_PER_DROP: usize = 64;

#[derive(Debug, Default)]
pub struct State {
    spaces: [Space; SPACES],
    live_bytes: usize,
    /// Where the next active sweep goes on: (namespace index, slot).
    sweep_at: (usize, usize),
}

impl State {
    fn space(&self, ns: Namespace) -> Option<&Space> {
        self.spaces.get(ns.index())
    }

    /// The namespace's slots, for the checkpoint's walk.
    pub(crate) fn space_of(&self, ns: Namespace) -> Option<&Space> {
        self.space(ns)
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
                let cost = entry_cost(&key, &entry);
                let old_cost = space.get(&key).map(|old| entry_cost(&key, old));
                space.insert(key, entry);
                self.live_bytes = (self.live_bytes + cost).saturating_sub(old_cost.unwrap_or(0));
            }
            Mutation::Delete { ns, key } => {
                if let Some((_, old)) = self.spaces.get_mut(ns.index()).and_then(|s| s.remove(&key))
                {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(&key, &old));
                }
            }
            Mutation::Clear { ns } => {
                let space = self
                    .spaces
                    .get_mut(ns.index())
                    .map(std::mem::take)
                    .unwrap_or_default();
                for (k, e) in space.iter() {
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
            if let Some((_, old)) = space.remove(key) {
                self.live_bytes = self.live_bytes.saturating_sub(entry_cost(key, &old));
            }
        }
    }

    /// The entry under `key` if it exists and has not expired.
    pub fn get(&self, ns: Namespace, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.space(ns)?.get(key).filter(|e| e.is_live(now_ms))
    }

    /// Every live entry of a namespace (unordered).
    pub fn iter(&self, ns: Namespace, now_ms: u64) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.space(ns)
            .into_iter()
            .flat_map(|s| s.iter())
            .filter(move |(_, e)| e.is_live(now_ms))
    }

    /// Entries held in memory for a namespace, expired-but-unswept included.
    pub fn held(&self, ns: Namespace) -> usize {
        self.space(ns).map_or(0, Space::len)
    }

    /// Live entries of a namespace (walks the namespace).
    pub fn count_live(&self, ns: Namespace, now_ms: u64) -> usize {
        self.iter(ns, now_ms).count()
    }

    pub fn live_bytes(&self) -> usize {
        self.live_bytes
    }

    /// Drops up to `limit` expired entries from memory; returns how many.
    /// Examines at most `limit` × [`SWEEP_SLOTS_PER_DROP`] slots, going on
    /// where the previous call stopped (round the namespaces), so its cost
    /// never grows with the data.
    pub fn sweep_expired(&mut self, now_ms: u64, limit: usize) -> usize {
        self.sweep_expired_reporting(now_ms, limit, |_, _| {})
    }

    /// [`State::sweep_expired`], telling `report` each key it drops with
    /// its namespace (keyspace notifications name the expired keys).
    pub fn sweep_expired_reporting(
        &mut self,
        now_ms: u64,
        limit: usize,
        mut report: impl FnMut(Namespace, &[u8]),
    ) -> usize {
        let State {
            spaces,
            live_bytes,
            sweep_at,
        } = self;
        let mut budget = limit.saturating_mul(SWEEP_SLOTS_PER_DROP);
        let mut removed = 0;
        let (mut ns, mut slot) = *sweep_at;
        let mut spaces_visited = 0;
        while budget > 0 && removed < limit && spaces_visited <= SPACES {
            let Some(space) = spaces.get_mut(ns) else {
                (ns, slot) = (0, 0);
                spaces_visited += 1;
                continue;
            };
            let end = space.slot_count();
            let mut dead: Vec<Vec<u8>> = Vec::new();
            while slot < end && budget > 0 && removed + dead.len() < limit {
                if let Some((k, e)) = space.slot(slot) {
                    if !e.is_live(now_ms) {
                        dead.push(k.to_vec());
                    }
                }
                slot += 1;
                budget -= 1;
            }
            let namespace = Namespace::ALL.get(ns).copied();
            // Removing frees slots in place: the numbers walked stay valid.
            for k in dead {
                if let Some((_, old)) = space.remove(&k) {
                    *live_bytes = live_bytes.saturating_sub(entry_cost(&k, &old));
                    removed += 1;
                    if let Some(namespace) = namespace {
                        report(namespace, &k);
                    }
                }
            }
            if slot >= end {
                (ns, slot) = ((ns + 1) % SPACES, 0);
                spaces_visited += 1;
            }
        }
        *sweep_at = (ns, slot);
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        Put(u8, u8, u64),
        Delete(u8),
        Sweep(u64, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => (0u8..40, any::<u8>(), 0u64..4).prop_map(|(k, v, e)| Op::Put(k, v, e)),
            3 => (0u8..40).prop_map(Op::Delete),
            1 => (0u64..4, 0usize..5).prop_map(|(now, limit)| Op::Sweep(now, limit)),
        ]
    }

    fn put(k: u8, v: u8, expires: u64) -> Mutation {
        Mutation::Put {
            ns: Namespace::Keyspace,
            key: vec![k],
            value: Value::Bytes(vec![v; usize::from(v % 7)]),
            expires_at_ms: expires,
        }
    }

    proptest! {
        /// The slot-based namespace behaves as a map: every key reads what
        /// a `HashMap` model holds; an entry keeps its slot while it
        /// exists; the sweep drops only expired entries, at most `limit`.
        #[test]
        fn a_space_behaves_as_a_map_and_entries_keep_their_slots(ops in prop::collection::vec(op(), 1..200)) {
            let mut state = State::default();
            let mut model: HashMap<Vec<u8>, (Vec<u8>, u64)> = HashMap::new();
            let mut slot_of: HashMap<Vec<u8>, usize> = HashMap::new();
            for op in ops {
                match op {
                    Op::Put(k, v, e) => {
                        state.apply(put(k, v, e));
                        model.insert(vec![k], (vec![v; usize::from(v % 7)], e));
                    }
                    Op::Delete(k) => {
                        state.apply(Mutation::Delete { ns: Namespace::Keyspace, key: vec![k] });
                        model.remove(&vec![k]);
                        slot_of.remove(&vec![k]);
                    }
                    Op::Sweep(now, limit) => {
                        let dead = model.values().filter(|(_, e)| *e != 0 && *e <= now).count();
                        let removed = state.sweep_expired(now, limit);
                        prop_assert!(removed <= limit && removed <= dead);
                        let space = state.space(Namespace::Keyspace).unwrap();
                        model.retain(|k, _| space.get(k).is_some());
                        slot_of.retain(|k, _| model.contains_key(k));
                    }
                }
                let space = state.space(Namespace::Keyspace).unwrap();
                prop_assert_eq!(space.len(), model.len());
                for (k, (v, e)) in &model {
                    let got = space.get(k).unwrap();
                    prop_assert_eq!(&got.value, &Value::Bytes(v.clone()));
                    prop_assert_eq!(got.expires_at_ms, *e);
                }
                for i in 0..space.slot_count() {
                    if let Some((k, _)) = space.slot(i) {
                        let was = *slot_of.entry(k.to_vec()).or_insert(i);
                        prop_assert_eq!(was, i, "an entry moved to another slot");
                    }
                }
            }
        }
    }

    /// The sweep's work is bounded by its limit, not by the data: with
    /// 100,000 entries and one expired at the end, a call with limit 1
    /// examines at most 64 slots, and repeated calls reach it.
    #[test]
    fn the_sweep_walks_a_bounded_number_of_slots_per_call() {
        let mut state = State::default();
        for i in 0..100_000u32 {
            state.apply(Mutation::Put {
                ns: Namespace::Keyspace,
                key: i.to_be_bytes().to_vec(),
                value: Value::Bytes(Vec::new()),
                expires_at_ms: if i == 99_999 { 5 } else { 0 },
            });
        }
        let mut calls = 0;
        while state.held(Namespace::Keyspace) == 100_000 {
            assert!(state.sweep_at.1 <= SWEEP_SLOTS_PER_DROP * calls);
            state.sweep_expired(10, 1);
            calls += 1;
            assert!(calls <= 100_000 / SWEEP_SLOTS_PER_DROP + 2, "never reached");
        }
        assert!(calls >= 100_000 / SWEEP_SLOTS_PER_DROP, "{calls} calls");
    }
}
