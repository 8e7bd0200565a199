//! The `cmsgpack` table scripts get: lua-cmsgpack 0.4.0 as Redis 7.0
//! carries it (`pack`, `unpack`, `unpack_one`, `unpack_limit`, `_NAME`,
//! `_VERSION`, `_COPYRIGHT`, `_DESCRIPTION`). `pack` writes each argument
//! as MessagePack — integral numbers in the smallest integer form, others
//! as float32 when exact, else float64; strings as fixraw/raw8/16/32; a
//! table whose keys are exactly 1..n as an array, any other as a map in
//! `next` order; tables nested 16 deep, and functions and the like, as
//! nil. The unpackers read a stream of values, as the C code does
//! (including its integer quirks), with its messages.
//!
//! Unpacking keeps its own stack (tables in a Lua table), and stops where
//! the C code's `luaL_checkstack` would: nesting costs Lua stack slots
//! there, so it is bounded.

use super::calling::{
    c_double_to_i32, c_double_to_i64, number_value, Args, FunctionMaker, LibResult, Raise,
    LUA_MAX_C_STACK,
};
use mlua::{Lua, Table, Value};

/// Tables nested deeper than this are written as nil.
const MAX_NESTING: u32 = 16;

/// The most bytes one `pack` writes (the C buffer grows through the Lua
/// allocator; here it is bounded so shared subtables cannot multiply it
/// without limit).
const PACK_OUTPUT_LIMIT: usize = 512 * 1024 * 1024;

struct Packer {
    out: Vec<u8>,
}

impl Packer {
    fn bytes(&mut self, s: &[u8]) {
        let len = s.len();
        if len < 32 {
            self.out.push(0xa0 | u8::try_from(len).unwrap_or(0));
        } else if let Ok(l) = u8::try_from(len) {
            self.out.extend_from_slice(&[0xd9, l]);
        } else if let Ok(l) = u16::try_from(len) {
            self.out.push(0xda);
            self.out.extend_from_slice(&l.to_be_bytes());
        } else {
            self.out.push(0xdb);
            // The C code writes the low 32 bits of the length.
            self.out
                .extend_from_slice(&u32::try_from(len & 0xFFFF_FFFF).unwrap_or(0).to_be_bytes());
        }
        self.out.extend_from_slice(s);
    }

