//! The in-memory namespaces the commit log replays into.
//!
//! One slot-numbered map per [`Namespace`] (see [`Space`]). Entries carry an absolute expiry; an
//! expired entry is invisible to every read at once (lazy check) and is
//! removed from memory by [`State::sweep_expired`] (active sweep). Expiry
//! needs no log record: replaying a `Put` whose expiry has passed yields the
//! same absence.
//!
//! A string entry is packed, key, value and expiry together, into one
//! cell of the namespace's [`Cells`]; a collection keeps its [`Value`]. Reads
//! hand out [`EntryRef`]s: views of either, borrowed from the state.

use super::cells::{CellId, Cells};
use super::edit::Edit;
use super::record::{Mutation, Namespace, Value, ValueRef};
use super::small_collection::{
    edit_packed_hash, edit_packed_zset, hash_packs, overwrite_hash_values, pack_hash, pack_zset,
    zset_packs, HashRef, ZSetRef,
};
use hashbrown::HashTable;
use packed::Kind;
use std::hash::{BuildHasher, RandomState};

/// An entry as the transactions of the service layer stage it: a value
/// of any type and its expiry.
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

    /// The entry as read in place.
    pub fn view(&self) -> EntryRef<'_> {
        EntryRef {
            value: self.value.view(),
            expires_at_ms: self.expires_at_ms,
            payload: self.payload,
        }
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

/// An entry read in place (from the state, or from a staged [`Entry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    pub value: ValueRef<'a>,
    /// Unix milliseconds; 0 = never expires.
    pub expires_at_ms: u64,
    payload: usize,
}

impl EntryRef<'_> {
    pub fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at_ms == 0 || self.expires_at_ms > now_ms
    }

    /// The value's payload bytes ([`Value::payload_len`], without the walk).
    pub fn payload_len(&self) -> usize {
        self.payload
    }

    /// A copy of the entry, to stage or change.
    pub fn to_entry(&self) -> Entry {
        Entry {
            value: self.value.to_value(),
            expires_at_ms: self.expires_at_ms,
            payload: self.payload,
        }
    }
}

/// A packed entry, as one cell holds it: a string, or a small hash or
/// sorted set in its packed form (`small_collection.rs`):
///
/// ```text
/// flags u8 (bit 0: an expiry follows; bits 1-2: 0 string, 1 hash, 2 sorted set)
///   | key_len varint | value_len varint | [payload varint: collections only]
///   | [expires_at_ms u64 LE] | key | value | (zeroes to the cell's end)
/// ```
///
/// Varints are LEB128 (7 bits a byte, low first); `payload` is the
/// collection's [`Value::payload_len`] (a string's is its length). A key
/// of 14 bytes and a value of 100 take 117 bytes, a 120-byte cell.
mod packed {
    use crate::store::small_collection::{encode_varint, read_varint};

    const HAS_EXPIRY: u8 = 1;

