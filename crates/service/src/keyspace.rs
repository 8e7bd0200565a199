//! The data keyspace behind the Redis-compatible wire protocol: strings,
//! sets and hashes in [`Namespace::Keyspace`] with Redis semantics and
//! typed errors ([`KsError`]; the wire layer words them for Redis clients).
//!
//! Every command runs inside a [`Txn`]: reads see the committed state
//! overlaid with the transaction's own writes; writes only go to the
//! overlay. [`Keyspace::commit`] turns the overlay into **one**
//! `store.apply` (one commit frame), so a single command and a whole
//! `MULTI`/`EXEC` block are equally atomic and durable together after the
//! event loop's flush. The overlay holds the final value of each touched
//! key, so a transaction that rewrites a key ten times commits it once.
//!
//! Keys are not secrets here (values are still encrypted at rest with the
//! rest of the file), but keys under `red.secret.` are refused: secrets live
//! in the vault, behind its policies, and nothing may bypass them.
//!
//! `SCAN` walks a lazily built index ordered by a per-process keyed hash of
//! the key; the cursor is the hash where the next call starts. A key
//! present for a whole iteration is returned exactly once (keys sharing a
//! hash are returned in the same batch), whatever else changes meanwhile.

use super::{accounts, ServiceError, ServiceResult};
use super::{Principal, Service, Via};
use crate::strict_decimal::parse_i64;
use reddb_storage::store::edit::Edit;
use reddb_storage::store::record::{
    Mutation, Namespace, Value, ValueRef, DATABASES, MAX_KEY_LEN, MAX_VALUE_LEN,
};
use reddb_storage::store::small_collection::HashRef;
use reddb_storage::store::{Entry, EntryRef, State};
use std::cell::OnceCell;
use std::collections::hash_map::RandomState;
use std::collections::BTreeSet;
use std::hash::BuildHasher;
use subtle::ConstantTimeEq;
pub mod bit_and_float_commands;
mod changed_keys;
mod collection_scan;
mod event_probe;
pub mod list_commands;
pub mod object_commands;
mod overlay;
pub mod set_commands;
pub mod sorted_set_commands;

mod string_and_hash_commands;

/// Keys with this prefix belong to the vault (`/secrets` over HTTP).
pub const SECRET_KEY_PREFIX: &[u8] = b"red.secret.";
/// Largest commit a transaction may stage (the store's frame limit is
/// 64 MiB; stay well below it).
pub const MAX_TXN_BYTES: usize = 48 * 1024 * 1024;
/// A 64-bit hash shifted by this is a cursor below 2^53.
pub(crate) const CURSOR_SHIFT: u32 = 11;

/// A data-command failure (the wire layer words it as a Redis error line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KsError {
    WrongType,
    NotInteger,
    /// `HINCRBY` of a field that does not hold an integer.
    HashValueNotInteger,
    Overflow,
    SecretKey,
    KeyTooLong,
    ValueTooLarge,
    TxnTooLarge,
    /// `RENAME` of a key that does not exist.
    NoSuchKey,
    /// `LSET` past either end of the list.
    IndexOutOfRange,
    /// `INCRBYFLOAT` of a value or by an increment that is not a float.
    NotFloat,
    /// `HINCRBYFLOAT` of a field that does not hold a float.
    HashValueNotFloat,
    /// A float increment whose result is not finite.
    NanOrInfinity,
    /// `ZINCRBY`/`ZADD INCR` adding opposite infinities.
    ScoreNaN,
    Service(ServiceError),
}

pub type KsResult<T> = Result<T, KsError>;

impl From<ServiceError> for KsError {
    fn from(e: ServiceError) -> Self {
        KsError::Service(e)
    }
}

/// Refuses vault keys and keys the store cannot hold.
pub fn check_key(key: &[u8]) -> KsResult<()> {
    if key.starts_with(SECRET_KEY_PREFIX) {
        return Err(KsError::SecretKey);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KsError::KeyTooLong);
    }
    Ok(())
}

/// Redis's glob (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
/// Linear backtracking on the last `*`: O(pattern × string) at worst.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if let Some(&pc) = pattern.get(p) {
            if pc == b'*' {
                while pattern.get(p) == Some(&b'*') {
                    p += 1;
                }
                star = Some((p, i));
                continue;
            }
            if let Some(c) = s.get(i) {
                if let Some(next) = match_one(pattern, p, *c) {
                    p = next;
                    i += 1;
                    continue;
                }
            }
        }
        match star {
            Some((sp, si)) => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            None => return false,
        }
    }
    while pattern.get(p) == Some(&b'*') {
        p += 1;
    }
    p >= pattern.len()
}

/// Matches one pattern token at `p` (not `*`) against `c`; the position
/// after the token when it matches.
fn match_one(pattern: &[u8], p: usize, c: u8) -> Option<usize> {
    match pattern.get(p)? {
        b'?' => Some(p + 1),
        b'\\' if p + 1 < pattern.len() => (pattern.get(p + 1) == Some(&c)).then_some(p + 2),
        b'[' => {
            let mut q = p + 1;
            let negate = pattern.get(q) == Some(&b'^');
            if negate {
                q += 1;
            }
            let mut matched = false;
            loop {
                match pattern.get(q) {
                    None => break, // unterminated: the class ends with the pattern
                    Some(b']') => {
                        q += 1;
                        break;
                    }
                    Some(b'\\') if q + 1 < pattern.len() => {
                        if pattern.get(q + 1) == Some(&c) {
                            matched = true;
                        }
                        q += 2;
                    }
                    Some(&lo) if pattern.get(q + 1) == Some(&b'-') && q + 2 < pattern.len() => {
                        let hi = pattern.get(q + 2).copied().unwrap_or(lo);
                        let (a, b) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                        if (a..=b).contains(&c) {
                            matched = true;
                        }
                        q += 3;
                    }
                    Some(&lit) => {
                        if lit == c {
                            matched = true;
                        }
                        q += 1;
                    }
                }
            }
            (matched != negate).then_some(q)
        }
        &lit => (lit == c).then_some(p + 1),
    }
}

/// How `SET` treats the key's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetExpiry {
    /// Plain `SET`: the key becomes persistent.
    Clear,
    /// Expires at this Unix millisecond (in the past: the key is deleted).
    At(u64),
    /// `KEEPTTL`.
    Keep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Always,
    /// `NX`
    IfMissing,
    /// `XX`
    IfExists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetOptions {
    pub expiry: SetExpiry,
    pub cond: Condition,
    /// `GET`: return the old value (a non-string old value is an error).
    pub get: bool,
}

