//! Codec of commit-log frames and the mutations inside them. Pure and total:
//! every length is checked against the bytes present and against fixed
//! limits before anything is allocated.
//!
//! ```text
//! frame    = kind u8 (1 commit, 2 snapshot) | commit_seq u64 | body_len u32 | body
//! body     = count u32 | mutation * count
//! mutation = 1 (put)    | ns u8 | key | expires_at_ms u64 | value
//!          | 2 (delete) | ns u8 | key
//!          | 3 (clear)  | ns u8
//!          | 4 (edit)   | ns u8 | key | edit        (see `edit.rs`)
//!          | 5 (swap)   | ns u8 | ns u8             (two keyspace databases)
//! key      = len u32 | bytes                       (len <= MAX_KEY_LEN)
//! value    = 1 (bytes) | len u32 | bytes
//!          | 2 (set)   | count u32 | (len u32 | bytes) * count
//!          | 3 (hash)  | count u32 | (len u32 | field | len u32 | value) * count
//!          | 4 (list)  | count u32 | (len u32 | bytes) * count      (head first)
//!          | 5 (sorted set) | count u32 | (score f64 bits u64 | len u32 | member) * count
//! ```
//!
//! A score is never NaN (a NaN refuses the frame). Namespaces are 1..=20:
//! vault, secrets, config, keyspace database 0, audit, then keyspace
//! databases 1..=15 as 6..=20.

use super::edit::{self, Edit};
use super::small_collection::{HashRef, ZSetRef};
use super::sorted_set::{Score, SortedSet};
use crate::codec::{Reader, Writer};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub const MAX_KEY_LEN: usize = 64 * 1024;
pub const MAX_VALUE_LEN: usize = 16 * 1024 * 1024;
pub(crate) const MAX_FRAME_BODY: usize = 64 * 1024 * 1024;
pub const FRAME_HEADER_LEN: usize = 1 + 8 + 4;

/// The separate key spaces of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Namespace {
    /// Users, API keys, sessions, policies: the auth state.
    Vault = 1,
    /// `red.secret.*` entries (values sealed again with `red.secret.aes_key`).
    Secrets = 2,
    /// `red.config.*` entries.
    Config = 3,
    /// The Redis-compatible keyspace.
    Keyspace = 4,
    /// Audit events.
    Audit = 5,
    /// Keyspace databases 1 to 15 (`SELECT n`); database 0 is `Keyspace`.
    Db1 = 6,
    Db2 = 7,
    Db3 = 8,
    Db4 = 9,
    Db5 = 10,
    Db6 = 11,
    Db7 = 12,
    Db8 = 13,
    Db9 = 14,
    Db10 = 15,
    Db11 = 16,
    Db12 = 17,
    Db13 = 18,
    Db14 = 19,
    Db15 = 20,
}

/// How many logical databases the keyspace has (`SELECT 0..15`).
pub const DATABASES: usize = 16;

impl Namespace {
    pub const ALL: [Namespace; 20] = [
        Namespace::Vault,
        Namespace::Secrets,
        Namespace::Config,
        Namespace::Keyspace,
        Namespace::Audit,
        Namespace::Db1,
        Namespace::Db2,
        Namespace::Db3,
        Namespace::Db4,
        Namespace::Db5,
        Namespace::Db6,
        Namespace::Db7,
        Namespace::Db8,
        Namespace::Db9,
        Namespace::Db10,
        Namespace::Db11,
        Namespace::Db12,
        Namespace::Db13,
        Namespace::Db14,
        Namespace::Db15,
    ];

    /// The keyspace databases, by number.
    pub const KEYSPACES: [Namespace; DATABASES] = [
        Namespace::Keyspace,
        Namespace::Db1,
        Namespace::Db2,
        Namespace::Db3,
        Namespace::Db4,
        Namespace::Db5,
        Namespace::Db6,
        Namespace::Db7,
        Namespace::Db8,
        Namespace::Db9,
        Namespace::Db10,
        Namespace::Db11,
        Namespace::Db12,
        Namespace::Db13,
        Namespace::Db14,
        Namespace::Db15,
    ];

