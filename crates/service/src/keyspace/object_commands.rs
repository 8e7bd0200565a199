//! The keyspace side of `OBJECT ENCODING` and `OBJECT REFCOUNT`: what
//! Redis 7.0 would answer for a value of this shape with its default
//! thresholds, as [`Txn`] methods.
//!
//! reddb stores values one way, so the encoding is derived from the value
//! alone: a string is `int` when it is a canonical 64-bit integer of at
//! most 20 bytes, else `embstr` up to 44 bytes, else `raw`; a set is
//! `intset` while every member is an integer and it has at most 512, else
//! `hashtable`; a hash is `listpack` while it has at most 512 fields and
//! no field or value over 64 bytes, else `hashtable`. Redis's answer also
//! depends on a value's history (`APPEND`, `SETRANGE` and `SETBIT` leave
//! `raw` strings, `INCRBYFLOAT` an `embstr`, and a set or hash never goes
//! back to its compact encoding when it shrinks): there the two differ,
//! and that is listed as an intended difference by the wire tests.
//!
//! It must never change a value or report anything of it but its shape.

use super::KsResult;
use super::{check_key, Txn};
use crate::strict_decimal::parse_i64;
use reddb_storage::store::record::ValueRef;
use reddb_storage::store::small_collection::ZSetRef;

/// Redis 7.0's built-in defaults (its sample redis.conf sets 128 hash
/// entries; the server without one uses 512): `set-max-intset-entries`,
/// `hash-max-listpack-entries`, `hash-max-listpack-value`, and the
/// longest `embstr` (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`). The wire's
/// `CONFIG GET` shows the settings, so they are public.
pub const SET_MAX_INTSET_ENTRIES: usize = 512;
pub const HASH_MAX_LISTPACK_ENTRIES: usize = 512;
pub const HASH_MAX_LISTPACK_VALUE: usize = 64;
const EMBSTR_SIZE_LIMIT: usize = 44;
/// Redis 7.0's `zset-max-listpack-entries` and `-value` defaults.
pub const ZSET_MAX_LISTPACK_ENTRIES: usize = 128;
pub const ZSET_MAX_LISTPACK_VALUE: usize = 64;
/// Redis 7.0's `list-max-listpack-size` default: -2, one node of at most
/// 8 KiB (`CONFIG GET` shows it).
pub const LIST_MAX_LISTPACK_SIZE: i64 = -2;
/// A list stays one listpack node while it fits `list-max-listpack-size`
/// -2 (8 KiB); counted here by items, as a fresh list of small items.
const LIST_MAX_LISTPACK_ENTRIES: usize = 128;
const LIST_MAX_LISTPACK_VALUE: usize = 64;
/// Redis shares the objects of the integers below this
/// (`OBJ_SHARED_INTEGERS`), whose `REFCOUNT` is `i32::MAX`.
const SHARED_INTEGERS: i64 = 10_000;

/// Whether Redis would keep this string as an `int` object.
fn int_encoded(s: &[u8]) -> Option<i64> {
    if s.len() > 20 {
        return None;
    }
    parse_i64(s)
}

/// Whether Redis 7.0 keeps a sorted set of this shape in its small
/// encoding (listpack), which `ZSCAN` answers whole.
pub(super) fn zset_is_small(z: ZSetRef<'_>) -> bool {
    z.len() <= ZSET_MAX_LISTPACK_ENTRIES
        && z.iter().all(|(_, m)| m.len() <= ZSET_MAX_LISTPACK_VALUE)
}

/// The encoding Redis 7.0 gives a freshly written value of this shape.
pub fn encoding_of(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Bytes(b) if int_encoded(b).is_some() => "int",
        ValueRef::Bytes(b) if b.len() <= EMBSTR_SIZE_LIMIT => "embstr",
        ValueRef::Bytes(_) => "raw",
        ValueRef::Set(s)
            if s.len() <= SET_MAX_INTSET_ENTRIES && s.iter().all(|m| parse_i64(m).is_some()) =>
        {
            "intset"
        }
        ValueRef::Hash(h)
            if h.len() <= HASH_MAX_LISTPACK_ENTRIES
                && h.iter().all(|(f, v)| {
                    f.len() <= HASH_MAX_LISTPACK_VALUE && v.len() <= HASH_MAX_LISTPACK_VALUE
                }) =>
        {
            "listpack"
        }
        ValueRef::Set(_) | ValueRef::Hash(_) => "hashtable",
        ValueRef::List(l)
            if l.len() <= LIST_MAX_LISTPACK_ENTRIES
                && l.iter().all(|i| i.len() <= LIST_MAX_LISTPACK_VALUE) =>
        {
            "listpack"
        }
        ValueRef::List(_) => "quicklist",
        ValueRef::SortedSet(z) if zset_is_small(z) => "listpack",
        ValueRef::SortedSet(_) => "skiplist",
    }
}

impl Txn<'_> {
    /// `OBJECT ENCODING key`: `None` for a missing key.
    pub fn object_encoding(&mut self, key: &[u8]) -> KsResult<Option<&'static str>> {
        check_key(key)?;
        Ok(self.lookup(key).map(|e| encoding_of(e.value)))
    }

    /// `OBJECT REFCOUNT key`: `i32::MAX` for the small integers Redis
    /// shares, else 1; `None` for a missing key.
    pub fn object_refcount(&mut self, key: &[u8]) -> KsResult<Option<i64>> {
        check_key(key)?;
        Ok(self.lookup(key).map(|e| match e.value {
            ValueRef::Bytes(b)
                if int_encoded(b).is_some_and(|n| (0..SHARED_INTEGERS).contains(&n)) =>
            {
                i64::from(i32::MAX)
            }
            _ => 1,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn encodings_follow_redis_defaults() {
        let s = |b: &[u8]| encoding_of(ValueRef::Bytes(b));
        assert_eq!(s(b"123"), "int");
        assert_eq!(s(b"-9223372036854775808"), "int");
        assert_eq!(s(b"007"), "embstr");
        assert_eq!(s(b"+1"), "embstr");
        assert_eq!(s(&[b'a'; 44]), "embstr");
        assert_eq!(s(&[b'a'; 45]), "raw");
        let set = |n: usize, extra: &[u8]| {
            let mut m: BTreeSet<Vec<u8>> = (0..n).map(|i| i.to_string().into_bytes()).collect();
            if !extra.is_empty() {
                m.insert(extra.to_vec());
            }
            encoding_of(ValueRef::Set(&m))
        };
        assert_eq!(set(512, b""), "intset");
        assert_eq!(set(513, b""), "hashtable");
        assert_eq!(set(3, b"a"), "hashtable");
        let hash = |n: usize, value_len: usize| {
            let h: BTreeMap<Vec<u8>, Vec<u8>> = (0..n)
                .map(|i| (i.to_string().into_bytes(), vec![b'v'; value_len]))
                .collect();
            encoding_of(ValueRef::Hash((&h).into()))
        };
        assert_eq!(hash(512, 64), "listpack");
        assert_eq!(hash(513, 1), "hashtable");
        assert_eq!(hash(1, 65), "hashtable");
    }
}
