//! The set commands beyond `SADD`…`SCARD`: membership of many values,
//! random members (`SPOP`, `SRANDMEMBER`, with the random source supplied
//! by the caller), `SMOVE`, the algebra (`SINTER`, `SUNION`, `SDIFF`, their
//! `…STORE` forms and `SINTERCARD`) and `SSCAN`, with Redis 7's semantics:
//! a missing key is an empty set, every key named is type-checked in
//! order, and a set emptied (or a `…STORE` of an empty result) deletes its
//! key.
//!
//! `SSCAN` orders members by a fixed hash of their bytes; the cursor is
//! the hash where the next page starts, so a member present for a whole
//! iteration is returned exactly once (members sharing a hash come in the
//! same page), however the set changes meanwhile.

use super::collection_scan::{scan_position, scan_window};
use super::{check_key, glob_match, KsResult, Members, Txn};
use reddb_storage::store::edit::Edit;
use reddb_storage::store::record::Value;
use std::collections::BTreeSet;

/// Picks an index below its argument (never called with 0).
pub type Pick<'p> = &'p mut dyn FnMut(usize) -> usize;

/// How [`Txn::set_algebra`] combines its sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    Inter,
    Union,
    Diff,
}

/// One `SSCAN` page: the next cursor (0 at the end) and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetScanPage {
    pub cursor: u64,
    pub members: Vec<Vec<u8>>,
}

/// `count` distinct members of `set` chosen by `pick` (all when `count`
/// reaches the set's size), by a partial Fisher–Yates shuffle.
fn distinct(set: &Members, count: usize, pick: Pick<'_>) -> Vec<Vec<u8>> {
    let mut all: Vec<&Vec<u8>> = set.iter().collect();
    if count >= all.len() {
        return all.into_iter().cloned().collect();
    }
    let len = all.len();
    for i in 0..count {
        let j = i.saturating_add(pick(len - i)).min(len - 1);
        all.swap(i, j);
    }
    all.into_iter().take(count).cloned().collect()
}

impl<'a> Txn<'a> {
    /// The sets at `keys`, in order (`None` for a missing key); the first
    /// key of another type fails the whole command.
    fn sets_at(&self, keys: &[Vec<u8>]) -> KsResult<Vec<Option<&Members>>> {
        keys.iter()
            .map(|k| {
                check_key(k)?;
                Ok(self.set_value(k)?.map(|(s, _)| s))
            })
            .collect()
    }

    /// Writes `set` at `key` with no TTL, or deletes `key` when `set` is
    /// empty.
    fn put_set(&mut self, key: &[u8], set: Members, expires: u64) -> KsResult<()> {
        if set.is_empty() {
            self.remove(key);
            Ok(())
        } else {
            self.put(key, Value::Set(set), expires)
        }
    }

    /// `SMISMEMBER`: whether each value is a member.
    pub fn smismember(&mut self, key: &[u8], members: &[Vec<u8>]) -> KsResult<Vec<bool>> {
        check_key(key)?;
        let set = self.set_value(key)?.map(|(s, _)| s);
        Ok(members
            .iter()
            .map(|m| set.is_some_and(|s| s.contains(m)))
            .collect())
    }

    /// `SPOP key count`: up to `count` members, removed (an emptied set is
    /// deleted).
    pub fn spop(&mut self, key: &[u8], count: usize, pick: Pick<'_>) -> KsResult<Vec<Vec<u8>>> {
        check_key(key)?;
        let Some((set, _)) = self.set_value(key)? else {
            return Ok(Vec::new());
        };
        if count == 0 {
            return Ok(Vec::new());
        }
        let popped = distinct(set, count, pick);
        if popped.len() >= set.len() {
            self.remove(key);
        } else {
            self.edit(key, Edit::SetRemove(popped.clone()))?;
        }
        Ok(popped)
    }

    /// `SRANDMEMBER key count`: `count` members, distinct unless `repeat`
    /// (then exactly `count`, each drawn independently). `None` when a
    /// repeating answer would pass `max_bytes` (each member counted with
    /// 16 bytes of framing).
    pub fn srandmember(
        &mut self,
        key: &[u8],
        count: usize,
        repeat: bool,
        pick: Pick<'_>,
        max_bytes: usize,
    ) -> KsResult<Option<Vec<Vec<u8>>>> {
        check_key(key)?;
        let Some((set, _)) = self.set_value(key)? else {
            return Ok(Some(Vec::new()));
        };
        if !repeat {
            return Ok(Some(distinct(set, count, pick)));
        }
        let all: Vec<&Vec<u8>> = set.iter().collect();
        let (mut out, mut bytes) = (Vec::new(), 0usize);
        for _ in 0..count {
            let Some(m) = all.get(pick(all.len())) else {
                continue;
            };
            bytes = bytes.saturating_add(m.len() + 16);
            if bytes > max_bytes {
                return Ok(None);
            }
            out.push((*m).clone());
        }
        Ok(Some(out))
    }

    /// `SMOVE source destination member`: whether the member moved.
    pub fn smove(&mut self, from: &[u8], to: &[u8], member: &[u8]) -> KsResult<bool> {
        check_key(from)?;
        check_key(to)?;
        let Some((source, _)) = self.set_value(from)? else {
            return Ok(false);
        };
        let in_target = self.set_value(to)?.is_some_and(|(s, _)| s.contains(member));
        if from == to || !source.contains(member) {
            return Ok(from == to && source.contains(member));
        }
        if source.len() == 1 {
            self.remove(from);
        } else {
            self.edit(from, Edit::SetRemove(vec![member.to_vec()]))?;
        }
        if !in_target {
            self.edit(to, Edit::SetAdd(vec![member.to_vec()]))?;
        }
        Ok(true)
    }

