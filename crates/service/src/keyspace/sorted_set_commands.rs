//! The sorted-set commands (`ZADD` … `ZRANGESTORE`) with Redis 7.0's
//! semantics: a missing key is an empty sorted set, every key named is
//! type-checked in order (the algebra also reads plain sets, every member
//! scoring 1), and a sorted set emptied (or a `…STORE` of an empty result)
//! deletes its key.
//!
//! Element changes are logged as [`Edit::SortedAdd`]/[`Edit::SortedRemove`]
//! of just the members changed, so `ZADD`, `ZINCRBY`, `ZREM`, `ZPOP…` and
//! `ZREMRANGE…` on a large set cost O(changed · log n); the `…STORE`
//! commands write their whole result.
//!
//! Where Redis's answer depends on its encoding, the small-set encoding
//! (listpack) is the model: a stored score of `-0` reads back as `0`, and
//! a lexicographic range over members of different scores is the run that
//! starts at the first member (in set order) inside the range — see
//! [`lex_span`].

use super::collection_scan::{scan_position, scan_window};
use super::object_commands::zset_is_small;
use super::set_commands::Pick;
use super::{check_key, glob_match, Condition, KsError, KsResult, Members, Txn};
use reddb_storage::store::edit::Edit;
use reddb_storage::store::record::{Value, ValueRef};
use reddb_storage::store::small_collection::ZSetRef;
use reddb_storage::store::sorted_set::{Score, SortedSet};
use reddb_storage::store::EntryRef;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use std::ops::Range;

/// A member and its score, as commands answer them.
pub type Scored = (Vec<u8>, f64);

/// One end of a score interval (`1.5`, `(1.5`, `-inf`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: ScoreBound,
    pub max: ScoreBound,
}

/// One end of a lexicographic interval: `-`, `+`, `[bytes`, `(bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    Least,
    Greatest,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

impl LexBound {
    /// Redis's `sdscmplex` of two bounds (`-` and `+` are exclusive).
    fn cmp_bound(&self, other: &LexBound) -> Ordering {
        use LexBound::{Greatest, Least};
        match (self, other) {
            (Least, Least) | (Greatest, Greatest) => Ordering::Equal,
            (Least, _) | (_, Greatest) => Ordering::Less,
            (Greatest, _) | (_, Least) => Ordering::Greater,
            (a, b) => a.bytes().cmp(b.bytes()),
        }
    }

    /// Where `member` is relative to this bound.
    fn member_cmp(&self, member: &[u8]) -> Ordering {
        match self {
            LexBound::Least => Ordering::Greater,
            LexBound::Greatest => Ordering::Less,
            LexBound::Inclusive(b) | LexBound::Exclusive(b) => member.cmp(b),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            LexBound::Inclusive(b) | LexBound::Exclusive(b) => b,
            _ => &[],
        }
    }

    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Inclusive(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    fn above_min(&self, member: &[u8]) -> bool {
        let c = self.min.member_cmp(member);
        c == Ordering::Greater || (c == Ordering::Equal && !self.min.exclusive())
    }

    fn below_max(&self, member: &[u8]) -> bool {
        let c = self.max.member_cmp(member);
        c == Ordering::Less || (c == Ordering::Equal && !self.max.exclusive())
    }

    /// No member can be inside (`zslIsInLexRange`'s first test).
    fn is_empty(&self) -> bool {
        match self.min.cmp_bound(&self.max) {
            Ordering::Greater => true,
            Ordering::Equal => self.min.exclusive() || self.max.exclusive(),
            Ordering::Less => false,
        }
    }
}

/// What a `ZRANGE`-like command selects.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeBy {
    /// Positions, inclusive, negative counting from the end.
    Rank {
        start: i64,
        end: i64,
    },
    Score(ScoreRange),
    Lex(LexRange),
}

/// `LIMIT offset count` (a negative count: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub offset: i64,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RangeQuery {
    pub by: RangeBy,
    /// From the highest score down (`REV`, `ZREV…`; positions then count
    /// from the highest, and a score or lex range is walked from its max).
    pub reverse: bool,
    pub limit: Option<Limit>,
}

