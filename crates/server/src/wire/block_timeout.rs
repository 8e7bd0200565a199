//! A blocking command's timeout (`BLPOP key … timeout`), read as Redis
//! 7.0 reads it (`getTimeoutFromObjectOrReply`): the text as glibc's
//! `strtold` reads a `long double` (decimal, hexadecimal `0x1p-3`, `inf`;
//! no leading space, nothing after it; NaN, a value past the `long double`
//! range and one that rounds to zero are "not a float"), then `(long long)
//! ceill(seconds * 1000.0L)`, which x86-64 turns into `i64::MIN` when out
//! of range (so `inf` and `1e400` are "negative"). A timeout of 0 ms waits
//! for ever: `-0.0001` waits for ever while `0.0001` waits a millisecond.
//! The arithmetic is [`LongDouble`]'s, exact as the x87 unit's.
//!
//! Owns the reading and its error lines only; it must never wait.

use super::resp::Reply;
use reddb_service::long_double::LongDouble;
use std::time::Duration;

/// A blocking command's timeout: `None` waits for ever.
pub(crate) fn timeout_arg(b: &[u8]) -> Result<Option<Duration>, Reply> {
    let seconds = LongDouble::parse(b)
        .ok_or_else(|| Reply::err("ERR timeout is not a float or out of range"))?;
    let ms = u64::try_from(seconds.thousandfold_ceil())
        .map_err(|_| Reply::err("ERR timeout is negative"))?;
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
        assert_eq!(ms("+2"), Ok(Some(2000)));
        assert_eq!(ms(".5"), Ok(Some(500)));
        assert_eq!(ms("0x10p-4"), Ok(Some(1000)));
        assert_eq!(ms("0x0p0"), Ok(None));
        assert_eq!(ms("1e-4950"), Ok(Some(1)));
        let bad = [
            "x", "", " 1", "1 ", "nan", "1e4933", "1e-4951", "--1", "0x", "1e", "inf1",
        ];
        for b in bad {
            assert_eq!(ms(b), not_float, "{b:?}");
        }
        for n in [
            "-1",
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
        assert!(matches!(ms("9223372036854775.807"), Ok(Some(_))));
        assert!(matches!(ms("9223372036854775807e-3"), Ok(Some(_))));
    }
}
