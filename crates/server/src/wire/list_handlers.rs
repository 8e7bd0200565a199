//! The handlers of the list commands (`LPUSH` … `LMPOP`) and of the
//! blocking ones (`BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`):
//! Redis 7's argument parsing, order of checks and error lines, then calls
//! on the keyspace [`Txn`](reddb_service::keyspace::Txn).
//!
//! A blocking command runs as its non-blocking form; when it finds nothing
//! and may block (not inside `MULTI`), it leaves a [`BlockOn`] in the
//! context instead of an answer, and [`super::blocking`] answers it later.
//! Its timeout is read by [`super::block_timeout`].

use super::block_timeout::timeout_arg;
use super::commands::{bulks, count, int_arg, ks, lower, opt_bulk, syntax, Call, DataCx};
use super::resp::Reply;
use super::BlockOn;
use reddb_service::keyspace::list_commands::{End, PoppedFrom, PosOptions};
use reddb_service::strict_decimal::parse_i64;
use std::time::{Duration, Instant};

/// `LEFT` or `RIGHT` (any case); `ERR syntax error` otherwise.
fn end_arg(b: &[u8]) -> Result<End, Reply> {
    match lower(b).as_str() {
        "left" => Ok(End::Head),
        "right" => Ok(End::Tail),
        _ => Err(syntax()),
    }
}

/// A count that must be positive (0 allowed): Redis's
/// `getPositiveLongFromObjectOrReply`, whose one error line covers a
/// non-number too.
fn positive(b: &[u8], error: &str) -> Result<i64, Reply> {
    parse_i64(b)
        .filter(|n| *n >= 0)
        .ok_or_else(|| Reply::err(error))
}