/// `ZADD`'s options (`INCR` is `ZINCRBY`'s too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZaddOptions {
    /// `NX` (`IfMissing`) or `XX` (`IfExists`).
    pub cond: Condition,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What `ZADD` did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ZaddOutcome {
    pub added: usize,
    /// Members whose score changed.
    pub updated: usize,
    /// The last member's score after the command, unless it was left
    /// alone (`NX`, `XX`, `GT`, `LT`): `ZADD … INCR`'s answer.
    pub score: Option<f64>,
}

/// How `ZUNION`/`ZINTER` combine a member's scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Which algebra a `ZUNION`-like command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZsetOp {
    Union,
    Inter,
    Diff,
}

/// One `ZSCAN` page: the next cursor (0 at the end) and its members.
#[derive(Debug, Clone, PartialEq)]
pub struct ZsetScanPage {
    pub cursor: u64,
    pub members: Vec<Scored>,
}

/// The score a sorted set keeps for `v`: `-0` is stored as `0`, as
/// Redis's small-set encoding stores it.
fn stored(v: f64) -> KsResult<Score> {
    Score::new(if v == 0.0 { 0.0 } else { v }).ok_or(KsError::ScoreNaN)
}

/// `target` combined with `value` (`zunionInterAggregate`): a sum of
/// opposite infinities is 0; a NaN never wins a MIN or MAX.
fn aggregate(target: f64, value: f64, how: Aggregate) -> f64 {
    match how {
        Aggregate::Sum => {
            let sum = target + value;
            if sum.is_nan() {
                0.0
            } else {
                sum
            }
        }
        Aggregate::Min if value < target => value,
        Aggregate::Max if value > target => value,
        _ => target,
    }
}

/// `weight × score`, a NaN (0 × ±inf) counting as 0.
fn weighted(weight: f64, score: f64) -> f64 {
    let v = weight * score;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Positions `[start, end)` of the members inside a score interval.
fn score_span(z: ZSetRef<'_>, r: &ScoreRange) -> Range<usize> {
    let start = z.count_below(r.min.value, r.min.exclusive);
    let end = z.count_below(r.max.value, !r.max.exclusive);
    start..end.max(start)
}

/// Positions `[start, end)` of the members a lexicographic interval
/// selects, as Redis's small-set encoding finds them: nothing unless the
/// last member is above the min and the first below the max; then, going
/// forward, the run from the first member above the min while members
/// stay below the max (backward: from the last member below the max while
/// members stay above the min). For members of one score, the interval.
fn lex_span(z: ZSetRef<'_>, r: &LexRange, reverse: bool) -> Range<usize> {
    lex_run(z, r, reverse, 0)
}

/// [`lex_span`] after skipping `skip` members (in the walk's direction)
/// past the run's first one: Redis skips them whatever they are, then
/// answers while members are inside, which differs from skipping within
/// the run when members of different scores are not in byte order.
fn lex_run(z: ZSetRef<'_>, r: &LexRange, reverse: bool, skip: usize) -> Range<usize> {
    let n = z.len();
    let member = |rank: usize| z.get(rank).map_or(&[][..], |(_, m)| m);
    if n == 0 || r.is_empty() || !r.above_min(member(n - 1)) || !r.below_max(member(0)) {
        return 0..0;
    }
    if reverse {
        let Some(last) = z.last_rank_until(n - 1, |m| r.below_max(m)) else {
            return 0..0;
        };
        if !r.above_min(member(last)) || skip > last {
            return 0..0;
        }
        let from = last - skip;
        let start = z
            .last_rank_until(from, |m| !r.above_min(m))
            .map_or(0, |r| r + 1);
        start..from + 1
    } else {
        let Some(first) = z.first_rank_from(0, |m| r.above_min(m)) else {
            return 0..0;
        };
        let from = first.saturating_add(skip);
        if !r.below_max(member(first)) || from >= n {
            return 0..0;
        }
        let end = z.first_rank_from(from, |m| !r.below_max(m)).unwrap_or(n);
        from..end
    }
}

/// Positions of `start..=end` (negative from the end) as Redis clamps
/// them; empty when nothing is inside.
fn rank_span(len: usize, start: i64, end: i64) -> Range<usize> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let from_end = |i: i64| if i < 0 { len_i.saturating_add(i) } else { i };
    let start = from_end(start).max(0);
    let end = from_end(end).min(len_i - 1);
    if start > end || start >= len_i {
        return 0..0;
    }
    let (s, e) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    s..e + 1
}

