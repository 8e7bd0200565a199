//! The handlers of `SETBIT`, `GETBIT`, `BITCOUNT`, `BITPOS`,
//! `INCRBYFLOAT` and `HINCRBYFLOAT`: Redis 7.0's argument order and error
//! lines, then one call on the keyspace [`reddb_service::keyspace::Txn`].
//!
//! Where reddb differs on purpose: a `SETBIT` offset whose byte is past
//! the 16 MiB per-value limit (but below Redis's 512 MB one) is refused
//! with the value-size error line instead of growing the string.

use super::commands::{int_arg, ks, lower, syntax, Call, DataCx};
use super::resp::Reply;
use reddb_service::keyspace::bit_and_float_commands::BitRange;
use reddb_service::keyspace::KsError;
use reddb_service::long_double::LongDouble;
use reddb_service::strict_decimal::parse_i64;

/// Redis's `proto-max-bulk-len`: a bit offset whose byte reaches it is
/// out of range for Redis too.
const REDIS_MAX_BULK: i64 = 512 * 1024 * 1024;

fn key<'a>(c: &'a Call<'_>) -> &'a [u8] {
    c.arg(1)
}

/// A bit offset (`getBitOffsetFromArgument`): a decimal integer from 0 to
/// Redis's limit.
fn bit_offset(b: &[u8]) -> Result<u64, Reply> {
    parse_i64(b)
        .filter(|&n| n >= 0 && n >> 3 < REDIS_MAX_BULK)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| Reply::err("ERR bit offset is not an integer or out of range"))
}

/// `SETBIT key offset 0|1`: the old bit.
pub(super) fn setbit(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let offset = bit_offset(c.arg(2))?;
    let on = match parse_i64(c.arg(3)) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(Reply::err("ERR bit is not an integer or out of range")),
    };
    let old = d.txn.setbit(key(c), offset, on).map_err(ks)?;
    Ok(Reply::Int(i64::from(old)))
}

/// `GETBIT key offset`.
pub(super) fn getbit(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let offset = bit_offset(c.arg(2))?;
    Ok(Reply::Int(i64::from(
        d.txn.getbit(key(c), offset).map_err(ks)?,
    )))
}

/// `BYTE` or `BIT`: whether the range counts bits.
fn unit(b: &[u8]) -> Result<bool, Reply> {
    match lower(b).as_str() {
        "bit" => Ok(true),
        "byte" => Ok(false),
        _ => Err(syntax()),
    }
}

/// Whether `key` holds a string; `Ok(false)` when it is missing, and
/// `WRONGTYPE` for another type (Redis looks the key up before it reads
/// the range of `BITCOUNT` and `BITPOS`).
fn is_string(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<bool, Reply> {
    match d.txn.type_of(key(c)).map_err(ks)? {
        "none" => Ok(false),
        "string" => Ok(true),
        _ => Err(ks(KsError::WrongType)),
    }
}

/// `BITCOUNT key [start end [BYTE|BIT]]`: 0 for a missing key, whatever
/// the range says.
pub(super) fn bitcount(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    if !is_string(c, d)? {
        return Ok(Reply::Int(d.txn.bitcount(key(c), None).map_err(ks)?));
    }
    let range = match c.args.len() {
        2 => None,
        4 | 5 => {
            let (start, end) = (int_arg(c.arg(2))?, int_arg(c.arg(3))?);
            let bits = match c.args.get(4) {
                Some(u) => unit(u)?,
                None => false,
            };
            Some(BitRange { start, end, bits })
        }
        _ => return Err(syntax()),
    };
    Ok(Reply::Int(d.txn.bitcount(key(c), range).map_err(ks)?))
}

/// `BITPOS key bit [start [end [BYTE|BIT]]]`: the bit is read first, then
/// the key, then the range.
pub(super) fn bitpos(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let bit = match int_arg(c.arg(2))? {
        0 => false,
        1 => true,
        _ => return Err(Reply::err("ERR The bit argument must be 1 or 0.")),
    };
    if !is_string(c, d)? {
        return Ok(Reply::Int(
            d.txn.bitpos(key(c), bit, None, false).map_err(ks)?,
        ));
    }
    let (range, end_given) = match c.args.len() {
        3 => (None, false),
        4..=6 => {
            let start = int_arg(c.arg(3))?;
            let bits = match c.args.get(5) {
                Some(u) => unit(u)?,
                None => false,
            };
            let (end, given) = match c.args.get(4) {
                Some(e) => (int_arg(e)?, true),
                None => (-1, false),
            };
            (Some(BitRange { start, end, bits }), given)
        }
        _ => return Err(syntax()),
    };
    Ok(Reply::Int(
        d.txn.bitpos(key(c), bit, range, end_given).map_err(ks)?,
    ))
}

/// `INCRBYFLOAT key increment`: the new value as Redis prints it.
pub(super) fn incrbyfloat(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    Ok(Reply::Bulk(
        d.txn.incrbyfloat(key(c), c.arg(2)).map_err(ks)?,
    ))
}

/// `HINCRBYFLOAT key field increment`: the increment is checked before
/// the key.
pub(super) fn hincrbyfloat(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let by = LongDouble::parse(c.arg(3)).ok_or_else(|| ks(KsError::NotFloat))?;
    if !by.is_finite() {
        return Err(Reply::err("ERR value is NaN or Infinity"));
    }
    Ok(Reply::Bulk(
        d.txn.hincrbyfloat(key(c), c.arg(2), by).map_err(ks)?,
    ))
}
