//! The x87 80-bit extended float ("long double" on x86-64) as far as
//! Redis's `INCRBYFLOAT` and `HINCRBYFLOAT` use it, in pure Rust: glibc's
//! `strtold` behind Redis's `string2ld` (correctly rounded decimal and
//! hexadecimal input, `inf`, the underflow and overflow refusals), one
//! correctly rounded addition, and `ld2string`'s human-friendly output
//! (`%.17Lf`, trailing zeros stripped, `-0` shown as `0`).
//!
//! An `f64` cannot do this: Redis adds with a 64-bit significand and
//! prints 17 decimals, so `10.6 + 3000` is `3010.60000000000000009`
//! there, and `1e400` is a valid value. Here every step is exact integer
//! arithmetic on a small private big integer, rounded once, half to even,
//! as the x87 unit and glibc round. The result is what a redis-server
//! built for x86-64 answers; one built where `long double` is a 128-bit
//! quad (aarch64) or a plain double prints other digits.
//!
//! Owns the arithmetic only. It must never panic on input, allocate
//! without a bound (inputs are at most 5119 bytes, as in Redis, and the
//! exponent range bounds every number), or know about keys or replies.

use std::cmp::Ordering;

/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer input is not a float.
pub const MAX_CHARS: usize = 5 * 1024;

/// The significand's bits.
const PRECISION: u32 = 64;
/// A finite value is `mant × 2^exp`; the smallest `exp` (denormals).
const MIN_EXP: i64 = -16445;
/// The largest `exp` of a finite value (`(2^64 - 1) × 2^16320`).
const MAX_EXP: i64 = 16320;

/// An extended-precision value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongDouble {
    neg: bool,
    magnitude: Magnitude,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Magnitude {
    Zero,
    /// `mant × 2^exp`: `mant` has its top bit set unless `exp` is
    /// [`MIN_EXP`] (a denormal).
    Finite {
        mant: u64,
        exp: i64,
    },
    Infinite,
}

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble {
        neg: false,
        magnitude: Magnitude::Zero,
    };

    /// An integer, exactly (64 bits fit the significand).
    pub fn from_i64(v: i64) -> LongDouble {
        round(
            v < 0,
            &Big::from_u128(u128::from(v.unsigned_abs())),
            0,
            false,
        )
    }

    pub fn is_finite(&self) -> bool {
        self.magnitude != Magnitude::Infinite
    }

    /// Redis's `string2ld`: the whole of `s` must be a `strtold` number
    /// (no leading space, nothing after it), not NaN, and neither overflow
    /// nor underflow to zero. `inf` and `infinity` are accepted.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_CHARS {
            return None;
        }
        let (neg, body) = match s.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble {
                neg,
                magnitude: Magnitude::Infinite,
            });
        }
        let hex = body.len() > 2
            && body.first() == Some(&b'0')
            && matches!(body.get(1), Some(b'x' | b'X'));
        let exact = if hex {
            parse_hex(body.get(2..)?)?
        } else {
            parse_decimal(body)?
        };
        let value = exact.value(neg);
        match value.magnitude {
            // Overflow (HUGE_VAL) or an underflow to zero of a non-zero
            // number: ERANGE, refused.
            Magnitude::Infinite => None,
            Magnitude::Zero if !exact.digits.is_zero() => None,
            _ => Some(value),
        }
    }

    /// `self + other`, rounded to nearest, ties to even.
    pub fn plus(self, other: LongDouble) -> LongDouble {
        match (self.magnitude, other.magnitude) {
            (Magnitude::Infinite, _) | (_, Magnitude::Infinite) => {
                // Only the finiteness of a sum matters to its callers.
                LongDouble {
                    neg: false,
                    magnitude: Magnitude::Infinite,
                }
            }
            (Magnitude::Zero, Magnitude::Zero) => LongDouble {
                neg: self.neg && other.neg,
                magnitude: Magnitude::Zero,
            },
            (Magnitude::Zero, _) => other,
            (_, Magnitude::Zero) => self,
            (Magnitude::Finite { mant: ma, exp: ea }, Magnitude::Finite { mant: mb, exp: eb }) => {
                add_finite((self.neg, ma, ea), (other.neg, mb, eb))
            }
        }
    }

    /// Redis's `ld2string(…, LD_STR_HUMAN)`: `%.17Lf` without trailing
    /// zeros (nor a trailing `.`), `-0` as `0`, `inf`/`-inf`.
    pub fn to_human_string(self) -> String {
        let (mant, exp) = match self.magnitude {
            Magnitude::Infinite => return if self.neg { "-inf" } else { "inf" }.to_string(),
            Magnitude::Zero => (0, 0),
            Magnitude::Finite { mant, exp } => (mant, exp),
        };
        let scaled = u128::from(mant) * 100_000_000_000_000_000u128;
        let rounded = if exp >= 0 {
            let mut n = Big::from_u128(scaled);
            n.shl(u32::try_from(exp).unwrap_or(u32::MAX));
            n
        } else {
            Big::from_u128(shift_right_half_even(scaled, exp.unsigned_abs()))
        };
        let digits = rounded.to_decimal();
        let padded = format!("{digits:0>18}");
        let (int_part, frac) = padded.split_at(padded.len() - 17);
        let frac = frac.trim_end_matches('0');
        let mut out = String::with_capacity(padded.len() + 2);
        if self.neg {
            out.push('-');
        }
        out.push_str(int_part);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        if out == "-0" {
            out.remove(0);
        }
        out
    }
}