    /// The namespace of keyspace database `db` (`None` past 15).
    pub fn keyspace(db: usize) -> Option<Self> {
        Self::KEYSPACES.get(db).copied()
    }

    /// Which keyspace database this is (`None` for the vault's spaces).
    pub fn keyspace_db(self) -> Option<usize> {
        Self::KEYSPACES.iter().position(|&ns| ns == self)
    }

    pub(crate) fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(usize::from(v).checked_sub(1)?).copied()
    }

    pub fn index(self) -> usize {
        self as usize - 1
    }
}

/// A stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bytes(Vec<u8>),
    Set(BTreeSet<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    /// Head first.
    List(VecDeque<Vec<u8>>),
    /// Boxed: the sorted set's two indexes would make every entry
    /// (a 100-byte string too) 80 bytes larger.
    SortedSet(Box<SortedSet>),
}

/// What one set member or list item costs in [`Value::payload_len`].
pub const ITEM_OVERHEAD: usize = 4;
/// What one hash field costs beyond its bytes.
pub const FIELD_OVERHEAD: usize = 8;
/// What one sorted-set member costs beyond its bytes.
pub const SCORED_OVERHEAD: usize = 12;

impl Value {
    /// Bytes of payload held (keys and values, not overhead), as the
    /// codec's decode budget counts them. O(items): [`super::Entry`] keeps
    /// it so edits do not walk the value.
    pub fn payload_len(&self) -> usize {
        self.view().payload_len()
    }

    /// Whether this is a collection with no element (Redis never keeps one).
    pub fn is_empty_collection(&self) -> bool {
        self.view().is_empty_collection()
    }

    /// The value as read in place ([`ValueRef`]).
    pub fn view(&self) -> ValueRef<'_> {
        match self {
            Value::Bytes(b) => ValueRef::Bytes(b),
            Value::Set(s) => ValueRef::Set(s),
            Value::Hash(h) => ValueRef::Hash(HashRef::Tree(h)),
            Value::List(l) => ValueRef::List(l),
            Value::SortedSet(z) => ValueRef::SortedSet(ZSetRef::Tree(z)),
        }
    }
}

