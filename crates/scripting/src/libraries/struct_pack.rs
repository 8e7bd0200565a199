//! The `struct` table scripts get: Roberto Ierusalimschy's struct library
//! (1.4) as Redis 7.0 carries it, with Redis's fixes (the size overflow
//! check, the unpack offset and bounds checks). `struct.pack(fmt, ...)`,
//! `struct.unpack(fmt, data [, pos])`, `struct.size(fmt)` on an x86-64
//! layout (`short` 2, `int` 4, `long`/`size_t` 8, native little endian,
//! at most 8-byte alignment). Format: `> < ! [n] x b B h H l L T i[n]
//! I[n] f d s c[n]` and spaces.

use super::calling::{
    c_double_to_i64, c_double_to_u64, c_string, number_value, Args, FunctionMaker, LibResult,
    Raise, LUA_MAX_C_STACK,
};
use mlua::{Lua, Table, Value};

/// The largest integer size `i`/`I` take.
const MAX_INT_SIZE: usize = 32;
/// The default and largest alignment (`!` alone).
const MAX_ALIGN: usize = 8;

#[derive(Clone, Copy, PartialEq)]
enum Endian {
    Big,
    Little,
}

struct Header {
    endian: Endian,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// A format string read as C reads it (up to its first NUL).
struct Format<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Format<'_> {
    fn next_opt(&mut self) -> Option<u8> {
        let c = self.bytes.get(self.pos).copied()?;
        self.pos += 1;
        Some(c)
    }

    /// `getnum` with Redis's overflow check.
    fn number(&mut self, default: usize) -> LibResult<usize> {
        let digit = |f: &Self| f.bytes.get(f.pos).copied().filter(u8::is_ascii_digit);
        if digit(self).is_none() {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(d) = digit(self) {
            let d = i32::from(d - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(Raise::msg("integral size overflow"));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(usize::try_from(a).unwrap_or(0))
    }

    /// `optsize`: the size of option `opt` (reading its count).
    fn size_of(&mut self, opt: u8) -> LibResult<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return Err(Raise::msg(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                size
            }
            _ => 0,
        })
    }

    /// `controloptions`: spaces, endianness, alignment; anything else is an
    /// invalid option.
    fn control(&mut self, args: &Args, opt: u8, h: &mut Header) -> LibResult<()> {
        match opt {
            b' ' => {}
            b'>' => h.endian = Endian::Big,
            b'<' => h.endian = Endian::Little,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(Raise::msg(format!("alignment {a} is not a power of 2")));
                }
                h.align = a;
            }
            other => {
                let mut msg = b"invalid format option '".to_vec();
                msg.push(other);
                msg.push(b'\'');
                return Err(args.arg_error(1, &msg));
            }
        }
        Ok(())
    }
}

/// `gettoalign`: padding before an item of `size` at offset `len`.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

fn format_of(args: &Args) -> LibResult<Vec<u8>> {
    let s = args.check_string(1)?;
    Ok(c_string(&s.as_bytes()).to_vec())
}

/// `putinteger`: the number's two's-complement bytes through a C `long`.
fn put_integer(out: &mut Vec<u8>, n: f64, endian: Endian, size: usize) {
    let mut value = if n < 0.0 {
        c_double_to_i64(n) as u64
    } else {
        c_double_to_u64(n)
    };
    let mut buf = vec![0u8; size];
    let mut fill = |slot: &mut u8| {
        *slot = (value & 0xff) as u8;
        value >>= 8;
    };
    match endian {
        Endian::Little => buf.iter_mut().for_each(&mut fill),
        Endian::Big => buf.iter_mut().rev().for_each(&mut fill),
    }
    out.extend_from_slice(&buf);
}

fn ordered<const N: usize>(native_le: [u8; N], endian: Endian) -> [u8; N] {
    let mut b = native_le;
    if endian == Endian::Big {
        b.reverse();
    }
    b
}

fn pack(args: &Args) -> LibResult<Vec<Value>> {
    let fmt_bytes = format_of(args)?;
    args.push_nil_mark();
    let mut fmt = Format {
        bytes: &fmt_bytes,
        pos: 0,
    };
    let mut h = Header::default();
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.size_of(opt)?;
        let pad = to_align(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = args.check_number(arg)?;
                arg += 1;
                put_integer(&mut out, n, h.endian, size);
            }
            b'x' => out.push(0),
            b'f' => {
                #[allow(clippy::cast_possible_truncation)]
                let f = args.check_number(arg)? as f32;
                arg += 1;
                out.extend_from_slice(&ordered(f.to_le_bytes(), h.endian));
            }
            b'd' => {
                let d = args.check_number(arg)?;
                arg += 1;
                out.extend_from_slice(&ordered(d.to_le_bytes(), h.endian));
            }
            b'c' | b's' => {
                let s = args.check_string(arg)?;
                arg += 1;
                let bytes = s.as_bytes();
                if size == 0 {
                    size = bytes.len();
                }
                if bytes.len() < size {
                    return Err(args.arg_error(arg, b"string too short"));
                }
                out.extend_from_slice(bytes.get(..size).unwrap_or(&bytes));
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => fmt.control(args, opt, &mut h)?,
        }
    }
    Ok(vec![Value::String(args.lua().create_string(out)?)])
}

