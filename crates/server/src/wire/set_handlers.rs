//! The handlers of the set commands beyond `SADD`…`SCARD` (`SMISMEMBER`,
//! `SPOP`, `SRANDMEMBER`, `SMOVE`, `SINTER`, `SUNION`, `SDIFF`, their
//! `…STORE` forms, `SINTERCARD`, `SSCAN`): Redis 7's argument parsing and
//! error lines, then one call on the keyspace [`Txn`](reddb_service::keyspace::Txn).
//!
//! The random members of `SPOP`/`SRANDMEMBER` (and `ZRANDMEMBER`) come from a small generator
//! seeded from the kernel for each command: unpredictable enough for
//! sampling, and never a secret.

use super::commands::{
    bulks, count, int_arg, ks, not_integer, opt_bulk, scan_cursor, syntax, Call, DataCx,
    ScanOptions,
};
use super::resp::Reply;
use reddb_service::keyspace::set_commands::SetOp;
use reddb_service::strict_decimal::parse_i64;
use reddb_storage::crypto::random;

/// The most a repeating `SRANDMEMBER` (negative count) may answer, in
/// bytes (each member counted with 16 bytes of framing): Redis has no
/// such bound and a huge count exhausts its memory.
pub(crate) const MAX_RANDOM_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// A splitmix64 generator seeded from the kernel.
pub(crate) struct Sampler(u64);

impl Sampler {
    pub(crate) fn new() -> Result<Self, Reply> {
        random::array::<8>()
            .map(|b| Sampler(u64::from_le_bytes(b)))
            .map_err(|_| Reply::err("ERR the random number generator failed"))
    }

    /// An index below `n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let n = u64::try_from(n).unwrap_or(u64::MAX).max(1);
        usize::try_from(z % n).unwrap_or(0)
    }
}

/// `SMISMEMBER key member …`.
pub(crate) fn smismember(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let hits = d.txn.smismember(c.key(), c.after_key()).map_err(ks)?;
    Ok(Reply::Array(
        hits.into_iter().map(|h| Reply::Int(i64::from(h))).collect(),
    ))
}

/// `SPOP key [count]`.
pub(crate) fn spop(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let mut sampler = Sampler::new()?;
    let mut pick = |n| sampler.below(n);
    match c.after_key() {
        [] => {
            let popped = d.txn.spop(c.key(), 1, &mut pick).map_err(ks)?;
            Ok(opt_bulk(popped.into_iter().next()))
        }
        [n] => {
            let n = parse_i64(n)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| Reply::err("ERR value is out of range, must be positive"))?;
            Ok(Reply::Set(bulks(
                d.txn.spop(c.key(), n, &mut pick).map_err(ks)?,
            )))
        }
        _ => Err(syntax()),
    }
}

/// `SRANDMEMBER key [count]`: a negative count may repeat members.
pub(crate) fn srandmember(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let mut sampler = Sampler::new()?;
    let mut pick = |n| sampler.below(n);
    let n = match c.after_key() {
        [] => {
            let one = d.txn.srandmember(c.key(), 1, false, &mut pick, 0);
            return Ok(opt_bulk(
                one.map_err(ks)?.and_then(|v| v.into_iter().next()),
            ));
        }
        [n] => int_arg(n)?,
        _ => return Err(syntax()),
    };
    if n == i64::MIN {
        return Err(Reply::err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let (repeat, wanted) = (
        n < 0,
        usize::try_from(n.unsigned_abs()).map_err(|_| not_integer())?,
    );
    let reply = d
        .txn
        .srandmember(c.key(), wanted, repeat, &mut pick, MAX_RANDOM_REPLY_BYTES)
        .map_err(ks)?
        .ok_or_else(|| {
            Reply::err(format!(
                "ERR SRANDMEMBER reply too large (max {MAX_RANDOM_REPLY_BYTES} bytes)"
            ))
        })?;
    Ok(Reply::Array(bulks(reply)))
}

/// `SMOVE source destination member`.
pub(crate) fn smove(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let moved = d.txn.smove(c.arg(1), c.arg(2), c.arg(3)).map_err(ks)?;
    Ok(Reply::Int(i64::from(moved)))
}

fn algebra(c: &Call<'_>, d: &mut DataCx<'_, '_>, op: SetOp) -> Result<Reply, Reply> {
    let keys = c.args.get(1..).unwrap_or(&[]);
    Ok(Reply::Set(bulks(
        d.txn
            .set_algebra(op, keys)
            .map_err(ks)?
            .into_iter()
            .collect(),
    )))
}

fn store(c: &Call<'_>, d: &mut DataCx<'_, '_>, op: SetOp) -> Result<Reply, Reply> {
    Ok(count(
        d.txn.set_store(op, c.key(), c.after_key()).map_err(ks)?,
    ))
}

/// `SINTER key …`.
pub(crate) fn sinter(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    algebra(c, d, SetOp::Inter)
}

/// `SUNION key …`.
pub(crate) fn sunion(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    algebra(c, d, SetOp::Union)
}

/// `SDIFF key …`.
pub(crate) fn sdiff(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    algebra(c, d, SetOp::Diff)
}

/// `SINTERSTORE destination key …`.
pub(crate) fn sinterstore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    store(c, d, SetOp::Inter)
}

/// `SUNIONSTORE destination key …`.
pub(crate) fn sunionstore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    store(c, d, SetOp::Union)
}

/// `SDIFFSTORE destination key …`.
pub(crate) fn sdiffstore(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    store(c, d, SetOp::Diff)
}

/// `SINTERCARD numkeys key … [LIMIT limit]`.
pub(crate) fn sintercard(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let numkeys = parse_i64(c.arg(1))
        .filter(|n| *n > 0)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Reply::err("ERR numkeys should be greater than 0"))?;
    let rest = c.args.get(2..).unwrap_or(&[]);
    let (Some(keys), Some(options)) = (rest.get(..numkeys), rest.get(numkeys..)) else {
        return Err(Reply::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    };
    let mut limit = 0usize;
    for pair in options.chunks(2) {
        match pair {
            [option, n] if option.eq_ignore_ascii_case(b"limit") => {
                limit = parse_i64(n)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| Reply::err("ERR LIMIT can't be negative"))?;
            }
            _ => return Err(syntax()),
        }
    }
    Ok(count(d.txn.sintercard(keys, limit).map_err(ks)?))
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`: as Redis, the key is
/// looked up (a missing one is an empty iteration) before the options
/// are read.
pub(crate) fn sscan(c: &Call<'_>, d: &mut DataCx<'_, '_>) -> Result<Reply, Reply> {
    let cursor = scan_cursor(c.arg(2))?;
    let page = |cursor: u64, members| {
        Reply::Array(vec![
            Reply::bulk(cursor.to_string()),
            Reply::Array(bulks(members)),
        ])
    };
    if d.txn.scard(c.key()).map_err(ks)? == 0 {
        return Ok(page(0, Vec::new()));
    }
    let o = ScanOptions::parse(c.args.get(3..).unwrap_or(&[]), false)?;
    let found = d
        .txn
        .sscan(c.key(), cursor, o.count, o.pattern)
        .map_err(ks)?;
    Ok(page(found.cursor, found.members))
}
