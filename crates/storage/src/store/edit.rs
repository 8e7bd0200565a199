//! Element-level changes to a stored collection ([`Edit`]): what a command
//! on a large set, hash, list or sorted set writes to the log instead of the
//! whole value, their codec, and how replay applies them.
//!
//! ```text
//! edit = 1 (set add)       | count u32 | (len u32 | member) * count
//!      | 2 (set remove)    | count u32 | (len u32 | member) * count
//!      | 3 (hash put)      | count u32 | (len u32 | field | len u32 | value) * count
//!      | 4 (hash remove)   | count u32 | (len u32 | field) * count
//!      | 5 (list push)     | front u8 (0 tail, 1 head) | count u32 | (len u32 | item) * count
//!      | 6 (list pop)      | front u8 | count u32
//!      | 7 (list set)      | index u32 | len u32 | item
//!      | 8 (list trim)     | start u32 | len u32          (keeps items start..start+len)
//!      | 9 (sorted add)    | count u32 | (score f64 bits u64 | len u32 | member) * count
//!      | 10 (sorted remove)| count u32 | (len u32 | member) * count
//!      | 11 (expire)       | expires_at_ms u64           (0: persistent)
//!      | 12 (list rotate)  | from_front u8 (1: head item to the tail, 0: tail item to the head)
//! ```
//!
//! An edit applies to the entry its key holds when it is replayed, which is
//! the entry it was made against: the keyspace only logs an edit for a key
//! whose committed entry was live and of the edit's type (anything else is
//! logged as a whole `Put`), and a snapshot keeps every entry live at its
//! time. Applying is total all the same: an edit on a missing entry or one
//! of another type changes nothing, and a collection an edit empties is
//! removed (Redis never keeps an empty collection).

use super::record::{
    decode_blob, decode_score, RecordError, Value, ValueRef, FIELD_OVERHEAD, ITEM_OVERHEAD,
    MAX_VALUE_LEN, SCORED_OVERHEAD,
};
use super::sorted_set::Score;
use crate::codec::{Reader, Writer};
use std::collections::VecDeque;

/// One change to part of a collection (or to an entry's expiry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    SetAdd(Vec<Vec<u8>>),
    SetRemove(Vec<Vec<u8>>),
    HashPut(Vec<(Vec<u8>, Vec<u8>)>),
    HashRemove(Vec<Vec<u8>>),
    /// Pushes each item in turn (so `LPUSH k a b` is `front`, `[a, b]`).
    ListPush {
        front: bool,
        items: Vec<Vec<u8>>,
    },
    ListPop {
        front: bool,
        count: u32,
    },
    /// `LSET`: the item at `index` (from the head) becomes `item`.
    ListSet {
        index: u32,
        item: Vec<u8>,
    },
    /// `LTRIM`: keeps `len` items from `start` (from the head).
    ListTrim {
        start: u32,
        len: u32,
    },
    SortedAdd(Vec<(Score, Vec<u8>)>),
    SortedRemove(Vec<Vec<u8>>),
    /// The entry's expiry (Unix ms; 0: persistent), its value unchanged.
    Expire(u64),
    /// `LMOVE key key LEFT RIGHT` (`from_front`) or `RIGHT LEFT`: the item
    /// at one end of the list moves to the other end.
    ListRotate {
        from_front: bool,
    },
}

/// Bytes an edit's payload adds to a value at most (the decode budget).
fn blobs_len(items: &[Vec<u8>], overhead: usize) -> usize {
    items
        .iter()
        .map(|i| i.len().saturating_add(overhead))
        .fold(0usize, usize::saturating_add)
}