impl Default for SetOptions {
    fn default() -> Self {
        Self {
            expiry: SetExpiry::Clear,
            cond: Condition::Always,
            get: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome {
    pub written: bool,
    pub old: Option<Vec<u8>>,
}

/// `EXPIRE … NX|XX|GT|LT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireCond {
    Always,
    Nx,
    Xx,
    Gt,
    Lt,
}

/// A TTL change for `GETEX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlChange {
    Persist,
    /// Unix milliseconds; in the past deletes the key.
    At(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    Missing,
    Persistent,
    Ms(u64),
}

fn type_name(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Bytes(_) => "string",
        ValueRef::Set(_) => "set",
        ValueRef::Hash(_) => "hash",
        ValueRef::List(_) => "list",
        ValueRef::SortedSet(_) => "zset",
    }
}

type Members = BTreeSet<Vec<u8>>;

/// Bytes a key's put or edit costs in a commit frame (upper bound): the
/// key, the payload and a record's framing.
fn staging_cost(key: &[u8], payload: usize) -> usize {
    key.len() + payload + 32
}

/// [`staging_cost`] of a put of `e`.
fn put_cost(key: &[u8], e: &Entry) -> usize {
    staging_cost(key, e.payload_len())
}

/// What `INFO keyspace` shows of one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCounts {
    pub keys: usize,
    pub expires: usize,
    pub avg_ttl_ms: u64,
}

/// What a transaction did to one key.
enum Staged {
    /// The whole value was set (`Some`) or the key removed (`None`).
    Replaced(Option<Entry>),
    /// Edits on top of the committed entry (live, and of the edits' type
    /// when they were made). `view` is that entry with the edits applied,
    /// made only when a later read in the same transaction needs it — a
    /// single command on a large collection never copies it.
    Edited {
        edits: Vec<Edit>,
        view: OnceCell<Option<Entry>>,
        /// Upper bound of the value's payload after the edits.
        payload: usize,
    },
}

use overlay::Overlay;

/// One command's (or one `MULTI` block's) view of the keyspace.
///
/// Reads see the committed state overlaid with the transaction's own
/// writes. A write either replaces a key's value (`put`, `remove`) or
/// edits part of a collection ([`Txn::edit`]); [`Txn::into_changes`] logs
/// replacements as whole values and edits as [`Mutation::Edit`] records,
/// so `LPUSH` on a list of a million items logs one item.
///
/// Databases: `SELECT` changes the logical database; `SWAPDB` changes which
/// stored database (namespace) a logical one reads, and is logged after
/// every other change of the transaction, which all name stored databases.
pub struct Txn<'a> {
    state: &'a State,
    now: u64,
    /// The logical database commands use (`SELECT`).
    db: usize,
    /// Logical database → stored database, as `SWAPDB`s left it.
    stored: [usize; DATABASES],
    /// The overlays of the stored databases written so far, each made on
    /// the first write to it (most transactions write one database, many
    /// none: an empty vector costs nothing to make).
    overlays: Vec<(usize, Overlay)>,
    /// Stored databases flushed in this transaction.
    cleared: [bool; DATABASES],
    swaps: Vec<(usize, usize)>,
    bytes: usize,
    pub hits: u64,
    pub misses: u64,
    /// Writes staged so far (keyspace notifications: whether a command
    /// changed anything).
    pub writes: u64,
}

/// What a transaction wrote, ready for [`Keyspace::commit`].
#[derive(Debug, Default)]
pub struct Changes {
    mutations: Vec<Mutation>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.mutations.is_empty()
    }

    /// Keys written or deleted (for statistics).
    pub fn len(&self) -> usize {
        self.mutations.len()
    }

    /// The records, in commit order.
    pub fn mutations(&self) -> &[Mutation] {
        &self.mutations
    }
}

/// The stored namespace of stored database `db` (always one: `db` < 16).
fn space(db: usize) -> Namespace {
    Namespace::keyspace(db).unwrap_or(Namespace::Keyspace)
}

/// What [`edit_staged`] did.
enum Applied {
    /// The staged entry or view now holds the edit.
    InPlace,
    /// The key is missing as the transaction sees it: the edit makes a new
    /// value (or, for a removal, changes nothing).
    OnMissing(Edit),
}

/// Applies `edit` to a key already staged in the transaction (its
/// committed entry is `base`), in place; refuses, changing nothing, an
/// edit that could take the value past [`MAX_VALUE_LEN`].
fn edit_staged(
    staged: &mut Staged,
    base: Option<EntryRef<'_>>,
    edit: Edit,
    now: u64,
) -> KsResult<Applied> {
    let growth = edit.payload_len();
    match staged {
        Staged::Replaced(Some(entry)) if entry.is_live(now) => {
            if entry.payload_len().saturating_add(growth) > MAX_VALUE_LEN {
                return Err(KsError::ValueTooLarge);
            }
            entry.apply_edit(&edit);
            if entry.value.is_empty_collection() {
                *staged = Staged::Replaced(None);
            }
            Ok(Applied::InPlace)
        }
        Staged::Replaced(_) => Ok(Applied::OnMissing(edit)),
        Staged::Edited {
            edits,
            view,
            payload,
        } => {
            if payload.saturating_add(growth) > MAX_VALUE_LEN {
                return Err(KsError::ValueTooLarge);
            }
            if view.get().is_none() {
                let _ = view.set(materialize(base, edits));
            }
            let Some(Some(entry)) = view
                .get_mut()
                .filter(|e| e.as_ref().is_some_and(|e| e.is_live(now)))
            else {
                return Ok(Applied::OnMissing(edit));
            };
            entry.apply_edit(&edit);
            if entry.value.is_empty_collection() {
                *view = OnceCell::from(None);
            }
            *payload = payload.saturating_add(growth);
            edits.push(edit);
            Ok(Applied::InPlace)
        }
    }
}

/// The committed entry with the edits applied (`None` once emptied).
fn materialize(base: Option<EntryRef<'_>>, edits: &[Edit]) -> Option<Entry> {
    let mut entry = base?.to_entry();
    for e in edits {
        entry.apply_edit(e);
    }
    (!entry.value.is_empty_collection()).then_some(entry)
}

impl<'a> Txn<'a> {
    pub fn new(state: &'a State, now_ms: u64) -> Self {
        Self {
            state,
            now: now_ms,
            db: 0,
            stored: std::array::from_fn(|i| i),
            overlays: Vec::new(),
            cleared: [false; DATABASES],
            swaps: Vec::new(),
            bytes: 0,
            hits: 0,
            misses: 0,
            writes: 0,
        }
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    /// Makes `db` (0..16) the database later commands use; false past 15.
    pub fn select(&mut self, db: usize) -> bool {
        if db >= DATABASES {
            return false;
        }
        self.db = db;
        true
    }

    /// The logical database commands use.
    pub fn db(&self) -> usize {
        self.db
    }

    /// The stored database behind logical database `db`.
    fn stored_db(&self, db: usize) -> usize {
        self.stored.get(db).copied().unwrap_or(0)
    }

    fn overlay(&self, stored: usize) -> Option<&Overlay> {
        self.overlays
            .iter()
            .find(|(db, _)| *db == stored)
            .map(|(_, o)| o)
    }

    /// The overlay of stored database `stored`, made if missing.
    fn overlay_or_new(&mut self, stored: usize) -> &mut Overlay {
        if self.overlay(stored).is_none() {
            self.overlays.push((stored, Overlay::new()));
        }
        let made = self
            .overlays
            .iter_mut()
            .find(|(db, _)| *db == stored)
            .map(|(_, o)| o);
        // Found: pushed just above when missing.
        made.unwrap_or_else(|| unreachable!("the overlay of {stored} was just made"))
    }

    /// The committed entry of `key` in stored database `stored`, unless
    /// this transaction flushed it.
    fn committed(&self, stored: usize, key: &[u8]) -> Option<EntryRef<'a>> {
        if self.cleared.get(stored).copied().unwrap_or(false) {
            return None;
        }
        self.state.get(space(stored), key, self.now)
    }

