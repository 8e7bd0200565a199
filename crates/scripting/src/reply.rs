//! What a script answers and what `redis.call` hands back: [`ScriptReply`],
//! a RESP2/RESP3 reply as a tree (the server maps it onto its own reply
//! type), and Redis's `%.17g` rendering of a Lua number.

/// A reply in RESP3's vocabulary. The server turns it into its own reply
/// type and encodes it for the caller's protocol (a RESP2 caller sees a map
/// as a flat array, a double as a bulk string, a boolean as `:1`/`:0`).
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptReply {
    /// `+text` (Lua `{ok = text}`).
    Status(Vec<u8>),
    /// `-text`, the text without the leading `-` (Lua `{err = text}`).
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    /// A null: `$-1` to a RESP2 caller, `_` to a RESP3 one.
    Null,
    Array(Vec<ScriptReply>),
    Map(Vec<(ScriptReply, ScriptReply)>),
    Set(Vec<ScriptReply>),
    Double(f64),
    Bool(bool),
    /// RESP3 `(digits` (a bulk string to a RESP2 caller).
    BigNumber(Vec<u8>),
    /// RESP3 `=fmt:text` (the text as a bulk string to a RESP2 caller).
    Verbatim {
        format: Vec<u8>,
        text: Vec<u8>,
    },
}

impl ScriptReply {
    /// An error reply from a message that may begin with `-` (dropped, as
    /// Redis's `addReplyErrorLength` does for its own `-`).
    pub fn error(msg: impl Into<Vec<u8>>) -> ScriptReply {
        ScriptReply::Error(msg.into())
    }
}

/// C's `printf("%.17g", x)` for a Lua number: how Redis turns a number
/// argument of `redis.call` into a string, and how it prints a double.
pub fn format_g17(x: f64) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    const PRECISION: i32 = 17;
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, x);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..PRECISION).contains(&exp) {
        let mantissa = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = usize::try_from(PRECISION - 1 - exp).unwrap_or(0);
        strip_zeros(&format!("{x:.decimals$}")).to_string()
    }
}

/// `1.2500` → `1.25`, `3.000` → `3` (what `%g` drops).
fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// C's `(long long)x` on x86-64 for a Lua number: truncation toward zero,
/// and `LLONG_MIN` for NaN, infinities and values out of range (what
/// Redis answers for `return 0/0`).
pub fn lua_number_to_integer(x: f64) -> i64 {
    // 2^63 as a double.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() || !(-LIMIT..LIMIT).contains(&x) {
        i64::MIN
    } else {
        // In range: the cast truncates exactly.
        x as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_matches_printf() {
        for (x, want) in [
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (1e20, "1e+20"),
            (3.0, "3"),
            (-2.5e-7, "-2.4999999999999999e-07"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (1e16, "10000000000000000"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0"),
        ] {
            assert_eq!(format_g17(x), want, "{x}");
        }
    }

    #[test]
    fn numbers_truncate_like_c() {
        assert_eq!(lua_number_to_integer(3.99), 3);
        assert_eq!(lua_number_to_integer(-3.99), -3);
        assert_eq!(lua_number_to_integer(f64::NAN), i64::MIN);
        assert_eq!(lua_number_to_integer(f64::INFINITY), i64::MIN);
        assert_eq!(lua_number_to_integer(9.3e18), i64::MIN);
        assert_eq!(
            lua_number_to_integer(-9_223_372_036_854_775_808.0),
            i64::MIN
        );
        assert_eq!(
            lua_number_to_integer(9_007_199_254_740_992.0),
            9_007_199_254_740_992
        );
    }
}
