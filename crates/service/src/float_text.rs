//! Floating-point text exactly as Redis 7.0 reads and writes it: C's
//! `strtod` (glibc, "C" locale: decimal, hexadecimal, `inf`/`infinity`,
//! `nan`) wrapped in Redis's two acceptance rules — `string2d` for a value
//! (a score, a weight) and `zslParseRange` for a score interval's end — and
//! `%.17g` for replies (`addReplyDouble` in 7.0).
//!
//! Owns the syntax only; it never allocates while parsing, never panics
//! and depends on nothing else in the service.

/// What `strtod` makes of the longest number at the start of `text`.
struct Strtod {
    value: f64,
    /// Bytes consumed; 0 when no number was found (C's `endptr == s`).
    consumed: usize,
    /// `errno == ERANGE`: a finite number too large (±infinity) or too
    /// small (0 or a subnormal) for a double.
    out_of_range: bool,
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn starts_with_ignore_case(text: &[u8], word: &[u8]) -> bool {
    text.get(..word.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(word))
}

/// Digits of `text` from `at` that pass `is_digit`: how many.
fn run(text: &[u8], at: usize, is_digit: impl Fn(u8) -> bool) -> usize {
    text.get(at..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| is_digit(**b))
        .count()
}

/// glibc's `strtod` on `text` (which ends where C's string would: the
/// caller cuts it at a NUL).
fn strtod(text: &[u8]) -> Strtod {
    let none = Strtod {
        value: 0.0,
        consumed: 0,
        out_of_range: false,
    };
    let mut at = run(text, 0, is_c_space);
    let negative = text.get(at) == Some(&b'-');
    if matches!(text.get(at), Some(b'+' | b'-')) {
        at += 1;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    let rest = text.get(at..).unwrap_or_default();
    if starts_with_ignore_case(rest, b"inf") {
        let len = if starts_with_ignore_case(rest, b"infinity") {
            8
        } else {
            3
        };
        return Strtod {
            value: sign * f64::INFINITY,
            consumed: at + len,
            out_of_range: false,
        };
    }
    if starts_with_ignore_case(rest, b"nan") {
        let mut len = 3;
        if rest.get(3) == Some(&b'(') {
            let inner = run(rest, 4, |b| b.is_ascii_alphanumeric() || b == b'_');
            if rest.get(4 + inner) == Some(&b')') {
                len = 5 + inner;
            }
        }
        return Strtod {
            value: f64::NAN,
            consumed: at + len,
            out_of_range: false,
        };
    }
    let hex = starts_with_ignore_case(rest, b"0x")
        && (rest.get(2).is_some_and(u8::is_ascii_hexdigit)
            || (rest.get(2) == Some(&b'.') && rest.get(3).is_some_and(u8::is_ascii_hexdigit)));
    let parsed = if hex {
        hexadecimal(rest)
    } else {
        decimal(rest)
    };
    match parsed {
        Some((magnitude, len, out_of_range)) => Strtod {
            value: sign * magnitude,
            consumed: at + len,
            out_of_range,
        },
        None => none,
    }
}

/// A decimal number at the start of `text` (no sign): its value, length
/// and whether it was out of range.
fn decimal(text: &[u8]) -> Option<(f64, usize, bool)> {
    let int = run(text, 0, |b| b.is_ascii_digit());
    let mut len = int;
    let mut frac = 0;
    if text.get(len) == Some(&b'.') {
        frac = run(text, len + 1, |b| b.is_ascii_digit());
        if int + frac > 0 {
            len += 1 + frac;
        }
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(text.get(len), Some(b'e' | b'E')) {
        let mut e = len + 1;
        if matches!(text.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let digits = run(text, e, |b| b.is_ascii_digit());
        if digits > 0 {
            len = e + digits;
        }
    }
    let number = text.get(..len)?;
    let value: f64 = std::str::from_utf8(number).ok()?.parse().ok()?;
    let nonzero = number
        .iter()
        .take(int + frac + 1)
        .any(|b| (b'1'..=b'9').contains(b));
    let out_of_range = value.is_infinite() || (value == 0.0 && nonzero) || {
        value != 0.0 && value.abs() < f64::MIN_POSITIVE
    };
    Some((value, len, out_of_range))
}

fn hex_digit(b: u8) -> u64 {
    match b {
        b'0'..=b'9' => u64::from(b - b'0'),
        b'a'..=b'f' => u64::from(b - b'a' + 10),
        b'A'..=b'F' => u64::from(b - b'A' + 10),
        _ => 0,
    }
}

/// A hexadecimal number (`0x1.8p3`) at the start of `text` (no sign).
fn hexadecimal(text: &[u8]) -> Option<(f64, usize, bool)> {
    let int = run(text, 2, |b| b.is_ascii_hexdigit());
    let mut len = 2 + int;
    if text.get(len) == Some(&b'.') {
        len += 1 + run(text, len + 1, |b| b.is_ascii_hexdigit());
    }
    // The value is `mantissa × 2^exponent`, plus less than one unit of
    // the mantissa's last bit when `sticky`.
    let (mut mantissa, mut exponent, mut sticky) = (0u64, 0i64, false);
    let digits = text.get(2..2 + int).unwrap_or_default().iter();
    let fraction = text.get(3 + int..len).unwrap_or_default().iter();
    for (i, &d) in digits.chain(fraction).enumerate() {
        let in_fraction = i >= int;
        if mantissa >> 60 == 0 {
            mantissa = mantissa << 4 | hex_digit(d);
            if in_fraction {
                exponent -= 4;
            }
        } else {
            sticky |= hex_digit(d) != 0;
            if !in_fraction {
                exponent += 4;
            }
        }
    }
    if matches!(text.get(len), Some(b'p' | b'P')) {
        let mut e = len + 1;
        let negative = text.get(e) == Some(&b'-');
        if matches!(text.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let digits = run(text, e, |b| b.is_ascii_digit());
        if digits > 0 {
            let mut p: i64 = 0;
            for &d in text.get(e..e + digits).unwrap_or_default() {
                p = p.saturating_mul(10).saturating_add(i64::from(d - b'0'));
            }
            exponent = exponent.saturating_add(if negative { -p } else { p });
            len = e + digits;
        }
    }
    let (value, out_of_range) = binary_to_f64(mantissa, exponent, sticky);
    Some((value, len, out_of_range))
}

/// `mantissa × 2^exponent` (plus a `sticky` remainder) rounded to the
/// nearest double, ties to even; and whether it was out of range.
fn binary_to_f64(mantissa: u64, exponent: i64, sticky: bool) -> (f64, bool) {
    if mantissa == 0 {
        return (0.0, false);
    }
    let shift = mantissa.leading_zeros();
    let m = mantissa << shift;
    // The value is 1.f × 2^top.
    let top = exponent.saturating_add(63 - i64::from(shift));
    if top > 1023 {
        return (f64::INFINITY, true);
    }
    // Bits of `m` kept: 53 for a normal number, fewer for a subnormal.
    let keep = if top >= -1022 { 53 } else { 53 - (-1022 - top) };
    let drop = 64 - keep;
    if drop > 64 {
        return (0.0, true);
    }
    let wide = u128::from(m);
    let kept = if drop >= 64 { 0 } else { wide >> drop };
    let rest = wide & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    let up = rest > half || (rest == half && (sticky || kept & 1 == 1));
    let inexact = rest != 0 || sticky;
    let mut kept = u64::try_from(kept + u128::from(up)).unwrap_or(u64::MAX);
    if keep == 53 {
        let mut top = top;
        if kept == 1 << 53 {
            kept >>= 1;
            top += 1;
        }
        if top > 1023 {
            return (f64::INFINITY, true);
        }
        let biased = u64::try_from(top + 1023).unwrap_or(0);
        (
            f64::from_bits(biased << 52 | (kept & ((1 << 52) - 1))),
            false,
        )
    } else {
        // A subnormal (or, rounded up, the least normal): its bits are
        // the kept mantissa.
        let value = f64::from_bits(kept);
        (value, inexact || value == 0.0)
    }
}

/// Redis's `string2d`: the whole of `text` is one number, with no leading
/// space, no NUL, not NaN, and neither overflowing to infinity nor
/// underflowing to zero. Scores and weights are read this way.
pub fn parse_double(text: &[u8]) -> Option<f64> {
    if text.first().is_none_or(|b| is_c_space(*b)) || text.contains(&0) {
        return None;
    }
    let r = strtod(text);
    let refused = r.out_of_range && (r.value.is_infinite() || r.value == 0.0);
    (r.consumed == text.len() && !refused && !r.value.is_nan()).then_some(r.value)
}

/// One end of a score interval as Redis's `zslParseRange` reads it: an
/// optional `(` (exclusive), then `strtod`'s number, which must reach the
/// end of the C string (leading spaces, an empty number — 0 — and
/// out-of-range values are all accepted); never NaN. `(value, exclusive)`.
pub fn parse_score_bound(text: &[u8]) -> Option<(f64, bool)> {
    let (exclusive, number) = match text.split_first() {
        Some((b'(', rest)) => (true, rest),
        _ => (false, text),
    };
    let c_string = number.split(|b| *b == 0).next().unwrap_or_default();
    let r = strtod(c_string);
    (r.consumed == c_string.len() && !r.value.is_nan()).then_some((r.value, exclusive))
}

/// `%.17g` as glibc prints it, with `inf` and `-inf` as Redis writes
/// infinities: the text of every score Redis 7.0 replies.
pub fn format_double(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if v.is_nan() {
        return "nan".to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let scientific = format!("{v:.16e}");
    let (digits, exp) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..17).contains(&exp) {
        let decimals = usize::try_from(16 - exp).unwrap_or(0);
        trim_fraction(&format!("{v:.decimals$}")).to_string()
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_fraction(digits), exp.unsigned_abs())
    }
}

/// `%g` drops a fraction's trailing zeros, and the point when none is left.
fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_percent_17g() {
        let cases: &[(f64, &str)] = &[
            (1.1, "1.1000000000000001"),
            (0.1, "0.10000000000000001"),
            (1e-5, "1.0000000000000001e-05"),
            (1e300, "1.0000000000000001e+300"),
            (123_456_789_012_345_678.0, "1.2345678901234568e+17"),
            (5.0, "5"),
            (-1.5, "-1.5"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (1_234_567_890_123_456.2, "1234567890123456.2"),
            (1e-320, "9.9998886718268301e-321"),
            (5e-324, "4.9406564584124654e-324"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_double(*v), *want, "{v:e}");
        }
    }

    #[test]
    fn reads_values_as_string2d() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1.5", Some(1.5)),
            ("-2", Some(-2.0)),
            ("+.5", Some(0.5)),
            ("5.", Some(5.0)),
            ("1e3", Some(1000.0)),
            ("inf", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("0x10", Some(16.0)),
            ("0x1.8p1", Some(3.0)),
            ("0X1P-1", Some(0.5)),
            ("0x.8p1", Some(1.0)),
            ("1e-320", Some(1e-320)),
            ("3e-324", Some(5e-324)),
            ("0e-999", Some(0.0)),
            ("2e-324", None),
            ("1e400", None),
            ("0x1p5000", None),
            ("0x1p-5000", None),
            ("nan", None),
            ("nan(123)", None),
            (".", None),
            ("", None),
            (" 1", None),
            ("1 ", None),
            ("1e", None),
            ("0x", None),
            ("1\0", None),
            ("infinit", None),
            ("abc", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_double(text.as_bytes()), *want, "{text:?}");
        }
    }

    #[test]
    fn hexadecimal_rounds_to_nearest_even() {
        // 2^53 + 1 is a tie between 2^53 and 2^53 + 2: even wins.
        assert_eq!(
            parse_double(b"0x20000000000001"),
            Some(9_007_199_254_740_992.0)
        );
        assert_eq!(
            parse_double(b"0x20000000000003"),
            Some(9_007_199_254_740_996.0)
        );
        // A digit past the kept ones breaks the tie upward.
        assert_eq!(
            parse_double(b"0x200000000000010000001"),
            Some(9_007_199_254_740_994.0 * 2f64.powi(28))
        );
        assert_eq!(parse_double(b"0x1p-1074"), Some(5e-324));
        assert_eq!(parse_double(b"0x1p-1075"), None, "a tie rounds to 0");
        assert_eq!(parse_double(b"0x1.8p-1075"), Some(5e-324));
        assert_eq!(
            parse_double(b"0x1.fffffffffffff8p1023"),
            None,
            "rounds past max"
        );
        assert_eq!(parse_double(b"0x1.fffffffffffffp1023"), Some(f64::MAX));
    }

    #[test]
    fn reads_interval_ends_as_zsl_parse_range() {
        type Case<'a> = (&'a [u8], Option<(f64, bool)>);
        let cases: &[Case<'_>] = &[
            (b"1", Some((1.0, false))),
            (b"(1.5", Some((1.5, true))),
            (b" 1", Some((1.0, false))),
            (b"", Some((0.0, false))),
            (b"(", Some((0.0, true))),
            (b"1\0x", Some((1.0, false))),
            (b"1e400", Some((f64::INFINITY, false))),
            (b"-inf", Some((f64::NEG_INFINITY, false))),
            (b"(+inf", Some((f64::INFINITY, true))),
            (b"1 ", None),
            (b" ", None),
            (b"((1", None),
            (b"nan", None),
            (b"x", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_score_bound(text), *want, "{text:?}");
        }
    }
}