    fn double(&mut self, d: f64) {
        #[allow(clippy::cast_possible_truncation)]
        let f = d as f32;
        if d == f64::from(f) {
            self.out.push(0xca);
            self.out.extend_from_slice(&f.to_be_bytes());
        } else {
            self.out.push(0xcb);
            self.out.extend_from_slice(&d.to_be_bytes());
        }
    }

    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn int(&mut self, n: i64) {
        if n >= 0 {
            if n <= 127 {
                self.out.push(n as u8);
            } else if n <= 0xff {
                self.out.extend_from_slice(&[0xcc, n as u8]);
            } else if n <= 0xffff {
                self.out.push(0xcd);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            } else if n <= 0xffff_ffff {
                self.out.push(0xce);
                self.out.extend_from_slice(&(n as u32).to_be_bytes());
            } else {
                self.out.push(0xcf);
                self.out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        } else if n >= -32 {
            self.out.push(n as u8);
        } else if n >= -128 {
            self.out.extend_from_slice(&[0xd0, n as u8]);
        } else if n >= -32768 {
            self.out.push(0xd1);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n >= -2_147_483_648 {
            self.out.push(0xd2);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.out.push(0xd3);
            self.out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }

    /// An array (0x90) or map (0x80) header.
    #[allow(clippy::cast_possible_truncation)]
    fn header(&mut self, fix: u8, n: usize) {
        let (sixteen, thirty_two) = if fix == 0x90 {
            (0xdc, 0xdd)
        } else {
            (0xde, 0xdf)
        };
        if n <= 15 {
            self.out.push(fix | n as u8);
        } else if n <= 65535 {
            self.out.push(sixteen);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            self.out.push(thirty_two);
            self.out
                .extend_from_slice(&((n & 0xFFFF_FFFF) as u32).to_be_bytes());
        }
    }

    /// `mp_encode_lua_number`: integral (as int64 sees it) or a double.
    fn number(&mut self, n: f64) {
        #[allow(clippy::cast_precision_loss)]
        let integral = !n.is_infinite() && c_double_to_i64(n) as f64 == n;
        if integral {
            self.int(c_double_to_i64(n));
        } else {
            self.double(n);
        }
    }

    /// `mp_encode_lua_type` (recursion is bounded by [`MAX_NESTING`]).
    fn value(&mut self, v: &Value, level: u32) -> LibResult<()> {
        match v {
            Value::String(s) => self.bytes(&s.as_bytes()),
            Value::Boolean(b) => self.out.push(if *b { 0xc3 } else { 0xc2 }),
            Value::Integer(_) | Value::Number(_) => self.number(number_value(v).unwrap_or(0.0)),
            Value::Table(t) if level < MAX_NESTING => {
                if is_array(t)? {
                    let len = t.raw_len();
                    self.header(0x90, len);
                    for j in 1..=len {
                        let item: Value = t.raw_get(j)?;
                        self.value(&item, level + 1)?;
                    }
                } else {
                    let mut count = 0usize;
                    t.for_each::<Value, Value>(|_, _| {
                        count += 1;
                        Ok(())
                    })?;
                    self.header(0x80, count);
                    let mut failed = None;
                    t.for_each::<Value, Value>(|k, item| {
                        if failed.is_none() {
                            if let Err(e) = self
                                .value(&k, level + 1)
                                .and_then(|()| self.value(&item, level + 1))
                            {
                                failed = Some(e);
                            }
                        }
                        Ok(())
                    })?;
                    if let Some(e) = failed {
                        return Err(e);
                    }
                }
            }
            _ => self.out.push(0xc0),
        }
        if self.out.len() > PACK_OUTPUT_LIMIT {
            return Err(Raise::msg("not enough memory"));
        }
        Ok(())
    }
}

/// `table_is_an_array`: every key a number >= 1 that a C `int` holds, and
/// the largest equal to their count.
fn is_array(t: &Table) -> mlua::Result<bool> {
    let mut count: i32 = 0;
    let mut max: i32 = 0;
    let mut array = true;
    t.for_each::<Value, Value>(|k, _| {
        if !array {
            return Ok(());
        }
        let n = match k {
            Value::Integer(_) | Value::Number(_) => number_value(&k).unwrap_or(0.0),
            _ => {
                array = false;
                return Ok(());
            }
        };
        if n <= 0.0 || n.is_infinite() || f64::from(c_double_to_i32(n)) != n {
            array = false;
            return Ok(());
        }
        if n > f64::from(max) {
            max = c_double_to_i32(n);
        }
        count = count.wrapping_add(1);
        Ok(())
    })?;
    Ok(array && max == count)
}

fn pack(args: &Args) -> LibResult<Vec<Value>> {
    let nargs = args.count();
    if nargs == 0 {
        return Err(args.arg_error(0, b"MessagePack pack needs input."));
    }
    if nargs + nargs > LUA_MAX_C_STACK {
        return Err(args.arg_error(0, b"Too many arguments for MessagePack pack."));
    }
    let mut p = Packer { out: Vec::new() };
    for i in 1..=nargs {
        p.value(&args.get(i), 0)?;
    }
    Ok(vec![Value::String(args.lua().create_string(p.out)?)])
}

/// Why decoding stopped (`mp_cur`'s error, or a Lua error).
enum Stop {
    MissingBytes,
    BadFormat,
    Raise(Raise),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Self {
        Stop::Raise(Raise::Lua(e))
    }
}

/// A table being filled: `left` entries to go.
struct Open {
    left: u64,
    /// Arrays: the next index. Maps: `None`.
    index: Option<i32>,
    /// Maps: whether the key has been read (it waits in `keys`).
    have_key: bool,
}

struct Unpacker<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
    /// Lua stack slots in use (`top - base`), as in the C function.
    slots: usize,
    open: Vec<Open>,
    tables: Table,
    keys: Table,
}

impl Unpacker<'_> {
    fn need(&self, n: usize) -> Result<(), Stop> {
        if self.data.len() - self.pos < n {
            return Err(Stop::MissingBytes);
        }
        Ok(())
    }

    fn byte(&self, at: usize) -> u8 {
        self.data.get(self.pos + at).copied().unwrap_or(0)
    }

    fn be(&self, at: usize, n: usize) -> u64 {
        (0..n).fold(0u64, |acc, k| (acc << 8) | u64::from(self.byte(at + k)))
    }

    fn string(&mut self, header: usize, len: usize) -> Result<Value, Stop> {
        self.need(header.saturating_add(len))?;
        let start = self.pos + header;
        let s = self.data.get(start..start + len).unwrap_or(&[]);
        let v = Value::String(self.lua.create_string(s)?);
        self.pos = start + len;
        Ok(v)
    }

    /// Opens a table of `left` entries (an array when `array`).
    fn open_table(&mut self, left: u64, array: bool) -> Result<(), Stop> {
        let t = self.lua.create_table()?;
        self.open.push(Open {
            left,
            index: array.then_some(1),
            have_key: false,
        });
        self.tables.raw_set(self.open.len(), t)?;
        self.slots += 1;
        if array && self.slots + 1 > LUA_MAX_C_STACK {
            return Err(Stop::Raise(Raise::msg(
                "stack overflow (in function mp_decode_to_lua_array)",
            )));
        }
        Ok(())
    }

    /// `mp_decode_to_lua_type` for one item: a scalar, or `None` when it
    /// opened a table.
    #[allow(clippy::cast_possible_truncation)]
    fn item(&mut self) -> Result<Option<Value>, Stop> {
        self.need(1)?;
        if self.slots + 1 > LUA_MAX_C_STACK {
            return Err(Stop::Raise(Raise::msg(
                "stack overflow (too many return values at once; \
                 use unpack_one or unpack_limit instead.)",
            )));
        }
        let b = self.byte(0);
        let num = |x: f64| Ok(Some(Value::Number(x)));
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
        let fixed = |me: &mut Self, n: usize| -> Result<u64, Stop> {
            me.need(1 + n)?;
            let v = me.be(1, n);
            me.pos += 1 + n;
            Ok(v)
        };
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
        match b {
            0xcc => num(fixed(self, 1)? as f64),
            0xd0 => num(f64::from(fixed(self, 1)? as u8 as i8)),
            0xcd => num(fixed(self, 2)? as f64),
            0xd1 => num(f64::from(fixed(self, 2)? as u16 as i16)),
            0xce => num(fixed(self, 4)? as f64),
            0xd2 => num(f64::from(fixed(self, 4)? as u32 as i32)),
            // lua_pushinteger of a uint64: past 2^63 it wraps negative.
            0xcf | 0xd3 => num(fixed(self, 8)? as i64 as f64),
            0xc0 => {
                self.pos += 1;
                Ok(Some(Value::Nil))
            }
            0xc2 | 0xc3 => {
                self.pos += 1;
                Ok(Some(Value::Boolean(b == 0xc3)))
            }
            0xca => num(f64::from(f32::from_bits(fixed(self, 4)? as u32))),
            0xcb => num(f64::from_bits(fixed(self, 8)?)),
            0xd9 => {
                self.need(2)?;
                let l = usize::from(self.byte(1));
                self.string(2, l).map(Some)
            }
            0xda => {
                self.need(3)?;
                let l = self.be(1, 2) as usize;
                self.string(3, l).map(Some)
            }
            0xdb => {
                let l = fixed(self, 4)? as usize;
                self.string(0, l).map(Some)
            }
            0xdc..=0xdf => {
                let n = if b == 0xdc || b == 0xde { 2 } else { 4 };
                let l = fixed(self, n)?;
                self.open_table(l, b <= 0xdd)?;
                Ok(None)
            }
            _ if b & 0x80 == 0 => {
                self.pos += 1;
                num(f64::from(b))
            }
            _ if b & 0xe0 == 0xe0 => {
                self.pos += 1;
                num(f64::from(b as i8))
            }
            _ if b & 0xe0 == 0xa0 => self.string(1, usize::from(b & 0x1f)).map(Some),
            _ if b & 0xf0 == 0x90 || b & 0xf0 == 0x80 => {
                self.pos += 1;
                self.open_table(u64::from(b & 0xf), b & 0xf0 == 0x90)?;
                Ok(None)
            }
            _ => Err(Stop::BadFormat),
        }
    }

    /// One whole top-level value, iteratively.
    fn value(&mut self) -> Result<Value, Stop> {
        let mut next = self.item()?;
        loop {
            let value = match next.take() {
                Some(v) => v,
                None => {
                    // A table is open: read its next entry, or close it.
                    let depth = self.open.len();
                    let Some(top) = self.open.last() else {
                        return Ok(Value::Nil);
                    };
                    if top.left > 0 {
                        // An array pushes the index before the item.
                        self.slots += usize::from(top.index.is_some());
                        next = self.item()?;
                        continue;
                    }
                    self.open.pop();
                    self.slots -= 1;
                    let t: Table = self.tables.raw_get(depth)?;
                    self.tables.raw_set(depth, Value::Nil)?;
                    Value::Table(t)
                }
            };
            // Give the value to the table it belongs to, if any.
            let depth = self.open.len();
            let Some(top) = self.open.last_mut() else {
                return Ok(value);
            };
            let t: Table = self.tables.raw_get(depth)?;
            match top.index {
                Some(i) => {
                    top.index = Some(i.wrapping_add(1));
                    top.left -= 1;
                    self.slots -= 1;
                    t.raw_set(i, value)?;
                }
                None if !top.have_key => {
                    // The key stays on the stack while the value is read.
                    top.have_key = true;
                    self.keys.raw_set(depth, value)?;
                    self.slots += 1;
                    next = self.item()?;
                }
                None => {
                    top.have_key = false;
                    top.left -= 1;
                    self.slots -= 1;
                    let key: Value = self.keys.raw_get(depth)?;
                    self.keys.raw_set(depth, Value::Nil)?;
                    store(&t, key, value)?;
                }
            }
        }
    }
}

/// `lua_settable` on a fresh table: nil and NaN keys are Lua's own
/// errors; a nil value sets nothing.
fn store(t: &Table, key: Value, value: Value) -> Result<(), Stop> {
    match &key {
        Value::Nil => Err(Stop::Raise(Raise::Plain(b"table index is nil".to_vec()))),
        Value::Number(n) if n.is_nan() => {
            Err(Stop::Raise(Raise::Plain(b"table index is NaN".to_vec())))
        }
        _ => Ok(t.raw_set(key, value)?),
    }
}

/// `mp_unpack_full`: up to `limit` values from `offset` (both 0: all of
/// them, and no offset result). `kept` is how many arguments stay on the
/// C function's stack.
fn unpack_full(args: &Args, limit: i64, offset: i64, kept: usize) -> LibResult<Vec<Value>> {
    let lua = args.lua();
    let s = args.check_string(1)?;
    let data = s.as_bytes();
    let len = data.len();
    #[allow(clippy::cast_possible_truncation)]
    let c_int = |v: i64| v as i32;
    if offset < 0 || limit < 0 {
        return Err(Raise::msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            c_int(offset),
            c_int(i64::try_from(len).unwrap_or(i64::MAX))
        )));
    }
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    if start > len {
        return Err(Raise::msg(format!(
            "Start offset {} greater than input length {}.",
            c_int(offset),
            c_int(i64::try_from(len).unwrap_or(i64::MAX))
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut u = Unpacker {
        lua,
        data: &data,
        pos: start,
        slots: kept,
        open: Vec::new(),
        tables: lua.create_table()?,
        keys: lua.create_table()?,
    };
    let mut results = Vec::new();
    let mut count: i64 = 0;
    while u.pos < len && count < limit {
        match u.value() {
            Ok(v) => results.push(v),
            Err(Stop::MissingBytes) => return Err(Raise::msg("Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(Raise::msg("Bad data format in input.")),
            Err(Stop::Raise(r)) => return Err(r),
        }
        u.slots += 1;
        count += 1;
    }
    if !decode_all {
        if u.slots + 1 > LUA_MAX_C_STACK {
            return Err(Raise::msg("stack overflow (in function mp_unpack_full)"));
        }
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]
        let next = if u.pos == len {
            -1.0
        } else {
            u.pos as i64 as f64
        };
        results.insert(0, Value::Number(next));
    }
    Ok(results)
}

/// A new `cmsgpack` table.
pub fn table(lua: &Lua, maker: &FunctionMaker) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", maker.make(lua, "pack", |_, a| pack(a))?)?;
    t.raw_set(
        "unpack",
        maker.make(lua, "unpack", |_, a| unpack_full(a, 0, 0, a.count()))?,
    )?;
    t.raw_set(
        "unpack_one",
        maker.make(lua, "unpack_one", |_, a| {
            let offset = a.opt_integer(2, 0)?;
            unpack_full(a, 1, offset, a.count().min(1))
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        maker.make(lua, "unpack_limit", |_, a| {
            let limit = a.check_integer(2)?;
            let offset = a.opt_integer(3, 0)?;
            unpack_full(a, limit, offset, a.count().min(1))
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::test_lua::{eval, new};
    use proptest::prelude::*;

    // Expected strings are redis-server 7.0.15's answers.
    #[test]
    fn packs_and_unpacks_as_lua_cmsgpack() {
        assert_eq!(
            eval("return cmsgpack.pack({1,2,3}, 'abc', 1.5, -1, 2^40, {a=1}):byte(1, -1)"),
            "147 1 2 3 163 97 98 99 202 63 192 0 0 255 207 0 0 1 0 0 0 0 0 129 161 97 1"
        );
        assert_eq!(
            eval("return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)"),
            "-1 2 3"
        );
        assert_eq!(
            eval("return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')"),
            "-1"
        );
        assert_eq!(
            eval("return cmsgpack.unpack('\\193')"),
            "error: \"t:1: Bad data format in input.\""
        );
        assert_eq!(
            eval("return cmsgpack.unpack('\\129\\192\\1')"),
            "error: \"table index is nil\""
        );
        assert_eq!(
            eval("return pcall(cmsgpack.pack)"),
            "false \"bad argument #0 to '?' (MessagePack pack needs input.)\""
        );
    }

    proptest! {
        /// unpack(pack(...)) gives back integers, strings of any bytes,
        /// booleans and arrays of them.
        #[test]
        fn unpack_reverses_pack(
            ints in prop::collection::vec(-(1i64 << 53)..(1i64 << 53), 0..8),
            strings in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..4),
            flag in any::<bool>(),
        ) {
            let lua = new();
            let strs: Vec<mlua::LuaString> = strings
                .iter()
                .map(|s| lua.create_string(s).expect("string"))
                .collect();
            let ints_t = lua.create_sequence_from(ints.iter().map(|&i| i as f64)).expect("ints");
            let strs_t = lua.create_sequence_from(strs).expect("strings");
            let code = "local ints, strs, flag = ...
                local packed = cmsgpack.pack(ints, strs, flag)
                local a, b, c = cmsgpack.unpack(packed)
                assert(c == flag and #a == #ints and #b == #strs)
                for i = 1, #ints do assert(a[i] == ints[i], 'integer ' .. i) end
                for i = 1, #strs do assert(b[i] == strs[i], 'string ' .. i) end
                return true";
            let ok: bool = lua
                .load(code)
                .call((ints_t, strs_t, flag))
                .expect("pack and unpack agree");
            prop_assert!(ok);
        }
    }
}