/// An item count as a `usize` (a count past memory is all of them).
fn items(n: i64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// `LPUSH`/`RPUSH`/`LPUSHX`/`RPUSHX key item …`.
fn push(
    c: &Call<'_>,
    d: &mut DataCx<'_, '_>,
    end: End,
    only_existing: bool,
) -> Result<Reply, Reply> {
    let len = d
        .txn
        .lpush(c.key(), c.after_key().to_vec(), end, only_existing)
        .map_err(ks)?;
    Ok(count(len))
}

pub(crate) fn lpush(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    push(c, d, End::Head, false)
}

pub(crate) fn rpush(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    push(c, d, End::Tail, false)
}

pub(crate) fn lpushx(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    push(c, d, End::Head, true)
}

pub(crate) fn rpushx(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    push(c, d, End::Tail, true)
}

/// `LPOP`/`RPOP key [count]`: one item as a bulk string; with a count,
/// an array (nil array for a missing key).
fn pop(c: &Call<'_>, d: &mut DataCx<'_, '_>, end: End) -> Result<Reply, Reply> {
    match c.after_key() {
        [] => {
            let popped = d.txn.lpop(c.key(), end, 1).map_err(ks)?;
            Ok(opt_bulk(popped.and_then(|p| p.into_iter().next())))
        }
        [n] => {
            let n = positive(n, "ERR value is out of range, must be positive")?;
            Ok(match d.txn.lpop(c.key(), end, items(n)).map_err(ks)? {
                Some(popped) => Reply::Array(bulks(popped)),
                None => Reply::NilArray,
            })
        }
        _ => Err(super::commands::wrong_args(c.name)),
    }
}

pub(crate) fn lpop(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    pop(c, d, End::Head)
}

pub(crate) fn rpop(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    pop(c, d, End::Tail)
}

/// `LLEN key`.
pub(crate) fn llen(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(count(d.txn.llen(c.key()).map_err(ks)?.unwrap_or(0)))
}

/// `LRANGE key start stop`: the numbers are read before the key.
pub(crate) fn lrange(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let (start, stop) = (int_arg(c.arg(2))?, int_arg(c.arg(3))?);
    Ok(Reply::Array(bulks(
        d.txn.lrange(c.key(), start, stop).map_err(ks)?,
    )))
}

/// `LINDEX key index`: the key is looked up before the index is read.
pub(crate) fn lindex(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    if d.txn.llen(c.key()).map_err(ks)?.is_none() {
        return Ok(Reply::Nil);
    }
    let index = int_arg(c.arg(2))?;
    Ok(opt_bulk(d.txn.lindex(c.key(), index).map_err(ks)?))
}

/// `LSET key index item`: `ERR no such key` and `WRONGTYPE` come before
/// the index is read.
pub(crate) fn lset(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    if d.txn.llen(c.key()).map_err(ks)?.is_none() {
        return Err(ks(reddb_service::keyspace::KsError::NoSuchKey));
    }
    let index = int_arg(c.arg(2))?;
    d.txn.lset(c.key(), index, c.arg(3).to_vec()).map_err(ks)?;
    Ok(Reply::Ok)
}

/// `LINSERT key BEFORE|AFTER pivot item`: the position word first.
pub(crate) fn linsert(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let before = match lower(c.arg(2)).as_str() {
        "before" => true,
        "after" => false,
        _ => return Err(syntax()),
    };
    let len = d
        .txn
        .linsert(c.key(), before, c.arg(3), c.arg(4).to_vec())
        .map_err(ks)?;
    Ok(Reply::Int(len))
}

/// `LREM key count item`.
pub(crate) fn lrem(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let n = int_arg(c.arg(2))?;
    Ok(count(d.txn.lrem(c.key(), n, c.arg(3)).map_err(ks)?))
}

/// `LTRIM key start stop`.
pub(crate) fn ltrim(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let (start, stop) = (int_arg(c.arg(2))?, int_arg(c.arg(3))?);
    d.txn.ltrim(c.key(), start, stop).map_err(ks)?;
    Ok(Reply::Ok)
}

/// `LPOS`'s options (`RANK`, `COUNT`, `MAXLEN`, any order, the last of
/// each wins), with Redis's error lines.
fn pos_options(options: &[Vec<u8>]) -> Result<PosOptions, Reply> {
    let mut o = PosOptions::default();
    let mut i = 0;
    while let Some(option) = options.get(i) {
        let Some(value) = options.get(i + 1) else {
            return Err(syntax());
        };
        match lower(option).as_str() {
            "rank" => {
                o.rank = int_arg(value)?;
                if o.rank == 0 {
                    return Err(Reply::err(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                    ));
                }
            }
            "count" => o.count = Some(positive(value, "ERR COUNT can't be negative")?),
            "maxlen" => o.maxlen = positive(value, "ERR MAXLEN can't be negative")?,
            _ => return Err(syntax()),
        }
        i += 2;
    }
    Ok(o)
}

/// `LPOS key item [RANK rank] [COUNT n] [MAXLEN len]`: the options are
/// read before the key.
pub(crate) fn lpos(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let o = pos_options(c.args.get(3..).unwrap_or(&[]))?;
    let found = d.txn.lpos(c.key(), c.arg(2), o).map_err(ks)?;
    Ok(match (o.count, found) {
        (Some(_), found) => {
            Reply::Array(found.unwrap_or_default().into_iter().map(count).collect())
        }
        (None, found) => found
            .and_then(|f| f.first().copied())
            .map_or(Reply::Nil, count),
    })
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`.
pub(crate) fn lmove(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let (from, to) = (end_arg(c.arg(3))?, end_arg(c.arg(4))?);
    Ok(opt_bulk(
        d.txn.lmove(c.arg(1), c.arg(2), from, to).map_err(ks)?,
    ))
}

/// `RPOPLPUSH source destination`.
pub(crate) fn rpoplpush(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(opt_bulk(
        d.txn
            .lmove(c.arg(1), c.arg(2), End::Tail, End::Head)
            .map_err(ks)?,
    ))
}

/// The arguments of `LMPOP`/`BLMPOP` from `numkeys` (argument
/// `numkeys_at`) on: the keys, the end and the count.
struct Mpop<'a> {
    keys: &'a [Vec<u8>],
    end: End,
    count: usize,
}

fn mpop_args(args: &[Vec<u8>], numkeys_at: usize) -> Result<Mpop<'_>, Reply> {
    let numkeys = args
        .get(numkeys_at)
        .and_then(|n| parse_i64(n))
        .filter(|n| *n > 0)
        .ok_or_else(|| Reply::err("ERR numkeys should be greater than 0"))?;
    let keys_at = numkeys_at + 1;
    let end_at = usize::try_from(numkeys)
        .ok()
        .and_then(|n| keys_at.checked_add(n))
        .filter(|&i| i < args.len())
        .ok_or_else(syntax)?;
    let end = end_arg(args.get(end_at).map_or(&[][..], Vec::as_slice))?;
    let mut count = None;
    let mut i = end_at + 1;
    while let Some(option) = args.get(i) {
        match args.get(i + 1) {
            Some(n) if count.is_none() && option.eq_ignore_ascii_case(b"count") => {
                let n = parse_i64(n)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Reply::err("ERR count should be greater than 0"))?;
                count = Some(items(n));
            }
            _ => return Err(syntax()),
        }
        i += 2;
    }
    Ok(Mpop {
        keys: args.get(keys_at..end_at).unwrap_or(&[]),
        end,
        count: count.unwrap_or(1),
    })
}

/// `[key, [item …]]`, or the nil array.
fn popped_with_key(found: Option<PoppedFrom>) -> Reply {
    match found {
        Some((key, popped)) => Reply::Array(vec![Reply::Bulk(key), Reply::Array(bulks(popped))]),
        None => Reply::NilArray,
    }
}

/// `LMPOP numkeys key … LEFT|RIGHT [COUNT count]`.
pub(crate) fn lmpop(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let m = mpop_args(c.args, 1)?;
    Ok(popped_with_key(
        d.txn.lmpop(m.keys, m.end, m.count).map_err(ks)?,
    ))
}

/// The end of a wait of `timeout` from now (`None`: for ever).
fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// Blocks when the command may (outside `MULTI`), leaving where it waits;
/// otherwise answers `nil` at once.
fn block_or(d: &mut DataCx<'_, '_>, on: BlockOn, nil: Reply) -> Reply {
    match d.block.as_deref_mut() {
        Some(slot) => {
            *slot = Some(on);
            Reply::NilArray
        }
        None => nil,
    }
}

/// `BLPOP`/`BRPOP key … timeout`.
fn blocking_pop(c: &Call<'_>, d: &mut DataCx<'_, '_>, end: End) -> Result<Reply, Reply> {
    let last = c.args.len().saturating_sub(1);
    let timeout = timeout_arg(c.arg(last))?;
    let keys = c.args.get(1..last).unwrap_or(&[]);
    if let Some((key, popped)) = d.txn.lmpop(keys, end, 1).map_err(ks)? {
        let item = popped.into_iter().next().unwrap_or_default();
        return Ok(Reply::Array(vec![Reply::Bulk(key), Reply::Bulk(item)]));
    }
    let on = BlockOn {
        first_key: 1,
        keys: keys.len(),
        numkeys_at: None,
        deadline: deadline(timeout),
    };
    Ok(block_or(d, on, Reply::NilArray))
}

pub(crate) fn blpop(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    blocking_pop(c, d, End::Head)
}

pub(crate) fn brpop(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    blocking_pop(c, d, End::Tail)
}

/// `BLMOVE`/`BRPOPLPUSH` once the ends and the timeout are read: inside
/// `MULTI` an empty source answers a nil bulk string (Redis's
/// `addReplyNull`), a timeout the nil array.
fn blocking_move(
    c: &Call<'_>,
    d: &mut DataCx<'_, '_>,
    (from, to): (End, End),
    timeout: Option<Duration>,
) -> Result<Reply, Reply> {
    if let Some(item) = d.txn.lmove(c.arg(1), c.arg(2), from, to).map_err(ks)? {
        return Ok(Reply::Bulk(item));
    }
    let on = BlockOn {
        first_key: 1,
        keys: 1,
        numkeys_at: None,
        deadline: deadline(timeout),
    };
    Ok(block_or(d, on, Reply::Nil))
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`.
pub(crate) fn blmove(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let ends = (end_arg(c.arg(3))?, end_arg(c.arg(4))?);
    let timeout = timeout_arg(c.arg(5))?;
    blocking_move(c, d, ends, timeout)
}

/// `BRPOPLPUSH source destination timeout`.
pub(crate) fn brpoplpush(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let timeout = timeout_arg(c.arg(3))?;
    blocking_move(c, d, (End::Tail, End::Head), timeout)
}

/// `BLMPOP timeout numkeys key … LEFT|RIGHT [COUNT count]`: the timeout is
/// read after everything else.
pub(crate) fn blmpop(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let m = mpop_args(c.args, 2)?;
    let timeout = timeout_arg(c.arg(1))?;
    if let Some(found) = d.txn.lmpop(m.keys, m.end, m.count).map_err(ks)? {
        return Ok(popped_with_key(Some(found)));
    }
    let on = BlockOn {
        first_key: 3,
        keys: m.keys.len(),
        numkeys_at: Some(2),
        deadline: deadline(timeout),
    };
    Ok(block_or(d, on, Reply::NilArray))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpop_arguments_follow_redis() {
        let args = |v: &[&str]| v.iter().map(|a| a.as_bytes().to_vec()).collect::<Vec<_>>();
        let error = |v: &[&str]| match mpop_args(&args(v), 1) {
            Err(Reply::Error(e)) => e,
            Ok(_) => "ok".into(),
            Err(other) => format!("{other:?}"),
        };
        assert_eq!(
            error(&["lmpop", "0", "a", "left"]),
            "ERR numkeys should be greater than 0"
        );
        assert_eq!(error(&["lmpop", "2", "a", "left"]), "ERR syntax error");
        assert_eq!(
            error(&["lmpop", "9223372036854775807", "a", "left"]),
            "ERR syntax error"
        );
        assert_eq!(error(&["lmpop", "1", "a", "up"]), "ERR syntax error");
        assert_eq!(
            error(&["lmpop", "1", "a", "left", "count", "0"]),
            "ERR count should be greater than 0"
        );
        assert_eq!(
            error(&["lmpop", "1", "a", "left", "count", "1", "count", "1"]),
            "ERR syntax error"
        );
        let line = args(&["lmpop", "2", "a", "b", "RIGHT", "COUNT", "3"]);
        let ok = mpop_args(&line, 1);
        assert!(matches!(ok, Ok(Mpop { keys, end: End::Tail, count: 3 }) if keys.len() == 2));
    }
}
