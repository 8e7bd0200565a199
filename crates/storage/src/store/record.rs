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
//! key      = len u32 | bytes                       (len <= MAX_KEY_LEN)
//! value    = 1 (bytes) | len u32 | bytes
//!          | 2 (set)   | count u32 | (len u32 | bytes) * count
//!          | 3 (hash)  | count u32 | (len u32 | field | len u32 | value) * count
//! ```

use crate::codec::{Reader, Writer};
use std::collections::{BTreeMap, BTreeSet};

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
}

impl Namespace {
    pub const ALL: [Namespace; 5] = [
        Namespace::Vault,
        Namespace::Secrets,
        Namespace::Config,
        Namespace::Keyspace,
        Namespace::Audit,
    ];

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
}

impl Value {
    /// Bytes of payload held (keys and values, not overhead).
    pub fn payload_len(&self) -> usize {
        match self {
            Value::Bytes(b) => b.len(),
            Value::Set(s) => s.iter().map(|m| m.len() + 4).sum(),
            Value::Hash(h) => h.iter().map(|(k, v)| k.len() + v.len() + 8).sum(),
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Commit = 1,
    Snapshot = 2,
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
        _ => Ok(()),
    }
}

fn encode_mutation(w: &mut Writer, m: &Mutation) {
    match m {
        Mutation::Put {
            ns,
            key,
            value,
            expires_at_ms,
        } => {
            w.u8(1).u8(*ns as u8).bytes_u32(key).u64(*expires_at_ms);
            match value {
                Value::Bytes(b) => {
                    w.u8(1).bytes_u32(b);
                }
                Value::Set(s) => {
                    w.u8(2).u32(s.len() as u32);
                    for member in s {
                        w.bytes_u32(member);
                    }
                }
                Value::Hash(h) => {
                    w.u8(3).u32(h.len() as u32);
                    for (k, v) in h {
                        w.bytes_u32(k).bytes_u32(v);
                    }
                }
            }
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
    let mut body = Writer::new();
    body.u32(mutations.len() as u32);
    for m in mutations {
        encode_mutation(&mut body, m);
    }
    let mut w = Writer::with_capacity(FRAME_HEADER_LEN + body.len());
    w.u8(kind as u8).u64(commit_seq).bytes_u32(body.as_slice());
    out.extend_from_slice(w.as_slice());
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

fn decode_blob(r: &mut Reader<'_>, budget: &mut usize) -> Result<Vec<u8>, RecordError> {
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
        t => Err(RecordError::UnknownValueType(t)),
    }
}

fn decode_ns(r: &mut Reader<'_>) -> Result<Namespace, RecordError> {
    let v = r.u8().ok_or(RecordError::Truncated)?;
    Namespace::from_u8(v).ok_or(RecordError::UnknownNamespace(v))
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
        ]
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

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_frame(&bytes);
            let _ = decode_body(&bytes);
        }
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