/// The positions a query selects, in set order, and whether to walk them
/// backward.
fn query_span(z: ZSetRef<'_>, q: &RangeQuery) -> Range<usize> {
    let len = z.len();
    if let RangeBy::Rank { start, end } = q.by {
        // Positions take no `LIMIT`.
        let r = rank_span(len, start, end);
        return if q.reverse {
            len - r.end..len - r.start
        } else {
            r
        };
    }
    let (offset, count) = match q.limit {
        // A negative offset skips past the end (Redis's `while (offset--)`).
        Some(Limit { offset, .. }) if offset < 0 => return 0..0,
        Some(Limit { offset, count }) => (usize::try_from(offset).unwrap_or(usize::MAX), count),
        None => (0, -1),
    };
    let run = match &q.by {
        RangeBy::Rank { .. } => 0..0,
        RangeBy::Score(r) => {
            let span = score_span(z, r);
            let skip = offset.min(span.len());
            if q.reverse {
                span.start..span.end - skip
            } else {
                span.start + skip..span.end
            }
        }
        RangeBy::Lex(r) => lex_run(z, r, q.reverse, offset),
    };
    let take = usize::try_from(count).map_or(run.len(), |c| c.min(run.len()));
    if q.reverse {
        run.end - take..run.end
    } else {
        run.start..run.start + take
    }
}

/// The members at `span`, forward or backward, with their scores.
fn collect(z: ZSetRef<'_>, span: Range<usize>, reverse: bool) -> Vec<Scored> {
    let each = |(s, m): (Score, &[u8])| (m.to_vec(), s.get());
    if reverse {
        z.range(span).rev().map(each).collect()
    } else {
        z.range(span).map(each).collect()
    }
}

/// A sorted set from (member, score) pairs, scores stored as Redis stores
/// them.
fn build(items: Vec<Scored>) -> KsResult<SortedSet> {
    let mut z = SortedSet::new();
    for (m, s) in items {
        z.insert(m, stored(s)?);
    }
    Ok(z)
}

/// One input of the algebra: its (member, score) pairs (a plain set's
/// members score 1) and its weight.
struct Source {
    items: Vec<Scored>,
    weight: f64,
}