/// `getinteger`: `size` bytes (only the low 8 count, as in a C `long`),
/// sign-extended from the item's top bit when `signed`.
fn get_integer(bytes: &[u8], endian: Endian, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    let mut take = |b: &u8| l = (l << 8) | u64::from(*b);
    match endian {
        Endian::Big => bytes.iter().for_each(&mut take),
        Endian::Little => bytes.iter().rev().for_each(&mut take),
    }
    #[allow(clippy::cast_precision_loss)]
    if !signed {
        return l as f64;
    }
    // The C shift count is taken modulo 64, as x86 does.
    let shift = u32::try_from((size * 8).wrapping_sub(1) & 63).unwrap_or(63);
    let mask = u64::MAX.wrapping_shl(shift);
    if l & mask != 0 {
        l |= mask;
    }
    #[allow(clippy::cast_precision_loss)]
    let v = l as i64 as f64;
    v
}

/// `lua_tonumber` of a result already produced (for `c0`).
fn result_number(lua: &Lua, v: &Value) -> LibResult<Option<f64>> {
    if let Some(n) = number_value(v) {
        return Ok(Some(n));
    }
    match v {
        Value::String(_) => Ok(lua.coerce_number(v.clone())?),
        _ => Ok(None),
    }
}

fn unpack(args: &Args) -> LibResult<Vec<Value>> {
    let lua = args.lua();
    let fmt_bytes = format_of(args)?;
    let data_string = args.check_string(2)?;
    let data = data_string.as_bytes();
    let ld = data.len();
    // size_t arithmetic, as in C: a negative offset wraps to a huge one.
    let start = args.opt_integer(3, 1)? as u64;
    if start == 0 {
        return Err(args.arg_error(3, b"offset must be 1 or greater"));
    }
    let mut pos = usize::try_from(start - 1).unwrap_or(usize::MAX);
    let mut fmt = Format {
        bytes: &fmt_bytes,
        pos: 0,
    };
    let mut h = Header::default();
    let mut results: Vec<Value> = Vec::new();
    let too_short = |args: &Args| args.arg_error(2, b"data string too short");
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.size_of(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(too_short(args));
        }
        if args.count() + results.len() + 2 > LUA_MAX_C_STACK {
            return Err(Raise::msg("stack overflow (too many results)"));
        }
        let item = data.get(pos..pos + size).unwrap_or(&[]);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                let n = get_integer(item, h.endian, signed, size);
                results.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(item.get(..4).unwrap_or(&[0; 4]));
                let f = f32::from_le_bytes(ordered(b, h.endian));
                results.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(item.get(..8).unwrap_or(&[0; 8]));
                results.push(Value::Number(f64::from_le_bytes(ordered(b, h.endian))));
            }
            b'c' => {
                if size == 0 {
                    let previous = match results.last() {
                        Some(v) => result_number(lua, v)?,
                        None => None,
                    };
                    let Some(n) = previous else {
                        return Err(Raise::msg("format 'c0' needs a previous size"));
                    };
                    size = usize::try_from(c_double_to_u64(n)).unwrap_or(usize::MAX);
                    results.pop();
                    if size > ld || pos > ld - size {
                        return Err(too_short(args));
                    }
                }
                let s = data.get(pos..pos + size).unwrap_or(&[]);
                results.push(Value::String(lua.create_string(s)?));
            }
            b's' => {
                let rest = data.get(pos..).unwrap_or(&[]);
                let Some(end) = rest.iter().position(|&b| b == 0) else {
                    return Err(Raise::msg("unfinished string in data"));
                };
                size = end + 1;
                results.push(Value::String(
                    lua.create_string(rest.get(..end).unwrap_or(&[]))?,
                ));
            }
            _ => fmt.control(args, opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
    results.push(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(results)
}

fn size(args: &Args) -> LibResult<Vec<Value>> {
    let fmt_bytes = format_of(args)?;
    let mut fmt = Format {
        bytes: &fmt_bytes,
        pos: 0,
    };
    let mut h = Header::default();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_opt() {
        let size = fmt.size_of(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if opt == b's' {
            return Err(args.arg_error(1, b"option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(args.arg_error(1, b"option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            fmt.control(args, opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
    Ok(vec![Value::Number(pos as i64 as f64)])
}

/// A new `struct` table.
pub fn table(lua: &Lua, maker: &FunctionMaker) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", maker.make(lua, "pack", |_, a| pack(a))?)?;
    t.raw_set("unpack", maker.make(lua, "unpack", |_, a| unpack(a))?)?;
    t.raw_set("size", maker.make(lua, "size", |_, a| size(a))?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::test_lua::{eval, new};
    use proptest::prelude::*;

    // Expected strings are redis-server 7.0.15's answers.
    #[test]
    fn packs_as_the_c_library() {
        assert_eq!(
            eval("return struct.pack('>i2<H!4bIdfs', 1, 2, 3, 4, 1.5, 2.5, 'ab'):byte(1, -1)"),
            "0 1 2 0 3 0 0 0 4 0 0 0 0 0 0 0 0 0 248 63 0 0 32 64 97 98 0"
        );
        assert_eq!(
            eval("return struct.pack('<i16', -2):byte(1, -1)"),
            "254 255 255 255 255 255 255 255 0 0 0 0 0 0 0 0"
        );
        assert_eq!(
            eval("return struct.size('!8bd'), struct.size('bTlLhHi7'), struct.size('z')"),
            "16 36 0"
        );
        assert_eq!(eval("return struct.unpack('bc0', '\\2ab')"), "\"ab\" 4");
        assert_eq!(
            eval("return struct.pack('i33', 1)"),
            "error: \"t:1: integral size 33 is larger than limit of 32\""
        );
        assert_eq!(
            eval("return struct.pack('c99999999999', 1)"),
            "error: \"t:1: integral size overflow\""
        );
        assert_eq!(
            eval("return struct.unpack('b', 'ab', 0)"),
            "error: \"t:1: bad argument #3 to 'unpack' (offset must be 1 or greater)\""
        );
        assert_eq!(
            eval("return struct.pack('i')"),
            "error: \"t:1: bad argument #2 to 'pack' (number expected, got nil)\""
        );
    }

    fn int_format() -> impl Strategy<Value = (String, u32, bool)> {
        (
            prop_oneof![Just('b'), Just('h'), Just('i'), Just('l')],
            any::<bool>(),
            prop::sample::select(vec![1u32, 2, 3, 4, 5, 6, 7]),
        )
            .prop_map(|(c, signed, n)| {
                let (opt, bytes) = match c {
                    'b' => ("b".to_owned(), 1),
                    'h' => ("h".to_owned(), 2),
                    'l' => ("l".to_owned(), 8),
                    _ => (format!("i{n}"), n),
                };
                let opt = if signed { opt } else { opt.to_uppercase() };
                (opt, bytes, signed)
            })
    }

    proptest! {
        /// Integers that fit their item, doubles and strings come back
        /// from unpack as packed, in both byte orders and alignments.
        #[test]
        fn unpack_reverses_pack(
            items in prop::collection::vec((int_format(), any::<i64>()), 1..6),
            endian in prop::sample::select(vec!["<", ">", "!4", "!8>", "!2<"]),
            d in any::<f64>().prop_filter("finite", |d| d.is_finite()),
            s in "[a-z]{0,12}",
        ) {
            let mut fmt = endian.to_owned();
            let mut values = Vec::new();
            for ((opt, bytes, signed), raw) in &items {
                // Within 2^52: what a double holds exactly.
                let bits = ((*bytes) * 8 - u32::from(*signed)).min(52);
                let v = if *signed { raw % (1i64 << bits) } else { (raw % (1i64 << bits)).abs() };
                fmt.push_str(opt);
                values.push(v.to_string());
            }
            fmt.push_str("ds");
            let lua = new();
            let code = format!(
                "local d, s = {d:e}, '{s}'
                 local packed = struct.pack('{fmt}', {vals}, d, s)
                 local out = {{struct.unpack('{fmt}', packed)}}
                 assert(out[#out] == #packed + 1, 'next position')
                 assert(out[#out - 1] == s and out[#out - 2] == d, 'double and string')
                 local ints = {{}}
                 for i = 1, #out - 3 do ints[i] = string.format('%d', out[i]) end
                 return table.concat(ints, ',')",
                vals = values.join(", ")
            );
            let got: String = lua.load(code).eval().expect("pack and unpack");
            prop_assert_eq!(got, values.join(","));
        }
    }
}