    /// `key` in logical database `db` as this transaction sees it.
    fn lookup_in(&self, db: usize, key: &[u8]) -> Option<EntryRef<'_>> {
        let stored = self.stored_db(db);
        match self.overlay(stored).and_then(|o| o.get(key)) {
            Some(Staged::Replaced(e)) => {
                e.as_ref().map(Entry::view).filter(|e| e.is_live(self.now))
            }
            Some(Staged::Edited { edits, view, .. }) => view
                .get_or_init(|| materialize(self.committed(stored, key), edits))
                .as_ref()
                .map(Entry::view)
                .filter(|e| e.is_live(self.now)),
            None => self.committed(stored, key),
        }
    }

    fn lookup(&self, key: &[u8]) -> Option<EntryRef<'_>> {
        self.lookup_in(self.db, key)
    }

    /// Stages `staged` for `key` in the current database, keeping the
    /// transaction under [`MAX_TXN_BYTES`].
    fn stage(&mut self, key: &[u8], staged: Staged, cost: usize) -> KsResult<()> {
        self.writes += 1;
        let stored = self.stored_db(self.db);
        let old = match self.overlay(stored).and_then(|o| o.get(key)) {
            Some(Staged::Replaced(Some(e))) => put_cost(key, e),
            Some(Staged::Replaced(None)) => key.len() + 16,
            Some(Staged::Edited { edits, .. }) => edits
                .iter()
                .map(|e| staging_cost(key, e.payload_len()))
                .sum(),
            None => 0,
        };
        let total = self.bytes.saturating_sub(old).saturating_add(cost);
        if total > MAX_TXN_BYTES {
            return Err(KsError::TxnTooLarge);
        }
        self.bytes = total;
        self.overlay_or_new(stored).insert(key.to_vec(), staged);
        Ok(())
    }

    fn put(&mut self, key: &[u8], value: Value, expires_at_ms: u64) -> KsResult<()> {
        let entry = Entry::new(value, expires_at_ms);
        if entry.payload_len() > MAX_VALUE_LEN {
            return Err(KsError::ValueTooLarge);
        }
        let cost = put_cost(key, &entry);
        self.stage(key, Staged::Replaced(Some(entry)), cost)
    }

    fn remove(&mut self, key: &[u8]) {
        // Removing never grows a transaction past its limit by more than a
        // key's worth, and must always be possible.
        let cost = key.len() + 16;
        if self.stage(key, Staged::Replaced(None), cost).is_err() {
            let stored = self.stored_db(self.db);
            self.overlay_or_new(stored)
                .insert(key.to_vec(), Staged::Replaced(None));
        }
    }

    /// Changes part of the collection under `key` (created empty when the
    /// key is missing and the edit adds), or its expiry. The edit must be
    /// of the type the key holds (`WRONGTYPE` otherwise); a collection it
    /// empties is removed. Logged as the edit itself when the key's value
    /// is the committed one, as the whole value otherwise.
    pub(crate) fn edit(&mut self, key: &[u8], edit: Edit) -> KsResult<()> {
        if self.lookup(key).is_some_and(|e| !edit.fits(e.value)) {
            return Err(KsError::WrongType);
        }
        let cost = staging_cost(key, edit.payload_len());
        if self.bytes.saturating_add(cost) > MAX_TXN_BYTES {
            return Err(KsError::TxnTooLarge);
        }
        self.writes += 1;
        let stored = self.stored_db(self.db);
        let base = self.committed(stored, key);
        let staged = self
            .overlays
            .iter_mut()
            .find(|(db, _)| *db == stored)
            .and_then(|(_, o)| o.get_mut(key));
        // Every check comes before any change, so a refused edit leaves
        // what the transaction staged before it as it was.
        let applied = match staged {
            None => {
                let Some(base) = base else {
                    return self.edit_fresh(key, edit);
                };
                let payload = base.payload_len().saturating_add(edit.payload_len());
                if payload > MAX_VALUE_LEN {
                    return Err(KsError::ValueTooLarge);
                }
                let edits = vec![edit];
                let view = OnceCell::new();
                let staged = Staged::Edited {
                    edits,
                    view,
                    payload,
                };
                return self.stage(key, staged, cost);
            }
            Some(staged) => edit_staged(staged, base, edit, self.now)?,
        };
        match applied {
            Applied::InPlace => {
                self.bytes = self.bytes.saturating_add(cost);
                Ok(())
            }
            Applied::OnMissing(edit) => self.edit_fresh(key, edit),
        }
    }

    /// An edit of a key this transaction sees as missing: a new value.
    fn edit_fresh(&mut self, key: &[u8], edit: Edit) -> KsResult<()> {
        let Some(value) = edit.empty_target() else {
            self.remove(key);
            return Ok(());
        };
        let mut entry = Entry::new(value, 0);
        entry.apply_edit(&edit);
        self.restage(key, entry)
    }

    /// Stages a whole entry (removed when it is an empty collection).
    fn restage(&mut self, key: &[u8], entry: Entry) -> KsResult<()> {
        if entry.value.is_empty_collection() {
            self.remove(key);
            return Ok(());
        }
        let expires = entry.expires_at_ms;
        self.put(key, entry.value, expires)
    }

    /// Sets the expiry of an existing key without rewriting its value.
    fn set_expiry(&mut self, key: &[u8], at_ms: u64) -> KsResult<()> {
        self.edit(key, Edit::Expire(at_ms))
    }

    /// The overlay as one batch of mutations: flushes first, then every
    /// staged key, then `SWAPDB`s.
    pub fn into_changes(self) -> Changes {
        // Most transactions only read: nothing to walk.
        if self.swaps.is_empty() && !self.cleared.contains(&true) && self.overlays.is_empty() {
            return Changes::default();
        }
        let mut mutations = Vec::new();
        for (stored, cleared) in self.cleared.iter().enumerate() {
            if *cleared {
                mutations.push(Mutation::Clear { ns: space(stored) });
            }
        }
        let mut overlays = self.overlays;
        overlays.sort_unstable_by_key(|(db, _)| *db);
        for (stored, overlay) in overlays {
            let ns = space(stored);
            let cleared = self.cleared.get(stored).copied().unwrap_or(false);
            for (key, staged) in overlay {
                match staged {
                    Staged::Replaced(Some(e)) => mutations.push(Mutation::Put {
                        ns,
                        key,
                        value: e.value,
                        expires_at_ms: e.expires_at_ms,
                    }),
                    Staged::Replaced(None) => {
                        if !cleared && self.state.get(ns, &key, self.now).is_some() {
                            mutations.push(Mutation::Delete { ns, key });
                        }
                    }
                    Staged::Edited { edits, .. } => {
                        for edit in edits {
                            mutations.push(Mutation::Edit {
                                ns,
                                key: key.clone(),
                                edit,
                            });
                        }
                    }
                }
            }
        }
        for (a, b) in self.swaps {
            mutations.push(Mutation::Swap {
                a: space(a),
                b: space(b),
            });
        }
        Changes { mutations }
    }

    fn string(&self, key: &[u8]) -> KsResult<Option<&[u8]>> {
        match self.lookup(key) {
            None => Ok(None),
            Some(EntryRef {
                value: ValueRef::Bytes(b),
                ..
            }) => Ok(Some(b)),
            Some(_) => Err(KsError::WrongType),
        }
    }

    fn set_value(&self, key: &[u8]) -> KsResult<Option<(&Members, u64)>> {
        match self.lookup(key) {
            None => Ok(None),
            Some(
                e @ EntryRef {
                    value: ValueRef::Set(s),
                    ..
                },
            ) => Ok(Some((s, e.expires_at_ms))),
            Some(_) => Err(KsError::WrongType),
        }
    }

    fn hash_value(&self, key: &[u8]) -> KsResult<Option<(HashRef<'_>, u64)>> {
        match self.lookup(key) {
            None => Ok(None),
            Some(
                e @ EntryRef {
                    value: ValueRef::Hash(h),
                    ..
                },
            ) => Ok(Some((h, e.expires_at_ms))),
            Some(_) => Err(KsError::WrongType),
        }
    }

    fn count(&mut self, found: bool) {
        if found {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
    }

    /// `GET`
    pub fn get(&mut self, key: &[u8]) -> KsResult<Option<Vec<u8>>> {
        let mut v = Vec::new();
        Ok(self.get_into(key, &mut v)?.then_some(v))
    }

    /// [`Txn::get`] into `out` (cleared first): whether the key holds a
    /// string.
    pub fn get_into(&mut self, key: &[u8], out: &mut Vec<u8>) -> KsResult<bool> {
        check_key(key)?;
        out.clear();
        let found = match self.string(key)? {
            Some(v) => {
                out.extend_from_slice(v);
                true
            }
            None => false,
        };
        self.count(found);
        Ok(found)
    }

    /// `MGET`'s element: a non-string is a miss, not an error.
    pub fn get_or_nil(&mut self, key: &[u8]) -> KsResult<Option<Vec<u8>>> {
        check_key(key)?;
        let v = self.string(key).ok().flatten().map(<[u8]>::to_vec);
        self.count(v.is_some());
        Ok(v)
    }

    /// `SET` with every option.
    pub fn set(&mut self, key: &[u8], value: Vec<u8>, opts: SetOptions) -> KsResult<SetOutcome> {
        check_key(key)?;
        // Only a condition, KEEPTTL or GET reads what the key held: a
        // plain SET overwrites without looking (a hash probe saved).
        let reads_old = opts.get
            || !matches!(opts.cond, Condition::Always)
            || matches!(opts.expiry, SetExpiry::Keep);
        let existing = if reads_old { self.lookup(key) } else { None };
        let exists = existing.is_some();
        let old_expiry = existing.map_or(0, |e| e.expires_at_ms);
        let old = if opts.get {
            self.string(key)?.map(<[u8]>::to_vec)
        } else {
            None
        };
        let allowed = match opts.cond {
            Condition::Always => true,
            Condition::IfMissing => !exists,
            Condition::IfExists => exists,
        };
        if !allowed {
            return Ok(SetOutcome {
                written: false,
                old,
            });
        }
        let expires = match opts.expiry {
            SetExpiry::Clear => 0,
            SetExpiry::Keep => old_expiry,
            SetExpiry::At(at) if at <= self.now => {
                self.remove(key);
                return Ok(SetOutcome { written: true, old });
            }
            SetExpiry::At(at) => at,
        };
        self.put(key, Value::Bytes(value), expires)?;
        Ok(SetOutcome { written: true, old })
    }

    /// `GETDEL`
    pub fn getdel(&mut self, key: &[u8]) -> KsResult<Option<Vec<u8>>> {
        check_key(key)?;
        let v = self.string(key)?.map(<[u8]>::to_vec);
        self.count(v.is_some());
        if v.is_some() {
            self.remove(key);
        }
        Ok(v)
    }

    /// `GETEX`
    pub fn getex(&mut self, key: &[u8], change: Option<TtlChange>) -> KsResult<Option<Vec<u8>>> {
        check_key(key)?;
        let Some(v) = self.string(key)?.map(<[u8]>::to_vec) else {
            self.count(false);
            return Ok(None);
        };
        self.count(true);
        match change {
            None => {}
            Some(TtlChange::Persist) if self.lookup(key).is_some_and(|e| e.expires_at_ms != 0) => {
                self.set_expiry(key, 0)?;
            }
            Some(TtlChange::Persist) => {}
            Some(TtlChange::At(at)) => match u64::try_from(at) {
                Ok(at) if at > self.now => self.set_expiry(key, at)?,
                _ => self.remove(key),
            },
        }
        Ok(Some(v))
    }

    /// `DEL`/`UNLINK` of one key: whether it existed.
    pub fn del(&mut self, key: &[u8]) -> KsResult<bool> {
        check_key(key)?;
        let existed = self.lookup(key).is_some();
        if existed {
            self.remove(key);
        }
        Ok(existed)
    }

    pub fn exists(&mut self, key: &[u8]) -> KsResult<bool> {
        check_key(key)?;
        Ok(self.lookup(key).is_some())
    }

    /// `EXPIRE`-family: `when_ms` is the absolute target (≤ now deletes).
    pub fn expire(&mut self, key: &[u8], when_ms: i64, cond: ExpireCond) -> KsResult<bool> {
        check_key(key)?;
        let Some(e) = self.lookup(key) else {
            return Ok(false);
        };
        let current = e.expires_at_ms;
        let when = when_ms.max(0) as u64;
        let allowed = match cond {
            ExpireCond::Always => true,
            ExpireCond::Nx => current == 0,
            ExpireCond::Xx => current != 0,
            ExpireCond::Gt => current != 0 && when > current,
            ExpireCond::Lt => current == 0 || when < current,
        };
        if !allowed {
            return Ok(false);
        }
        if when <= self.now {
            self.remove(key);
            return Ok(true);
        }
        self.set_expiry(key, when)?;
        Ok(true)
    }

    /// `PERSIST`
    pub fn persist(&mut self, key: &[u8]) -> KsResult<bool> {
        check_key(key)?;
        match self.lookup(key) {
            Some(e) if e.expires_at_ms != 0 => {
                self.set_expiry(key, 0)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// `TTL`/`PTTL`
    pub fn ttl(&mut self, key: &[u8]) -> KsResult<Ttl> {
        check_key(key)?;
        Ok(match self.lookup(key) {
            None => Ttl::Missing,
            Some(e) if e.expires_at_ms == 0 => Ttl::Persistent,
            Some(e) => Ttl::Ms(e.expires_at_ms.saturating_sub(self.now)),
        })
    }

    /// `TYPE`
    pub fn type_of(&mut self, key: &[u8]) -> KsResult<&'static str> {
        check_key(key)?;
        Ok(self.lookup(key).map_or("none", |e| type_name(e.value)))
    }

    /// Every live key of logical database `db`, overlay included
    /// (unordered).
    fn for_each_key_in(&self, db: usize, mut f: impl FnMut(&[u8], EntryRef<'_>)) {
        let stored = self.stored_db(db);
        let overlay = self.overlay(stored);
        if !self.cleared.get(stored).copied().unwrap_or(false) {
            for (k, e) in self.state.iter(space(stored), self.now) {
                if !overlay.is_some_and(|o| o.contains_key(k)) {
                    f(k, e);
                }
            }
        }
        for k in overlay.into_iter().flat_map(|o| o.keys()) {
            if let Some(e) = self.lookup_in(db, k) {
                f(k, e);
            }
        }
    }

    fn for_each_key(&self, f: impl FnMut(&[u8], EntryRef<'_>)) {
        self.for_each_key_in(self.db, f);
    }

    /// Every live key of logical database `db` with its entry as this
    /// transaction sees it, in key order (for property tests: after the
    /// commit, the store must hold exactly this).
    pub fn visible_entries(&self, db: usize) -> Vec<(Vec<u8>, Entry)> {
        let mut out = Vec::new();
        self.for_each_key_in(db, |k, e| out.push((k.to_vec(), e.to_entry())));
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Whether `key` exists in logical database `db`.
    pub fn exists_in(&self, db: usize, key: &[u8]) -> bool {
        self.lookup_in(db, key).is_some()
    }

    /// `KEYS pattern`
    pub fn keys(&self, pattern: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let all = pattern == b"*";
        self.for_each_key(|k, _| {
            if all || glob_match(pattern, k) {
                out.push(k.to_vec());
            }
        });
        out
    }

    /// `DBSIZE`
    pub fn dbsize(&self) -> usize {
        let stored = self.stored_db(self.db);
        if self.overlay(stored).is_none_or(Overlay::is_empty)
            && !self.cleared.get(stored).copied().unwrap_or(false)
        {
            return self.state.count_live(space(stored), self.now);
        }
        let mut n = 0;
        self.for_each_key(|_, _| n += 1);
        n
    }

    /// Live keys of logical database `db`, how many of them have a TTL
    /// and their mean remaining time to live (`INFO keyspace`).
    pub fn key_counts(&self, db: usize) -> KeyCounts {
        let (mut keys, mut expires, mut ttl_sum) = (0usize, 0usize, 0u128);
        self.for_each_key_in(db, |_, e| {
            keys += 1;
            if e.expires_at_ms != 0 {
                expires += 1;
                ttl_sum += u128::from(e.expires_at_ms.saturating_sub(self.now));
            }
        });
        let avg_ttl_ms = ttl_sum
            .checked_div(expires as u128)
            .map_or(0, |avg| u64::try_from(avg).unwrap_or(u64::MAX));
        KeyCounts {
            keys,
            expires,
            avg_ttl_ms,
        }
    }

    /// `INCRBY` (and `INCR`, `DECR`, `DECRBY`); keeps the TTL.
    pub fn incr_by(&mut self, key: &[u8], delta: i64) -> KsResult<i64> {
        check_key(key)?;
        let expires = self.lookup(key).map_or(0, |e| e.expires_at_ms);
        let current = match self.string(key)? {
            None => 0,
            Some(b) => parse_i64(b).ok_or(KsError::NotInteger)?,
        };
        let next = current.checked_add(delta).ok_or(KsError::Overflow)?;
        self.put(key, Value::Bytes(next.to_string().into_bytes()), expires)?;
        Ok(next)
    }

    /// `APPEND`: the new length; keeps the TTL.
    pub fn append(&mut self, key: &[u8], suffix: &[u8]) -> KsResult<usize> {
        check_key(key)?;
        let expires = self.lookup(key).map_or(0, |e| e.expires_at_ms);
        let current = self.string(key)?.map_or(0, <[u8]>::len);
        if current.saturating_add(suffix.len()) > MAX_VALUE_LEN {
            return Err(KsError::ValueTooLarge);
        }
        let mut value = self.string(key)?.map(<[u8]>::to_vec).unwrap_or_default();
        value.extend_from_slice(suffix);
        let len = value.len();
        self.put(key, Value::Bytes(value), expires)?;
        Ok(len)
    }

    /// `STRLEN`: 0 for a missing key.
    pub fn strlen(&mut self, key: &[u8]) -> KsResult<usize> {
        check_key(key)?;
        Ok(self.string(key)?.map_or(0, <[u8]>::len))
    }

    /// `GETRANGE`: bytes `start..=end`, negative counting from the end,
    /// clamped as Redis clamps them; empty for a missing key.
    pub fn getrange(&mut self, key: &[u8], start: i64, end: i64) -> KsResult<Vec<u8>> {
        check_key(key)?;
        let Some(value) = self.string(key)? else {
            return Ok(Vec::new());
        };
        if start < 0 && end < 0 && start > end {
            return Ok(Vec::new());
        }
        let len = i64::try_from(value.len()).unwrap_or(i64::MAX);
        let from_end = |i: i64| {
            if i < 0 {
                len.saturating_add(i).max(0)
            } else {
                i
            }
        };
        let (start, end) = (from_end(start), from_end(end).min(len - 1));
        if start > end || len == 0 {
            return Ok(Vec::new());
        }
        let (start, end) = (
            usize::try_from(start).unwrap_or(0),
            usize::try_from(end).unwrap_or(0),
        );
        Ok(value
            .get(start..=end)
            .map(<[u8]>::to_vec)
            .unwrap_or_default())
    }

    /// `RENAME` (`only_if_missing` false) and `RENAMENX`: moves the value
    /// and its TTL from `from` to `to`; whether it moved.
    pub fn rename(&mut self, from: &[u8], to: &[u8], only_if_missing: bool) -> KsResult<bool> {
        check_key(from)?;
        check_key(to)?;
        let Some(entry) = self.lookup(from).map(|e| e.to_entry()) else {
            return Err(KsError::NoSuchKey);
        };
        if from == to {
            return Ok(!only_if_missing);
        }
        if only_if_missing && self.lookup(to).is_some() {
            return Ok(false);
        }
        self.put(to, entry.value, entry.expires_at_ms)?;
        self.remove(from);
        Ok(true)
    }

    /// `SADD`: members added (logged as just those members).
    pub fn sadd(&mut self, key: &[u8], members: &[Vec<u8>]) -> KsResult<i64> {
        check_key(key)?;
        let current = self.set_value(key)?.map(|(s, _)| s);
        // Only the members not there yet are copied (a repeated SADD is a
        // read).
        let fresh: Members = members
            .iter()
            .filter(|m| !current.is_some_and(|s| s.contains(*m)))
            .cloned()
            .collect();
        let added = fresh.len();
        if added > 0 {
            self.edit(key, Edit::SetAdd(fresh.into_iter().collect()))?;
        }
        Ok(i64::try_from(added).unwrap_or(i64::MAX))
    }

    /// `SREM`: members removed; an emptied set is deleted.
    pub fn srem(&mut self, key: &[u8], members: &[Vec<u8>]) -> KsResult<i64> {
        check_key(key)?;
        let Some((set, _)) = self.set_value(key)? else {
            return Ok(0);
        };
        let gone: Members = members
            .iter()
            .filter(|m| set.contains(*m))
            .cloned()
            .collect();
        let emptied = gone.len() == set.len();
        let removed = gone.len();
        if emptied {
            self.remove(key);
        } else if removed > 0 {
            self.edit(key, Edit::SetRemove(gone.into_iter().collect()))?;
        }
        Ok(i64::try_from(removed).unwrap_or(i64::MAX))
    }

    pub fn smembers(&mut self, key: &[u8]) -> KsResult<Vec<Vec<u8>>> {
        check_key(key)?;
        Ok(self
            .set_value(key)?
            .map(|(s, _)| s.iter().cloned().collect())
            .unwrap_or_default())
    }

    pub fn sismember(&mut self, key: &[u8], member: &[u8]) -> KsResult<bool> {
        check_key(key)?;
        Ok(self
            .set_value(key)?
            .is_some_and(|(s, _)| s.contains(member)))
    }

    pub fn scard(&mut self, key: &[u8]) -> KsResult<usize> {
        check_key(key)?;
        Ok(self.set_value(key)?.map_or(0, |(s, _)| s.len()))
    }

    /// `HSET`: fields created (updated ones do not count).
    pub fn hset(&mut self, key: &[u8], pairs: Vec<(Vec<u8>, Vec<u8>)>) -> KsResult<i64> {
        check_key(key)?;
        let current = self.hash_value(key)?.map(|(h, _)| h);
        let created: BTreeSet<&Vec<u8>> = pairs
            .iter()
            .map(|(f, _)| f)
            .filter(|f| !current.is_some_and(|h| h.contains_key(f)))
            .collect();
        let created = created.len();
        self.edit(key, Edit::HashPut(pairs))?;
        Ok(i64::try_from(created).unwrap_or(i64::MAX))
    }

    pub fn hget(&mut self, key: &[u8], field: &[u8]) -> KsResult<Option<Vec<u8>>> {
        check_key(key)?;
        let v = self
            .hash_value(key)?
            .and_then(|(h, _)| h.get(field).map(<[u8]>::to_vec));
        self.count(v.is_some());
        Ok(v)
    }

    pub fn hmget(&mut self, key: &[u8], fields: &[Vec<u8>]) -> KsResult<Vec<Option<Vec<u8>>>> {
        check_key(key)?;
        let h = self.hash_value(key)?.map(|(h, _)| h);
        Ok(fields
            .iter()
            .map(|f| h.and_then(|h| h.get(f).map(<[u8]>::to_vec)))
            .collect())
    }

    pub fn hgetall(&mut self, key: &[u8]) -> KsResult<Vec<(Vec<u8>, Vec<u8>)>> {
        check_key(key)?;
        Ok(self
            .hash_value(key)?
            .map(|(h, _)| h.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect())
            .unwrap_or_default())
    }

    /// `HDEL`: fields removed; an emptied hash is deleted.
    pub fn hdel(&mut self, key: &[u8], fields: &[Vec<u8>]) -> KsResult<i64> {
        check_key(key)?;
        let Some((hash, _)) = self.hash_value(key)? else {
            return Ok(0);
        };
        let gone: Members = fields
            .iter()
            .filter(|f| hash.contains_key(f))
            .cloned()
            .collect();
        let emptied = gone.len() == hash.len();
        let removed = gone.len();
        if emptied {
            self.remove(key);
        } else if removed > 0 {
            self.edit(key, Edit::HashRemove(gone.into_iter().collect()))?;
        }
        Ok(i64::try_from(removed).unwrap_or(i64::MAX))
    }

    pub fn hexists(&mut self, key: &[u8], field: &[u8]) -> KsResult<bool> {
        check_key(key)?;
        Ok(self
            .hash_value(key)?
            .is_some_and(|(h, _)| h.contains_key(field)))
    }

    pub fn hlen(&mut self, key: &[u8]) -> KsResult<usize> {
        check_key(key)?;
        Ok(self.hash_value(key)?.map_or(0, |(h, _)| h.len()))
    }

    /// `FLUSHDB`: every key of the current database goes (one `Clear`).
    pub fn flush(&mut self) {
        self.flush_stored(self.stored_db(self.db));
    }

    /// `FLUSHALL`: every database.
    pub fn flush_all(&mut self) {
        for stored in 0..DATABASES {
            self.flush_stored(stored);
        }
    }

    fn flush_stored(&mut self, stored: usize) {
        if let Some(c) = self.cleared.get_mut(stored) {
            self.overlays.retain(|(db, _)| *db != stored);
            *c = true;
            // What the dropped keys cost stays counted: an upper bound.
            self.bytes = self.bytes.saturating_add(16);
        }
    }

    /// Runs `f` with logical database `db` as the current one.
    fn in_db<T>(&mut self, db: usize, f: impl FnOnce(&mut Self) -> T) -> T {
        let here = std::mem::replace(&mut self.db, db.min(DATABASES - 1));
        let out = f(self);
        self.db = here;
        out
    }

    /// `MOVE key db`: whether the key moved (not when it is missing here
    /// or already exists there). `db` must be another database number.
    pub fn move_key(&mut self, key: &[u8], db: usize) -> KsResult<bool> {
        check_key(key)?;
        if db >= DATABASES {
            return Ok(false);
        }
        let Some(entry) = self.lookup(key).map(|e| e.to_entry()) else {
            return Ok(false);
        };
        if self.lookup_in(db, key).is_some() {
            return Ok(false);
        }
        self.in_db(db, |t| t.put(key, entry.value, entry.expires_at_ms))?;
        self.remove(key);
        Ok(true)
    }

    /// `SWAPDB a b`: false when either is not a database number.
    pub fn swap_databases(&mut self, a: usize, b: usize) -> bool {
        if a >= DATABASES || b >= DATABASES {
            return false;
        }
        if a != b {
            // Later reads of `a` see what `b` held; the log swaps the two
            // namespaces after every change staged against the old layout.
            self.stored.swap(a, b);
            self.swaps.push((a, b));
        }
        true
    }
}

/// `(cursor position, key)` of every key of one database.
type ScanIndex = BTreeSet<(u64, Vec<u8>)>;

/// What one `SCAN` call asks.
#[derive(Debug, Clone, Copy)]
pub struct ScanRequest<'p> {
    pub cursor: u64,
    pub count: usize,
    pub pattern: Option<&'p [u8]>,
    pub type_filter: Option<&'p [u8]>,
}

/// `SCAN`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPage {
    pub cursor: u64,
    pub keys: Vec<Vec<u8>>,
}

/// State of the keyspace that outlives one command: the `SCAN` index and
/// the save bookkeeping of `LASTSAVE`/`INFO persistence`.
pub struct Keyspace {
    hasher: RandomState,
    /// `(hash, key)` for every key in the keyspace (and perhaps some that
    /// have since expired: they are dropped when met). Built on the first
    /// `SCAN`, then kept up to date by [`Keyspace::commit`].
    /// One per database.
    index: [Option<ScanIndex>; DATABASES],
    pub last_save_unix: u64,
    pub changes_since_save: u64,
}

impl Default for Keyspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Keyspace {
    pub fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            index: Default::default(),
            last_save_unix: reddb_storage::database::now_ms() / 1000,
            changes_since_save: 0,
        }
    }

    /// The cursor position of `key`: 53 bits, never 0 (0 starts and ends
    /// an iteration), so every client can hold it exactly, even as a
    /// JavaScript number.
    fn position(&self, key: &[u8]) -> u64 {
        (self.hasher.hash_one(key) >> CURSOR_SHIFT).max(1)
    }

    /// Stages `changes` as one commit (durable after the loop's flush).
    pub fn commit(&mut self, svc: &mut Service, changes: Changes) -> ServiceResult<()> {
        if changes.mutations.is_empty() {
            return Ok(());
        }
        for m in &changes.mutations {
            match m {
                Mutation::Put { ns, key, .. } => {
                    if self.has_index(*ns) {
                        let pos = self.position(key);
                        if let Some(index) = self.index_of(*ns) {
                            index.insert((pos, key.clone()));
                        }
                    }
                }
                Mutation::Delete { ns, key } => {
                    if self.has_index(*ns) {
                        let pos = self.position(key);
                        if let Some(index) = self.index_of(*ns) {
                            index.remove(&(pos, key.clone()));
                        }
                    }
                }
                Mutation::Clear { ns } => {
                    if let Some(index) = self.index_of(*ns) {
                        index.clear();
                    }
                }
                // An edit never adds a key; one that empties a collection
                // leaves a stale index entry, dropped when met.
                Mutation::Edit { .. } => {}
                Mutation::Swap { a, b } => {
                    if let (Some(a), Some(b)) = (a.keyspace_db(), b.keyspace_db()) {
                        if a < DATABASES && b < DATABASES {
                            self.index.swap(a, b);
                        }
                    }
                }
            }
        }
        self.changes_since_save += changes.mutations.len() as u64;
        svc.commit(changes.mutations)
    }

    /// `SCAN cursor [MATCH p] [COUNT n] [TYPE t]`: examines about `count`
    /// keys from `cursor` on (all keys of one hash position together).
    pub fn scan(
        &mut self,
        state: &State,
        db: usize,
        now_ms: u64,
        request: ScanRequest<'_>,
    ) -> ScanPage {
        let ScanRequest {
            cursor,
            count,
            pattern,
            type_filter,
        } = request;
        let ns = space(db);
        if self.index.get(db).is_some_and(Option::is_none) {
            let mut index = BTreeSet::new();
            for (k, _) in state.iter(ns, now_ms) {
                index.insert((self.position(k), k.to_vec()));
            }
            if let Some(slot) = self.index.get_mut(db) {
                *slot = Some(index);
            }
        }
        let Some(index) = self.index.get_mut(db).and_then(Option::as_mut) else {
            return ScanPage {
                cursor: 0,
                keys: Vec::new(),
            };
        };
        let mut keys = Vec::new();
        let mut stale = Vec::new();
        let mut examined = 0usize;
        let mut last_pos = None;
        let mut next_cursor = 0;
        for (pos, key) in index.range((cursor, Vec::new())..) {
            if examined >= count.max(1) && last_pos != Some(*pos) {
                next_cursor = *pos;
                break;
            }
            last_pos = Some(*pos);
            let Some(e) = state.get(ns, key, now_ms) else {
                stale.push((*pos, key.clone()));
                continue;
            };
            examined += 1;
            if pattern.is_some_and(|p| !glob_match(p, key)) {
                continue;
            }
            if type_filter.is_some_and(|t| !t.eq_ignore_ascii_case(type_name(e.value).as_bytes())) {
                continue;
            }
            keys.push(key.clone());
        }
        for s in stale {
            index.remove(&s);
        }
        ScanPage {
            cursor: next_cursor,
            keys,
        }
    }

    /// Drops the `SCAN` indexes (each is rebuilt on its next `SCAN`).
    pub fn forget_index(&mut self) {
        self.index = Default::default();
    }

    /// Whether the `SCAN` index of a keyspace namespace is built (only then
    /// does a write hash its key for it).
    fn has_index(&self, ns: Namespace) -> bool {
        ns.keyspace_db()
            .and_then(|db| self.index.get(db))
            .is_some_and(Option::is_some)
    }

    /// The live `SCAN` index of a keyspace namespace, if built.
    fn index_of(&mut self, ns: Namespace) -> Option<&mut ScanIndex> {
        self.index.get_mut(ns.keyspace_db()?)?.as_mut()
    }
}

/// How a wire connection authenticated, kept to re-check it before every
/// command: a deleted or disabled user, a deleted API key, a changed
/// password (its stamp), an ended or expired session or a rotated admin
/// token stops being accepted at the connection's next command. Holds only
/// digests and names, never a token.
///
/// The check is cheap on the common path: a ticket remembers the service's
/// [`Service::auth_generation`] at its last full check and its own expiry;
/// while neither moved, nothing that could end it happened.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket {
    kind: TicketKind,
    /// Unix ms after which the credential is over (sessions); `u64::MAX`.
    expires_at_ms: u64,
    generation: u64,
}

