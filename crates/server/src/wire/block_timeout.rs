//! A blocking command's timeout (`BLPOP key … timeout`), read as Redis
//! 7.0 reads it: the text as glibc's `strtold` reads a `long double`
//! (decimal, hexadecimal `0x1p-3`, `inf`; no leading space, nothing after
//! it; NaN, a value past the `long double` range and one that rounds to
//! zero are "not a float"), then `ceil(seconds × 1000)` as a C `long long`
//! (which x86-64 turns into `i64::MIN` when out of range: `inf` and `1e400`
//! are "negative"). A timeout of 0 ms waits for ever, so `-0.0001` waits
//! for ever while `0.0001` waits a millisecond.
//!
//! Decimal text is computed exactly (as a `long double` does for the 19
//! significant digits a timeout ever has); hexadecimal with an `f64`'s
//! precision. Must never panic or allocate in proportion to a huge
//! exponent.

use super::resp::Reply;
use std::time::Duration;

/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer text is not a number.
const MAX_CHARS: usize = 5 * 1024;
/// The decimal order of `LDBL_MAX` (1.18973e4932) and of half the
/// smallest subnormal `long double` (1.8226e-4951, below which a value
/// rounds to zero).
const MAX_ORDER: (i64, f64) = (4932, 1.189_731_495_357_231_8);
const MIN_ORDER: (i64, f64) = (-4951, 1.822_599_765_941_237_3);

/// A number written in plain decimal.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    /// Significant digits (0–9), without leading zeros; empty for zero.
    digits: Vec<u8>,
    /// The power of ten of the first significant digit.
    order: i64,
}

impl Decimal {
    /// `[+-]digits[.digits][(e|E)[+-]digits]`, at least one mantissa digit.
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, body) = split_sign(text);
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(at) => (body.get(..at)?, exponent_of(body.get(at + 1..)?)?),
            None => (body, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all = || whole.bytes().chain(fraction.bytes());
        if all().next().is_none() || !all().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let first = all().position(|c| c != b'0');
        let digits: Vec<u8> = match first {
            Some(at) => all().skip(at).map(|c| c - b'0').collect(),
            None => Vec::new(),
        };
        let whole_len = i64::try_from(whole.len()).ok()?;
        let order = i64::try_from(first.unwrap_or(0)).ok()?;
        // Digit `at` of the mantissa is worth 10^(whole_len - 1 - at).
        let order = exponent.saturating_add(whole_len - 1 - order);
        Some(Decimal {
            negative,
            digits,
            order,
        })
    }

    /// The first significant digits as a number in [1, 10).
    fn lead(&self) -> f64 {
        let mut lead = 0.0;
        let mut unit = 1.0;
        for d in self.digits.iter().take(17) {
            lead += f64::from(*d) * unit;
            unit /= 10.0;
        }
        lead
    }

    /// Whether `strtold` refuses it: past `LDBL_MAX`, or rounding to zero.
    fn out_of_range(&self) -> bool {
        if self.digits.is_empty() {
            return false;
        }
        let past = |(order, lead): (i64, f64)| {
            self.order > order || (self.order == order && self.lead() > lead)
        };
        let below = |(order, lead): (i64, f64)| {
            self.order < order || (self.order == order && self.lead() < lead)
        };
        past(MAX_ORDER) || below(MIN_ORDER)
    }

    /// `ceil(value × 1000)`, saturating far past `i64` (only the sign and
    /// whether it fits matter there).
    fn millis_ceil(&self) -> i128 {
        const FAR: i128 = 1 << 100;
        // Digits before the point once multiplied by 1000.
        let int_digits = self.order.saturating_add(4);
        let (mut whole, mut rest) = (0i128, false);
        if int_digits > 30 {
            whole = FAR;
        } else {
            let n = usize::try_from(int_digits.max(0)).unwrap_or(0);
            for i in 0..n {
                whole = whole * 10 + i128::from(self.digits.get(i).copied().unwrap_or(0));
            }
            rest = self.digits.iter().skip(n).any(|d| *d != 0);
        }
        if self.negative {
            -whole
        } else {
            whole + i128::from(rest)
        }
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..).unwrap_or("")),
        Some(b'+') => (false, text.get(1..).unwrap_or("")),
        _ => (false, text),
    }
}

/// `[+-]digits` as an exponent, saturating (far past any range) instead
/// of failing on a long one.
fn exponent_of(text: &str) -> Option<i64> {
    let (negative, digits) = split_sign(text);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits
        .parse::<i64>()
        .unwrap_or(i64::MAX / 2)
        .min(i64::MAX / 2);
    Some(if negative { -magnitude } else { magnitude })
}

