//! The two C library number conversions lua-cjson relies on, reproduced
//! in Rust: `printf("%.Ng")` (how cjson writes numbers) and glibc's
//! `strtod` (how it reads them, including the hexadecimal, `inf`,
//! `infinity` and `nan(...)` forms strtod accepts and cjson passes on by
//! default).

/// `snprintf("%.<precision>g", x)` as glibc prints it: the shorter of the
/// `%e` and `%f` styles by C's rule, trailing zeros removed, `inf`/`nan`
/// for the non-finite values.
pub fn format_g(x: f64, precision: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.to_owned();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    let p = precision.max(1);
    // The e-style rendering with P significant digits decides the style
    // (C11 7.21.6.1): exponent X from it, %f when P > X >= -4.
    let e_style = format!("{:.*e}", p - 1, x);
    let Some((mantissa, exp_text)) = e_style.split_once('e') else {
        return e_style;
    };
    let exp: i64 = exp_text.parse().unwrap_or(0);
    let p_i = i64::try_from(p).unwrap_or(i64::MAX);
    if exp < -4 || exp >= p_i {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip_fraction_zeros(mantissa), exp.abs())
    } else {
        let decimals = usize::try_from(p_i - 1 - exp).unwrap_or(0);
        strip_fraction_zeros(&format!("{x:.decimals$}")).to_owned()
    }
}