/// `n >> shift`, rounded half to even.
fn shift_right_half_even(n: u128, shift: u64) -> u128 {
    if shift >= 128 {
        // n < 2^121 here, far below half of 2^shift.
        return 0;
    }
    if shift == 0 {
        return n;
    }
    let q = n >> shift;
    let rem = n & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if rem > half || (rem == half && q & 1 == 1) {
        q + 1
    } else {
        q
    }
}

/// Two non-zero finite values, each `(negative, mant, exp)`.
fn add_finite(a: (bool, u64, i64), b: (bool, u64, i64)) -> LongDouble {
    // `hi` has the larger exponent.
    let (hi, lo) = if a.2 >= b.2 { (a, b) } else { (b, a) };
    let gap = hi.2 - lo.2;
    let (big, small, exp) = if gap <= 63 {
        // Exact: both fit in 127 bits at the smaller exponent.
        (u128::from(hi.1) << gap, u128::from(lo.1), lo.2)
    } else {
        // `lo` is far below `hi`'s last bit: keep 63 guard bits and fold
        // what falls off into the lowest one (it only breaks ties).
        let shift = gap - 63;
        let small = if shift >= 128 {
            1
        } else {
            let m = u128::from(lo.1);
            let kept = m >> shift;
            kept | u128::from(kept << shift != m)
        };
        (u128::from(hi.1) << 63, small, hi.2 - 63)
    };
    let (neg, magnitude) = if hi.0 == lo.0 {
        (hi.0, big + small)
    } else {
        match big.cmp(&small) {
            Ordering::Greater => (hi.0, big - small),
            Ordering::Less => (lo.0, small - big),
            // x - x is +0 when rounding to nearest.
            Ordering::Equal => return LongDouble::ZERO,
        }
    };
    round(neg, &Big::from_u128(magnitude), exp, false)
}

/// `n × 2^exp` (plus a little more when `sticky`), rounded to the nearest
/// extended value: denormal below the normal range, infinite above it.
fn round(neg: bool, n: &Big, exp: i64, sticky: bool) -> LongDouble {
    let bits = i64::from(n.bit_len());
    if bits == 0 {
        return LongDouble {
            neg,
            magnitude: Magnitude::Zero,
        };
    }
    // Drop bits to keep 64, but never go below the smallest exponent.
    let drop = (bits - i64::from(PRECISION)).max(MIN_EXP - exp);
    let (mut mant, mut exp) = if drop <= 0 {
        let mut m = n.clone();
        m.shl(u32::try_from(-drop).unwrap_or(0));
        (m.low_u128(), exp + drop)
    } else {
        let drop_bits = u32::try_from(drop).unwrap_or(u32::MAX);
        let (kept, round_bit, rest) = n.split_for_rounding(drop_bits);
        let mut m = kept;
        if round_bit && (rest || sticky || m & 1 == 1) {
            m += 1;
        }
        (m, exp + drop)
    };
    if mant >> PRECISION != 0 {
        mant >>= 1;
        exp += 1;
    }
    if mant == 0 {
        return LongDouble {
            neg,
            magnitude: Magnitude::Zero,
        };
    }
    if exp > MAX_EXP {
        return LongDouble {
            neg,
            magnitude: Magnitude::Infinite,
        };
    }
    LongDouble {
        neg,
        magnitude: Magnitude::Finite {
            mant: u64::try_from(mant).unwrap_or(u64::MAX),
            exp,
        },
    }
}