/// A stored value read in place: what the state hands out. A string is
/// a slice of the cell it is packed in (see `state.rs`), a small hash or
/// sorted set a view of its packed form (`small_collection.rs`), any
/// other collection the stored collection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRef<'a> {
    Bytes(&'a [u8]),
    Set(&'a BTreeSet<Vec<u8>>),
    Hash(HashRef<'a>),
    List(&'a VecDeque<Vec<u8>>),
    SortedSet(ZSetRef<'a>),
}

impl ValueRef<'_> {
    /// A copy of the value.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Bytes(b) => Value::Bytes(b.to_vec()),
            ValueRef::Set(s) => Value::Set(s.clone()),
            ValueRef::Hash(h) => Value::Hash(h.to_tree()),
            ValueRef::List(l) => Value::List(l.clone()),
            ValueRef::SortedSet(z) => Value::SortedSet(Box::new(z.to_tree())),
        }
    }

    /// [`Value::payload_len`].
    pub fn payload_len(self) -> usize {
        match self {
            ValueRef::Bytes(b) => b.len(),
            ValueRef::Set(s) => s.iter().map(|m| m.len() + ITEM_OVERHEAD).sum(),
            ValueRef::Hash(h) => h
                .iter()
                .map(|(k, v)| k.len() + v.len() + FIELD_OVERHEAD)
                .sum(),
            ValueRef::List(l) => l.iter().map(|i| i.len() + ITEM_OVERHEAD).sum(),
            ValueRef::SortedSet(z) => z.iter().map(|(_, m)| m.len() + SCORED_OVERHEAD).sum(),
        }
    }

    /// [`Value::is_empty_collection`].
    pub fn is_empty_collection(self) -> bool {
        match self {
            ValueRef::Bytes(_) => false,
            ValueRef::Set(s) => s.is_empty(),
            ValueRef::Hash(h) => h.is_empty(),
            ValueRef::List(l) => l.is_empty(),
            ValueRef::SortedSet(z) => z.is_empty(),
        }
    }
}

/// One change to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    Put {
        ns: Namespace,
        key: Vec<u8>,
        value: Value,
        /// Unix milliseconds after which the entry is gone; 0 = never.
        expires_at_ms: u64,
    },
    Delete {
        ns: Namespace,
        key: Vec<u8>,
    },
    Clear {
        ns: Namespace,
    },
    /// A change to part of a stored collection (or its expiry), so a
    /// command on a large collection logs only what it changed.
    Edit {
        ns: Namespace,
        key: Vec<u8>,
        edit: Edit,
    },
    /// `SWAPDB`: two keyspace databases exchange their contents.
    Swap {
        a: Namespace,
        b: Namespace,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Commit = 1,
    Snapshot = 2,
    /// Starts an incremental checkpoint (empty body; see `checkpoint.rs`).
    CheckpointBegin = 3,
    /// Re-puts of live entries written by an incremental checkpoint.
    CheckpointEntries = 4,
    /// Ends an incremental checkpoint (empty body).
    CheckpointEnd = 5,
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub commit_seq: u64,
    pub mutations: Vec<Mutation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    UnknownFrameKind(u8),
    BodyTooLong,
    UnknownOp(u8),
    UnknownNamespace(u8),
    UnknownValueType(u8),
    KeyTooLong,
    ValueTooLong,
    /// A length or count points past the end of the body.
    Truncated,
    /// Bytes left over after `count` mutations.
    TrailingBytes,
    UnknownEdit(u8),
    /// A sorted-set score that is NaN.
    NotAScore,
    /// `Swap` of a namespace that is not a keyspace database.
    NotAKeyspace,
}

/// Checks a mutation against the limits before it is accepted.
pub fn validate(m: &Mutation) -> Result<(), RecordError> {
    match m {
        Mutation::Put { key, value, .. } => {
            if key.len() > MAX_KEY_LEN {
                return Err(RecordError::KeyTooLong);
            }
            if value.payload_len() > MAX_VALUE_LEN {
                return Err(RecordError::ValueTooLong);
            }
            Ok(())
        }
        Mutation::Delete { key, .. } if key.len() > MAX_KEY_LEN => Err(RecordError::KeyTooLong),
        Mutation::Edit { key, edit, .. } => {
            if key.len() > MAX_KEY_LEN {
                return Err(RecordError::KeyTooLong);
            }
            if edit.payload_len() > MAX_VALUE_LEN {
                return Err(RecordError::ValueTooLong);
            }
            Ok(())
        }
        Mutation::Swap { a, b } if a.keyspace_db().is_none() || b.keyspace_db().is_none() => {
            Err(RecordError::NotAKeyspace)
        }
        _ => Ok(()),
    }
}

/// Encodes a `Put` from borrowed parts (what [`encode_mutation`] writes
/// for [`Mutation::Put`]), so a checkpoint re-puts an entry without
/// copying its value.
pub(crate) fn encode_put(
    w: &mut Writer,
    ns: Namespace,
    key: &[u8],
    value: ValueRef<'_>,
    expires: u64,
) {
    w.u8(1).u8(ns as u8).bytes_u32(key).u64(expires);
    match value {
        ValueRef::Bytes(b) => {
            w.u8(1).bytes_u32(b);
        }
        ValueRef::Set(s) => {
            w.u8(2).u32(s.len() as u32);
            for member in s {
                w.bytes_u32(member);
            }
        }
        ValueRef::Hash(h) => {
            w.u8(3).u32(h.len() as u32);
            for (k, v) in h {
                w.bytes_u32(k).bytes_u32(v);
            }
        }
        ValueRef::List(l) => {
            w.u8(4).u32(l.len() as u32);
            for item in l {
                w.bytes_u32(item);
            }
        }
        ValueRef::SortedSet(z) => {
            w.u8(5).u32(z.len() as u32);
            for (score, member) in z.iter() {
                w.u64(score.to_bits()).bytes_u32(member);
            }
        }
    }
}