impl<'a> Txn<'a> {
    /// The sorted set at `key` (`None` when missing).
    fn sorted_value(&self, key: &[u8]) -> KsResult<Option<ZSetRef<'_>>> {
        match self.lookup(key) {
            None => Ok(None),
            Some(EntryRef {
                value: ValueRef::SortedSet(z),
                ..
            }) => Ok(Some(z)),
            Some(_) => Err(KsError::WrongType),
        }
    }

    /// Removes `gone` from the sorted set at `key` (deleting the key when
    /// that empties it).
    fn remove_members(&mut self, key: &[u8], gone: Vec<Vec<u8>>, emptied: bool) -> KsResult<()> {
        if emptied {
            self.remove(key);
        } else if !gone.is_empty() {
            self.edit(key, Edit::SortedRemove(gone))?;
        }
        Ok(())
    }

    /// Writes `items` as the sorted set at `key` with no TTL, or deletes
    /// `key` when there are none; how many were written.
    fn put_sorted(&mut self, key: &[u8], items: Vec<Scored>) -> KsResult<usize> {
        if items.is_empty() {
            self.remove(key);
            return Ok(0);
        }
        let z = build(items)?;
        let len = z.len();
        self.put(key, Value::SortedSet(Box::new(z)), 0)?;
        Ok(len)
    }

    /// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member …` (and
    /// `ZINCRBY`): the pairs apply in order, each seeing the ones before.
    pub fn zadd(
        &mut self,
        key: &[u8],
        opts: ZaddOptions,
        pairs: &[(f64, Vec<u8>)],
    ) -> KsResult<ZaddOutcome> {
        check_key(key)?;
        let current = self.sorted_value(key)?;
        let mut out = ZaddOutcome::default();
        if current.is_none() && opts.cond == Condition::IfExists {
            return Ok(out);
        }
        let mut changed: Vec<(Score, Vec<u8>)> = Vec::new();
        let mut at: HashMap<&[u8], usize> = HashMap::new();
        for (score, member) in pairs {
            let before = match at.get(member.as_slice()) {
                Some(&i) => changed.get(i).map(|(s, _)| *s),
                None => current.and_then(|z| z.score(member)),
            };
            let mut new = *score;
            match before {
                Some(_) if opts.cond == Condition::IfMissing => continue,
                None if opts.cond == Condition::IfExists => continue,
                Some(old) => {
                    let old = old.get();
                    if opts.incr {
                        new += old;
                        if new.is_nan() {
                            return Err(KsError::ScoreNaN);
                        }
                    }
                    if (opts.lt && new >= old) || (opts.gt && new <= old) {
                        continue;
                    }
                    out.score = Some(new);
                    if new == old {
                        continue;
                    }
                    out.updated += 1;
                }
                None => {
                    out.score = Some(new);
                    out.added += 1;
                }
            }
            let entry = (stored(new)?, member.clone());
            match at.get(member.as_slice()) {
                Some(&i) => {
                    if let Some(slot) = changed.get_mut(i) {
                        *slot = entry;
                    }
                }
                None => {
                    at.insert(member.as_slice(), changed.len());
                    changed.push(entry);
                }
            }
        }
        if !changed.is_empty() {
            self.edit(key, Edit::SortedAdd(changed))?;
        }
        Ok(out)
    }

    /// `ZREM`: members removed; an emptied set is deleted.
    pub fn zrem(&mut self, key: &[u8], members: &[Vec<u8>]) -> KsResult<usize> {
        check_key(key)?;
        let Some(z) = self.sorted_value(key)? else {
            return Ok(0);
        };
        let unique: HashSet<&Vec<u8>> = members.iter().filter(|m| z.score(m).is_some()).collect();
        let emptied = unique.len() == z.len();
        let gone: Vec<Vec<u8>> = unique.into_iter().cloned().collect();
        let removed = gone.len();
        self.remove_members(key, gone, emptied)?;
        Ok(removed)
    }

    /// `ZSCORE`
    pub fn zscore(&mut self, key: &[u8], member: &[u8]) -> KsResult<Option<f64>> {
        check_key(key)?;
        Ok(self
            .sorted_value(key)?
            .and_then(|z| z.score(member))
            .map(Score::get))
    }

    /// `ZMSCORE`
    pub fn zmscore(&mut self, key: &[u8], members: &[Vec<u8>]) -> KsResult<Vec<Option<f64>>> {
        check_key(key)?;
        let z = self.sorted_value(key)?;
        Ok(members
            .iter()
            .map(|m| z.and_then(|z| z.score(m)).map(Score::get))
            .collect())
    }

    /// `ZCARD`
    pub fn zcard(&mut self, key: &[u8]) -> KsResult<usize> {
        check_key(key)?;
        Ok(self.sorted_value(key)?.map_or(0, ZSetRef::len))
    }

    /// `ZCOUNT`: members inside a score interval. O(log n).
    pub fn zcount(&mut self, key: &[u8], range: &ScoreRange) -> KsResult<usize> {
        check_key(key)?;
        Ok(self
            .sorted_value(key)?
            .map_or(0, |z| score_span(z, range).len()))
    }

    /// `ZLEXCOUNT`: members inside a lexicographic interval. O(log n).
    pub fn zlexcount(&mut self, key: &[u8], range: &LexRange) -> KsResult<usize> {
        check_key(key)?;
        Ok(self
            .sorted_value(key)?
            .map_or(0, |z| lex_span(z, range, false).len()))
    }

    /// `ZRANK` (`reverse`: `ZREVRANK`). O(log n).
    pub fn zrank(&mut self, key: &[u8], member: &[u8], reverse: bool) -> KsResult<Option<usize>> {
        check_key(key)?;
        let Some(z) = self.sorted_value(key)? else {
            return Ok(None);
        };
        Ok(z.rank(member)
            .map(|r| if reverse { z.len() - 1 - r } else { r }))
    }

    /// `ZRANGE` and its older forms: the members selected, in the order
    /// asked. O(log n + answer).
    pub fn zrange(&mut self, key: &[u8], query: &RangeQuery) -> KsResult<Vec<Scored>> {
        check_key(key)?;
        let Some(z) = self.sorted_value(key)? else {
            return Ok(Vec::new());
        };
        Ok(collect(z, query_span(z, query), query.reverse))
    }

    /// `ZRANGESTORE destination source …`: the selection replaces
    /// `destination` (its TTL dropped), or deletes it when empty.
    pub fn zrangestore(&mut self, to: &[u8], from: &[u8], query: &RangeQuery) -> KsResult<usize> {
        check_key(to)?;
        let items = self.zrange(from, query)?;
        self.put_sorted(to, items)
    }

    /// `ZREMRANGEBYRANK`/`…BYSCORE`/`…BYLEX`: members removed.
    /// O((removed + 1) · log n).
    pub fn zremrange(&mut self, key: &[u8], by: &RangeBy) -> KsResult<usize> {
        check_key(key)?;
        let Some(z) = self.sorted_value(key)? else {
            return Ok(0);
        };
        let span = match by {
            RangeBy::Rank { start, end } => rank_span(z.len(), *start, *end),
            RangeBy::Score(r) => score_span(z, r),
            RangeBy::Lex(r) => lex_span(z, r, false),
        };
        let emptied = span.len() == z.len();
        let gone: Vec<Vec<u8>> = z.range(span).map(|(_, m)| m.to_vec()).collect();
        let removed = gone.len();
        self.remove_members(key, gone, emptied)?;
        Ok(removed)
    }

    /// `ZPOPMIN`/`ZPOPMAX key count`: up to `count` members from the
    /// lowest (or highest) score, removed. The key's type is checked
    /// before a count of 0 answers nothing.
    pub fn zpop(&mut self, key: &[u8], count: usize, highest: bool) -> KsResult<Vec<Scored>> {
        check_key(key)?;
        let Some(z) = self.sorted_value(key)? else {
            return Ok(Vec::new());
        };
        let len = z.len();
        let take = count.min(len);
        let span = if highest { len - take..len } else { 0..take };
        let popped = collect(z, span, highest);
        let gone = popped.iter().map(|(m, _)| m.clone()).collect();
        self.remove_members(key, gone, take == len)?;
        Ok(popped)
    }

    /// `ZRANDMEMBER key count`: `count` members, distinct unless `repeat`
    /// (then exactly `count`, each drawn independently). `None` when a
    /// repeating answer would pass `max_bytes` (each member counted with
    /// 40 bytes of framing and score).
    pub fn zrandmember(
        &mut self,
        key: &[u8],
        count: usize,
        repeat: bool,
        pick: Pick<'_>,
        max_bytes: usize,
    ) -> KsResult<Option<Vec<Scored>>> {
        check_key(key)?;
        let Some(z) = self.sorted_value(key)? else {
            return Ok(Some(Vec::new()));
        };
        let len = z.len();
        let at = |rank: usize| z.get(rank).map(|(s, m)| (m.to_vec(), s.get()));
        if repeat || count == 1 {
            let (mut out, mut bytes) = (Vec::new(), 0usize);
            for _ in 0..count {
                let Some(item) = at(pick(len)) else { continue };
                bytes = bytes.saturating_add(item.0.len() + 40);
                if bytes > max_bytes {
                    return Ok(None);
                }
                out.push(item);
            }
            return Ok(Some(out));
        }
        if count >= len {
            // The whole set, from the highest score (Redis walks it so).
            return Ok(Some(collect(z, 0..len, true)));
        }
        let ranks: Vec<usize> = if count.saturating_mul(3) > len {
            // A partial Fisher–Yates shuffle of every position.
            let mut all: Vec<usize> = (0..len).collect();
            for i in 0..count {
                let j = i.saturating_add(pick(len - i)).min(len - 1);
                all.swap(i, j);
            }
            all.truncate(count);
            all
        } else {
            let mut seen = HashSet::new();
            let mut order = Vec::new();
            while order.len() < count {
                let r = pick(len);
                if seen.insert(r) {
                    order.push(r);
                }
            }
            order
        };
        Ok(Some(ranks.into_iter().filter_map(at).collect()))
    }

    /// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: about `count`
    /// members from `cursor` on (at least 1/256 of the set, so a whole
    /// iteration costs O(n) pages of O(n)), each page in set order. A set
    /// Redis keeps in its small encoding (at most 128 members of at most 64
    /// bytes) comes whole in the first page, as Redis answers it.
    pub fn zscan(
        &mut self,
        key: &[u8],
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> KsResult<ZsetScanPage> {
        check_key(key)?;
        let mut page = ZsetScanPage {
            cursor: 0,
            members: Vec::new(),
        };
        let Some(z) = self.sorted_value(key)? else {
            return Ok(page);
        };
        if cursor == 0 && zset_is_small(z) {
            page.members = collect(z, 0..z.len(), false);
            page.members
                .retain(|(m, _)| pattern.is_none_or(|p| glob_match(p, m)));
            return Ok(page);
        }
        let want = count.max(z.len() / 256).max(1);
        let ahead: Vec<(u64, usize)> = z
            .iter()
            .enumerate()
            .map(|(rank, (_, m))| (scan_position(m), rank))
            .filter(|(pos, _)| *pos >= cursor)
            .collect();
        let (next, mut found) = scan_window(ahead, want);
        page.cursor = next;
        found.sort_unstable_by_key(|(_, rank)| *rank);
        for (_, rank) in found {
            if let Some((s, m)) = z.get(rank) {
                if pattern.is_none_or(|p| glob_match(p, m)) {
                    page.members.push((m.to_vec(), s.get()));
                }
            }
        }
        Ok(page)
    }

    /// Checks that every key holds a sorted set, a set or nothing (the
    /// algebra's inputs), in order.
    pub fn zset_sources_check(&mut self, keys: &[Vec<u8>]) -> KsResult<()> {
        for k in keys {
            check_key(k)?;
            match self.lookup(k) {
                None
                | Some(EntryRef {
                    value: ValueRef::SortedSet(_) | ValueRef::Set(_),
                    ..
                }) => {}
                Some(_) => return Err(KsError::WrongType),
            }
        }
        Ok(())
    }

    /// The inputs at `keys` with their weights (1 when `weights` is
    /// shorter).
    fn sources(&self, keys: &[Vec<u8>], weights: &[f64]) -> KsResult<Vec<Source>> {
        let mut out = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            check_key(k)?;
            let items = match self.lookup(k) {
                None => Vec::new(),
                Some(EntryRef {
                    value: ValueRef::SortedSet(z),
                    ..
                }) => collect(z, 0..z.len(), false),
                Some(EntryRef {
                    value: ValueRef::Set(s),
                    ..
                }) => plain_items(s),
                Some(_) => return Err(KsError::WrongType),
            };
            let weight = weights.get(i).copied().unwrap_or(1.0);
            out.push(Source { items, weight });
        }
        Ok(out)
    }

    /// `ZUNION`/`ZINTER`/`ZDIFF numkeys key … [WEIGHTS w …] [AGGREGATE
    /// how]`: the result in (score, member) order.
    pub fn zset_algebra(
        &mut self,
        op: ZsetOp,
        keys: &[Vec<u8>],
        weights: &[f64],
        how: Aggregate,
    ) -> KsResult<Vec<Scored>> {
        let mut sources = self.sources(keys, weights)?;
        let mut result = match op {
            ZsetOp::Union => {
                sources.sort_by_key(|s| s.items.len());
                union(&sources, how)
            }
            ZsetOp::Inter => {
                sources.sort_by_key(|s| s.items.len());
                intersection(&sources, how, usize::MAX)
            }
            ZsetOp::Diff => difference(&sources),
        };
        result.sort_by(|a, b| {
            a.1.partial_cmp(&b.1)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.0.cmp(&b.0))
        });
        Ok(result)
    }

    /// `ZUNIONSTORE`/`ZINTERSTORE`/`ZDIFFSTORE`: the result replaces
    /// `destination` (its TTL dropped), or deletes it when empty.
    pub fn zset_store(
        &mut self,
        op: ZsetOp,
        to: &[u8],
        keys: &[Vec<u8>],
        weights: &[f64],
        how: Aggregate,
    ) -> KsResult<usize> {
        check_key(to)?;
        let result = self.zset_algebra(op, keys, weights, how)?;
        self.put_sorted(to, result)
    }

    /// `ZINTERCARD`: the size of the intersection, counting stopping at
    /// `limit` (0: no limit).
    pub fn zintercard(&mut self, keys: &[Vec<u8>], limit: usize) -> KsResult<usize> {
        let mut sources = self.sources(keys, &[])?;
        sources.sort_by_key(|s| s.items.len());
        let limit = if limit == 0 { usize::MAX } else { limit };
        Ok(intersection(&sources, Aggregate::Sum, limit).len())
    }
}

