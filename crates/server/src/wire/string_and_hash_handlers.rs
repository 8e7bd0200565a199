//! The handlers of `SETRANGE`, `MSETNX`, `EXPIRETIME`, `PEXPIRETIME`,
//! `RANDOMKEY`, `COPY`, `HINCRBY`, `HSETNX`, `HKEYS`, `HVALS`, `HSTRLEN`,
//! `HRANDFIELD` and `HSCAN`: Redis 7's argument order and error lines, then
//! one call on the keyspace [`reddb_service::keyspace::Txn`].
//!
//! Where reddb differs on purpose: `COPY … DB n` accepts only database 0
//! (there is one), a `SETRANGE` past the 16 MiB per-value limit gets the
//! `APPEND` error line, and `HRANDFIELD` with a negative count refuses a
//! reply larger than one commit could be.

use super::commands::{
    bulks, count, db_arg, int_arg, ks, lower, opt_bulk, scan_cursor, syntax, wrong_args,
};
use super::commands::{Call, DataCx};
use super::resp::Reply;
use reddb_service::keyspace::{Ttl, MAX_TXN_BYTES};

/// The key of a keyed command.
fn key<'a>(c: &'a Call<'_>) -> &'a [u8] {
    c.arg(1)
}

/// `SETRANGE key offset value`: the new length.
pub(super) fn setrange(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let offset = int_arg(c.arg(2))?;
    if offset < 0 {
        return Err(Reply::err("ERR offset is out of range"));
    }
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    Ok(count(d.txn.setrange(key(c), offset, c.arg(3)).map_err(ks)?))
}

/// `MSETNX key value...`: 1 when every key was set, 0 when one existed.
pub(super) fn msetnx(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    if c.args.len() % 2 != 1 {
        return Err(wrong_args(c.name));
    }
    let pairs: Vec<(&[u8], &[u8])> = c
        .args
        .get(1..)
        .unwrap_or(&[])
        .chunks(2)
        .filter_map(|p| Some((p.first()?.as_slice(), p.get(1)?.as_slice())))
        .collect();
    Ok(Reply::Int(i64::from(d.txn.msetnx(&pairs).map_err(ks)?)))
}

/// `EXPIRETIME key`: the expiry as Unix seconds; -2 missing, -1 none.
pub(super) fn expiretime(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    expiry_time(c, d, 1000)
}

/// `PEXPIRETIME key`: the expiry as Unix milliseconds.
pub(super) fn pexpiretime(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    expiry_time(c, d, 1)
}

fn expiry_time(c: &Call<'_>, d: &mut DataCx<'_, '_>, unit_ms: u64) -> Result<Reply, Reply> {
    let now = d.txn.now();
    Ok(Reply::Int(match d.txn.ttl(key(c)).map_err(ks)? {
        Ttl::Missing => -2,
        Ttl::Persistent => -1,
        Ttl::Ms(left) => i64::try_from(now.saturating_add(left) / unit_ms).unwrap_or(i64::MAX),
    }))
}

/// `RANDOMKEY`: a random key, nil when the keyspace is empty.
pub(super) fn randomkey(_: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(opt_bulk(d.txn.random_key()))
}

/// `COPY source destination [DB 0] [REPLACE]`: 1 when copied.
pub(super) fn copy(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let mut replace = false;
    let mut db = d.txn.db();
    let mut options = c.args.iter().skip(3);
    while let Some(o) = options.next() {
        match lower(o).as_str() {
            "replace" => replace = true,
            "db" => {
                let Some(n) = options.next() else {
                    return Err(syntax());
                };
                db = db_arg(n)?;
            }
            _ => return Err(syntax()),
        }
    }
    let (src, dst) = (key(c), c.arg(2));
    if src == dst && db == d.txn.db() {
        return Err(Reply::err(
            "ERR source and destination objects are the same",
        ));
    }
    Ok(Reply::Int(i64::from(
        d.txn.copy(src, dst, db, replace).map_err(ks)?,
    )))
}

/// `HINCRBY key field delta`: the new value.
pub(super) fn hincrby(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let delta = int_arg(c.arg(3))?;
    Ok(Reply::Int(
        d.txn.hincrby(key(c), c.arg(2), delta).map_err(ks)?,
    ))
}

/// `HSETNX key field value`: 1 when the field was new.
pub(super) fn hsetnx(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let set = d.txn.hsetnx(key(c), c.arg(2), c.arg(3)).map_err(ks)?;
    Ok(Reply::Int(i64::from(set)))
}

/// `HKEYS key`.
pub(super) fn hkeys(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::Array(bulks(
        d.txn.hash_column(key(c), false).map_err(ks)?,
    )))
}

/// `HVALS key`.
pub(super) fn hvals(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::Array(bulks(
        d.txn.hash_column(key(c), true).map_err(ks)?,
    )))
}

/// `HSTRLEN key field`.
pub(super) fn hstrlen(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(count(d.txn.hstrlen(key(c), c.arg(2)).map_err(ks)?))
}

/// `HRANDFIELD key [count [WITHVALUES]]`, checked in Redis's order: the
/// count, the options, then the key.
pub(super) fn hrandfield(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let Some(n) = c.args.get(2) else {
        let one = d.txn.hrandfield(key(c), 1, MAX_TXN_BYTES).map_err(ks)?;
        let field = one.unwrap_or_default().into_iter().next().map(|(f, _)| f);
        return Ok(opt_bulk(field));
    };
    let n = int_arg(n)?;
    if n == i64::MIN {
        return Err(Reply::err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with_values = match c.args.get(3..).unwrap_or(&[]) {
        [] => false,
        [o] if lower(o) == "withvalues" => true,
        _ => return Err(syntax()),
    };
    if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&n) {
        return Err(Reply::err("ERR value is out of range"));
    }
    let Some(picked) = d.txn.hrandfield(key(c), n, MAX_TXN_BYTES).map_err(ks)? else {
        return Err(Reply::err(format!(
            "ERR HRANDFIELD reply too large (max {MAX_TXN_BYTES} bytes): ask for fewer fields"
        )));
    };
    Ok(if with_values {
        Reply::Pairs(
            picked
                .into_iter()
                .map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v)))
                .collect(),
        )
    } else {
        Reply::Array(picked.into_iter().map(|(f, _)| Reply::Bulk(f)).collect())
    })
}

/// `HSCAN key cursor [MATCH pattern] [COUNT n]`: field, value, … pages.
/// As in Redis, a missing key answers an empty page and another type
/// `WRONGTYPE` before the options are read.
pub(super) fn hscan(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let cursor = scan_cursor(c.arg(2))?;
    let empty = || Reply::Array(vec![Reply::bulk("0"), Reply::Array(Vec::new())]);
    if d.txn.hlen(key(c)).map_err(ks)? == 0 {
        return Ok(empty());
    }
    let (mut pattern, mut per_page) = (None, 10usize);
    let mut options = c.args.iter().skip(3);
    while let Some(o) = options.next() {
        let (name, Some(v)) = (lower(o), options.next()) else {
            return Err(syntax());
        };
        match name.as_str() {
            "match" => pattern = Some(v.as_slice()).filter(|p| *p != b"*"),
            "count" => {
                per_page = usize::try_from(int_arg(v)?)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(syntax)?;
            }
            _ => return Err(syntax()),
        }
    }
    let page = d.txn.hscan(key(c), cursor, per_page, pattern).map_err(ks)?;
    Ok(Reply::Array(vec![
        Reply::bulk(page.cursor.to_string()),
        Reply::Array(bulks(page.keys)),
    ]))
}