    /// What a packed record holds.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Kind {
        String = 0,
        Hash = 1,
        SortedSet = 2,
    }

    pub(super) struct Packed<'a> {
        pub kind: Kind,
        pub key: &'a [u8],
        pub value: &'a [u8],
        pub payload: usize,
        pub expires_at_ms: u64,
    }

    fn varint_len(n: usize) -> usize {
        let bits = usize::BITS - n.leading_zeros();
        (bits as usize).div_ceil(7).max(1)
    }

    /// Bytes the record takes.
    pub(super) fn len(
        kind: Kind,
        key: &[u8],
        value_len: usize,
        payload: usize,
        expires_at_ms: u64,
    ) -> usize {
        1 + varint_len(key.len())
            + varint_len(value_len)
            + if kind == Kind::String {
                0
            } else {
                varint_len(payload)
            }
            + if expires_at_ms == 0 { 0 } else { 8 }
            + key.len()
            + value_len
    }

    /// Writes the record into `cell` (at least [`len`] bytes, zeroed).
    pub(super) fn write(
        cell: &mut [u8],
        kind: Kind,
        key: &[u8],
        value: &[u8],
        payload: usize,
        expires_at_ms: u64,
    ) {
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            if let Some(dst) = cell.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
            at += bytes.len();
        };
        put(&[(kind as u8) << 1 | if expires_at_ms == 0 { 0 } else { HAS_EXPIRY }]);
        let mut varint = [0u8; 10];
        for n in [
            Some(key.len()),
            Some(value.len()),
            (kind != Kind::String).then_some(payload),
        ]
        .into_iter()
        .flatten()
        {
            put(encode_varint(n, &mut varint));
        }
        if expires_at_ms != 0 {
            put(&expires_at_ms.to_le_bytes());
        }
        put(key);
        put(value);
    }

    /// Where a record's parts are in its cell.
    struct Offsets {
        /// The expiry's 8 bytes, if it has one.
        expiry: Option<usize>,
        /// The value's first byte.
        value: usize,
    }

    /// The record's fields, and where its expiry and value are.
    fn parse(cell: &[u8]) -> Option<(Packed<'_>, Offsets)> {
        let flags = *cell.first()?;
        let kind = match flags >> 1 {
            0 => Kind::String,
            1 => Kind::Hash,
            2 => Kind::SortedSet,
            _ => return None,
        };
        let mut at = 1;
        let key_len = read_varint(cell, &mut at)?;
        let value_len = read_varint(cell, &mut at)?;
        let payload = if kind == Kind::String {
            value_len
        } else {
            read_varint(cell, &mut at)?
        };
        let (expires_at_ms, expiry_at) = if flags & HAS_EXPIRY != 0 {
            let bytes = cell.get(at..at + 8)?;
            at += 8;
            (u64::from_le_bytes(bytes.try_into().ok()?), Some(at - 8))
        } else {
            (0, None)
        };
        let key = cell.get(at..at + key_len)?;
        let value = cell.get(at + key_len..at + key_len + value_len)?;
        Some((
            Packed {
                kind,
                key,
                value,
                payload,
                expires_at_ms,
            },
            Offsets {
                expiry: expiry_at,
                value: at + key_len,
            },
        ))
    }

    pub(super) fn read(cell: &[u8]) -> Option<Packed<'_>> {
        parse(cell).map(|(p, _)| p)
    }

    /// Writes `value` over the record's value in place when that changes
    /// nothing else: the same length and the same payload, so every
    /// header byte stays (an `HSET` that replaces a value with one as
    /// long, most of a counter's or token's updates). False otherwise.
    pub(super) fn overwrite_value(cell: &mut [u8], value: &[u8], payload: usize) -> bool {
        let Some((p, at)) = parse(cell) else {
            return false;
        };
        if p.value.len() != value.len() || p.payload != payload {
            return false;
        }
        match cell.get_mut(at.value..at.value + value.len()) {
            Some(dst) => {
                dst.copy_from_slice(value);
                true
            }
            None => false,
        }
    }

    /// A packed hash's or sorted set's value bytes, to change in place
    /// (as long as they are: the header is not touched).
    pub(super) fn collection_mut(cell: &mut [u8]) -> Option<(Kind, &mut [u8])> {
        let (kind, len, at) = parse(cell).map(|(p, at)| (p.kind, p.value.len(), at.value))?;
        Some((kind, cell.get_mut(at..at + len)?))
    }

    /// Rewrites the expiry of a record that has one, in place; false when
    /// it has none (the record must be rewritten to gain one).
    pub(super) fn set_expiry(cell: &mut [u8], expires_at_ms: u64) -> bool {
        if expires_at_ms == 0 {
            return false;
        }
        let Some(at) = parse(cell).and_then(|(_, at)| at.expiry) else {
            return false;
        };
        match cell.get_mut(at..at + 8) {
            Some(dst) => {
                dst.copy_from_slice(&expires_at_ms.to_le_bytes());
                true
            }
            None => false,
        }
    }
}

/// Approximate bytes one entry costs in a snapshot.
fn entry_cost(key: &[u8], payload: usize) -> usize {
    key.len() + payload + 24
}

/// What a slot holds, in 8 bytes: nothing (0), a packed string (bit 62
/// and a [`CellId`]) or a collection (bit 63 and its index in
/// [`Space::collections`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot(u64);