/// Writes a frame whose body (`count` mutations, already encoded) is
/// `body`.
pub(crate) fn encode_frame_of(
    out: &mut Vec<u8>,
    kind: FrameKind,
    commit_seq: u64,
    count: u32,
    body: &[u8],
) {
    let mut w = Writer::with_capacity(FRAME_HEADER_LEN + 4 + body.len());
    w.u8(kind as u8)
        .u64(commit_seq)
        .u32((body.len() + 4) as u32)
        .u32(count);
    out.extend_from_slice(w.as_slice());
    out.extend_from_slice(body);
}

fn encode_mutation(w: &mut Writer, m: &Mutation) {
    match m {
        Mutation::Put {
            ns,
            key,
            value,
            expires_at_ms,
        } => encode_put(w, *ns, key, value.view(), *expires_at_ms),
        Mutation::Edit { ns, key, edit } => {
            w.u8(4).u8(*ns as u8).bytes_u32(key);
            edit::encode(w, edit);
        }
        Mutation::Swap { a, b } => {
            w.u8(5).u8(*a as u8).u8(*b as u8);
        }
        Mutation::Delete { ns, key } => {
            w.u8(2).u8(*ns as u8).bytes_u32(key);
        }
        Mutation::Clear { ns } => {
            w.u8(3).u8(*ns as u8);
        }
    }
}

/// Appends the encoding of one frame to `out`. Mutations must have passed
/// [`validate`]; the body must stay under [`MAX_FRAME_BODY`] (callers split
/// snapshots into several frames).
pub fn encode_frame(out: &mut Vec<u8>, kind: FrameKind, commit_seq: u64, mutations: &[Mutation]) {
    // Encoded in place at the end of `out`: the header with a zero body
    // length, the body, then the body's length written over the zero (no
    // second buffer, no copy; `out` is usually a buffer kept between
    // commits).
    let mut w = Writer::from_vec(std::mem::take(out));
    w.u8(kind as u8).u64(commit_seq);
    let length_at = w.len();
    w.u32(0).u32(mutations.len() as u32);
    for m in mutations {
        encode_mutation(&mut w, m);
    }
    let mut bytes = w.into_vec();
    let body_len = bytes.len().saturating_sub(length_at + 4);
    if let Some(length) = bytes.get_mut(length_at..length_at + 4) {
        length.copy_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_be_bytes());
    }
    *out = bytes;
}

/// Encoded size of one mutation (for splitting snapshots).
pub fn encoded_len(m: &Mutation) -> usize {
    let mut w = Writer::new();
    encode_mutation(&mut w, m);
    w.len()
}

fn decode_key(r: &mut Reader<'_>) -> Result<Vec<u8>, RecordError> {
    let len = usize::try_from(r.u32().ok_or(RecordError::Truncated)?)
        .map_err(|_| RecordError::KeyTooLong)?;
    if len > MAX_KEY_LEN {
        return Err(RecordError::KeyTooLong);
    }
    Ok(r.take(len).ok_or(RecordError::Truncated)?.to_vec())
}

pub(super) fn decode_blob(r: &mut Reader<'_>, budget: &mut usize) -> Result<Vec<u8>, RecordError> {
    let len = usize::try_from(r.u32().ok_or(RecordError::Truncated)?)
        .map_err(|_| RecordError::ValueTooLong)?;
    if len > *budget {
        return Err(RecordError::ValueTooLong);
    }
    *budget -= len;
    Ok(r.take(len).ok_or(RecordError::Truncated)?.to_vec())
}

