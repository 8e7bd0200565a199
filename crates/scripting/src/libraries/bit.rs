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
