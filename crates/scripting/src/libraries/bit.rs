//! The `bit` table scripts get: LuaBitOp 1.0.2 (`tobit tohex bnot band bor
//! bxor lshift rshift arshift rol ror bswap`). Every argument is a Lua
//! number (a double) taken to 32 bits as the C library takes it — adding
//! 2^52 + 2^51 and keeping the low word, so 1.5 -> 2, 2.5 -> 2 and large
//! values wrap — and every result is the signed 32-bit value as a double.

use super::calling::{Args, FunctionMaker, LibResult};
use mlua::{Lua, Table, Value};

/// `barg`: argument `n` as 32 bits; a non-number whose bits come out 0
/// (anything Lua cannot read as a number) is a "number expected" error.
fn barg(args: &Args, n: usize) -> LibResult<u32> {
    let number = args.number_or_none(n)?;
    let b = bits_of(number.unwrap_or(0.0));
    if b == 0 && number.is_none() {
        return Err(args.type_error(n, "number"));
    }
    Ok(b)
}

/// The low 32 bits of `n + 2^52 + 2^51` (LuaBitOp's conversion).
pub fn bits_of(n: f64) -> u32 {
    let shifted = n + 6_755_399_441_055_744.0;
    u32::try_from(shifted.to_bits() & 0xFFFF_FFFF).unwrap_or(0)
}

/// `BRET`: the bits as a signed 32-bit number.
#[allow(clippy::cast_possible_wrap)]
fn ret(b: u32) -> LibResult<Vec<Value>> {
    Ok(vec![Value::Number(f64::from(b as i32))])
}

/// `bit.tohex(x [, n])`: `n` hex digits (default 8, at most 8), upper
/// case when `n` is negative.
fn tohex(args: &Args) -> LibResult<Vec<Value>> {
    let mut b = barg(args, 1)?;
    #[allow(clippy::cast_possible_wrap)]
    let n = if args.is_none(2) {
        8
    } else {
        barg(args, 2)? as i32
    };
    let (count, digits): (i32, &[u8; 16]) = if n < 0 {
        (n.wrapping_neg(), b"0123456789ABCDEF")
    } else {
        (n, b"0123456789abcdef")
    };
    // -i32::MIN stays negative in C: no digits then.
    let count = usize::try_from(count.min(8)).unwrap_or(0);
    let mut buf = vec![0u8; count];
    for slot in buf.iter_mut().rev() {
        *slot = digits.get((b & 15) as usize).copied().unwrap_or(b'0');
        b >>= 4;
    }
    Ok(vec![Value::String(args.lua().create_string(buf)?)])
}

type Binary = fn(u32, u32) -> u32;