/// A plain set's members, each scoring 1.
fn plain_items(s: &Members) -> Vec<Scored> {
    s.iter().map(|m| (m.clone(), 1.0)).collect()
}

/// Every member of any source, its weighted scores combined in source
/// order.
fn union(sources: &[Source], how: Aggregate) -> Vec<Scored> {
    let mut acc: HashMap<&[u8], f64> = HashMap::new();
    for s in sources {
        for (m, score) in &s.items {
            let v = weighted(s.weight, *score);
            acc.entry(m.as_slice())
                .and_modify(|t| *t = aggregate(*t, v, how))
                .or_insert(v);
        }
    }
    acc.into_iter().map(|(m, s)| (m.to_vec(), s)).collect()
}

/// The members of every source (at most `limit`), walking the first
/// (smallest) from its highest score as Redis does.
fn intersection(sources: &[Source], how: Aggregate, limit: usize) -> Vec<Scored> {
    let Some((first, rest)) = sources.split_first() else {
        return Vec::new();
    };
    let maps: Vec<(HashMap<&[u8], f64>, f64)> = rest
        .iter()
        .map(|s| {
            let map = s.items.iter().map(|(m, v)| (m.as_slice(), *v)).collect();
            (map, s.weight)
        })
        .collect();
    let mut out = Vec::new();
    for (m, score) in first.items.iter().rev() {
        if out.len() >= limit {
            break;
        }
        let mut total = weighted(first.weight, *score);
        let mut everywhere = true;
        for (map, weight) in &maps {
            match map.get(m.as_slice()) {
                // Redis does not turn this product's NaN into 0.
                Some(v) => total = aggregate(total, v * weight, how),
                None => {
                    everywhere = false;
                    break;
                }
            }
        }
        if everywhere {
            out.push((m.clone(), total));
        }
    }
    out
}

/// The members of the first source in none of the others, with their
/// own scores.
fn difference(sources: &[Source]) -> Vec<Scored> {
    let Some((first, rest)) = sources.split_first() else {
        return Vec::new();
    };
    let others: Vec<HashSet<&[u8]>> = rest
        .iter()
        .map(|s| s.items.iter().map(|(m, _)| m.as_slice()).collect())
        .collect();
    first
        .items
        .iter()
        .filter(|(m, _)| !others.iter().any(|o| o.contains(m.as_slice())))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