/// `[+-]0x` hex digits `[.hex digits][(p|P)[+-]digits]` as an `f64`;
/// `None` when it is not one, or past the `long double` range.
fn hex_float(text: &str) -> Option<f64> {
    let (negative, body) = split_sign(text);
    let body = body
        .strip_prefix("0x")
        .or_else(|| body.strip_prefix("0X"))?;
    let (digits, exponent) = match body.find(['p', 'P']) {
        Some(at) => (body.get(..at)?, exponent_of(body.get(at + 1..)?)?),
        None => (body, 0),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut mantissa = 0f64;
    let mut significant = 0i64;
    for c in whole.chars().chain(fraction.chars()) {
        let d = c.to_digit(16)?;
        if mantissa != 0.0 || d != 0 {
            significant += 1;
        }
        mantissa = mantissa * 16.0 + f64::from(d);
    }
    let scale = exponent.saturating_sub(4 * i64::try_from(fraction.len()).ok()?);
    let binary_order = scale.saturating_add(4 * significant);
    if mantissa != 0.0 && !(-16_445..=16_384).contains(&binary_order) {
        return None;
    }
    let scale = i32::try_from(scale.clamp(-20_000, 20_000)).ok()?;
    // 2^scale in two steps so that neither overflows on its own.
    let half = scale / 2;
    let value = mantissa * 2f64.powi(half) * 2f64.powi(scale - half);
    Some(if negative { -value } else { value })
}

/// `ceil(seconds × 1000)` of the timeout's text, or `None` when it is
/// not a number `strtold` accepts.
fn millis(b: &[u8]) -> Option<i128> {
    if b.is_empty() || b.len() >= MAX_CHARS {
        return None;
    }
    if matches!(b.first(), Some(b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')) {
        return None;
    }
    let text = std::str::from_utf8(b).ok()?;
    if let Some(d) = Decimal::parse(text) {
        return (!d.out_of_range()).then(|| d.millis_ceil());
    }
    let (negative, word) = split_sign(text);
    let infinite = word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("infinity");
    let seconds = if infinite {
        if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }
    } else {
        hex_float(text)?
    };
    let ms = (seconds * 1000.0).ceil();
    // Out of i64 either way: the sign and the size are what matter.
    #[allow(clippy::cast_possible_truncation)]
    let ms = if ms.is_finite() {
        ms.clamp(-1e30, 1e30) as i128
    } else {
        i128::MIN
    };
    Some(ms)
}

/// A blocking command's timeout: `None` waits for ever.
pub(crate) fn timeout_arg(b: &[u8]) -> Result<Option<Duration>, Reply> {
    let ms = millis(b).ok_or_else(|| Reply::err("ERR timeout is not a float or out of range"))?;
    if ms < 0 || ms > i128::from(i64::MAX) {
        return Err(Reply::err("ERR timeout is negative"));
    }
    let ms = u64::try_from(ms).unwrap_or(u64::MAX);
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Result<Option<u128>, String> {
        match timeout_arg(s.as_bytes()) {
            Ok(t) => Ok(t.map(|d| d.as_millis())),
            Err(Reply::Error(e)) => Err(e),
            Err(other) => Err(format!("{other:?}")),
        }
    }

    /// Each case was checked against redis-server 7.0.15.
    #[test]
    fn timeouts_read_as_redis_reads_them() {
        let not_float = Err("ERR timeout is not a float or out of range".to_string());
        let negative = Err("ERR timeout is negative".to_string());
        assert_eq!(ms("0"), Ok(None));
        assert_eq!(ms("-0"), Ok(None));
        assert_eq!(ms("-0.0001"), Ok(None), "rounds up to 0: for ever");
        assert_eq!(ms("0.0001"), Ok(Some(1)), "rounds up to 1 ms");
        assert_eq!(ms("0.01"), Ok(Some(10)));
        assert_eq!(ms("1.5"), Ok(Some(1500)));
        assert_eq!(ms("+2"), Ok(Some(2000)));
        assert_eq!(ms(".5"), Ok(Some(500)));
        assert_eq!(ms("5."), Ok(Some(5000)));
        assert_eq!(ms("0x10p-4"), Ok(Some(1000)));
        assert_eq!(ms("0x1p-20"), Ok(Some(1)));
        assert_eq!(ms("0x0p0"), Ok(None));
        assert_eq!(ms("0x.8"), Ok(Some(500)));
        assert_eq!(ms("1e-4950"), Ok(Some(1)));
        assert_eq!(ms("0.0123456789e3"), Ok(Some(12346)));
        assert_eq!(
            ms("1234567890123456789012345678901234567890e-38"),
            Ok(Some(12346))
        );
        let bad = [
            "x",
            "",
            " 1",
            "1 ",
            "nan",
            "NaN",
            "1e4933",
            "1e-4951",
            "1e-5000",
            "--1",
            "+-1",
            "0x",
            "1e",
            "e5",
            ".",
            "0x1p",
            "inf1",
            "1e99999999999999999999",
        ];
        for b in bad {
            assert_eq!(ms(b), not_float, "{b:?}");
        }
        for n in [
            "-1",
            "-0.5",
            "inf",
            "-inf",
            "Infinity",
            "1e400",
            "1e4932",
            "92233720368547758",
            "9223372036854775.808",
        ] {
            assert_eq!(ms(n), negative, "{n:?}");
        }
        assert!(matches!(ms("9223372036854775"), Ok(Some(_))));
        assert!(matches!(ms("9223372036854775.807"), Ok(Some(_))));
        assert!(matches!(ms("9223372036854775807e-3"), Ok(Some(_))));
    }

    #[test]
    fn decimals_know_their_order() {
        let order = |s: &str| Decimal::parse(s).map(|d| d.order);
        assert_eq!(order("123.4"), Some(2));
        assert_eq!(order("0.00123"), Some(-3));
        assert_eq!(order("1e400"), Some(400));
        assert_eq!(order("00012e-2"), Some(-1));
        assert_eq!(Decimal::parse("000.000").map(|d| d.digits.len()), Some(0));
        assert_eq!(Decimal::parse("1.2.3"), None);
    }
}
