//! The handlers of the sorted-set commands (`ZADD` … `ZRANGESTORE`):
//! Redis 7.0's argument parsing, option rules and error lines, then one
//! call on the keyspace [`Txn`](reddb_service::keyspace::Txn), then the
//! reply in Redis's shape for each protocol (scores as `%.17g` text: bulk
//! strings in RESP2, doubles in RESP3; `WITHSCORES` pairs nested in RESP3).
//!
//! Scores, weights and interval ends are read by
//! [`reddb_service::float_text`] exactly as Redis reads them (C's `strtod`
//! under `string2d` or `zslParseRange`).

use super::commands::{
    bulks, count, int_arg, ks, lower, not_integer, scan_cursor, syntax, Call, DataCx, ScanOptions,
};
use super::resp::Reply;
use super::set_handlers::{Sampler, MAX_RANDOM_REPLY_BYTES};
use reddb_service::float_text::{format_double, parse_double, parse_score_bound};
use reddb_service::keyspace::sorted_set_commands::{
    Aggregate, LexBound, LexRange, Limit, RangeBy, RangeQuery, ScoreBound, ScoreRange, Scored,
    ZaddOptions, ZsetOp,
};
use reddb_service::keyspace::Condition;
use reddb_service::strict_decimal::parse_i64;

fn double(v: f64) -> Reply {
    Reply::Double(format_double(v))
}

/// Members, with their scores when asked (pairs: nested in RESP3).
fn scored(items: Vec<Scored>, withscores: bool) -> Reply {
    if withscores {
        Reply::Pairs(
            items
                .into_iter()
                .map(|(m, s)| (Reply::Bulk(m), double(s)))
                .collect(),
        )
    } else {
        Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect())
    }
}

fn not_a_float() -> Reply {
    Reply::err("ERR value is not a valid float")
}

fn not_a_float_range() -> Reply {
    Reply::err("ERR min or max is not a float")
}

fn not_a_lex_range() -> Reply {
    Reply::err("ERR min or max not valid string range item")
}

fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
    let bound = |b: &[u8]| {
        parse_score_bound(b)
            .map(|(value, exclusive)| ScoreBound { value, exclusive })
            .ok_or_else(not_a_float_range)
    };
    Ok(ScoreRange {
        min: bound(min)?,
        max: bound(max)?,
    })
}

/// `zslParseLexRangeItem`: `-`, `+` (each alone, or before a NUL), or
/// `[`/`(` then the bytes.
fn lex_bound(b: &[u8]) -> Option<LexBound> {
    let alone = |rest: &[u8]| rest.first().is_none_or(|c| *c == 0);
    match b.split_first()? {
        (b'-', rest) if alone(rest) => Some(LexBound::Least),
        (b'+', rest) if alone(rest) => Some(LexBound::Greatest),
        (b'[', rest) => Some(LexBound::Inclusive(rest.to_vec())),
        (b'(', rest) => Some(LexBound::Exclusive(rest.to_vec())),
        _ => None,
    }
}

fn lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, Reply> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(not_a_lex_range()),
    }
}

/// What a `ZADD` command line asks.
struct ZaddArgs {
    opts: ZaddOptions,
    /// `CH`: answer members changed, not only added.
    ch: bool,
    pairs: Vec<(f64, Vec<u8>)>,
}