/// Decodes a value; the byte budget counts exactly what
/// [`Value::payload_len`] counts, so decode and [`validate`] agree.
fn decode_value(r: &mut Reader<'_>) -> Result<Value, RecordError> {
    let mut budget = MAX_VALUE_LEN;
    match r.u8().ok_or(RecordError::Truncated)? {
        1 => Ok(Value::Bytes(decode_blob(r, &mut budget)?)),
        2 => {
            let count = r.u32().ok_or(RecordError::Truncated)?;
            let mut set = BTreeSet::new();
            for _ in 0..count {
                budget = budget.checked_sub(4).ok_or(RecordError::ValueTooLong)?;
                set.insert(decode_blob(r, &mut budget)?);
            }
            Ok(Value::Set(set))
        }
        3 => {
            let count = r.u32().ok_or(RecordError::Truncated)?;
            let mut hash = BTreeMap::new();
            for _ in 0..count {
                budget = budget.checked_sub(8).ok_or(RecordError::ValueTooLong)?;
                let k = decode_blob(r, &mut budget)?;
                let v = decode_blob(r, &mut budget)?;
                hash.insert(k, v);
            }
            Ok(Value::Hash(hash))
        }
        4 => {
            let count = r.u32().ok_or(RecordError::Truncated)?;
            let mut list = VecDeque::new();
            for _ in 0..count {
                budget = budget
                    .checked_sub(ITEM_OVERHEAD)
                    .ok_or(RecordError::ValueTooLong)?;
                list.push_back(decode_blob(r, &mut budget)?);
            }
            Ok(Value::List(list))
        }
        5 => {
            let count = r.u32().ok_or(RecordError::Truncated)?;
            let mut z = SortedSet::new();
            for _ in 0..count {
                budget = budget
                    .checked_sub(SCORED_OVERHEAD)
                    .ok_or(RecordError::ValueTooLong)?;
                let score = decode_score(r)?;
                z.insert(decode_blob(r, &mut budget)?, score);
            }
            Ok(Value::SortedSet(Box::new(z)))
        }
        t => Err(RecordError::UnknownValueType(t)),
    }
}

/// A score's bits; NaN refuses.
pub(super) fn decode_score(r: &mut Reader<'_>) -> Result<Score, RecordError> {
    Score::from_bits(r.u64().ok_or(RecordError::Truncated)?).ok_or(RecordError::NotAScore)
}

fn decode_ns(r: &mut Reader<'_>) -> Result<Namespace, RecordError> {
    let v = r.u8().ok_or(RecordError::Truncated)?;
    Namespace::from_u8(v).ok_or(RecordError::UnknownNamespace(v))
}

fn decode_keyspace(r: &mut Reader<'_>) -> Result<Namespace, RecordError> {
    let ns = decode_ns(r)?;
    ns.keyspace_db()
        .map(|_| ns)
        .ok_or(RecordError::NotAKeyspace)
}

/// Decodes the body of a frame.
pub fn decode_body(body: &[u8]) -> Result<Vec<Mutation>, RecordError> {
    let mut r = Reader::new(body);
    let count = r.u32().ok_or(RecordError::Truncated)?;
    let mut out = Vec::new();
    for _ in 0..count {
        let m = match r.u8().ok_or(RecordError::Truncated)? {
            1 => {
                let ns = decode_ns(&mut r)?;
                let key = decode_key(&mut r)?;
                let expires_at_ms = r.u64().ok_or(RecordError::Truncated)?;
                let value = decode_value(&mut r)?;
                Mutation::Put {
                    ns,
                    key,
                    value,
                    expires_at_ms,
                }
            }
            2 => {
                let ns = decode_ns(&mut r)?;
                Mutation::Delete {
                    ns,
                    key: decode_key(&mut r)?,
                }
            }
            3 => Mutation::Clear {
                ns: decode_ns(&mut r)?,
            },
            4 => {
                let ns = decode_ns(&mut r)?;
                let key = decode_key(&mut r)?;
                Mutation::Edit {
                    ns,
                    key,
                    edit: edit::decode(&mut r)?,
                }
            }
            5 => Mutation::Swap {
                a: decode_keyspace(&mut r)?,
                b: decode_keyspace(&mut r)?,
            },
            op => return Err(RecordError::UnknownOp(op)),
        };
        out.push(m);
    }
    if !r.is_empty() {
        return Err(RecordError::TrailingBytes);
    }
    Ok(out)
}

