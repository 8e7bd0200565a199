//! The keyspace side of the bit commands (`SETBIT`, `GETBIT`, `BITCOUNT`,
//! `BITPOS`) and the float increments (`INCRBYFLOAT`, `HINCRBYFLOAT`), as
//! more [`Txn`] methods with Redis 7.0's semantics; the wire layer parses
//! the arguments in Redis's order and words the errors.
//!
//! Bits are numbered from the most significant bit of the first byte, as
//! in Redis. `SETBIT` grows a string with zero bytes, but never past the
//! store's per-value limit ([`MAX_VALUE_LEN`]): Redis allows 512 MB.
//! A `SETBIT` that changes nothing writes nothing (a `WATCH` on the key
//! stays clean, as in Redis).
//!
//! The float increments compute in the x87 extended precision Redis uses
//! ([`crate::long_double`]) and store the text Redis would store.

use super::{check_key, KsError, KsResult, Txn};
use crate::long_double::LongDouble;
use reddb_storage::store::edit::Edit;
use reddb_storage::store::record::{Value, MAX_VALUE_LEN};

/// A `BITCOUNT`/`BITPOS` range: `start` and `end` (inclusive, negative
/// from the end) in bytes, or in bits with `BIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    pub start: i64,
    pub end: i64,
    pub bits: bool,
}

/// A byte range resolved as Redis resolves it: `start..=end` in bytes,
/// with the bits outside a `BIT` range masked off at both edges (the
/// masks' set bits are the bits to ignore). `None` for an empty range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteSpan {
    start: usize,
    end: usize,
    first_mask: u8,
    last_mask: u8,
}

/// Redis's index arithmetic of `BITCOUNT` and `BITPOS` (`bitops.c`):
/// negative indexes count from the end, then both are clamped.
fn resolve(len: usize, start: i64, end: i64, bits: bool) -> Option<ByteSpan> {
    let mut total = i64::try_from(len).unwrap_or(i64::MAX);
    if bits {
        total = total.saturating_mul(8);
    }
    let (mut start, mut end) = (start, end);
    if start < 0 {
        start = start.saturating_add(total);
    }
    if end < 0 {
        end = end.saturating_add(total);
    }
    start = start.max(0);
    end = end.max(0).min(total - 1);
    if start > end {
        return None;
    }
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    if bits {
        first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Some(ByteSpan {
        start: usize::try_from(start).ok()?,
        end: usize::try_from(end).ok()?,
        first_mask,
        last_mask,
    })
}

fn popcount(bytes: &[u8]) -> i64 {
    bytes.iter().map(|b| i64::from(b.count_ones())).sum()
}

/// `BITCOUNT` of `value` over `range` (the whole string when `None`).
pub fn count_bits(value: &[u8], range: Option<BitRange>) -> i64 {
    let Some(r) = range else {
        return popcount(value);
    };
    if r.start < 0 && r.end < 0 && r.start > r.end {
        return 0;
    }
    let Some(span) = resolve(value.len(), r.start, r.end, r.bits) else {
        return 0;
    };
    let byte = |i: usize| value.get(i).copied().unwrap_or(0);
    let mut n = popcount(value.get(span.start..=span.end).unwrap_or(&[]));
    n -= i64::from((byte(span.start) & span.first_mask).count_ones());
    n -= i64::from((byte(span.end) & span.last_mask).count_ones());
    n
}

/// Redis's `redisBitpos`: the first bit equal to `bit` in `bytes`; for a
/// 0 not found, the bit just past the end; for a 1 not found, -1.
fn first_bit(bytes: &[u8], bit: bool) -> i64 {
    for (i, &b) in bytes.iter().enumerate() {
        let b = if bit { b } else { !b };
        if b != 0 {
            let at = i64::try_from(i).unwrap_or(i64::MAX);
            return at * 8 + i64::from(b.leading_zeros());
        }
    }
    if bit {
        -1
    } else {
        i64::try_from(bytes.len()).unwrap_or(i64::MAX) * 8
    }
}

/// `BITPOS` of `value` (an existing string) over `range`; `end_given`
/// when the client named the end (then a 0 past it is not found).
pub fn find_bit(value: &[u8], bit: bool, range: Option<BitRange>, end_given: bool) -> i64 {
    let span = match range {
        None => resolve(value.len(), 0, -1, false),
        Some(r) => resolve(value.len(), r.start, r.end, r.bits),
    };
    let Some(span) = span else {
        return -1;
    };
    let byte = |i: usize| value.get(i).copied().unwrap_or(0);
    // Bits outside the range read as the opposite of what is looked for.
    let masked = |b: u8, mask: u8| if bit { b & !mask } else { b | mask };
    let mut start = span.start;
    let mut bytes = span.end - span.start + 1;
    let mut pos;
    'found: {
        if span.first_mask != 0 {
            let mut b = masked(byte(start), span.first_mask);
            if span.last_mask != 0 && bytes == 1 {
                b = masked(b, span.last_mask);
            }
            pos = first_bit(&[b], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'found;
            }
            start += 1;
            bytes -= 1;
        }
        let whole = bytes - usize::from(span.last_mask != 0);
        if whole > 0 {
            pos = first_bit(value.get(start..start + whole).unwrap_or(&[]), bit);
            let past = i64::try_from(whole).unwrap_or(i64::MAX) * 8;
            if bytes == whole || (pos != -1 && pos != past) {
                break 'found;
            }
            start += whole;
            bytes -= whole;
        }
        pos = first_bit(&[masked(byte(span.end), span.last_mask)], bit);
    }
    let bytes_bits = i64::try_from(bytes).unwrap_or(i64::MAX) * 8;
    if end_given && !bit && pos == bytes_bits {
        return -1;
    }
    if pos != -1 {
        pos += i64::try_from(start).unwrap_or(i64::MAX) * 8;
    }
    pos
}