/// `ZADD`'s arguments: options, then score/member pairs, checked in
/// Redis's order. `incr` is set for `ZINCRBY`.
fn zadd_args(args: &[Vec<u8>], incr: bool) -> Result<ZaddArgs, Reply> {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, incr);
    let mut at = 2;
    // Compared in place: the score after the options is not lower-cased
    // into a new string on every call.
    while let Some(option) = args.get(at) {
        let is = |word: &[u8]| option.eq_ignore_ascii_case(word);
        if is(b"nx") {
            nx = true;
        } else if is(b"xx") {
            xx = true;
        } else if is(b"gt") {
            gt = true;
        } else if is(b"lt") {
            lt = true;
        } else if is(b"ch") {
            ch = true;
        } else if is(b"incr") {
            incr = true;
        } else {
            break;
        }
        at += 1;
    }
    let pairs = args.get(at..).unwrap_or(&[]);
    if pairs.is_empty() || pairs.len() % 2 != 0 {
        return Err(syntax());
    }
    if nx && xx {
        return Err(Reply::err(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(Reply::err(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && pairs.len() > 2 {
        return Err(Reply::err(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut parsed = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks(2) {
        let [score, member] = pair else {
            return Err(syntax());
        };
        parsed.push((parse_double(score).ok_or_else(not_a_float)?, member.clone()));
    }
    let cond = match (nx, xx) {
        (true, _) => Condition::IfMissing,
        (_, true) => Condition::IfExists,
        _ => Condition::Always,
    };
    Ok(ZaddArgs {
        opts: ZaddOptions { cond, gt, lt, incr },
        ch,
        pairs: parsed,
    })
}

fn add(c: &Call<'_>, d: &mut DataCx<'_, '_>, incr: bool) -> Result<Reply, Reply> {
    let ZaddArgs { opts, ch, pairs } = zadd_args(c.args, incr)?;
    let out = d.txn.zadd(c.key(), opts, &pairs).map_err(ks)?;
    if opts.incr {
        return Ok(out.score.map_or(Reply::Nil, double));
    }
    Ok(count(if ch {
        out.added + out.updated
    } else {
        out.added
    }))
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member …`.
pub(crate) fn zadd(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    add(c, d, false)
}

/// `ZINCRBY key increment member` (read as `ZADD key INCR …`, so an
/// option word in the increment's place is a syntax error, as in Redis).
pub(crate) fn zincrby(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    add(c, d, true)
}

/// `ZREM key member …`.
pub(crate) fn zrem(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(count(d.txn.zrem(c.key(), c.after_key()).map_err(ks)?))
}

/// `ZSCORE key member`.
pub(crate) fn zscore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let s = d.txn.zscore(c.key(), c.arg(2)).map_err(ks)?;
    Ok(s.map_or(Reply::Nil, double))
}

/// `ZMSCORE key member …`.
pub(crate) fn zmscore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let scores = d.txn.zmscore(c.key(), c.after_key()).map_err(ks)?;
    Ok(Reply::Array(
        scores
            .into_iter()
            .map(|s| s.map_or(Reply::Nil, double))
            .collect(),
    ))
}

/// `ZCARD key`.
pub(crate) fn zcard(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(count(d.txn.zcard(c.key()).map_err(ks)?))
}

/// `ZCOUNT key min max`.
pub(crate) fn zcount(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let range = score_range(c.arg(2), c.arg(3))?;
    Ok(count(d.txn.zcount(c.key(), &range).map_err(ks)?))
}

/// `ZLEXCOUNT key min max`.
pub(crate) fn zlexcount(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let range = lex_range(c.arg(2), c.arg(3))?;
    Ok(count(d.txn.zlexcount(c.key(), &range).map_err(ks)?))
}

fn rank(c: &Call<'_>, d: &mut DataCx<'_, '_>, reverse: bool) -> Result<Reply, Reply> {
    let r = d.txn.zrank(c.key(), c.arg(2), reverse).map_err(ks)?;
    Ok(r.map_or(Reply::Nil, count))
}

/// `ZRANK key member`.
pub(crate) fn zrank(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    rank(c, d, false)
}

/// `ZREVRANK key member`.
pub(crate) fn zrevrank(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    rank(c, d, true)
}

/// How a `ZRANGE`-like command reads its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// What one `ZRANGE`-like command line asks (`zrangeGenericCommand`).
struct RangeArgs {
    query: RangeQuery,
    withscores: bool,
}

/// Reads a `ZRANGE`-like command line whose source key is argument
/// `src`; `by` and `reverse` are fixed by the older forms (`ZREVRANGE`,
/// `ZRANGEBYSCORE`, …) and read from the options otherwise.
fn range_args(
    args: &[Vec<u8>],
    src: usize,
    store: bool,
    by: Option<By>,
    reverse: Option<bool>,
) -> Result<RangeArgs, Reply> {
    let (mut by_chosen, mut reverse_chosen) = (by, reverse);
    let (mut withscores, mut limit) = (false, None);
    let mut j = src + 3;
    while let Some(option) = args.get(j) {
        let left = args.len() - j - 1;
        match lower(option).as_str() {
            "withscores" if !store => withscores = true,
            "limit" if left >= 2 => {
                let offset = int_arg(args.get(j + 1).map_or(&[][..], Vec::as_slice))?;
                let count = int_arg(args.get(j + 2).map_or(&[][..], Vec::as_slice))?;
                limit = Some(Limit { offset, count });
                j += 2;
            }
            "rev" if reverse_chosen.is_none() => reverse_chosen = Some(true),
            "bylex" if by_chosen.is_none() => by_chosen = Some(By::Lex),
            "byscore" if by_chosen.is_none() => by_chosen = Some(By::Score),
            _ => return Err(syntax()),
        }
        j += 1;
    }
    let by = by_chosen.unwrap_or(By::Rank);
    let reverse = reverse_chosen.unwrap_or(false);
    // `LIMIT offset -1` is no limit to Redis, even by position.
    if limit.is_some_and(|l: Limit| l.count != -1) && by == By::Rank {
        return Err(Reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(Reply::err(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let arg = |i: usize| args.get(i).map_or(&[][..], Vec::as_slice);
    let (mut lo, mut hi) = (arg(src + 1), arg(src + 2));
    if reverse && by != By::Rank {
        // Given as max, min.
        std::mem::swap(&mut lo, &mut hi);
    }
    let by = match by {
        By::Rank => RangeBy::Rank {
            start: int_arg(lo)?,
            end: int_arg(hi)?,
        },
        By::Score => RangeBy::Score(score_range(lo, hi)?),
        By::Lex => RangeBy::Lex(lex_range(lo, hi)?),
    };
    Ok(RangeArgs {
        query: RangeQuery { by, reverse, limit },
        withscores,
    })
}

fn range(
    c: &Call<'_>,
    d: &mut DataCx<'_, '_>,
    by: Option<By>,
    reverse: Option<bool>,
) -> Result<Reply, Reply> {
    let a = range_args(c.args, 1, false, by, reverse)?;
    let items = d.txn.zrange(c.key(), &a.query).map_err(ks)?;
    Ok(scored(items, a.withscores))
}

/// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count]
/// [WITHSCORES]`.
pub(crate) fn zrange(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    range(c, d, None, None)
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`.
pub(crate) fn zrangebyscore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    range(c, d, Some(By::Score), Some(false))
}

/// `ZREVRANGE key start stop [WITHSCORES]`.
pub(crate) fn zrevrange(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    range(c, d, Some(By::Rank), Some(true))
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`.
pub(crate) fn zrevrangebyscore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    range(c, d, Some(By::Score), Some(true))
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`.
pub(crate) fn zrangebylex(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    range(c, d, Some(By::Lex), Some(false))
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`.
pub(crate) fn zrevrangebylex(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    range(c, d, Some(By::Lex), Some(true))
}

/// `ZRANGESTORE destination source min max [BYSCORE|BYLEX] [REV] [LIMIT
/// offset count]`.
pub(crate) fn zrangestore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let a = range_args(c.args, 2, true, None, None)?;
    let stored = d.txn.zrangestore(c.key(), c.arg(2), &a.query).map_err(ks)?;
    Ok(count(stored))
}

fn remove_range(c: &Call<'_>, d: &mut DataCx<'_, '_>, by: By) -> Result<Reply, Reply> {
    let (lo, hi) = (c.arg(2), c.arg(3));
    let by = match by {
        By::Rank => RangeBy::Rank {
            start: int_arg(lo)?,
            end: int_arg(hi)?,
        },
        By::Score => RangeBy::Score(score_range(lo, hi)?),
        By::Lex => RangeBy::Lex(lex_range(lo, hi)?),
    };
    Ok(count(d.txn.zremrange(c.key(), &by).map_err(ks)?))
}

/// `ZREMRANGEBYRANK key start stop`.
pub(crate) fn zremrangebyrank(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    remove_range(c, d, By::Rank)
}

/// `ZREMRANGEBYSCORE key min max`.
pub(crate) fn zremrangebyscore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    remove_range(c, d, By::Score)
}

/// `ZREMRANGEBYLEX key min max`.
pub(crate) fn zremrangebylex(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    remove_range(c, d, By::Lex)
}

fn pop(c: &Call<'_>, d: &mut DataCx<'_, '_>, highest: bool) -> Result<Reply, Reply> {
    let wanted = match c.after_key() {
        [] => None,
        [n] => Some(
            parse_i64(n)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| Reply::err("ERR value is out of range, must be positive"))?,
        ),
        _ => return Err(syntax()),
    };
    let popped = d
        .txn
        .zpop(c.key(), wanted.unwrap_or(1), highest)
        .map_err(ks)?;
    if wanted.is_some() {
        return Ok(scored(popped, true));
    }
    // Without a count: one flat member, score pair in either protocol.
    Ok(Reply::Array(
        popped
            .into_iter()
            .flat_map(|(m, s)| [Reply::Bulk(m), double(s)])
            .collect(),
    ))
}

/// `ZPOPMIN key [count]`.
pub(crate) fn zpopmin(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    pop(c, d, false)
}

/// `ZPOPMAX key [count]`.
pub(crate) fn zpopmax(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    pop(c, d, true)
}

/// `ZRANDMEMBER key [count [WITHSCORES]]`: a negative count may repeat
/// members.
pub(crate) fn zrandmember(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let mut sampler = Sampler::new()?;
    let mut pick = |n| sampler.below(n);
    let (n, rest) = match c.after_key() {
        [] => {
            let one = d
                .txn
                .zrandmember(c.key(), 1, false, &mut pick, MAX_RANDOM_REPLY_BYTES)
                .map_err(ks)?;
            let first = one.and_then(|v| v.into_iter().next());
            return Ok(first.map_or(Reply::Nil, |(m, _)| Reply::Bulk(m)));
        }
        [n, rest @ ..] => (int_arg(n)?, rest),
    };
    if n == i64::MIN {
        return Err(Reply::err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match rest {
        [] => false,
        [w] if w.eq_ignore_ascii_case(b"withscores") => true,
        _ => return Err(syntax()),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
        return Err(Reply::err("ERR value is out of range"));
    }
    let wanted = usize::try_from(n.unsigned_abs()).map_err(|_| not_integer())?;
    let drawn = d
        .txn
        .zrandmember(c.key(), wanted, n < 0, &mut pick, MAX_RANDOM_REPLY_BYTES)
        .map_err(ks)?
        .ok_or_else(|| {
            Reply::err(format!(
                "ERR ZRANDMEMBER reply too large (max {MAX_RANDOM_REPLY_BYTES} bytes)"
            ))
        })?;
    Ok(scored(drawn, withscores))
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: as Redis, the key is
/// looked up (a missing one is an empty iteration) before the options
/// are read; scores come as bulk strings in both protocols.
pub(crate) fn zscan(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let cursor = scan_cursor(c.arg(2))?;
    let page = |cursor: u64, items: Vec<Scored>| {
        let flat = items
            .into_iter()
            .flat_map(|(m, s)| [m, format_double(s).into_bytes()])
            .collect();
        Reply::Array(vec![
            Reply::bulk(cursor.to_string()),
            Reply::Array(bulks(flat)),
        ])
    };
    if d.txn.zcard(c.key()).map_err(ks)? == 0 {
        return Ok(page(0, Vec::new()));
    }
    let o = ScanOptions::parse(c.args.get(3..).unwrap_or(&[]), false)?;
    let found = d
        .txn
        .zscan(c.key(), cursor, o.count, o.pattern)
        .map_err(ks)?;
    Ok(page(found.cursor, found.members))
}

/// The options after an algebra command's keys.
struct AlgebraOptions {
    weights: Vec<f64>,
    how: Aggregate,
    withscores: bool,
    /// `ZINTERCARD`'s `LIMIT` (0: none).
    limit: usize,
}

/// What kind of algebra command reads the options: which it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `ZUNION`, `ZINTER`, `ZDIFF`: `WITHSCORES`.
    Reply,
    /// `…STORE`.
    Store,
    /// `ZINTERCARD`: `LIMIT` only.
    Cardinality,
}

/// An algebra command's keys and the arguments after them.
type KeysAndOptions<'a> = (&'a [Vec<u8>], &'a [Vec<u8>]);

/// The keys counted by argument `at` and the arguments after them, with
/// Redis's errors for the count.
fn counted_keys<'a>(c: &Call<'a>, at: usize) -> Result<KeysAndOptions<'a>, Reply> {
    let n = parse_i64(c.arg(at)).ok_or_else(not_integer)?;
    if n < 1 {
        return Err(Reply::err(format!(
            "ERR at least 1 input key is needed for '{}' command",
            c.name
        )));
    }
    let rest = c.args.get(at + 1..).unwrap_or(&[]);
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    match (rest.get(..n), rest.get(n..)) {
        (Some(keys), Some(options)) => Ok((keys, options)),
        _ => Err(syntax()),
    }
}

/// `zunionInterDiffGenericCommand`'s options, in its order of tests.
fn algebra_options(
    options: &[Vec<u8>],
    keys: usize,
    op: ZsetOp,
    form: Form,
) -> Result<AlgebraOptions, Reply> {
    let mut o = AlgebraOptions {
        weights: Vec::new(),
        how: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let combines = op != ZsetOp::Diff && form != Form::Cardinality;
    let mut j = 0;
    while let Some(option) = options.get(j) {
        let remaining = options.len() - j;
        let word = lower(option);
        if combines && remaining > keys && word == "weights" {
            let given = options.get(j + 1..j + 1 + keys).unwrap_or(&[]);
            o.weights = given
                .iter()
                .map(|w| parse_double(w))
                .collect::<Option<_>>()
                .ok_or_else(|| Reply::err("ERR weight value is not a float"))?;
            j += 1 + keys;
        } else if combines && remaining >= 2 && word == "aggregate" {
            o.how = match options.get(j + 1).map(|a| lower(a)).as_deref() {
                Some("sum") => Aggregate::Sum,
                Some("min") => Aggregate::Min,
                Some("max") => Aggregate::Max,
                _ => return Err(syntax()),
            };
            j += 2;
        } else if form == Form::Reply && word == "withscores" {
            o.withscores = true;
            j += 1;
        } else if form == Form::Cardinality && remaining >= 2 && word == "limit" {
            o.limit = options
                .get(j + 1)
                .and_then(|n| parse_i64(n))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| Reply::err("ERR LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(syntax());
        }
    }
    Ok(o)
}

/// Keys counted at `at`, type-checked before the options are read (as
/// Redis does), then the options.
fn algebra_input<'a>(
    c: &Call<'a>,
    d: &mut DataCx<'_, '_>,
    at: usize,
    op: ZsetOp,
    form: Form,
) -> Result<(&'a [Vec<u8>], AlgebraOptions), Reply> {
    let (keys, options) = counted_keys(c, at)?;
    d.txn.zset_sources_check(keys).map_err(ks)?;
    Ok((keys, algebra_options(options, keys.len(), op, form)?))
}

fn algebra(c: &Call<'_>, d: &mut DataCx<'_, '_>, op: ZsetOp) -> Result<Reply, Reply> {
    let (keys, o) = algebra_input(c, d, 1, op, Form::Reply)?;
    let result = d
        .txn
        .zset_algebra(op, keys, &o.weights, o.how)
        .map_err(ks)?;
    Ok(scored(result, o.withscores))
}

fn store(c: &Call<'_>, d: &mut DataCx<'_, '_>, op: ZsetOp) -> Result<Reply, Reply> {
    let (keys, o) = algebra_input(c, d, 2, op, Form::Store)?;
    let stored = d
        .txn
        .zset_store(op, c.key(), keys, &o.weights, o.how)
        .map_err(ks)?;
    Ok(count(stored))
}

/// `ZUNION numkeys key … [WEIGHTS w …] [AGGREGATE SUM|MIN|MAX]
/// [WITHSCORES]`.
pub(crate) fn zunion(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    algebra(c, d, ZsetOp::Union)
}

/// `ZINTER numkeys key … [WEIGHTS w …] [AGGREGATE SUM|MIN|MAX]
/// [WITHSCORES]`.
pub(crate) fn zinter(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    algebra(c, d, ZsetOp::Inter)
}

/// `ZDIFF numkeys key … [WITHSCORES]`.
pub(crate) fn zdiff(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    algebra(c, d, ZsetOp::Diff)
}

/// `ZUNIONSTORE destination numkeys key … [WEIGHTS …] [AGGREGATE …]`.
pub(crate) fn zunionstore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    store(c, d, ZsetOp::Union)
}

/// `ZINTERSTORE destination numkeys key … [WEIGHTS …] [AGGREGATE …]`.
pub(crate) fn zinterstore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    store(c, d, ZsetOp::Inter)
}

/// `ZDIFFSTORE destination numkeys key …`.
pub(crate) fn zdiffstore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    store(c, d, ZsetOp::Diff)
}

/// `ZINTERCARD numkeys key … [LIMIT limit]`.
pub(crate) fn zintercard(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let (keys, o) = algebra_input(c, d, 1, ZsetOp::Inter, Form::Cardinality)?;
    Ok(count(d.txn.zintercard(keys, o.limit).map_err(ks)?))
}