impl Edit {
    /// The payload bytes the edit carries (checked against
    /// [`MAX_VALUE_LEN`], as decode's budget counts them).
    pub fn payload_len(&self) -> usize {
        match self {
            Edit::SetAdd(m) | Edit::SetRemove(m) | Edit::HashRemove(m) | Edit::SortedRemove(m) => {
                blobs_len(m, ITEM_OVERHEAD)
            }
            Edit::ListPush { items, .. } => blobs_len(items, ITEM_OVERHEAD),
            Edit::HashPut(pairs) => pairs
                .iter()
                .map(|(k, v)| k.len() + v.len() + FIELD_OVERHEAD)
                .fold(0usize, usize::saturating_add),
            Edit::SortedAdd(pairs) => pairs
                .iter()
                .map(|(_, m)| m.len() + SCORED_OVERHEAD)
                .fold(0usize, usize::saturating_add),
            Edit::ListSet { item, .. } => item.len(),
            Edit::ListPop { .. }
            | Edit::ListTrim { .. }
            | Edit::ListRotate { .. }
            | Edit::Expire(_) => 0,
        }
    }

    /// Applies the edit to `value` (not `Expire`, which is the entry's);
    /// returns the payload bytes (as [`Value::payload_len`] counts them)
    /// added and removed. The wrong type changes nothing.
    pub fn apply_to(&self, value: &mut Value) -> (usize, usize) {
        let (mut grew, mut shrank) = (0usize, 0usize);
        match (self, value) {
            (Edit::SetAdd(members), Value::Set(s)) => {
                for m in members {
                    if s.insert(m.clone()) {
                        grew += m.len() + ITEM_OVERHEAD;
                    }
                }
            }
            (Edit::SetRemove(members), Value::Set(s)) => {
                for m in members {
                    if s.remove(m) {
                        shrank += m.len() + ITEM_OVERHEAD;
                    }
                }
            }
            (Edit::HashPut(pairs), Value::Hash(h)) => {
                for (f, v) in pairs {
                    grew += v.len();
                    match h.insert(f.clone(), v.clone()) {
                        Some(old) => shrank += old.len(),
                        None => grew += f.len() + FIELD_OVERHEAD,
                    }
                }
            }
            (Edit::HashRemove(fields), Value::Hash(h)) => {
                for f in fields {
                    if let Some(old) = h.remove(f) {
                        shrank += f.len() + old.len() + FIELD_OVERHEAD;
                    }
                }
            }
            (_, Value::List(l)) => return self.apply_to_list(l),
            (Edit::SortedAdd(pairs), Value::SortedSet(z)) => {
                for (score, m) in pairs {
                    if z.insert(m.clone(), *score).is_none() {
                        grew += m.len() + SCORED_OVERHEAD;
                    }
                }
            }
            (Edit::SortedRemove(members), Value::SortedSet(z)) => {
                for m in members {
                    if z.remove(m).is_some() {
                        shrank += m.len() + SCORED_OVERHEAD;
                    }
                }
            }
            _ => {}
        }
        (grew, shrank)
    }

    /// [`Edit::apply_to`] for a list.
    fn apply_to_list(&self, l: &mut VecDeque<Vec<u8>>) -> (usize, usize) {
        let (mut grew, mut shrank) = (0usize, 0usize);
        match self {
            Edit::ListPush { front, items } => {
                for i in items {
                    grew += i.len() + ITEM_OVERHEAD;
                    if *front {
                        l.push_front(i.clone());
                    } else {
                        l.push_back(i.clone());
                    }
                }
            }
            Edit::ListPop { front, count } => {
                for _ in 0..*count {
                    let popped = if *front { l.pop_front() } else { l.pop_back() };
                    match popped {
                        Some(i) => shrank += i.len() + ITEM_OVERHEAD,
                        None => break,
                    }
                }
            }
            Edit::ListSet { index, item } => {
                if let Some(slot) = usize::try_from(*index).ok().and_then(|i| l.get_mut(i)) {
                    shrank += slot.len();
                    grew += item.len();
                    slot.clone_from(item);
                }
            }
            Edit::ListTrim { start, len } => {
                let start = usize::try_from(*start).unwrap_or(usize::MAX).min(l.len());
                for i in l.drain(..start) {
                    shrank += i.len() + ITEM_OVERHEAD;
                }
                let keep = usize::try_from(*len).unwrap_or(usize::MAX).min(l.len());
                for i in l.drain(keep..) {
                    shrank += i.len() + ITEM_OVERHEAD;
                }
            }
            Edit::ListRotate { from_front: true } => {
                if let Some(i) = l.pop_front() {
                    l.push_back(i);
                }
            }
            Edit::ListRotate { from_front: false } => {
                if let Some(i) = l.pop_back() {
                    l.push_front(i);
                }
            }
            _ => {}
        }
        (grew, shrank)
    }

