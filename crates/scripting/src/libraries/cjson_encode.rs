//! `cjson.encode`: Lua values to JSON text exactly as lua-cjson 2.1.0
//! writes them — numbers with `%.14g` (the configured precision), `/`
//! escaped as `\/`, a table whose keys are all positive integers written
//! as an array up to its largest key (holes as `null`) unless it is
//! "excessively sparse", any other table as an object in `next` order,
//! an empty table as `{}`, and its errors word for word.
//!
//! The walk keeps its own stack instead of recursing, and keeps the tables
//! it is inside of (and the key it is at in each) in a Lua table, not in
//! Rust handles, so neither the Rust stack nor mlua's reference stack
//! grows with the nesting. The nesting limit is the configured depth and,
//! as in C, the Lua stack slots the C code would use (`lua_checkstack`).

use super::c_numbers::format_g;
use super::calling::{c_double_to_i32, number_value, type_name, LibResult, Raise, LUA_MAX_C_STACK};
use super::cjson::Config;
use mlua::{Function, Lua, Table, Value};

/// The most bytes one `encode` writes. lua-cjson's buffer is bounded only
/// by `malloc`; here a table that repeats one large string many times
/// cannot make the daemon allocate without bound: past this it fails as
/// Lua fails an allocation.
pub const ENCODE_OUTPUT_LIMIT: usize = 512 * 1024 * 1024;

/// The JSON escape of each byte that has one (`char2escape`).
fn escape(byte: u8) -> Option<&'static [u8]> {
    const CONTROL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006",
        b"\\u0007", b"\\b", b"\\t", b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f",
        b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013", b"\\u0014", b"\\u0015", b"\\u0016",
        b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c", b"\\u001d",
        b"\\u001e", b"\\u001f",
    ];
    match byte {
        b'"' => Some(b"\\\""),
        b'/' => Some(b"\\/"),
        b'\\' => Some(b"\\\\"),
        0x7f => Some(b"\\u007f"),
        b if b < 32 => CONTROL.get(usize::from(b)).copied(),
        _ => None,
    }
}

/// Where the walk is inside one table.
#[derive(Clone, Copy)]
enum Open {
    /// An array of `len` items, `next` the index to write next.
    Array { len: i64, next: i64 },
    /// An object, `written` members so far (its current key is kept in
    /// the encoder's `keys` table).
    Object { written: usize },
}

struct Frame {
    open: Open,
    /// Lua stack slots the C encoder holds at this table (`top - base`).
    slots: usize,
}

pub struct Encoder {
    cfg: Config,
    next: Function,
    out: Vec<u8>,
    /// Depth -> the table open at that depth.
    tables: Table,
    /// Depth -> the key an object is at.
    keys: Table,
}

impl Encoder {
    pub fn new(lua: &Lua, cfg: Config, next: Function) -> mlua::Result<Encoder> {
        Ok(Encoder {
            cfg,
            next,
            out: Vec::new(),
            tables: lua.create_table()?,
            keys: lua.create_table()?,
        })
    }

    /// The JSON text of `root`.
    pub fn run(mut self, root: Value) -> LibResult<Vec<u8>> {
        let mut frames: Vec<Frame> = Vec::new();
        // The argument is the one slot on the C function's stack.
        self.append_value(root, 1, &mut frames)?;
        loop {
            let depth = frames.len();
            let Some(frame) = frames.last_mut() else {
                break;
            };
            let slots = frame.slots;
            let table: Table = self.tables.raw_get(depth)?;
            match frame.open {
                Open::Array { len, next } => {
                    if next > len {
                        self.out.push(b']');
                        self.tables.raw_set(depth, Value::Nil)?;
                        frames.pop();
                        continue;
                    }
                    frame.open = Open::Array {
                        len,
                        next: next + 1,
                    };
                    if next > 1 {
                        self.out.push(b',');
                    }
                    let v: Value = table.raw_get(next)?;
                    self.append_value(v, slots + 1, &mut frames)?;
                }
                Open::Object { written } => {
                    let key: Value = self.keys.raw_get(depth)?;
                    let (k, v): (Value, Value) = self.next.call((table, key))?;
                    if matches!(k, Value::Nil) {
                        self.out.push(b'}');
                        self.tables.raw_set(depth, Value::Nil)?;
                        self.keys.raw_set(depth, Value::Nil)?;
                        frames.pop();
                        continue;
                    }
                    frame.open = Open::Object {
                        written: written + 1,
                    };
                    if written > 0 {
                        self.out.push(b',');
                    }
                    self.keys.raw_set(depth, k.clone())?;
                    self.append_key(&k)?;
                    self.append_value(v, slots + 2, &mut frames)?;
                }
            }
            self.check_size()?;
        }
        self.check_size()?;
        Ok(self.out)
    }