#[derive(Clone, PartialEq, Eq)]
enum TicketKind {
    AdminToken([u8; 32]),
    ApiKey(String),
    Session { token_hash: String },
    User { name: String, stamp: String },
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ticket([redacted])")
    }
}

impl Service {
    /// The keyspace's committed state (fails while sealed).
    pub fn keyspace_state(&self) -> ServiceResult<&State> {
        Ok(self.open_db()?.store().state())
    }

    /// `BGSAVE`: starts an incremental checkpoint (the event loop runs its
    /// steps); false when one is already running.
    pub fn keyspace_background_save(&mut self) -> ServiceResult<bool> {
        self.open_db_mut()?
            .begin_checkpoint()
            .map_err(ServiceError::from)
    }

    /// Whether a `BGSAVE` (or an automatic compaction) is running.
    pub fn keyspace_saving(&self) -> bool {
        self.database()
            .is_some_and(|db| db.store().checkpoint_running())
    }

    /// `SAVE`: flushes pending commits and rewrites the log as a compact
    /// snapshot, in one go.
    pub fn keyspace_save(&mut self) -> ServiceResult<()> {
        let db = self.open_db_mut()?;
        db.store_mut()
            .compact(reddb_storage::database::now_ms())
            .map_err(ServiceError::from)
    }