const SLOT_CELL: u64 = 1 << 62;
const SLOT_COLLECTION: u64 = 1 << 63;

enum Held {
    Free,
    Cell(CellId),
    Collection(usize),
}

impl Slot {
    const FREE: Slot = Slot(0);

    fn held(self) -> Held {
        if self.0 & SLOT_CELL != 0 {
            Held::Cell(CellId::from_bits(self.0 & !SLOT_CELL))
        } else if self.0 & SLOT_COLLECTION != 0 {
            Held::Collection((self.0 & u64::from(u32::MAX)) as usize)
        } else {
            Held::Free
        }
    }
}

/// One namespace: entries in numbered slots, found by key through a hash
/// table of slot numbers.
///
/// A slot keeps its entry for the entry's whole life (an overwrite replaces
/// it in place; a delete frees the slot for a later insert), so walking the
/// slots in order visits every entry that existed when the walk began
/// exactly once, however many writes land in between. The incremental
/// checkpoint (`checkpoint.rs`) relies on that: it needs no list of keys.
/// The key is stored once, with its entry; the table holds 4-byte slot
/// numbers and 32 bits of each key's hash.
///
/// Per string key: an 8-byte slot, about 9 bytes of table, and a cell of
/// the packed record rounded up to 8 bytes.
#[derive(Debug, Default)]
pub(crate) struct Space {
    slots: Vec<Slot>,
    /// Freed slots, reused before the vector grows.
    free: Vec<u32>,
    index: HashTable<Indexed>,
    hasher: RandomState,
    /// The packed string entries.
    cells: Cells,
    /// The collection entries (with their keys; a key's length never
    /// changes, so it is boxed: two words, not a vector's three).
    collections: Vec<Option<(Box<[u8]>, Entry)>>,
    collections_free: Vec<u32>,
    /// Buffers a packed collection's edit is made in, reused.
    edit_scratch: EditScratch,
}

/// The key and new value of a packed collection being edited: reused by
/// every edit (no allocation per `HSET`), zeroed after each.
#[derive(Debug, Default)]
struct EditScratch {
    key: Vec<u8>,
    value: Vec<u8>,
}

impl EditScratch {
    /// Zeroes what the last edit left (values may be secrets).
    fn wipe(&mut self) {
        self.key.fill(0);
        self.value.fill(0);
        self.key.clear();
        self.value.clear();
    }
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

    /// The key and entry a slot holds.
    fn read(&self, slot: Slot) -> Option<(&[u8], EntryRef<'_>)> {
        match slot.held() {
            Held::Free => None,
            Held::Cell(id) => {
                let p = packed::read(self.cells.get(id)?)?;
                let value = match p.kind {
                    Kind::String => ValueRef::Bytes(p.value),
                    Kind::Hash => ValueRef::Hash(HashRef::packed(p.value)),
                    Kind::SortedSet => ValueRef::SortedSet(ZSetRef::packed(p.value)),
                };
                Some((
                    p.key,
                    EntryRef {
                        value,
                        expires_at_ms: p.expires_at_ms,
                        payload: p.payload,
                    },
                ))
            }
            Held::Collection(i) => {
                let (key, entry) = self.collections.get(i)?.as_ref()?;
                Some((key, entry.view()))
            }
        }
    }

    fn key_in(&self, slot: u32) -> Option<&[u8]> {
        let slot = *self.slots.get(slot as usize)?;
        match slot.held() {
            Held::Free => None,
            Held::Cell(id) => Some(packed::read(self.cells.get(id)?)?.key),
            Held::Collection(i) => Some(&self.collections.get(i)?.as_ref()?.0),
        }
    }

    fn slot_of(&self, key: &[u8]) -> Option<u32> {
        self.slot_with_hash(key, self.hash(key))
    }

    fn slot_with_hash(&self, key: &[u8], hash: u32) -> Option<u32> {
        self.index
            .find(Indexed::table_hash(hash), |x| {
                x.hash == hash && self.key_in(x.slot) == Some(key)
            })
            .map(|x| x.slot)
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<EntryRef<'_>> {
        let i = self.slot_of(key)?;
        self.read(*self.slots.get(i as usize)?).map(|(_, e)| e)
    }