/// A new `bit` table.
pub fn table(lua: &Lua, maker: &FunctionMaker) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("tobit", maker.make(lua, "tobit", |_, a| ret(barg(a, 1)?))?)?;
    t.raw_set("bnot", maker.make(lua, "bnot", |_, a| ret(!barg(a, 1)?))?)?;
    t.raw_set(
        "bswap",
        maker.make(lua, "bswap", |_, a| ret(barg(a, 1)?.swap_bytes()))?,
    )?;
    t.raw_set("tohex", maker.make(lua, "tohex", |_, a| tohex(a))?)?;
    let folds: [(&'static str, Binary); 3] = [
        ("band", |x, y| x & y),
        ("bor", |x, y| x | y),
        ("bxor", |x, y| x ^ y),
    ];
    for (name, op) in folds {
        let f = maker.make(lua, name, move |_, a| {
            let mut b = barg(a, 1)?;
            // The C loop reads the arguments from the last down.
            for i in (2..=a.count()).rev() {
                b = op(b, barg(a, i)?);
            }
            ret(b)
        })?;
        t.raw_set(name, f)?;
    }
    #[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)]
    let shifts: [(&'static str, Binary); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", u32::rotate_left),
        ("ror", u32::rotate_right),
    ];
    for (name, op) in shifts {
        let f = maker.make(lua, name, move |_, a| {
            let b = barg(a, 1)?;
            let n = barg(a, 2)? & 31;
            ret(op(b, n))
        })?;
        t.raw_set(name, f)?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::test_lua::{eval, new};
    use super::bits_of;
    use proptest::prelude::*;

    // Expected strings are redis-server 7.0.15's answers.
    #[test]
    fn answers_as_luabitop() {
        assert_eq!(
            eval("return bit.tobit(0xffffffff), bit.tobit(2^32+5), bit.tohex(-1), bit.tohex(255, -4), bit.tohex(255, 0)"),
            "-1 5 \"ffffffff\" \"00FF\" \"\""
        );
        assert_eq!(
            eval("return bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit(1e20), bit.tobit(0/0)"),
            "2 2 -2 2025163840 0"
        );
        assert_eq!(
            eval("return bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(0x80000001, 1), bit.bswap(0x12345678)"),
            "-2147483648 15 -16 3 2018915346"
        );
        assert_eq!(eval("return bit.tobit('0x10'), bit.tobit('0')"), "16 0");
        assert_eq!(
            eval("return pcall(bit.band, 'x')"),
            "false \"bad argument #1 to '?' (number expected, got string)\""
        );
        assert_eq!(
            eval("return bit.lshift(1)"),
            "error: \"t:1: bad argument #2 to 'lshift' (number expected, got no value)\""
        );
    }

    fn lua_number(x: f64) -> String {
        format!("({x:e})")
    }

    proptest! {
        /// Every operation against a 32-bit integer model.
        #[test]
        fn operations_match_a_32_bit_model(a in any::<i32>(), b in any::<i32>(), n in 0u32..64) {
            let lua = new();
            let run = |code: String| -> i32 {
                lua.load(code).eval::<f64>().map(|x| x as i32).expect("bit op runs")
            };
            let (ua, ub) = (a as u32, b as u32);
            prop_assert_eq!(run(format!("return bit.band({a}, {b})")), (ua & ub) as i32);
            prop_assert_eq!(run(format!("return bit.bor({a}, {b})")), (ua | ub) as i32);
            prop_assert_eq!(run(format!("return bit.bxor({a}, {b})")), (ua ^ ub) as i32);
            prop_assert_eq!(run(format!("return bit.bnot({a})")), !a);
            prop_assert_eq!(run(format!("return bit.lshift({a}, {n})")), (ua << (n & 31)) as i32);
            prop_assert_eq!(run(format!("return bit.rshift({a}, {n})")), (ua >> (n & 31)) as i32);
            prop_assert_eq!(run(format!("return bit.arshift({a}, {n})")), a >> (n & 31));
            prop_assert_eq!(run(format!("return bit.rol({a}, {n})")), ua.rotate_left(n & 31) as i32);
            prop_assert_eq!(run(format!("return bit.ror({a}, {n})")), ua.rotate_right(n & 31) as i32);
            prop_assert_eq!(run(format!("return bit.bswap({a})")), ua.swap_bytes() as i32);
            let hex: String = lua.load(format!("return bit.tohex({a})")).eval().expect("tohex");
            prop_assert_eq!(hex, format!("{ua:08x}"));
        }

        /// tobit of any double: integral values within 2^51 wrap to their
        /// low 32 bits; anything is the model's low word.
        #[test]
        fn tobit_takes_the_low_word(x in any::<f64>(), k in -(1i64 << 51)..(1i64 << 51)) {
            let lua = new();
            let got: f64 = lua.load(format!("return bit.tobit({})", lua_number(k as f64))).eval().expect("tobit");
            prop_assert_eq!(got as i64, i64::from(k as i32));
            if x.is_finite() {
                let got: f64 = lua.load(format!("return bit.tobit({})", lua_number(x))).eval().expect("tobit");
                prop_assert_eq!(got, f64::from(bits_of(x) as i32));
            }
        }
    }
}
