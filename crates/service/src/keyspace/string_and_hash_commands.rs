//! The keyspace side of the string, key and hash commands added after the
//! first wire release: `SETRANGE`, `MSETNX`, `RANDOMKEY`, `COPY`,
//! `HINCRBY`, `HSETNX`, `HKEYS`, `HVALS`, `HSTRLEN`, `HRANDFIELD` and
//! `HSCAN`, as more [`Txn`] methods with Redis 7's semantics (the wire layer
//! parses the arguments and words the errors).
//!
//! Randomness (`RANDOMKEY`, `HRANDFIELD`) comes from std's randomly keyed
//! SipHash ([`RandomState`]): unpredictable enough to spread picks, and
//! never used for anything secret.

use super::collection_scan::{scan_position, scan_window};
use super::{check_key, KsError, KsResult, ScanPage, Txn};
use reddb_storage::store::edit::Edit;
use reddb_storage::store::record::{Value, MAX_VALUE_LEN};
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// Field/value pairs.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A number in `0..n` (0 when `n` is 0).
fn random_below(n: usize) -> usize {
    let r = RandomState::new().hash_one(0u8);
    let n64 = u64::try_from(n).unwrap_or(u64::MAX);
    usize::try_from(r.checked_rem(n64).unwrap_or(0)).unwrap_or(0)
}