    /// Stores `entry` for `key` (a cell for a string or a small hash or
    /// sorted set, the side vector for any other collection); returns the
    /// slot value that finds it.
    fn store(&mut self, key: Vec<u8>, entry: Entry) -> Slot {
        let (payload, expires) = (entry.payload, entry.expires_at_ms);
        match &entry.value {
            Value::Bytes(b) => return self.pack(Kind::String, &key, b, payload, expires),
            Value::Hash(h) if hash_packs(h) => {
                return self.pack(Kind::Hash, &key, &pack_hash(h), payload, expires)
            }
            Value::SortedSet(z) if zset_packs(z) => {
                return self.pack(Kind::SortedSet, &key, &pack_zset(z), payload, expires)
            }
            _ => {}
        }
        let held = Some((key.into_boxed_slice(), entry));
        let i = match self.collections_free.pop() {
            Some(i) => {
                if let Some(c) = self.collections.get_mut(i as usize) {
                    *c = held;
                }
                i
            }
            None => {
                let i = u32::try_from(self.collections.len()).unwrap_or(u32::MAX);
                self.collections.push(held);
                i
            }
        };
        Slot(SLOT_COLLECTION | u64::from(i))
    }

    /// Writes a packed record into a new cell.
    fn pack(&mut self, kind: Kind, key: &[u8], value: &[u8], payload: usize, expires: u64) -> Slot {
        let id = self
            .cells
            .alloc(packed::len(kind, key, value.len(), payload, expires));
        if let Some(cell) = self.cells.get_mut(id) {
            packed::write(cell, kind, key, value, payload, expires);
        }
        Slot(SLOT_CELL | id.to_bits())
    }

    /// Frees what `slot` holds; returns the payload bytes it held.
    fn release(&mut self, slot: Slot) -> usize {
        match slot.held() {
            Held::Free => 0,
            Held::Cell(id) => {
                let payload = self
                    .cells
                    .get(id)
                    .and_then(packed::read)
                    .map_or(0, |p| p.payload);
                self.cells.free(id);
                payload
            }
            Held::Collection(i) => {
                let payload = self
                    .collections
                    .get_mut(i)
                    .and_then(Option::take)
                    .map_or(0, |(_, e)| e.payload);
                self.collections_free.push(i as u32);
                if self.collections_free.len() == self.collections.len() {
                    self.collections = Vec::new();
                    self.collections_free = Vec::new();
                }
                payload
            }
        }
    }