    fn check_size(&self) -> LibResult<()> {
        if self.out.len() > ENCODE_OUTPUT_LIMIT {
            return Err(Raise::msg("not enough memory"));
        }
        Ok(())
    }

    fn append_key(&mut self, k: &Value) -> LibResult<()> {
        if let Some(n) = number_value(k) {
            self.out.push(b'"');
            self.append_number(n)?;
            self.out.extend_from_slice(b"\":");
            return Ok(());
        }
        if let Value::String(s) = k {
            self.append_string(&s.as_bytes());
            self.out.push(b':');
            return Ok(());
        }
        Err(exception(k, "table key must be a number or string"))
    }

    /// Writes a scalar, or opens a table (pushing its frame).
    fn append_value(&mut self, v: Value, slots: usize, frames: &mut Vec<Frame>) -> LibResult<()> {
        match &v {
            Value::String(s) => self.append_string(&s.as_bytes()),
            Value::Integer(_) | Value::Number(_) => {
                self.append_number(number_value(&v).unwrap_or(0.0))?;
            }
            Value::Boolean(true) => self.out.extend_from_slice(b"true"),
            Value::Boolean(false) => self.out.extend_from_slice(b"false"),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => self.out.extend_from_slice(b"null"),
            Value::Table(t) => {
                let depth = frames.len() + 1;
                let max_depth = usize::try_from(self.cfg.encode_max_depth).unwrap_or(0);
                if depth > max_depth || slots + 3 > LUA_MAX_C_STACK {
                    return Err(Raise::msg(format!(
                        "Cannot serialise, excessive nesting ({depth})"
                    )));
                }
                let len = self.array_length(t)?;
                let open = if len > 0 {
                    self.out.push(b'[');
                    Open::Array {
                        len: i64::from(len),
                        next: 1,
                    }
                } else {
                    self.out.push(b'{');
                    Open::Object { written: 0 }
                };
                self.tables.raw_set(depth, t.clone())?;
                frames.push(Frame { open, slots });
            }
            other => return Err(exception(other, "type not supported")),
        }
        Ok(())
    }

    /// `lua_array_length`: the largest key of a table whose keys are all
    /// integers >= 1, -1 for any other table, with the sparse-array rule.
    /// Kept to the C types: `max` is a C `int` (a key past its range
    /// converts as x86 converts it), `items * ratio` wraps.
    fn array_length(&self, t: &Table) -> LibResult<i32> {
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        let mut array = true;
        t.for_each::<Value, Value>(|k, _| {
            if !array {
                return Ok(());
            }
            match number_value(&k) {
                Some(n) if n != 0.0 && n.floor() == n && n >= 1.0 => {
                    if n > f64::from(max) {
                        max = c_double_to_i32(n);
                    }
                    items = items.wrapping_add(1);
                }
                _ => array = false,
            }
            Ok(())
        })?;
        if !array {
            return Ok(-1);
        }
        let cfg = &self.cfg;
        if cfg.encode_sparse_ratio > 0
            && max > items.wrapping_mul(cfg.encode_sparse_ratio)
            && max > cfg.encode_sparse_safe
        {
            if cfg.encode_sparse_convert == 0 {
                return Err(Raise::msg(
                    "Cannot serialise table: excessively sparse array",
                ));
            }
            return Ok(-1);
        }
        Ok(max)
    }

    fn append_string(&mut self, s: &[u8]) {
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        for &b in s {
            match escape(b) {
                Some(e) => self.out.extend_from_slice(e),
                None => self.out.push(b),
            }
        }
        self.out.push(b'"');
    }

    fn append_number(&mut self, n: f64) -> LibResult<()> {
        if !n.is_finite() {
            match self.cfg.encode_invalid_numbers {
                0 => {
                    return Err(Raise::msg(
                        "Cannot serialise number: must not be NaN or Inf",
                    ))
                }
                1 if n.is_nan() => {
                    self.out.extend_from_slice(b"nan");
                    return Ok(());
                }
                1 => {}
                _ => {
                    self.out.extend_from_slice(b"null");
                    return Ok(());
                }
            }
        }
        let precision = usize::try_from(self.cfg.encode_number_precision).unwrap_or(14);
        self.out
            .extend_from_slice(format_g(n, precision).as_bytes());
        Ok(())
    }
}

/// `json_encode_exception`: "Cannot serialise <type>: <reason>".
fn exception(v: &Value, reason: &str) -> Raise {
    Raise::msg(format!("Cannot serialise {}: {reason}", type_name(v)))
}