/// Decodes the first frame of `stream`. `Ok(None)` means the frame is not
/// complete yet (more bytes needed); otherwise returns the frame and the
/// number of bytes it used.
pub fn decode_frame(stream: &[u8]) -> Result<Option<(Frame, usize)>, RecordError> {
    let mut r = Reader::new(stream);
    let Some(kind) = r.u8() else { return Ok(None) };
    let kind = match kind {
        1 => FrameKind::Commit,
        2 => FrameKind::Snapshot,
        3 => FrameKind::CheckpointBegin,
        4 => FrameKind::CheckpointEntries,
        5 => FrameKind::CheckpointEnd,
        k => return Err(RecordError::UnknownFrameKind(k)),
    };
    let (Some(commit_seq), Some(len)) = (r.u64(), r.u32()) else {
        return Ok(None);
    };
    let len = usize::try_from(len).map_err(|_| RecordError::BodyTooLong)?;
    if len > MAX_FRAME_BODY {
        return Err(RecordError::BodyTooLong);
    }
    let Some(body) = r.take(len) else {
        return Ok(None);
    };
    let mutations = decode_body(body)?;
    Ok(Some((
        Frame {
            kind,
            commit_seq,
            mutations,
        },
        FRAME_HEADER_LEN + len,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_ns() -> impl Strategy<Value = Namespace> {
        prop::sample::select(Namespace::ALL.to_vec())
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
            prop::collection::btree_set(prop::collection::vec(any::<u8>(), 0..8), 0..5)
                .prop_map(Value::Set),
            prop::collection::btree_map(
                prop::collection::vec(any::<u8>(), 0..8),
                prop::collection::vec(any::<u8>(), 0..8),
                0..5
            )
            .prop_map(Value::Hash),
            prop::collection::vec_deque(prop::collection::vec(any::<u8>(), 0..8), 0..5)
                .prop_map(Value::List),
            prop::collection::vec(
                (arb_score(), prop::collection::vec(any::<u8>(), 0..8)),
                0..5
            )
            .prop_map(|pairs| {
                let mut z = SortedSet::new();
                for (score, m) in pairs {
                    z.insert(m, score);
                }
                Value::SortedSet(Box::new(z))
            }),
        ]
    }

    fn arb_score() -> impl Strategy<Value = Score> {
        prop_oneof![
            any::<f64>().prop_filter_map("NaN", Score::new),
            Just(Score::new(-0.0).unwrap()),
            Just(Score::new(f64::INFINITY).unwrap()),
        ]
    }

    fn arb_blobs() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 0..4)
    }

    fn arb_edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            arb_blobs().prop_map(Edit::SetAdd),
            arb_blobs().prop_map(Edit::SetRemove),
            prop::collection::vec(
                (
                    prop::collection::vec(any::<u8>(), 0..8),
                    prop::collection::vec(any::<u8>(), 0..8)
                ),
                0..4
            )
            .prop_map(Edit::HashPut),
            arb_blobs().prop_map(Edit::HashRemove),
            (any::<bool>(), arb_blobs()).prop_map(|(front, items)| Edit::ListPush { front, items }),
            (any::<bool>(), any::<u32>()).prop_map(|(front, count)| Edit::ListPop { front, count }),
            (any::<u32>(), prop::collection::vec(any::<u8>(), 0..8))
                .prop_map(|(index, item)| Edit::ListSet { index, item }),
            (any::<u32>(), any::<u32>()).prop_map(|(start, len)| Edit::ListTrim { start, len }),
            prop::collection::vec(
                (arb_score(), prop::collection::vec(any::<u8>(), 0..8)),
                0..4
            )
            .prop_map(Edit::SortedAdd),
            arb_blobs().prop_map(Edit::SortedRemove),
            any::<u64>().prop_map(Edit::Expire),
            any::<bool>().prop_map(|from_front| Edit::ListRotate { from_front }),
        ]
    }

    fn arb_keyspace() -> impl Strategy<Value = Namespace> {
        prop::sample::select(Namespace::KEYSPACES.to_vec())
    }

    fn arb_mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (
                arb_ns(),
                prop::collection::vec(any::<u8>(), 0..20),
                arb_value(),
                any::<u64>()
            )
                .prop_map(|(ns, key, value, expires_at_ms)| Mutation::Put {
                    ns,
                    key,
                    value,
                    expires_at_ms
                }),
            (arb_ns(), prop::collection::vec(any::<u8>(), 0..20))
                .prop_map(|(ns, key)| Mutation::Delete { ns, key }),
            arb_ns().prop_map(|ns| Mutation::Clear { ns }),
            (
                arb_ns(),
                prop::collection::vec(any::<u8>(), 0..20),
                arb_edit()
            )
                .prop_map(|(ns, key, edit)| Mutation::Edit { ns, key, edit }),
            (arb_keyspace(), arb_keyspace()).prop_map(|(a, b)| Mutation::Swap { a, b }),
        ]
    }

    proptest! {
        #[test]
        fn frames_round_trip(muts in prop::collection::vec(arb_mutation(), 0..10), seq in any::<u64>()) {
            let mut stream = Vec::new();
            encode_frame(&mut stream, FrameKind::Commit, seq, &muts);
            let (frame, used) = decode_frame(&stream).unwrap().unwrap();
            prop_assert_eq!(used, stream.len());
            prop_assert_eq!(frame.commit_seq, seq);
            prop_assert_eq!(frame.mutations, muts);
            for cut in 0..stream.len() {
                prop_assert_eq!(decode_frame(&stream[..cut]), Ok(None));
            }
        }

        /// Encoded in place after what `out` holds, a frame is exactly
        /// the header and the separately encoded body.
        #[test]
        fn frames_append_exactly_their_bytes(
            muts in prop::collection::vec(arb_mutation(), 0..10),
            seq in any::<u64>(),
            prefix in prop::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut out = prefix.clone();
            encode_frame(&mut out, FrameKind::Snapshot, seq, &muts);
            let mut body = Writer::new();
            for m in &muts {
                encode_mutation(&mut body, m);
            }
            let mut expected = prefix;
            encode_frame_of(&mut expected, FrameKind::Snapshot, seq, muts.len() as u32, body.as_slice());
            prop_assert_eq!(out, expected);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_frame(&bytes);
            let _ = decode_body(&bytes);
        }
    }

    #[test]
    fn nan_scores_and_vault_swaps_refuse() {
        let mut body = Writer::new();
        body.u32(1)
            .u8(4)
            .u8(4)
            .u32(1)
            .put(b"k")
            .u8(9)
            .u32(1)
            .u64(f64::NAN.to_bits());
        body.u32(0);
        assert_eq!(decode_body(body.as_slice()), Err(RecordError::NotAScore));
        let mut body = Writer::new();
        body.u32(1).u8(5).u8(4).u8(1);
        assert_eq!(decode_body(body.as_slice()), Err(RecordError::NotAKeyspace));
        assert_eq!(
            validate(&Mutation::Swap {
                a: Namespace::Vault,
                b: Namespace::Keyspace
            }),
            Err(RecordError::NotAKeyspace)
        );
        assert_eq!(Namespace::keyspace(15), Some(Namespace::Db15));
        assert_eq!(Namespace::keyspace(16), None);
        assert_eq!(Namespace::Db7.keyspace_db(), Some(7));
        assert_eq!(Namespace::Audit.keyspace_db(), None);
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        let mut body = Writer::new();
        body.u32(u32::MAX)
            .u8(1)
            .u8(4)
            .u32(1)
            .put(b"k")
            .u64(0)
            .u8(2)
            .u32(u32::MAX);
        assert_eq!(decode_body(body.as_slice()), Err(RecordError::Truncated));
        let mut frame = vec![1u8];
        frame.extend_from_slice(&1u64.to_be_bytes());
        frame.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode_frame(&frame), Err(RecordError::BodyTooLong));
    }
}