    /// `AUTH <password>`: the password is an API key, a session token or
    /// the admin token.
    pub fn wire_authenticate(&self, token: &str) -> ServiceResult<(Principal, Ticket)> {
        let p = self.authenticate(Some(token))?;
        let mut expires_at_ms = u64::MAX;
        let kind = match &p.via {
            Via::AdminToken => TicketKind::AdminToken(super::sha256(token.as_bytes())),
            Via::ApiKey { .. } => TicketKind::ApiKey(accounts::hash_token(token)),
            Via::Session { token_hash } => {
                expires_at_ms = self.live_session(token_hash)?.1;
                TicketKind::Session {
                    token_hash: token_hash.clone(),
                }
            }
            Via::Password => return Err(ServiceError::unauthorized()),
        };
        Ok((
            p,
            Ticket {
                kind,
                expires_at_ms,
                generation: self.auth_generation(),
            },
        ))
    }

    /// `AUTH <user> <password>` after the worker verified the password.
    pub fn wire_user(&self, username: &str) -> ServiceResult<(Principal, Ticket)> {
        let user = self.active_user(username)?;
        let t = Ticket {
            kind: TicketKind::User {
                name: user.username.clone(),
                stamp: accounts::user_stamp(&user),
            },
            expires_at_ms: u64::MAX,
            generation: self.auth_generation(),
        };
        let p = Principal {
            name: user.username,
            role: user.role,
            via: Via::Password,
        };
        Ok((p, t))
    }