    /// Puts `entry` under `key`; returns the payload of the entry it
    /// replaced.
    fn insert(&mut self, key: Vec<u8>, entry: Entry) -> Option<usize> {
        let hash = self.hash(&key);
        if let Some(i) = self.slot_with_hash(&key, hash) {
            let old = self.slots.get(i as usize).copied().unwrap_or(Slot::FREE);
            // The new entry first: its class is not left empty between.
            let new = self.store(key, entry);
            if let Some(s) = self.slots.get_mut(i as usize) {
                *s = new;
            }
            return Some(self.release(old));
        }
        let new = self.store(key, entry);
        let slot = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    *s = new;
                }
                i
            }
            None => {
                // Slot numbers are u32: past 4 billion entries in one
                // namespace the store is far beyond its memory anyway.
                let i = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                self.slots.push(new);
                i
            }
        };
        self.index
            .insert_unique(Indexed::table_hash(hash), Indexed { slot, hash }, |x| {
                Indexed::table_hash(x.hash)
            });
        None
    }

    /// Removes `key`; returns the payload it held.
    fn remove(&mut self, key: &[u8]) -> Option<usize> {
        let hash = self.hash(key);
        let i = self.slot_with_hash(key, hash)?;
        // Found by key above; the table entry is the one naming that slot.
        let found = self
            .index
            .find_entry(Indexed::table_hash(hash), |x| x.slot == i);
        found.ok()?.remove();
        self.free.push(i);
        let old = std::mem::replace(self.slots.get_mut(i as usize)?, Slot::FREE);
        Some(self.release(old))
    }

    /// Puts `new` in slot `i` in place of `old`, then frees `old` (new
    /// first: a class is not left empty between).
    fn replace_in(&mut self, i: usize, old: Slot, new: Slot) {
        if let Some(s) = self.slots.get_mut(i) {
            *s = new;
        }
        self.release(old);
    }

    /// Applies `edit` to the entry under `key`: returns the payload bytes
    /// added and removed, and whether it emptied a collection; `None`
    /// when there is no entry.
    fn edit(&mut self, key: &[u8], edit: &Edit) -> Option<(usize, usize, bool)> {
        let i = self.slot_of(key)? as usize;
        let slot = *self.slots.get(i)?;
        match slot.held() {
            Held::Free => None,
            Held::Cell(id) => {
                if let Edit::Expire(at) = edit {
                    if self
                        .cells
                        .get_mut(id)
                        .is_some_and(|c| packed::set_expiry(c, *at))
                    {
                        return Some((0, 0, false));
                    }
                    // Gaining or losing the expiry's 8 bytes: a new cell.
                    let p = packed::read(self.cells.get(id)?)?;
                    let (kind, key, value, payload) =
                        (p.kind, p.key.to_vec(), p.value.to_vec(), p.payload);
                    let new = self.pack(kind, &key, &value, payload, *at);
                    self.replace_in(i, slot, new);
                    return Some((0, 0, false));
                }
                // Values replaced by ones as long: written where they lie.
                if let Some((Kind::Hash, value)) =
                    self.cells.get_mut(id).and_then(packed::collection_mut)
                {
                    if let Some(e) = overwrite_hash_values(value, edit) {
                        return Some((e.grew, e.shrank, false));
                    }
                }
                // A packed hash or sorted set is edited as bytes (no tree),
                // in the space's reused buffers.
                let p = packed::read(self.cells.get(id)?)?;
                let mut scratch = std::mem::take(&mut self.edit_scratch);
                let edited = match p.kind {
                    Kind::String => None,
                    Kind::Hash => edit_packed_hash(p.value, edit, &mut scratch.value),
                    Kind::SortedSet => edit_packed_zset(p.value, edit, &mut scratch.value),
                };
                let (kind, expires, payload) = (p.kind, p.expires_at_ms, p.payload);
                let done = edited.and_then(|e| {
                    if e.empty {
                        // The caller removes the key (see below).
                        return Some((0, 0, true));
                    }
                    let payload = payload.saturating_add(e.grew).saturating_sub(e.shrank);
                    let in_place = self
                        .cells
                        .get_mut(id)
                        .is_some_and(|c| packed::overwrite_value(c, &scratch.value, payload));
                    if in_place {
                        return Some((e.grew, e.shrank, false));
                    }
                    // A new cell: the key is copied out of the old one first
                    // (unreadable, nothing was changed yet and the edit takes
                    // the general path below).
                    scratch.key.clear();
                    scratch
                        .key
                        .extend_from_slice(packed::read(self.cells.get(id)?)?.key);
                    let new = self.pack(kind, &scratch.key, &scratch.value, payload, expires);
                    self.replace_in(i, slot, new);
                    Some((e.grew, e.shrank, false))
                });
                scratch.wipe();
                self.edit_scratch = scratch;
                if done.is_some() {
                    return done;
                }
                let (key, mut entry) = self.read(slot).map(|(k, e)| (k.to_vec(), e.to_entry()))?;
                if let Value::Bytes(_) = entry.value {
                    // Only `Expire` applies to a string (see `edit.rs`).
                    return Some((0, 0, false));
                }
                let (grew, shrank) = entry.apply_edit(edit);
                if entry.value.is_empty_collection() {
                    // The caller removes the key, counting the payload the
                    // record still holds: the edit's own change is not
                    // counted twice.
                    return Some((0, 0, true));
                }
                // Packed again, or a tree once past the packing limits.
                let new = self.store(key, entry);
                self.replace_in(i, slot, new);
                Some((grew, shrank, false))
            }
            Held::Collection(c) => {
                let (_, entry) = self.collections.get_mut(c)?.as_mut()?;
                let (grew, shrank) = entry.apply_edit(edit);
                Some((grew, shrank, entry.value.is_empty_collection()))
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], EntryRef<'_>)> {
        self.slots.iter().filter_map(|s| self.read(*s))
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// How many slots exist (used or free): a walk ends here.
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The entry in slot `i`, if the slot is used.
    pub(crate) fn slot(&self, i: usize) -> Option<(&[u8], EntryRef<'_>)> {
        self.read(*self.slots.get(i)?)
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
                let cost = entry_cost(&key, entry.payload);
                let old_cost = entry_cost(&key, 0);
                let old_cost = space
                    .insert(key, entry)
                    .map_or(0, |payload| old_cost + payload);
                self.live_bytes = (self.live_bytes + cost).saturating_sub(old_cost);
            }
            Mutation::Delete { ns, key } => {
                if let Some(old) = self.spaces.get_mut(ns.index()).and_then(|s| s.remove(&key)) {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(&key, old));
                }
            }
            Mutation::Clear { ns } => {
                let space = self
                    .spaces
                    .get_mut(ns.index())
                    .map(std::mem::take)
                    .unwrap_or_default();
                for (k, e) in space.iter() {
                    self.live_bytes = self.live_bytes.saturating_sub(entry_cost(k, e.payload));
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
        let Some((grew, shrank, emptied)) = space.edit(key, edit) else {
            return;
        };
        self.live_bytes = self.live_bytes.saturating_add(grew).saturating_sub(shrank);
        if emptied {
            if let Some(old) = space.remove(key) {
                self.live_bytes = self.live_bytes.saturating_sub(entry_cost(key, old));
            }
        }
    }

    /// The entry under `key` if it exists and has not expired.
    pub fn get(&self, ns: Namespace, key: &[u8], now_ms: u64) -> Option<EntryRef<'_>> {
        self.space(ns)?.get(key).filter(|e| e.is_live(now_ms))
    }

    /// Every live entry of a namespace (unordered).
    pub fn iter(&self, ns: Namespace, now_ms: u64) -> impl Iterator<Item = (&[u8], EntryRef<'_>)> {
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
                if let Some(old) = space.remove(&k) {
                    *live_bytes = live_bytes.saturating_sub(entry_cost(&k, old));
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
    use crate::store::sorted_set::{Score, SortedSet};
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        /// Key, value seed and length, what type (0 string, 1 set, 2
        /// hash, 3 sorted set), expiry.
        Put(u8, u8, usize, u8, u64),
        Delete(u8),
        Expire(u8, u64),
        /// An element edit of the key's type: adds `n` elements from
        /// `seed` (or removes them, `remove`).
        EditElements(u8, u8, usize, bool),
        /// New values for `n` of a hash's fields (as long as the old ones
        /// for an even `seed`: the in-place rewrite) or new scores for `n`
        /// of a sorted set's members.
        Overwrite(u8, u8, usize),
        Sweep(u64, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Lengths cross the cells' classes and the largest cell (1024).
        let len = prop_oneof![0usize..40, 90usize..130, 1000usize..1100];
        prop_oneof![
            5 => (0u8..40, any::<u8>(), len, prop_oneof![3 => Just(0u8), 1 => 1u8..4], 0u64..4)
                .prop_map(|(k, v, n, t, e)| Op::Put(k, v, n, t, e)),
            3 => (0u8..40).prop_map(Op::Delete),
            2 => (0u8..40, 0u64..4).prop_map(|(k, e)| Op::Expire(k, e)),
            3 => (0u8..40, any::<u8>(), prop_oneof![1usize..4, 60usize..140], any::<bool>())
                .prop_map(|(k, seed, n, remove)| Op::EditElements(k, seed, n, remove)),
            2 => (0u8..40, any::<u8>(), 1usize..4).prop_map(|(k, seed, n)| Op::Overwrite(k, seed, n)),
            1 => (0u64..4, 0usize..5).prop_map(|(now, limit)| Op::Sweep(now, limit)),
        ]
    }

    /// The key: one byte, or (for odd numbers) 300, so keys too cross
    /// the classes.
    fn key(k: u8) -> Vec<u8> {
        if k % 2 == 1 {
            vec![k; 300]
        } else {
            vec![k]
        }
    }

    /// Element `i` of a collection made from `seed`: short, or past the
    /// 64 bytes a packed form holds for one in twenty.
    fn element(seed: u8, i: usize) -> Vec<u8> {
        let len = if (usize::from(seed) + i).is_multiple_of(20) {
            70
        } else {
            i % 5
        };
        let mut e = vec![seed; len];
        e.extend_from_slice(&(i as u16).to_be_bytes());
        e
    }

    /// A value of type `t`: strings of `len` bytes, collections of up to
    /// `len` elements (across the 128 a packed form holds).
    fn value(v: u8, len: usize, t: u8) -> Value {
        let n = (len + usize::from(v)) % 160;
        match t {
            1 => Value::Set((0..=n % 7).map(|i| element(v, i)).collect()),
            2 => Value::Hash(
                (0..=n)
                    .map(|i| (element(v, i), element(v.wrapping_add(1), i)))
                    .collect(),
            ),
            3 => {
                let mut z = SortedSet::new();
                for i in 0..=n {
                    z.insert(element(v, i), Score::new(f64::from((i % 9) as u8)).unwrap());
                }
                Value::SortedSet(Box::new(z))
            }
            _ => Value::Bytes((0..len).map(|i| v.wrapping_add(i as u8)).collect()),
        }
    }

    /// The element edit of the type `v` holds (none for a string).
    fn element_edit(v: &Value, seed: u8, n: usize, remove: bool) -> Option<Edit> {
        let items: Vec<Vec<u8>> = (0..n).map(|i| element(seed, i)).collect();
        Some(match (v, remove) {
            (Value::Set(_), false) => Edit::SetAdd(items),
            (Value::Set(_), true) => Edit::SetRemove(items),
            (Value::Hash(_), false) => {
                Edit::HashPut(items.into_iter().map(|f| (f, vec![seed])).collect())
            }
            (Value::Hash(_), true) => Edit::HashRemove(items),
            (Value::SortedSet(_), false) => Edit::SortedAdd(
                items
                    .into_iter()
                    .map(|m| (Score::new(f64::from(seed % 4)).unwrap(), m))
                    .collect(),
            ),
            (Value::SortedSet(_), true) => Edit::SortedRemove(items),
            _ => return None,
        })
    }

    /// [`Op::Overwrite`]'s edit of `v`: existing fields or members.
    fn overwrite_edit(v: &Value, seed: u8, n: usize) -> Option<Edit> {
        match v {
            Value::Hash(h) => Some(Edit::HashPut(
                h.iter()
                    .take(n)
                    .map(|(f, old)| {
                        let len = if seed.is_multiple_of(2) {
                            old.len()
                        } else {
                            old.len() + 1
                        };
                        (f.clone(), vec![seed; len])
                    })
                    .collect(),
            )),
            Value::SortedSet(z) => Some(Edit::SortedAdd(
                z.iter()
                    .take(n)
                    .map(|(_, m)| (Score::new(f64::from(seed % 5)).unwrap(), m.to_vec()))
                    .collect(),
            )),
            _ => None,
        }
    }

    proptest! {
        /// The slot-based namespace behaves as a map: every key reads what
        /// a `HashMap` model holds (strings packed in cells, collections,
        /// expiries set by edits); an entry keeps its slot while it
        /// exists; the sweep drops only expired entries, at most `limit`;
        /// the live-byte count follows the model.
        #[test]
        fn a_space_behaves_as_a_map_and_entries_keep_their_slots(ops in prop::collection::vec(op(), 1..200)) {
            let mut state = State::default();
            let mut model: HashMap<Vec<u8>, (Value, u64)> = HashMap::new();
            let mut slot_of: HashMap<Vec<u8>, usize> = HashMap::new();
            for op in ops {
                match op {
                    Op::Put(k, v, n, t, e) => {
                        state.apply(Mutation::Put {
                            ns: Namespace::Keyspace,
                            key: key(k),
                            value: value(v, n, t),
                            expires_at_ms: e,
                        });
                        model.insert(key(k), (value(v, n, t), e));
                    }
                    Op::EditElements(k, seed, n, remove) => {
                        let Some((v, _)) = model.get_mut(&key(k)) else { continue };
                        let Some(edit) = element_edit(v, seed, n, remove) else { continue };
                        state.apply(Mutation::Edit { ns: Namespace::Keyspace, key: key(k), edit: edit.clone() });
                        edit.apply_to(v);
                        if v.is_empty_collection() {
                            model.remove(&key(k));
                            slot_of.remove(&key(k));
                        }
                    }
                    Op::Overwrite(k, seed, n) => {
                        let Some((v, _)) = model.get_mut(&key(k)) else { continue };
                        let Some(edit) = overwrite_edit(v, seed, n) else { continue };
                        state.apply(Mutation::Edit { ns: Namespace::Keyspace, key: key(k), edit: edit.clone() });
                        edit.apply_to(v);
                    }
                    Op::Delete(k) => {
                        state.apply(Mutation::Delete { ns: Namespace::Keyspace, key: key(k) });
                        model.remove(&key(k));
                        slot_of.remove(&key(k));
                    }
                    Op::Expire(k, e) => {
                        state.apply(Mutation::Edit { ns: Namespace::Keyspace, key: key(k), edit: Edit::Expire(e) });
                        if let Some((_, at)) = model.get_mut(&key(k)) {
                            *at = e;
                        }
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
                    prop_assert_eq!(got.value, v.view());
                    prop_assert_eq!(got.expires_at_ms, *e);
                    prop_assert_eq!(got.payload_len(), v.payload_len());
                }
                let live: usize = model.iter().map(|(k, (v, _))| entry_cost(k, v.payload_len())).sum();
                prop_assert_eq!(state.live_bytes(), live);
                prop_assert_eq!(space.iter().count(), model.len());
                for i in 0..space.slot_count() {
                    if let Some((k, _)) = space.slot(i) {
                        let was = *slot_of.entry(k.to_vec()).or_insert(i);
                        prop_assert_eq!(was, i, "an entry moved to another slot");
                    }
                }
            }
        }
    }

    /// A packed record reads back what was written, for every kind and
    /// shape of length and expiry, and an expiry rewritten in place reads
    /// back.
    #[test]
    fn packed_records_round_trip() {
        for kind in [Kind::String, Kind::Hash, Kind::SortedSet] {
            for key_len in [0usize, 1, 127, 128, 300, 16_383, 16_384, 65_536] {
                for value_len in [0usize, 1, 100, 127, 128, 5000] {
                    for expires in [0u64, 1, u64::MAX] {
                        let k: Vec<u8> = (0..key_len).map(|i| i as u8).collect();
                        let v: Vec<u8> = (0..value_len).map(|i| (i * 7) as u8).collect();
                        let payload = if kind == Kind::String {
                            v.len()
                        } else {
                            3 * value_len + 1
                        };
                        let len = packed::len(kind, &k, v.len(), payload, expires);
                        let mut cell = vec![0u8; len + 5];
                        packed::write(&mut cell, kind, &k, &v, payload, expires);
                        let p = packed::read(&cell).unwrap();
                        assert_eq!(
                            (p.kind, p.key, p.value, p.payload, p.expires_at_ms),
                            (kind, &k[..], &v[..], payload, expires)
                        );
                        assert_eq!(packed::set_expiry(&mut cell, 42), expires != 0);
                        let p = packed::read(&cell).unwrap();
                        assert_eq!(p.expires_at_ms, if expires != 0 { 42 } else { 0 });
                        assert_eq!(
                            (p.kind, p.key, p.value, p.payload),
                            (kind, &k[..], &v[..], payload)
                        );
                        assert!(
                            packed::read(&cell[..len - 1]).is_none(),
                            "a cut record reads as nothing"
                        );
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