/// `%g` without `#`: trailing zeros of the fraction go, then a bare point.
fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// glibc `strtod` on the bytes from `start` (read as a C string: a NUL or
/// the end stops it): the value and the index just past what it consumed,
/// or `None` where strtod converts nothing (its `endptr == nptr`).
pub fn strtod(data: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| data.get(i).copied().unwrap_or(0);
    let mut i = start;
    while matches!(at(i), b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let negative = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    let (magnitude, end) = unsigned_strtod(data, i)?;
    Some((if negative { -magnitude } else { magnitude }, end))
}

fn starts_with_ignore_case(data: &[u8], i: usize, word: &[u8]) -> bool {
    data.get(i..i + word.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(word))
}

fn unsigned_strtod(data: &[u8], i: usize) -> Option<(f64, usize)> {
    let at = |k: usize| data.get(k).copied().unwrap_or(0);
    if starts_with_ignore_case(data, i, b"infinity") {
        return Some((f64::INFINITY, i + 8));
    }
    if starts_with_ignore_case(data, i, b"inf") {
        return Some((f64::INFINITY, i + 3));
    }
    if starts_with_ignore_case(data, i, b"nan") {
        let mut end = i + 3;
        // An optional "(n-char-sequence)", consumed only when closed.
        if at(end) == b'(' {
            let mut k = end + 1;
            while at(k).is_ascii_alphanumeric() || at(k) == b'_' {
                k += 1;
            }
            if at(k) == b')' {
                end = k + 1;
            }
        }
        return Some((f64::NAN, end));
    }
    if at(i) == b'0' && (at(i + 1) | 0x20) == b'x' {
        if let Some(hex) = hex_strtod(data, i + 2) {
            return Some(hex);
        }
        // "0x" with no hex digit after it: strtod reads the "0".
        return Some((0.0, i + 1));
    }
    decimal_strtod(data, i)
}

fn decimal_strtod(data: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |k: usize| data.get(k).copied().unwrap_or(0);
    let mut i = start;
    let mut digits = 0usize;
    while at(i).is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    let mut end = i;
    if at(i) | 0x20 == b'e' {
        let mut k = i + 1;
        if matches!(at(k), b'+' | b'-') {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            while at(k).is_ascii_digit() {
                k += 1;
            }
            end = k;
        }
    }
    let text = std::str::from_utf8(data.get(start..end)?).ok()?;
    // Rust's parser is correctly rounded, as glibc's strtod is; it wants
    // a digit before an exponent, which "." forms like "5." have.
    let value = text.parse::<f64>().ok().or_else(|| {
        let fixed = text.replacen(".e", ".0e", 1).replacen(".E", ".0E", 1);
        fixed.parse::<f64>().ok()
    })?;
    Some((value, end))
}

/// The hexadecimal form after "0x": hex digits with an optional point and
/// an optional binary exponent `p[+-]digits`. `None` when no hex digit
/// follows.
fn hex_strtod(data: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |k: usize| data.get(k).copied().unwrap_or(0);
    let mut i = start;
    let mut mantissa: u64 = 0;
    let mut sticky = false;
    let mut exp2: i64 = 0;
    let mut digits = 0usize;
    let mut seen_point = false;
    loop {
        let c = at(i);
        if c == b'.' && !seen_point {
            seen_point = true;
            i += 1;
            continue;
        }
        let Some(d) = char::from(c).to_digit(16) else {
            break;
        };
        digits += 1;
        if mantissa >> 60 == 0 {
            mantissa = (mantissa << 4) | u64::from(d);
            if seen_point {
                exp2 -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_point {
                exp2 += 4;
            }
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    let mut end = i;
    if at(i) | 0x20 == b'p' {
        let mut k = i + 1;
        let negative = at(k) == b'-';
        if matches!(at(k), b'+' | b'-') {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(k).is_ascii_digit() {
                e = (e * 10 + i64::from(at(k) - b'0')).min(1 << 20);
                k += 1;
            }
            exp2 += if negative { -e } else { e };
            end = k;
        }
    }
    // The sticky bit in the lowest place makes the u64 -> f64 rounding
    // (to nearest, ties to even) see digits that were dropped.
    #[allow(clippy::cast_precision_loss)]
    let m = (mantissa | u64::from(sticky)) as f64;
    Some((scale_by_power_of_two(m, exp2), end))
}

/// `m * 2^e`, in exact steps (each a power of two within range).
fn scale_by_power_of_two(m: f64, e: i64) -> f64 {
    let mut value = m;
    let mut e = e.clamp(-2200, 2200);
    while e > 0 {
        let step = e.min(1000);
        value *= f64::from_bits(u64::try_from(1023 + step).unwrap_or(0) << 52);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(1000);
        value /= f64::from_bits(u64::try_from(1023 + step).unwrap_or(0) << 52);
        e += step;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_g_matches_printf() {
        let cases: &[(f64, usize, &str)] = &[
            (0.1, 14, "0.1"),
            (1e15, 14, "1e+15"),
            (1e14, 14, "1e+14"),
            (123_456_789_012_345.0, 14, "1.2345678901234e+14"),
            (-0.0, 14, "-0"),
            (1.0 / 3.0, 14, "0.33333333333333"),
            (1e-5, 14, "1e-05"),
            (0.0001, 14, "0.0001"),
            (9_007_199_254_740_992.0, 14, "9.007199254741e+15"),
            (1e300, 14, "1e+300"),
            (5e-324, 14, "4.9406564584125e-324"),
            (1.234_56, 3, "1.23"),
            (12345.0, 3, "1.23e+04"),
            (100.0, 14, "100"),
            (f64::INFINITY, 14, "inf"),
            (f64::NEG_INFINITY, 14, "-inf"),
            (0.5, 1, "0.5"),
            (2.5, 1, "2"),
            (0.000_123_456, 2, "0.00012"),
        ];
        for (x, p, want) in cases {
            assert_eq!(format_g(*x, *p), *want, "%.{p}g of {x}");
        }
    }

    #[test]
    fn strtod_reads_what_glibc_reads() {
        let cases: &[(&str, f64, usize)] = &[
            ("123abc", 123.0, 3),
            ("-1.5e3,", -1500.0, 6),
            ("1e", 1.0, 1),
            ("1e+", 1.0, 1),
            ("0x10", 16.0, 4),
            ("0x", 0.0, 1),
            ("0x1p4", 16.0, 5),
            ("0x.8", 0.5, 4),
            ("-Infinity", f64::NEG_INFINITY, 9),
            ("infx", f64::INFINITY, 3),
            ("5.", 5.0, 2),
            ("1e400", f64::INFINITY, 5),
            ("01", 1.0, 2),
            ("+7", 7.0, 2),
        ];
        for (text, value, end) in cases {
            let got = strtod(text.as_bytes(), 0);
            assert_eq!(got, Some((*value, *end)), "strtod({text:?})");
        }
        assert_eq!(strtod(b"-", 0), None);
        assert_eq!(strtod(b"x", 0), None);
        assert_eq!(strtod(b".", 0), None);
        let (nan, end) = strtod(b"nan(abc)x", 0).unwrap_or((0.0, 0));
        assert!(nan.is_nan());
        assert_eq!(end, 8);
        let (neg_nan, _) = strtod(b"-nan", 0).unwrap_or((0.0, 0));
        assert!(neg_nan.is_nan() && neg_nan.is_sign_negative());
    }
}