    /// Whether a connection's credentials still hold at `now_ms`. Checks in
    /// full only when something that could end a credential happened since
    /// the ticket's last check (see [`Ticket`]).
    pub fn ticket_valid(&self, ticket: &mut Ticket, now_ms: u64) -> bool {
        if now_ms >= ticket.expires_at_ms {
            return false;
        }
        if ticket.generation == self.auth_generation() {
            return true;
        }
        let live = match &ticket.kind {
            TicketKind::AdminToken(digest) => self
                .admin_token_hash
                .as_ref()
                .is_some_and(|h| bool::from(h.ct_eq(digest))),
            TicketKind::ApiKey(hash) => match self.api_keys.get(hash) {
                Some((_, owner)) => self.active_user(owner).is_ok(),
                None => false,
            },
            TicketKind::Session { token_hash } => self.live_session(token_hash).is_ok(),
            TicketKind::User { name, stamp } => self
                .active_user(name)
                .is_ok_and(|u| accounts::user_stamp(&u) == *stamp),
        };
        if live {
            ticket.generation = self.auth_generation();
        }
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(keys: &[(&str, Value, u64)]) -> State {
        let mut s = State::default();
        for (k, v, exp) in keys {
            s.apply(Mutation::Put {
                ns: Namespace::Keyspace,
                key: k.as_bytes().to_vec(),
                value: v.clone(),
                expires_at_ms: *exp,
            });
        }
        s
    }

    fn apply(state: &mut State, changes: Changes) {
        for m in changes.mutations {
            state.apply(m);
        }
    }

    #[test]
    fn glob() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "abc", true),
            ("a*", "abc", true),
            ("a*c", "abc", true),
            ("a*c", "abd", false),
            ("?b?", "abc", true),
            ("oauth:*:x", "oauth:a:b:x", true),
            ("[abc]x", "bx", true),
            ("[^abc]x", "bx", false),
            ("[a-c]x", "cx", true),
            ("[c-a]x", "bx", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("[\\]]", "]", true),
            ("h*llo*", "heeeellooo", true),
            (
                "*a*a*a*a*a*b",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                false,
            ),
            ("[abc", "b", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(glob_match(p.as_bytes(), s.as_bytes()), *want, "{p} ~ {s}");
        }
    }