impl Txn<'_> {
    /// `SETRANGE key offset value`: the new length. An empty `value`
    /// answers the current length and writes nothing (Redis); a result
    /// past the per-value limit is refused before anything is allocated.
    pub fn setrange(&mut self, key: &[u8], offset: usize, value: &[u8]) -> KsResult<usize> {
        check_key(key)?;
        let expires = self.lookup(key).map_or(0, |e| e.expires_at_ms);
        let current = self.string(key)?;
        if value.is_empty() {
            return Ok(current.map_or(0, <[u8]>::len));
        }
        let end = offset
            .checked_add(value.len())
            .filter(|&end| end <= MAX_VALUE_LEN)
            .ok_or(KsError::ValueTooLarge)?;
        let mut next = current.map(<[u8]>::to_vec).unwrap_or_default();
        if next.len() < end {
            next.resize(end, 0);
        }
        if let Some(slot) = next.get_mut(offset..end) {
            slot.copy_from_slice(value);
        }
        let len = next.len();
        self.put(key, Value::Bytes(next), expires)?;
        Ok(len)
    }

    /// `MSETNX`: sets every pair only when none of the keys exists; whether
    /// it did. Every key is checked first.
    pub fn msetnx(&mut self, pairs: &[(&[u8], &[u8])]) -> KsResult<bool> {
        for (k, _) in pairs {
            check_key(k)?;
        }
        if pairs.iter().any(|(k, _)| self.lookup(k).is_some()) {
            return Ok(false);
        }
        for (k, v) in pairs {
            self.put(k, Value::Bytes(v.to_vec()), 0)?;
        }
        Ok(true)
    }

    /// `RANDOMKEY`: a live key picked uniformly, `None` when there is none.
    /// Walks the keyspace (O(keys)), like `KEYS *`.
    pub fn random_key(&self) -> Option<Vec<u8>> {
        let n = self.dbsize();
        if n == 0 {
            return None;
        }
        let target = random_below(n);
        let (mut i, mut out) = (0usize, None);
        self.for_each_key(|k, _| {
            if i == target {
                out = Some(k.to_vec());
            }
            i += 1;
        });
        out
    }

    /// `COPY src dst [REPLACE]`: copies the value and its TTL; whether it
    /// copied (not when `src` is missing, nor when `dst` exists without
    /// `replace`). The caller refuses `src == dst`, as Redis does first.
    pub fn copy(&mut self, src: &[u8], dst: &[u8], db: usize, replace: bool) -> KsResult<bool> {
        check_key(src)?;
        check_key(dst)?;
        let Some(entry) = self.lookup(src).map(|e| e.to_entry()) else {
            return Ok(false);
        };
        if !replace && self.lookup_in(db, dst).is_some() {
            return Ok(false);
        }
        self.in_db(db, |t| t.put(dst, entry.value, entry.expires_at_ms))?;
        Ok(true)
    }

    /// One field of the hash at `key` (`None` when the key or the field
    /// is missing; WRONGTYPE for another type).
    fn hash_field(&self, key: &[u8], field: &[u8]) -> KsResult<Option<&[u8]>> {
        check_key(key)?;
        Ok(self.hash_value(key)?.and_then(|(h, _)| h.get(field)))
    }

    /// `HINCRBY key field delta`: the new value; the field must hold a
    /// decimal integer.
    pub fn hincrby(&mut self, key: &[u8], field: &[u8], delta: i64) -> KsResult<i64> {
        let current = match self.hash_field(key, field)? {
            None => 0,
            Some(v) => crate::strict_decimal::parse_i64(v).ok_or(KsError::HashValueNotInteger)?,
        };
        let next = current.checked_add(delta).ok_or(KsError::Overflow)?;
        let pair = (field.to_vec(), next.to_string().into_bytes());
        self.edit(key, Edit::HashPut(vec![pair]))?;
        Ok(next)
    }

    /// `HSETNX key field value`: whether the field was new (and so set).
    pub fn hsetnx(&mut self, key: &[u8], field: &[u8], value: &[u8]) -> KsResult<bool> {
        if self.hash_field(key, field)?.is_some() {
            return Ok(false);
        }
        self.edit(key, Edit::HashPut(vec![(field.to_vec(), value.to_vec())]))?;
        Ok(true)
    }

    /// `HKEYS` (`values` false) or `HVALS` (true): empty for a missing key.
    pub fn hash_column(&mut self, key: &[u8], values: bool) -> KsResult<Vec<Vec<u8>>> {
        check_key(key)?;
        let Some((h, _)) = self.hash_value(key)? else {
            return Ok(Vec::new());
        };
        Ok(h.iter()
            .map(|(f, v)| if values { v.to_vec() } else { f.to_vec() })
            .collect())
    }

    /// `HSTRLEN key field`: 0 for a missing key or field.
    pub fn hstrlen(&mut self, key: &[u8], field: &[u8]) -> KsResult<usize> {
        check_key(key)?;
        Ok(self
            .hash_value(key)?
            .and_then(|(h, _)| h.get(field))
            .map_or(0, <[u8]>::len))
    }

    /// `HRANDFIELD key count`: `count` distinct fields when positive (the
    /// whole hash when it has no more), `-count` fields picked with
    /// repetition when negative, with their values; `None` when the reply
    /// would pass `max_bytes` (a large negative count repeats fields
    /// without end).
    pub fn hrandfield(
        &mut self,
        key: &[u8],
        count: i64,
        max_bytes: usize,
    ) -> KsResult<Option<Pairs>> {
        check_key(key)?;
        let Some((h, _)) = self.hash_value(key)? else {
            return Ok(Some(Vec::new()));
        };
        let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
        let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        let picks: Vec<usize> = if count >= 0 {
            if wanted >= pairs.len() {
                (0..pairs.len()).collect()
            } else {
                // A partial Fisher-Yates shuffle: `wanted` distinct indices.
                let mut idx: Vec<usize> = (0..pairs.len()).collect();
                for i in 0..wanted {
                    let j = i + random_below(idx.len() - i);
                    idx.swap(i, j);
                }
                idx.truncate(wanted);
                idx
            }
        } else {
            let largest = pairs.iter().map(|(f, v)| f.len() + v.len() + 16).max();
            if wanted.saturating_mul(largest.unwrap_or(0)) > max_bytes {
                return Ok(None);
            }
            (0..wanted).map(|_| random_below(pairs.len())).collect()
        };
        Ok(Some(
            picks
                .into_iter()
                .filter_map(|i| pairs.get(i))
                .map(|(f, v)| (f.to_vec(), v.to_vec()))
                .collect(),
        ))
    }

    /// `HSCAN`: from `cursor` on, about `count` fields in position order
    /// (`collection_scan.rs`), as field, value, field, value… in
    /// [`ScanPage::keys`]. A field present for a whole iteration is
    /// returned exactly once.
    pub fn hscan(
        &mut self,
        key: &[u8],
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> KsResult<ScanPage> {
        check_key(key)?;
        let Some((h, _)) = self.hash_value(key)? else {
            return Ok(ScanPage {
                cursor: 0,
                keys: Vec::new(),
            });
        };
        let ahead: Vec<_> = h
            .iter()
            .map(|(f, v)| (scan_position(f), (f, v)))
            .filter(|(p, _)| *p >= cursor)
            .collect();
        let (next, mut fields) = scan_window(ahead, count);
        fields.sort_unstable();
        let mut keys = Vec::new();
        for (_, (f, v)) in fields {
            if pattern.is_none_or(|p| super::glob_match(p, f)) {
                keys.push(f.to_vec());
                keys.push(v.to_vec());
            }
        }
        Ok(ScanPage { cursor: next, keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reddb_storage::store::State;
    use std::collections::BTreeSet;

    #[test]
    fn setrange_refuses_past_the_limit_and_pads_with_zeros() {
        let state = State::default();
        let mut t = Txn::new(&state, 1);
        assert_eq!(
            t.setrange(b"k", MAX_VALUE_LEN, b"x"),
            Err(KsError::ValueTooLarge)
        );
        assert_eq!(
            t.setrange(b"k", usize::MAX, b"x"),
            Err(KsError::ValueTooLarge)
        );
        assert_eq!(t.setrange(b"k", usize::MAX, b""), Ok(0));
        assert_eq!(t.setrange(b"k", 2, b"ab"), Ok(4));
        assert_eq!(t.get(b"k"), Ok(Some(b"\0\0ab".to_vec())));
        assert_eq!(t.setrange(b"k", 1, b"z"), Ok(4));
        assert_eq!(t.get(b"k"), Ok(Some(b"\0zab".to_vec())));
    }

    #[test]
    fn hscan_returns_every_field_once() {
        let state = State::default();
        let mut t = Txn::new(&state, 1);
        let pairs = (0..300)
            .map(|i| (format!("f{i}").into_bytes(), b"v".to_vec()))
            .collect();
        t.hset(b"h", pairs).ok();
        let (mut seen, mut cursor) = (BTreeSet::new(), 0);
        loop {
            let page = t
                .hscan(b"h", cursor, 7, None)
                .unwrap_or_else(|e| panic!("{e:?}"));
            for pair in page.keys.chunks(2) {
                assert!(seen.insert(pair.to_vec()), "returned twice");
            }
            cursor = page.cursor;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 300);
        assert_eq!(t.hrandfield(b"h", -1000, 10), Ok(None));
        assert_eq!(
            t.hrandfield(b"h", 5, 10).map(|p| p.map(|v| v.len())),
            Ok(Some(5))
        );
    }
}