    /// `SINTER`/`SUNION`/`SDIFF` of the sets at `keys`.
    pub fn set_algebra(&mut self, op: SetOp, keys: &[Vec<u8>]) -> KsResult<Members> {
        let sets = self.sets_at(keys)?;
        let mut rest = sets.iter().copied();
        let first = rest.next().flatten();
        Ok(match op {
            SetOp::Union => sets
                .iter()
                .flatten()
                .flat_map(|s| s.iter().cloned())
                .collect(),
            SetOp::Diff => first.map_or_else(BTreeSet::new, |f| {
                f.iter()
                    .filter(|m| !sets.iter().skip(1).flatten().any(|s| s.contains(*m)))
                    .cloned()
                    .collect()
            }),
            SetOp::Inter => intersection(&sets, usize::MAX),
        })
    }

    /// `SINTERCARD`: the size of the intersection, counting stopping at
    /// `limit` (0: no limit).
    pub fn sintercard(&mut self, keys: &[Vec<u8>], limit: usize) -> KsResult<usize> {
        let sets = self.sets_at(keys)?;
        let limit = if limit == 0 { usize::MAX } else { limit };
        Ok(intersection(&sets, limit).len())
    }

    /// `SINTERSTORE`/`SUNIONSTORE`/`SDIFFSTORE`: the result replaces
    /// `destination` (whatever it held, its TTL dropped), or deletes it
    /// when empty; answers the result's size.
    pub fn set_store(&mut self, op: SetOp, to: &[u8], keys: &[Vec<u8>]) -> KsResult<usize> {
        check_key(to)?;
        let result = self.set_algebra(op, keys)?;
        let len = result.len();
        self.put_set(to, result, 0)?;
        Ok(len)
    }

    /// `SSCAN key cursor [MATCH pattern] [COUNT count]`: about `count`
    /// members from `cursor` on.
    pub fn sscan(
        &mut self,
        key: &[u8],
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> KsResult<SetScanPage> {
        check_key(key)?;
        let Some((set, _)) = self.set_value(key)? else {
            return Ok(SetScanPage {
                cursor: 0,
                members: Vec::new(),
            });
        };
        let ahead: Vec<(u64, &Vec<u8>)> = set
            .iter()
            .map(|m| (scan_position(m), m))
            .filter(|(pos, _)| *pos >= cursor)
            .collect();
        let (next, mut members) = scan_window(ahead, count);
        members.sort_unstable();
        let page = SetScanPage {
            cursor: next,
            members: members
                .into_iter()
                .filter(|(_, m)| pattern.is_none_or(|p| glob_match(p, m)))
                .map(|(_, m)| m.clone())
                .collect(),
        };
        Ok(page)
    }
}

/// The members common to every set, at most `limit` of them (a missing
/// set makes it empty); walks the smallest set.
fn intersection(sets: &[Option<&Members>], limit: usize) -> Members {
    let Some(present) = sets.iter().copied().collect::<Option<Vec<&Members>>>() else {
        return BTreeSet::new();
    };
    let Some(smallest) = present.iter().min_by_key(|s| s.len()) else {
        return BTreeSet::new();
    };
    smallest
        .iter()
        .filter(|m| present.iter().all(|s| s.contains(*m)))
        .take(limit)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::Txn;
    use super::*;
    use reddb_storage::store::State;

    fn v(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn algebra_store_and_move() {
        let state = State::default();
        let mut t = Txn::new(&state, 1);
        t.sadd(b"a", &v(&["1", "2", "3"])).ok();
        t.sadd(b"b", &v(&["2", "3", "4"])).ok();
        let inter = t.set_algebra(SetOp::Inter, &v(&["a", "b"]));
        assert_eq!(inter, Ok(v(&["2", "3"]).into_iter().collect()));
        assert_eq!(
            t.set_algebra(SetOp::Diff, &v(&["a", "b"])).map(|s| s.len()),
            Ok(1)
        );
        assert_eq!(
            t.set_algebra(SetOp::Union, &v(&["a", "x"]))
                .map(|s| s.len()),
            Ok(3)
        );
        assert_eq!(t.sintercard(&v(&["a", "b"]), 1), Ok(1));
        assert_eq!(t.set_store(SetOp::Inter, b"d", &v(&["a", "x"])), Ok(0));
        assert_eq!(t.smove(b"a", b"b", b"1"), Ok(true));
        assert_eq!(t.scard(b"b"), Ok(4));
        assert_eq!(t.smismember(b"a", &v(&["1", "2"])), Ok(vec![false, true]));
        let mut first = |_: usize| 0;
        assert_eq!(t.spop(b"a", 5, &mut first).map(|p| p.len()), Ok(2));
        assert_eq!(t.exists(b"a"), Ok(false));
        let drawn = t.srandmember(b"b", 7, true, &mut first, 1 << 20);
        assert_eq!(drawn.map(|p| p.map(|p| p.len())), Ok(Some(7)));
        let huge = t.srandmember(b"b", usize::MAX, true, &mut first, 1 << 20);
        assert_eq!(huge, Ok(None));
    }

    #[test]
    fn sscan_pages_return_every_member_once() {
        let state = State::default();
        let mut t = Txn::new(&state, 1);
        let members: Vec<Vec<u8>> = (0..50).map(|i| format!("m{i}").into_bytes()).collect();
        t.sadd(b"s", &members).ok();
        let (mut cursor, mut seen) = (0, Vec::new());
        loop {
            let page = t.sscan(b"s", cursor, 7, None);
            let Ok(page) = page else { panic!("{page:?}") };
            seen.extend(page.members);
            cursor = page.cursor;
            if cursor == 0 {
                break;
            }
        }
        seen.sort();
        let mut want = members;
        want.sort();
        assert_eq!(seen, want);
    }
}