    /// A new, empty value of the type this edit changes (`None` for
    /// removals, pops and `Expire`, which never create a key).
    /// Whether the edit changes a value of the same type as `value` (an
    /// expiry change fits every type).
    pub fn fits(&self, value: ValueRef<'_>) -> bool {
        matches!(
            (self, value),
            (Edit::Expire(_), _)
                | (Edit::SetAdd(_) | Edit::SetRemove(_), ValueRef::Set(_))
                | (Edit::HashPut(_) | Edit::HashRemove(_), ValueRef::Hash(_))
                | (
                    Edit::ListPush { .. }
                        | Edit::ListPop { .. }
                        | Edit::ListSet { .. }
                        | Edit::ListTrim { .. }
                        | Edit::ListRotate { .. },
                    ValueRef::List(_)
                )
                | (
                    Edit::SortedAdd(_) | Edit::SortedRemove(_),
                    ValueRef::SortedSet(_)
                )
        )
    }

    pub fn empty_target(&self) -> Option<Value> {
        match self {
            Edit::SetAdd(_) => Some(Value::Set(Default::default())),
            Edit::HashPut(_) => Some(Value::Hash(Default::default())),
            Edit::ListPush { .. } => Some(Value::List(Default::default())),
            Edit::SortedAdd(_) => Some(Value::SortedSet(Default::default())),
            _ => None,
        }
    }
}

fn put_blobs(w: &mut Writer, items: &[Vec<u8>]) {
    w.u32(items.len() as u32);
    for i in items {
        w.bytes_u32(i);
    }
}

/// Appends an edit's encoding (the caller has checked its limits).
pub(crate) fn encode(w: &mut Writer, edit: &Edit) {
    match edit {
        Edit::SetAdd(m) => put_blobs(w.u8(1), m),
        Edit::SetRemove(m) => put_blobs(w.u8(2), m),
        Edit::HashPut(pairs) => {
            w.u8(3).u32(pairs.len() as u32);
            for (f, v) in pairs {
                w.bytes_u32(f).bytes_u32(v);
            }
        }
        Edit::HashRemove(f) => put_blobs(w.u8(4), f),
        Edit::ListPush { front, items } => put_blobs(w.u8(5).u8(u8::from(*front)), items),
        Edit::ListPop { front, count } => {
            w.u8(6).u8(u8::from(*front)).u32(*count);
        }
        Edit::ListSet { index, item } => {
            w.u8(7).u32(*index).bytes_u32(item);
        }
        Edit::ListTrim { start, len } => {
            w.u8(8).u32(*start).u32(*len);
        }
        Edit::SortedAdd(pairs) => {
            w.u8(9).u32(pairs.len() as u32);
            for (score, m) in pairs {
                w.u64(score.to_bits()).bytes_u32(m);
            }
        }
        Edit::SortedRemove(m) => put_blobs(w.u8(10), m),
        Edit::Expire(at) => {
            w.u8(11).u64(*at);
        }
        Edit::ListRotate { from_front } => {
            w.u8(12).u8(u8::from(*from_front));
        }
    }
}

fn take_blobs(
    r: &mut Reader<'_>,
    budget: &mut usize,
    overhead: usize,
) -> Result<Vec<Vec<u8>>, RecordError> {
    let count = r.u32().ok_or(RecordError::Truncated)?;
    let mut out = Vec::new();
    for _ in 0..count {
        *budget = budget
            .checked_sub(overhead)
            .ok_or(RecordError::ValueTooLong)?;
        out.push(decode_blob(r, budget)?);
    }
    Ok(out)
}

fn take_front(r: &mut Reader<'_>) -> Result<bool, RecordError> {
    match r.u8().ok_or(RecordError::Truncated)? {
        0 => Ok(false),
        1 => Ok(true),
        t => Err(RecordError::UnknownEdit(t)),
    }
}