impl Txn<'_> {
    /// The string at `key` for a bit command (counted as a hit or miss).
    fn bit_string(&mut self, key: &[u8]) -> KsResult<Option<Vec<u8>>> {
        check_key(key)?;
        let v = self.string(key)?.map(<[u8]>::to_vec);
        self.count(v.is_some());
        Ok(v)
    }

    /// `SETBIT key offset 0|1`: the bit's old value. A missing key is
    /// created; the string grows with zero bytes (refused past the
    /// per-value limit); the TTL stays.
    pub fn setbit(&mut self, key: &[u8], offset: u64, on: bool) -> KsResult<bool> {
        check_key(key)?;
        let expires = self.lookup(key).map_or(0, |e| e.expires_at_ms);
        let current = self.string(key)?.map(<[u8]>::to_vec);
        let byte = usize::try_from(offset >> 3).map_err(|_| KsError::ValueTooLarge)?;
        if byte >= MAX_VALUE_LEN {
            return Err(KsError::ValueTooLarge);
        }
        let existed = current.is_some();
        let mut value = current.unwrap_or_default();
        let grows = value.len() <= byte;
        if grows {
            value.resize(byte + 1, 0);
        }
        let mask = 0x80u8 >> (offset & 7);
        let Some(slot) = value.get_mut(byte) else {
            return Err(KsError::ValueTooLarge);
        };
        let old = *slot & mask != 0;
        if old != on || grows || !existed {
            if on {
                *slot |= mask;
            } else {
                *slot &= !mask;
            }
            self.put(key, Value::Bytes(value), expires)?;
        }
        Ok(old)
    }

    /// `GETBIT key offset`: 0 past the end or for a missing key.
    pub fn getbit(&mut self, key: &[u8], offset: u64) -> KsResult<bool> {
        let Some(v) = self.bit_string(key)? else {
            return Ok(false);
        };
        let byte = usize::try_from(offset >> 3).unwrap_or(usize::MAX);
        Ok(v.get(byte).is_some_and(|b| b & (0x80 >> (offset & 7)) != 0))
    }

    /// `BITCOUNT key [range]`: 0 for a missing key.
    pub fn bitcount(&mut self, key: &[u8], range: Option<BitRange>) -> KsResult<i64> {
        Ok(self.bit_string(key)?.map_or(0, |v| count_bits(&v, range)))
    }

    /// `BITPOS key bit [range]`: a missing key is all zero bits (0 for a
    /// clear bit, -1 for a set one).
    pub fn bitpos(
        &mut self,
        key: &[u8],
        bit: bool,
        range: Option<BitRange>,
        end_given: bool,
    ) -> KsResult<i64> {
        Ok(match self.bit_string(key)? {
            None if bit => -1,
            None => 0,
            Some(v) => find_bit(&v, bit, range, end_given),
        })
    }

    /// `INCRBYFLOAT key increment`: the stored text of the sum. The key's
    /// type is checked first, then its value, then the increment (Redis's
    /// order); the TTL stays.
    pub fn incrbyfloat(&mut self, key: &[u8], increment: &[u8]) -> KsResult<Vec<u8>> {
        check_key(key)?;
        let expires = self.lookup(key).map_or(0, |e| e.expires_at_ms);
        let current = match self.string(key)? {
            None => LongDouble::ZERO,
            Some(v) => LongDouble::parse(v).ok_or(KsError::NotFloat)?,
        };
        let by = LongDouble::parse(increment).ok_or(KsError::NotFloat)?;
        let sum = current.plus(by);
        if !sum.is_finite() {
            return Err(KsError::NanOrInfinity);
        }
        let text = sum.to_human_string().into_bytes();
        self.put(key, Value::Bytes(text.clone()), expires)?;
        Ok(text)
    }

    /// `HINCRBYFLOAT key field increment` with the increment already
    /// parsed (and finite): the stored text of the sum.
    pub fn hincrbyfloat(&mut self, key: &[u8], field: &[u8], by: LongDouble) -> KsResult<Vec<u8>> {
        check_key(key)?;
        let current = match self.hash_value(key)?.and_then(|(h, _)| h.get(field)) {
            None => LongDouble::ZERO,
            Some(v) => LongDouble::parse(v).ok_or(KsError::HashValueNotFloat)?,
        };
        let sum = current.plus(by);
        if !sum.is_finite() {
            return Err(KsError::NanOrInfinity);
        }
        let text = sum.to_human_string().into_bytes();
        self.edit(key, Edit::HashPut(vec![(field.to_vec(), text.clone())]))?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reddb_storage::store::State;

    fn range(start: i64, end: i64, bits: bool) -> Option<BitRange> {
        Some(BitRange { start, end, bits })
    }

    /// Replies of redis-server 7.0.15 on the value "foobar".
    #[test]
    fn counts_and_positions_follow_redis() {
        let v = b"foobar";
        assert_eq!(count_bits(v, None), 26);
        assert_eq!(count_bits(v, range(0, 0, false)), 4);
        assert_eq!(count_bits(v, range(1, 1, false)), 6);
        assert_eq!(count_bits(v, range(5, 30, true)), 17);
        assert_eq!(count_bits(v, range(-1, -2, false)), 0);
        assert_eq!(find_bit(v, true, range(0, -1, true), true), 1);
        assert_eq!(find_bit(b"\xff\xf0\x00", false, None, false), 12);
        assert_eq!(
            find_bit(b"\x00\xff\xf0", true, range(2, -1, false), false),
            16
        );
        assert_eq!(find_bit(b"\x00\x00\x00", true, None, false), -1);
        assert_eq!(find_bit(b"\xff\xff", false, None, false), 16);
        assert_eq!(find_bit(b"\xff\xff", false, range(0, -1, false), true), -1);
        assert_eq!(find_bit(b"", false, None, false), -1);
    }

    #[test]
    fn setbit_grows_reports_and_refuses_past_the_limit() {
        let state = State::default();
        let mut t = Txn::new(&state, 1);
        assert_eq!(t.setbit(b"k", 7, true), Ok(false));
        assert_eq!(t.get(b"k"), Ok(Some(vec![1])));
        assert_eq!(t.setbit(b"k", 7, true), Ok(true));
        assert_eq!(t.setbit(b"k", 17, false), Ok(false));
        assert_eq!(t.get(b"k"), Ok(Some(vec![1, 0, 0])));
        assert_eq!(t.getbit(b"k", 7), Ok(true));
        assert_eq!(t.getbit(b"k", 1 << 40), Ok(false));
        let past = (MAX_VALUE_LEN as u64) << 3;
        assert_eq!(t.setbit(b"k", past, true), Err(KsError::ValueTooLarge));
        assert_eq!(t.setbit(b"k", past - 1, false), Ok(false));
    }

    #[test]
    fn float_increments_keep_redis_text() {
        let state = State::default();
        let mut t = Txn::new(&state, 1);
        assert_eq!(t.incrbyfloat(b"f", b"10.5"), Ok(b"10.5".to_vec()));
        assert_eq!(t.incrbyfloat(b"f", b"0.1"), Ok(b"10.6".to_vec()));
        assert_eq!(t.incrbyfloat(b"f", b"x"), Err(KsError::NotFloat));
        assert_eq!(t.incrbyfloat(b"f", b"inf"), Err(KsError::NanOrInfinity));
        t.hset(b"h", vec![(b"a".to_vec(), b"x".to_vec())]).ok();
        let one = LongDouble::from_i64(1);
        assert_eq!(
            t.hincrbyfloat(b"h", b"a", one),
            Err(KsError::HashValueNotFloat)
        );
        assert_eq!(t.hincrbyfloat(b"h", b"b", one), Ok(b"1".to_vec()));
        assert_eq!(t.hincrbyfloat(b"f", b"b", one), Err(KsError::WrongType));
    }
}