    #[test]
    fn strings_and_ttl() {
        let mut state = State::default();
        let mut t = Txn::new(&state, 1_000);
        assert_eq!(t.get(b"k"), Ok(None));
        t.set(b"k", b"v".to_vec(), SetOptions::default()).unwrap();
        assert_eq!(t.get(b"k"), Ok(Some(b"v".to_vec())));
        let nx = SetOptions {
            cond: Condition::IfMissing,
            ..SetOptions::default()
        };
        assert!(!t.set(b"k", b"w".to_vec(), nx).unwrap().written);
        assert!(t.expire(b"k", 11_000, ExpireCond::Always).unwrap());
        assert_eq!(t.ttl(b"k"), Ok(Ttl::Ms(10_000)));
        assert_eq!(t.incr_by(b"k", 1), Err(KsError::NotInteger));
        assert_eq!(t.incr_by(b"n", 5), Ok(5));
        assert_eq!(t.incr_by(b"n", i64::MAX), Err(KsError::Overflow));
        assert_eq!(t.get(b"red.secret.x"), Err(KsError::SecretKey));
        let changes = t.into_changes();
        apply(&mut state, changes);
        let mut t = Txn::new(&state, 11_000);
        assert_eq!(t.get(b"k"), Ok(None), "expired");
        assert_eq!(t.get(b"n"), Ok(Some(b"5".to_vec())));
    }

