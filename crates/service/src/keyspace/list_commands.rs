//! The list commands with Redis 7's semantics: pushes (`LPUSH`, `RPUSH`,
//! their `…X` forms), pops (`LPOP`/`RPOP` with a count, `LMPOP`, and the
//! non-blocking half of `BLPOP`…), reads by index and range (`LLEN`,
//! `LINDEX`, `LRANGE`, `LPOS`), in-place changes (`LSET`, `LTRIM`,
//! `LINSERT`, `LREM`) and `LMOVE`/`RPOPLPUSH`.
//!
//! A command that changes a few items of a long list logs only them: a
//! push is [`Edit::ListPush`], a pop [`Edit::ListPop`], `LSET`
//! [`Edit::ListSet`], `LTRIM` [`Edit::ListTrim`], and `LMOVE` of a list
//! onto itself [`Edit::ListRotate`]; the reply is computed from the current
//! view first, so none of them copies the list. `LINSERT` and `LREM` are
//! O(n) in Redis too and rewrite the value. A list they empty is deleted
//! (Redis never keeps an empty list).
//!
//! Indexes are Redis's: negative ones count from the tail (-1 is the last
//! item), and ranges are clamped as `LRANGE`/`LTRIM` clamp them.

use super::{check_key, KsError, KsResult, Txn};
use reddb_storage::store::edit::Edit;
use reddb_storage::store::record::{Value, ValueRef};
use reddb_storage::store::EntryRef;
use std::collections::VecDeque;

type Items = VecDeque<Vec<u8>>;

/// A key and the items popped from it (`LMPOP`, `BLPOP`).
pub type PoppedFrom = (Vec<u8>, Vec<Vec<u8>>);

/// Which end of a list (`LEFT` is the head).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

impl End {
    fn is_head(self) -> bool {
        self == End::Head
    }
}

/// `LPOS`'s options, as given (defaults: rank 1, no count, no maxlen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PosOptions {
    /// Which match to start from; negative searches from the tail. Never 0.
    pub rank: i64,
    /// `COUNT`: how many matches (0: all); `None` answers one position.
    pub count: Option<i64>,
    /// `MAXLEN`: how many items to compare at most (0: all).
    pub maxlen: i64,
}

impl Default for PosOptions {
    fn default() -> Self {
        Self {
            rank: 1,
            count: None,
            maxlen: 0,
        }
    }
}

/// The position of `index` (negative from the tail) in a list of `len`
/// items, if it is inside the list.
fn position(len: usize, index: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if index < 0 { len + index } else { index };
    usize::try_from(i)
        .ok()
        .filter(|&i| i64::try_from(i).is_ok_and(|i| i < len))
}

/// `start..=end` of a list of `len` items, clamped as Redis's `LRANGE`
/// and `LTRIM` clamp it; `None` when the range is empty.
fn span(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = i64::try_from(len).ok()?;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
}

/// The item at one end of `items`.
fn end_item(items: &Items, end: End) -> Option<&Vec<u8>> {
    if end.is_head() {
        items.front()
    } else {
        items.back()
    }
}

/// Up to `n` items from one end, in the order they are popped.
fn take_from(items: &Items, end: End, n: usize) -> Vec<Vec<u8>> {
    if end.is_head() {
        items.iter().take(n).cloned().collect()
    } else {
        items.iter().rev().take(n).cloned().collect()
    }
}

/// `LPOS`'s search as Redis 7.0 runs it (including its wrapping
/// arithmetic for a rank of `i64::MIN`): the positions of the matches.
fn find_positions(items: &Items, item: &[u8], opts: PosOptions) -> Vec<usize> {
    let from_tail = opts.rank < 0;
    let rank = if from_tail {
        opts.rank.wrapping_neg()
    } else {
        opts.rank
    };
    let len = items.len();
    let ordered: Box<dyn Iterator<Item = &Vec<u8>>> = if from_tail {
        Box::new(items.iter().rev())
    } else {
        Box::new(items.iter())
    };
    let mut found = Vec::new();
    let mut matches: i64 = 0;
    for (index, candidate) in ordered.enumerate() {
        if opts.maxlen != 0 && i64::try_from(index).is_ok_and(|i| i >= opts.maxlen) {
            break;
        }
        if candidate.as_slice() != item {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if from_tail { len - index - 1 } else { index });
        match opts.count {
            None => break,
            Some(count) if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count => {
                break
            }
            Some(_) => {}
        }
    }
    found
}