/// Decodes one edit; the byte budget is [`MAX_VALUE_LEN`], counted as
/// [`Edit::payload_len`] counts it.
pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Edit, RecordError> {
    let mut budget = MAX_VALUE_LEN;
    let b = &mut budget;
    Ok(match r.u8().ok_or(RecordError::Truncated)? {
        1 => Edit::SetAdd(take_blobs(r, b, ITEM_OVERHEAD)?),
        2 => Edit::SetRemove(take_blobs(r, b, ITEM_OVERHEAD)?),
        3 => {
            let count = r.u32().ok_or(RecordError::Truncated)?;
            let mut pairs = Vec::new();
            for _ in 0..count {
                *b = b
                    .checked_sub(FIELD_OVERHEAD)
                    .ok_or(RecordError::ValueTooLong)?;
                let f = decode_blob(r, b)?;
                pairs.push((f, decode_blob(r, b)?));
            }
            Edit::HashPut(pairs)
        }
        4 => Edit::HashRemove(take_blobs(r, b, ITEM_OVERHEAD)?),
        5 => {
            let front = take_front(r)?;
            Edit::ListPush {
                front,
                items: take_blobs(r, b, ITEM_OVERHEAD)?,
            }
        }
        6 => Edit::ListPop {
            front: take_front(r)?,
            count: r.u32().ok_or(RecordError::Truncated)?,
        },
        7 => Edit::ListSet {
            index: r.u32().ok_or(RecordError::Truncated)?,
            item: decode_blob(r, b)?,
        },
        8 => Edit::ListTrim {
            start: r.u32().ok_or(RecordError::Truncated)?,
            len: r.u32().ok_or(RecordError::Truncated)?,
        },
        9 => {
            let count = r.u32().ok_or(RecordError::Truncated)?;
            let mut pairs = Vec::new();
            for _ in 0..count {
                *b = b
                    .checked_sub(SCORED_OVERHEAD)
                    .ok_or(RecordError::ValueTooLong)?;
                let score = decode_score(r)?;
                pairs.push((score, decode_blob(r, b)?));
            }
            Edit::SortedAdd(pairs)
        }
        10 => Edit::SortedRemove(take_blobs(r, b, ITEM_OVERHEAD)?),
        11 => Edit::Expire(r.u64().ok_or(RecordError::Truncated)?),
        12 => Edit::ListRotate {
            from_front: take_front(r)?,
        },
        t => return Err(RecordError::UnknownEdit(t)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|i| i.as_bytes().to_vec()).collect())
    }

    fn apply(edit: Edit, mut v: Value) -> Value {
        let before = v.payload_len();
        let (grew, shrank) = edit.apply_to(&mut v);
        assert_eq!(before + grew - shrank, v.payload_len(), "{edit:?}");
        v
    }

    #[test]
    fn list_edits_match_redis_order() {
        let pushed = apply(
            Edit::ListPush {
                front: true,
                items: vec![b"a".to_vec(), b"b".to_vec()],
            },
            list(&["x"]),
        );
        assert_eq!(pushed, list(&["b", "a", "x"]));
        let popped = apply(
            Edit::ListPop {
                front: false,
                count: 5,
            },
            pushed.clone(),
        );
        assert_eq!(popped, Value::List(VecDeque::new()));
        assert!(popped.is_empty_collection());
        let trimmed = apply(Edit::ListTrim { start: 1, len: 1 }, pushed.clone());
        assert_eq!(trimmed, list(&["a"]));
        let set = apply(
            Edit::ListSet {
                index: 2,
                item: b"yy".to_vec(),
            },
            pushed,
        );
        assert_eq!(set, list(&["b", "a", "yy"]));
        let rotated = apply(Edit::ListRotate { from_front: true }, set.clone());
        assert_eq!(rotated, list(&["a", "yy", "b"]));
        let back = apply(Edit::ListRotate { from_front: false }, rotated);
        assert_eq!(back, set);
        let empty = Value::List(VecDeque::new());
        assert_eq!(
            apply(Edit::ListRotate { from_front: true }, empty.clone()),
            empty
        );
    }

    #[test]
    fn wrong_type_changes_nothing() {
        let v = Value::Bytes(b"s".to_vec());
        assert_eq!(apply(Edit::SetAdd(vec![b"m".to_vec()]), v.clone()), v);
    }
}