    #[test]
    fn sets_hashes_and_types() {
        let state = state_with(&[("s", Value::Set(BTreeSet::new()), 0)]);
        let mut t = Txn::new(&state, 1);
        assert_eq!(t.get(b"s"), Err(KsError::WrongType));
        assert_eq!(t.sadd(b"s", &[b"a".to_vec(), b"a".to_vec()]), Ok(1));
        assert_eq!(t.srem(b"s", &[b"a".to_vec()]), Ok(1));
        assert_eq!(t.type_of(b"s"), Ok("none"));
        assert_eq!(t.hset(b"h", vec![(b"f".to_vec(), b"1".to_vec())]), Ok(1));
        assert_eq!(t.hget(b"h", b"f"), Ok(Some(b"1".to_vec())));
        assert_eq!(t.sadd(b"h", &[b"x".to_vec()]), Err(KsError::WrongType));
        assert_eq!(t.dbsize(), 1);
    }

    #[test]
    fn scan_returns_every_key_once() {
        let mut state = State::default();
        for i in 0..500 {
            state.apply(Mutation::Put {
                ns: Namespace::Keyspace,
                key: format!("k{i}").into_bytes(),
                value: Value::Bytes(vec![]),
                expires_at_ms: 0,
            });
        }
        let mut ks = Keyspace::new();
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        loop {
            let page = ks.scan(
                &state,
                0,
                1,
                ScanRequest {
                    cursor,
                    count: 7,
                    pattern: None,
                    type_filter: None,
                },
            );
            for k in page.keys {
                assert!(seen.insert(k), "returned twice");
            }
            cursor = page.cursor;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 500);
    }
}