fn as_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl<'a> Txn<'a> {
    /// The list at `key` and its expiry; `WRONGTYPE` for another type.
    fn list_value(&self, key: &[u8]) -> KsResult<Option<(&Items, u64)>> {
        match self.lookup(key) {
            None => Ok(None),
            Some(
                e @ EntryRef {
                    value: ValueRef::List(l),
                    ..
                },
            ) => Ok(Some((l, e.expires_at_ms))),
            Some(_) => Err(KsError::WrongType),
        }
    }

    /// Removes `n` items from one end of the list at `key`, which holds
    /// `len` items (the key goes when they are all of them).
    fn drop_items(&mut self, key: &[u8], end: End, n: usize, len: usize) -> KsResult<()> {
        if n == 0 {
            return Ok(());
        }
        if n >= len {
            self.remove(key);
            return Ok(());
        }
        let count = u32::try_from(n).map_err(|_| KsError::ValueTooLarge)?;
        self.edit(
            key,
            Edit::ListPop {
                front: end.is_head(),
                count,
            },
        )
    }

    /// `LLEN`, also the type check other commands make before reading
    /// their arguments: `None` for a missing key.
    pub fn llen(&mut self, key: &[u8]) -> KsResult<Option<usize>> {
        check_key(key)?;
        Ok(self.list_value(key)?.map(|(l, _)| l.len()))
    }

    /// `LPUSH`/`RPUSH` (and, `only_existing`, `LPUSHX`/`RPUSHX`): the
    /// list's new length (0 when `only_existing` and the key is missing).
    pub fn lpush(
        &mut self,
        key: &[u8],
        items: Vec<Vec<u8>>,
        end: End,
        only_existing: bool,
    ) -> KsResult<usize> {
        check_key(key)?;
        let len = self.list_value(key)?.map(|(l, _)| l.len());
        if only_existing && len.is_none() {
            return Ok(0);
        }
        let pushed = items.len();
        self.edit(
            key,
            Edit::ListPush {
                front: end.is_head(),
                items,
            },
        )?;
        Ok(len.unwrap_or(0) + pushed)
    }

    /// `LPOP`/`RPOP key [count]`: up to `count` items in the order they
    /// were popped; `None` for a missing key.
    pub fn lpop(&mut self, key: &[u8], end: End, count: usize) -> KsResult<Option<Vec<Vec<u8>>>> {
        check_key(key)?;
        let Some((items, _)) = self.list_value(key)? else {
            return Ok(None);
        };
        let len = items.len();
        let popped = take_from(items, end, count);
        self.drop_items(key, end, popped.len(), len)?;
        Ok(Some(popped))
    }

    /// `LRANGE key start stop`.
    pub fn lrange(&mut self, key: &[u8], start: i64, stop: i64) -> KsResult<Vec<Vec<u8>>> {
        check_key(key)?;
        let Some((items, _)) = self.list_value(key)? else {
            return Ok(Vec::new());
        };
        Ok(match span(items.len(), start, stop) {
            Some((from, to)) => items.range(from..=to).cloned().collect(),
            None => Vec::new(),
        })
    }

    /// `LINDEX key index`.
    pub fn lindex(&mut self, key: &[u8], index: i64) -> KsResult<Option<Vec<u8>>> {
        check_key(key)?;
        let Some((items, _)) = self.list_value(key)? else {
            return Ok(None);
        };
        Ok(position(items.len(), index).and_then(|i| items.get(i).cloned()))
    }

    /// `LSET key index item`: `ERR no such key` for a missing key, `ERR
    /// index out of range` past either end.
    pub fn lset(&mut self, key: &[u8], index: i64, item: Vec<u8>) -> KsResult<()> {
        check_key(key)?;
        let Some((items, _)) = self.list_value(key)? else {
            return Err(KsError::NoSuchKey);
        };
        let at = position(items.len(), index).ok_or(KsError::IndexOutOfRange)?;
        let index = u32::try_from(at).map_err(|_| KsError::IndexOutOfRange)?;
        self.edit(key, Edit::ListSet { index, item })
    }

    /// `LINSERT key BEFORE|AFTER pivot item`: the new length, 0 for a
    /// missing key, -1 when `pivot` is not in the list.
    pub fn linsert(
        &mut self,
        key: &[u8],
        before: bool,
        pivot: &[u8],
        item: Vec<u8>,
    ) -> KsResult<i64> {
        check_key(key)?;
        let Some((items, expires)) = self.list_value(key)? else {
            return Ok(0);
        };
        let Some(at) = items.iter().position(|i| i.as_slice() == pivot) else {
            return Ok(-1);
        };
        let mut items = items.clone();
        items.insert(if before { at } else { at + 1 }, item);
        let len = items.len();
        self.put(key, Value::List(items), expires)?;
        Ok(as_count(len))
    }

    /// `LREM key count item`: removes the first `count` matches from the
    /// head (negative: from the tail; 0: all); how many went.
    pub fn lrem(&mut self, key: &[u8], count: i64, item: &[u8]) -> KsResult<usize> {
        check_key(key)?;
        let Some((items, expires)) = self.list_value(key)? else {
            return Ok(0);
        };
        let limit = if count == 0 {
            usize::MAX
        } else {
            usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
        };
        let mut gone = vec![false; items.len()];
        let mut removed = 0usize;
        let indexes: Box<dyn Iterator<Item = usize>> = if count < 0 {
            Box::new((0..items.len()).rev())
        } else {
            Box::new(0..items.len())
        };
        for i in indexes {
            if removed >= limit {
                break;
            }
            if items.get(i).is_some_and(|x| x.as_slice() == item) {
                if let Some(g) = gone.get_mut(i) {
                    *g = true;
                }
                removed += 1;
            }
        }
        if removed == 0 {
            return Ok(0);
        }
        let rest: Items = items
            .iter()
            .zip(&gone)
            .filter(|(_, g)| !**g)
            .map(|(i, _)| i.clone())
            .collect();
        if rest.is_empty() {
            self.remove(key);
        } else {
            self.put(key, Value::List(rest), expires)?;
        }
        Ok(removed)
    }

    /// `LTRIM key start stop`: keeps only that range (the key goes when it
    /// is empty).
    pub fn ltrim(&mut self, key: &[u8], start: i64, stop: i64) -> KsResult<()> {
        check_key(key)?;
        let Some((items, _)) = self.list_value(key)? else {
            return Ok(());
        };
        let len = items.len();
        match span(len, start, stop) {
            None => self.remove(key),
            Some((0, to)) if to + 1 == len => {}
            Some((from, to)) => {
                let start = u32::try_from(from).map_err(|_| KsError::ValueTooLarge)?;
                let len = u32::try_from(to - from + 1).map_err(|_| KsError::ValueTooLarge)?;
                self.edit(key, Edit::ListTrim { start, len })?;
            }
        }
        Ok(())
    }

    /// `LPOS key item [RANK r] [COUNT n] [MAXLEN m]`: the positions of the
    /// matches (at most one without `COUNT`); `None` for a missing key.
    pub fn lpos(
        &mut self,
        key: &[u8],
        item: &[u8],
        opts: PosOptions,
    ) -> KsResult<Option<Vec<usize>>> {
        check_key(key)?;
        Ok(self
            .list_value(key)?
            .map(|(items, _)| find_positions(items, item, opts)))
    }

    /// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`: the item moved;
    /// `None` when `source` is missing (the destination is not looked at
    /// then). A list moved onto itself rotates in place.
    pub fn lmove(
        &mut self,
        from: &[u8],
        to: &[u8],
        from_end: End,
        to_end: End,
    ) -> KsResult<Option<Vec<u8>>> {
        check_key(from)?;
        check_key(to)?;
        let Some((items, _)) = self.list_value(from)? else {
            return Ok(None);
        };
        let len = items.len();
        let Some(item) = end_item(items, from_end).cloned() else {
            return Ok(None);
        };
        self.list_value(to)?;
        if from == to {
            if len > 1 && from_end != to_end {
                let from_front = from_end.is_head();
                self.edit(from, Edit::ListRotate { from_front })?;
            }
            return Ok(Some(item));
        }
        self.drop_items(from, from_end, 1, len)?;
        self.edit(
            to,
            Edit::ListPush {
                front: to_end.is_head(),
                items: vec![item.clone()],
            },
        )?;
        Ok(Some(item))
    }

    /// `LMPOP` (and the non-blocking half of `BLPOP`, `BRPOP`, `BLMPOP`):
    /// up to `count` items from the first key, in order, that holds a
    /// list, with that key; keys are type-checked in order up to it.
    pub fn lmpop(
        &mut self,
        keys: &[Vec<u8>],
        end: End,
        count: usize,
    ) -> KsResult<Option<PoppedFrom>> {
        for key in keys {
            check_key(key)?;
        }
        for key in keys {
            if let Some(popped) = self.lpop(key, end, count)? {
                if !popped.is_empty() {
                    return Ok(Some((key.clone(), popped)));
                }
            }
        }
        Ok(None)
    }
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
    fn spans_clamp_as_redis_does() {
        assert_eq!(span(5, 0, -1), Some((0, 4)));
        assert_eq!(span(5, -100, 100), Some((0, 4)));
        assert_eq!(span(5, 3, 1), None);
        assert_eq!(span(5, 5, 10), None);
        assert_eq!(span(5, -2, -1), Some((3, 4)));
        assert_eq!(span(5, i64::MIN, i64::MAX), Some((0, 4)));
        assert_eq!(span(0, 0, -1), None);
        assert_eq!(position(3, -1), Some(2));
        assert_eq!(position(3, -4), None);
        assert_eq!(position(3, 3), None);
        assert_eq!(position(3, i64::MIN), None);
    }

    #[test]
    fn positions_follow_rank_count_and_maxlen() {
        let items: Items = v(&["a", "b", "a", "c", "a"]).into_iter().collect();
        let find = |rank, count, maxlen| {
            find_positions(
                &items,
                b"a",
                PosOptions {
                    rank,
                    count,
                    maxlen,
                },
            )
        };
        assert_eq!(find(1, None, 0), vec![0]);
        assert_eq!(find(2, None, 0), vec![2]);
        assert_eq!(find(-1, None, 0), vec![4]);
        assert_eq!(find(1, Some(0), 0), vec![0, 2, 4]);
        assert_eq!(find(-2, Some(0), 0), vec![2, 0]);
        assert_eq!(find(1, Some(2), 0), vec![0, 2]);
        assert_eq!(find(1, Some(0), 3), vec![0, 2]);
        assert_eq!(find(4, Some(0), 0), Vec::<usize>::new());
        // Redis 7.0 negates i64::MIN into itself: every match from the
        // tail, whatever the count.
        assert_eq!(find(i64::MIN, Some(1), 0), vec![4, 2, 0]);
    }

    #[test]
    fn pushes_pops_and_edits() {
        let state = State::default();
        let mut t = Txn::new(&state, 1);
        assert_eq!(t.lpush(b"l", v(&["a", "b"]), End::Head, false), Ok(2));
        assert_eq!(t.lpush(b"l", v(&["c"]), End::Tail, false), Ok(3));
        assert_eq!(t.lpush(b"none", v(&["c"]), End::Tail, true), Ok(0));
        assert_eq!(t.lrange(b"l", 0, -1), Ok(v(&["b", "a", "c"])));
        assert_eq!(t.lpop(b"l", End::Tail, 2), Ok(Some(v(&["c", "a"]))));
        assert_eq!(t.lset(b"l", -1, b"z".to_vec()), Ok(()));
        assert_eq!(
            t.lset(b"l", 1, b"z".to_vec()),
            Err(KsError::IndexOutOfRange)
        );
        assert_eq!(t.lset(b"none", 0, b"z".to_vec()), Err(KsError::NoSuchKey));
        assert_eq!(t.linsert(b"l", false, b"z", b"y".to_vec()), Ok(2));
        assert_eq!(t.linsert(b"l", true, b"q", b"y".to_vec()), Ok(-1));
        assert_eq!(
            t.lmove(b"l", b"l", End::Head, End::Tail),
            Ok(Some(b"z".to_vec()))
        );
        assert_eq!(t.lrange(b"l", 0, -1), Ok(v(&["y", "z"])));
        assert_eq!(t.lrem(b"l", -1, b"z"), Ok(1));
        assert_eq!(
            t.lmove(b"l", b"m", End::Head, End::Head),
            Ok(Some(b"y".to_vec()))
        );
        assert_eq!(t.exists(b"l"), Ok(false), "an emptied list is deleted");
        assert_eq!(t.sadd(b"s", &v(&["x"])), Ok(1));
        assert_eq!(
            t.lmove(b"m", b"s", End::Head, End::Head),
            Err(KsError::WrongType)
        );
        assert_eq!(t.lmove(b"none", b"s", End::Head, End::Head), Ok(None));
        assert_eq!(
            t.lmpop(&v(&["none", "m", "s"]), End::Head, 5),
            Ok(Some((b"m".to_vec(), v(&["y"]))))
        );
        assert_eq!(
            t.lmpop(&v(&["none", "s"]), End::Head, 1),
            Err(KsError::WrongType)
        );
        t.lpush(b"t", v(&["1", "2", "3", "4"]), End::Tail, false)
            .ok();
        assert_eq!(t.ltrim(b"t", 1, -2), Ok(()));
        assert_eq!(t.lrange(b"t", 0, -1), Ok(v(&["2", "3"])));
        assert_eq!(t.ltrim(b"t", 5, 10), Ok(()));
        assert_eq!(t.llen(b"t"), Ok(None));
    }
}