/// A parsed number before rounding: `digits × base^exp` with base 10
/// (decimal) or 2 (hexadecimal).
struct Exact {
    digits: Big,
    exp: i64,
    decimal: bool,
}

/// Exponents are clamped here: anything past it over- or underflows.
const EXP_CLAMP: i64 = 1_000_000;

impl Exact {
    fn value(&self, neg: bool) -> LongDouble {
        if self.digits.is_zero() {
            return LongDouble {
                neg,
                magnitude: Magnitude::Zero,
            };
        }
        if !self.decimal {
            return round(neg, &self.digits, self.exp, false);
        }
        // Cheap bounds first: 10^4933 overflows, below 10^-4952 is zero.
        let digit_count = i64::try_from(self.digits.to_decimal().len()).unwrap_or(i64::MAX);
        if digit_count - 1 + self.exp > 4933 {
            return LongDouble {
                neg,
                magnitude: Magnitude::Infinite,
            };
        }
        if digit_count + self.exp < -4952 {
            return LongDouble {
                neg,
                magnitude: Magnitude::Zero,
            };
        }
        let pow = u32::try_from(self.exp.unsigned_abs()).unwrap_or(u32::MAX);
        if self.exp >= 0 {
            let mut n = self.digits.clone();
            n.mul_pow5(pow);
            return round(neg, &n, self.exp, false);
        }
        // digits / 10^k = digits / 5^k × 2^-k: a quotient of at least 66
        // bits and whether anything remained.
        let mut divisor = Big::from_u128(1);
        divisor.mul_pow5(pow);
        let scale = i64::from(divisor.bit_len()) + 66 - i64::from(self.digits.bit_len());
        let (n, dropped) = if scale >= 0 {
            let mut n = self.digits.clone();
            n.shl(u32::try_from(scale).unwrap_or(0));
            (n, false)
        } else {
            // Bits below the quotient's last one only make it inexact.
            self.digits
                .shr_sticky(u32::try_from(-scale).unwrap_or(u32::MAX))
        };
        let (q, remainder) = n.div_small_quotient(&divisor);
        round(
            neg,
            &Big::from_u128(q),
            self.exp - scale,
            remainder || dropped,
        )
    }
}

/// Decimal digits with an optional `.` and `e` exponent (the sign is
/// gone); `None` unless all of `s` is one number.
fn parse_decimal(s: &[u8]) -> Option<Exact> {
    let mut digits = Big::default();
    let mut exp: i64 = 0;
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                digits.mul_small(10);
                digits.add_small(u32::from(c - b'0'));
                if seen_dot {
                    exp -= 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => break,
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    match s.get(i) {
        None => {}
        Some(b'e' | b'E') => exp += parse_exponent(s.get(i + 1..)?)?,
        Some(_) => return None,
    }
    Some(Exact {
        digits,
        exp,
        decimal: true,
    })
}

/// Hexadecimal digits after `0x`, an optional `.` and a binary `p`
/// exponent.
fn parse_hex(s: &[u8]) -> Option<Exact> {
    let mut digits = Big::default();
    let mut exp: i64 = 0;
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'.' if !seen_dot => {
                seen_dot = true;
                i += 1;
                continue;
            }
            _ => break,
        };
        seen_digit = true;
        digits.mul_small(16);
        digits.add_small(u32::from(v));
        if seen_dot {
            exp -= 4;
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    match s.get(i) {
        None => {}
        Some(b'p' | b'P') => exp += parse_exponent(s.get(i + 1..)?)?,
        Some(_) => return None,
    }
    Some(Exact {
        digits,
        exp: exp.clamp(-EXP_CLAMP, EXP_CLAMP),
        decimal: false,
    })
}

/// An exponent: an optional sign and at least one digit, to the end;
/// clamped (its number only has to be past the range to mean overflow).
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = (v * 10 + i64::from(d - b'0')).min(EXP_CLAMP);
    }
    Some(if neg { -v } else { v })
}

/// An unsigned big integer: little-endian 32-bit limbs, no zero limb on
/// top.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Big {
    limbs: Vec<u32>,
}

impl Big {
    fn from_u128(mut v: u128) -> Big {
        let mut limbs = Vec::new();
        while v != 0 {
            limbs.push(v as u32);
            v >>= 32;
        }
        Big { limbs }
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    fn bit_len(&self) -> u32 {
        match self.limbs.last() {
            None => 0,
            Some(top) => {
                let below = u32::try_from(self.limbs.len() - 1).unwrap_or(u32::MAX);
                below * 32 + (32 - top.leading_zeros())
            }
        }
    }

    fn bit(&self, i: u32) -> bool {
        self.limbs
            .get(usize::try_from(i / 32).unwrap_or(usize::MAX))
            .is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    /// The low 128 bits.
    fn low_u128(&self) -> u128 {
        self.limbs
            .iter()
            .take(4)
            .rev()
            .fold(0u128, |acc, &l| (acc << 32) | u128::from(l))
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for l in &mut self.limbs {
            let v = u64::from(*l) * u64::from(m) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
        self.trim();
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = u64::from(a);
        for l in &mut self.limbs {
            if carry == 0 {
                return;
            }
            let v = u64::from(*l) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
    }

    /// `self × 5^k`.
    fn mul_pow5(&mut self, mut k: u32) {
        // 5^13 is the largest power of five below 2^32.
        while k >= 13 {
            self.mul_small(1_220_703_125);
            k -= 13;
        }
        for _ in 0..k {
            self.mul_small(5);
        }
    }

    fn shl(&mut self, bits: u32) {
        if self.is_zero() || bits == 0 {
            return;
        }
        let limbs = usize::try_from(bits / 32).unwrap_or(0);
        let rest = bits % 32;
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.limbs {
            if rest == 0 {
                out.push(l);
            } else {
                out.push((l << rest) | carry);
                carry = l >> (32 - rest);
            }
        }
        if carry != 0 {
            out.push(carry);
        }
        self.limbs = out;
        self.trim();
    }

    /// `self >> bits`, and whether a dropped bit was set.
    fn shr_sticky(&self, bits: u32) -> (Big, bool) {
        let whole = usize::try_from(bits / 32).unwrap_or(usize::MAX);
        let rest = bits % 32;
        let partial = self
            .limbs
            .get(whole)
            .is_some_and(|l| rest > 0 && l & ((1u32 << rest) - 1) != 0);
        let dropped = partial || self.limbs.iter().take(whole).any(|&l| l != 0);
        let mut out = Big {
            limbs: Vec::with_capacity(self.limbs.len().saturating_sub(whole)),
        };
        for (i, &l) in self.limbs.iter().enumerate().skip(whole) {
            let high = match self.limbs.get(i + 1) {
                Some(&h) if rest > 0 => h << (32 - rest),
                _ => 0,
            };
            out.limbs.push((l >> rest) | high);
        }
        out.trim();
        (out, dropped)
    }

    /// For rounding away `drop` low bits: the kept high bits (at most 65
    /// of them here), the highest dropped bit, and whether any lower
    /// dropped bit is set.
    fn split_for_rounding(&self, drop: u32) -> (u128, bool, bool) {
        let round_bit = drop > 0 && self.bit(drop - 1);
        let rest = (0..drop.saturating_sub(1)).any(|i| self.bit(i));
        let mut kept = 0u128;
        let top = self.bit_len();
        let mut i = top;
        while i > drop {
            i -= 1;
            kept = (kept << 1) | u128::from(self.bit(i));
        }
        (kept, round_bit, rest)
    }

    fn cmp_shifted(&self, other: &Big, shift: u32) -> Ordering {
        let mut shifted = other.clone();
        shifted.shl(shift);
        self.cmp_big(&shifted)
    }

    fn cmp_big(&self, other: &Big) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }

    /// `self - other`, for `self >= other`.
    fn sub_assign(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, l) in self.limbs.iter_mut().enumerate() {
            let o = i64::from(other.limbs.get(i).copied().unwrap_or(0));
            let mut v = i64::from(*l) - o - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            *l = v as u32;
        }
        self.trim();
    }

    /// `self / divisor` when the quotient fits in 127 bits, and whether a
    /// remainder was left.
    fn div_small_quotient(&self, divisor: &Big) -> (u128, bool) {
        let mut rem = self.clone();
        let mut q = 0u128;
        let span = self.bit_len().saturating_sub(divisor.bit_len());
        for shift in (0..=span.min(126)).rev() {
            q <<= 1;
            if rem.cmp_shifted(divisor, shift) != Ordering::Less {
                let mut d = divisor.clone();
                d.shl(shift);
                rem.sub_assign(&d);
                q |= 1;
            }
        }
        (q, !rem.is_zero())
    }

    /// Decimal digits ("0" for zero).
    fn to_decimal(&self) -> String {
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            let mut rem = 0u64;
            for l in n.limbs.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*l);
                *l = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            n.trim();
            chunks.push(rem);
        }
        let mut out = chunks
            .last()
            .map_or_else(|| "0".to_string(), ToString::to_string);
        for c in chunks.iter().rev().skip(1) {
            out.push_str(&format!("{c:09}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(current: &str, by: &str) -> Option<String> {
        let a = LongDouble::parse(current.as_bytes())?;
        let b = LongDouble::parse(by.as_bytes())?;
        let sum = a.plus(b);
        sum.is_finite().then(|| sum.to_human_string())
    }

    /// Replies of redis-server 7.0.15 (x86-64).
    #[test]
    fn sums_print_as_redis_prints_them() {
        let cases = [
            ("10.5", "0.1", "10.6"),
            ("10.6", "3.0e3", "3010.60000000000000009"),
            ("0", "3.0e3", "3000"),
            ("0.1", "0.2", "0.3"),
            ("0", "0.000003814697265625", "0.00000381469726562"),
            ("0", "1e30", "1000000000000000000024696061952"),
            ("0", "-0.0", "0"),
            ("0", "1e-20", "0"),
            ("0", "5e-18", "0"),
            ("0", "1.5e-17", "0.00000000000000002"),
            ("0", "0x10", "16"),
            ("0", "1e400", "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880"),
        ];
        for (current, by, want) in cases {
            assert_eq!(incr(current, by).as_deref(), Some(want), "{current} + {by}");
        }
    }

    #[test]
    fn parse_refuses_what_string2ld_refuses() {
        for bad in [
            "",
            " 1",
            "1 ",
            "nan",
            "NaN",
            "1e",
            "1e+",
            "0x",
            "0xp1",
            "abc",
            "1.2.3",
            "--1",
            "+",
            ".",
            "1e-5000",
            "1e5000",
            "0x1p99999",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        for good in [
            "1.",
            ".5",
            "+.5",
            "-0",
            "0e-99999",
            "inf",
            "-Infinity",
            "0x1.8p1",
            "1E3",
        ] {
            assert!(LongDouble::parse(good.as_bytes()).is_some(), "{good:?}");
        }
        let long = "1".repeat(MAX_CHARS);
        assert_eq!(LongDouble::parse(long.as_bytes()), None);
        assert_eq!(incr("0", "0x1.8p1").as_deref(), Some("3"));
        assert_eq!(incr("inf", "1"), None);
    }

    #[test]
    fn integers_are_exact_and_extremes_stay_in_range() {
        assert_eq!(
            LongDouble::from_i64(i64::MAX).to_human_string(),
            "9223372036854775807"
        );
        assert_eq!(
            LongDouble::from_i64(i64::MIN).to_human_string(),
            "-9223372036854775808"
        );
        // The largest finite value doubles to infinity; the smallest
        // denormal survives and prints as 0.
        let max = LongDouble::parse(b"1.18973149535723176502e4932");
        assert!(max.is_some());
        let max = max.unwrap_or(LongDouble::ZERO);
        assert!(!max.plus(max).is_finite());
        let tiny = LongDouble::parse(b"3.6451995318824746025e-4951");
        assert!(tiny.is_some_and(|t| t.to_human_string() == "0"));
    }
}
