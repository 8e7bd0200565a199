//! Redis 7.0's conversions between RESP and Lua, as pure functions (a fuzz
//! target drives them):
//!
//! - [`resp_to_lua`]: a command's reply, RESP2 or RESP3 bytes as the
//!   server encoded them for the script (`redis.setresp`), to the Lua value
//!   `redis.call` returns — integer → number, bulk → string, null bulk or
//!   null array → `false`, status → `{ok=…}`, error → `{err=…}`, array →
//!   table; RESP3 null → `nil`, map → `{map={…}}`, set → `{set={k=true}}`,
//!   double → `{double=n}`, boolean → boolean, big number →
//!   `{big_number=…}`, verbatim → `{verbatim_string={format=…,string=…}}`.
//! - [`lua_to_reply`]: the script's return value to a [`ScriptReply`] —
//!   string → bulk, number → integer (truncated as C's cast), `true` → 1
//!   and `false` → null (booleans under `redis.setresp(3)`), a table with
//!   `err`/`ok`/`double`/`big_number`/`verbatim_string`/`map`/`set` →
//!   that reply, any other table → array up to its first `nil`, anything
//!   else → null.
//! - [`lua_args`]: `redis.call`'s arguments to a command line (numbers as
//!   `%.17g`).

use crate::reply::{format_g17, lua_number_to_integer, ScriptReply};
use mlua::{Lua, Table, Value};

/// Deepest nesting either way. Redis answers a deeper script reply with
/// `reached lua stack limit` (at about 4000 levels; reddb stops at 128, so
/// the conversion and the encoding of the reply stay well inside a
/// thread's stack).
pub const MAX_DEPTH: usize = 128;
/// Most bytes a script's reply may take (each element counted as its
/// payload plus 16).
pub const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;
/// Most values (elements, keys, tables) a script's reply may visit: tables
/// that hold the same table twice, level after level, are cut here, not
/// after 2^128 steps (a table that holds itself ends at once, see
/// [`lua_to_reply`]).
pub const MAX_REPLY_VALUES: usize = 1 << 18;

/// Why RESP bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespError {
    /// Malformed, truncated, or nested past [`MAX_DEPTH`].
    Malformed,
    /// Trailing bytes after one complete reply.
    Trailing,
    /// Lua could not hold the value (its memory cap).
    Lua(String),
}

impl From<mlua::Error> for RespError {
    fn from(e: mlua::Error) -> Self {
        RespError::Lua(e.to_string())
    }
}

/// One RESP reply (exactly, nothing after it) as the Lua value
/// `redis.call` returns.
pub fn resp_to_lua(lua: &Lua, bytes: &[u8]) -> Result<Value, RespError> {
    let mut reader = RespReader { buf: bytes, at: 0 };
    let v = reader.value(lua, 0)?;
    if reader.at != bytes.len() {
        return Err(RespError::Trailing);
    }
    Ok(v.unwrap_or(Value::Nil))
}

struct RespReader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl RespReader<'_> {
    /// The bytes up to the next CRLF, consumed with it.
    fn line(&mut self) -> Result<&[u8], RespError> {
        let rest = self.buf.get(self.at..).ok_or(RespError::Malformed)?;
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(RespError::Malformed)?;
        self.at += end + 2;
        rest.get(..end).ok_or(RespError::Malformed)
    }

    fn int_line(&mut self) -> Result<i64, RespError> {
        let l = self.line()?;
        std::str::from_utf8(l)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(RespError::Malformed)
    }

    /// `len` bytes then CRLF.
    fn blob(&mut self, len: i64) -> Result<&[u8], RespError> {
        let len = usize::try_from(len).map_err(|_| RespError::Malformed)?;
        let end = self.at.checked_add(len).ok_or(RespError::Malformed)?;
        let data = self.buf.get(self.at..end).ok_or(RespError::Malformed)?;
        if self.buf.get(end..end + 2) != Some(b"\r\n") {
            return Err(RespError::Malformed);
        }
        self.at = end + 2;
        Ok(data)
    }

    /// A count of elements, each at least 3 bytes: refuse counts the
    /// remaining input cannot hold (no allocation from a forged count).
    fn count(&mut self, per: usize) -> Result<Option<usize>, RespError> {
        let n = self.int_line()?;
        if n < 0 {
            return Ok(None);
        }
        let n = usize::try_from(n).map_err(|_| RespError::Malformed)?;
        let left = self.buf.len().saturating_sub(self.at);
        if n.saturating_mul(3 * per) > left {
            return Err(RespError::Malformed);
        }
        Ok(Some(n))
    }

    /// The next reply; `None` for an attribute-only value (skipped).
    fn value(&mut self, lua: &Lua, depth: usize) -> Result<Option<Value>, RespError> {
        if depth > MAX_DEPTH {
            return Err(RespError::Malformed);
        }
        let kind = *self.buf.get(self.at).ok_or(RespError::Malformed)?;
        self.at += 1;
        let v = match kind {
            b':' => Value::Number(self.int_line()? as f64),
            b'$' => match self.int_line()? {
                -1 => Value::Boolean(false),
                n => Value::String(lua.create_string(self.blob(n)?)?),
            },
            b'+' => {
                let s = self.line()?.to_vec();
                single_field(lua, "ok", Value::String(lua.create_string(&s)?))?
            }
            b'-' => {
                let s = self.line()?.to_vec();
                error_table(lua, &s)?
            }
            b'*' => match self.count(1)? {
                None => Value::Boolean(false),
                Some(n) => {
                    let t = lua.create_table_with_capacity(n, 0)?;
                    for i in 1..=n {
                        let v = self.element(lua, depth)?;
                        t.raw_set(i, v)?;
                    }
                    Value::Table(t)
                }
            },
            b'_' => {
                self.line()?;
                Value::Nil
            }
            b'#' => match self.line()? {
                b"t" => Value::Boolean(true),
                b"f" => Value::Boolean(false),
                _ => return Err(RespError::Malformed),
            },
            b',' => {
                let l = self.line()?;
                let d = parse_double(l).ok_or(RespError::Malformed)?;
                single_field(lua, "double", Value::Number(d))?
            }
            b'(' => {
                let s = self.line()?.to_vec();
                single_field(lua, "big_number", Value::String(lua.create_string(&s)?))?
            }
            b'=' => {
                let n = self.int_line()?;
                let data = self.blob(n)?;
                if data.len() < 4 || data.get(3) != Some(&b':') {
                    return Err(RespError::Malformed);
                }
                let (format, text) = (data.get(..3).unwrap_or(&[]), data.get(4..).unwrap_or(&[]));
                let inner = lua.create_table()?;
                inner.raw_set("string", lua.create_string(text)?)?;
                inner.raw_set("format", lua.create_string(format)?)?;
                single_field(lua, "verbatim_string", Value::Table(inner))?
            }
            b'%' => {
                let n = self.count(2)?.ok_or(RespError::Malformed)?;
                let m = lua.create_table()?;
                for _ in 0..n {
                    let k = self.element(lua, depth)?;
                    let v = self.element(lua, depth)?;
                    // Lua tables have no nil (or NaN) keys: such a pair is
                    // left out.
                    if !is_bad_key(&k) {
                        m.raw_set(k, v)?;
                    }
                }
                single_field(lua, "map", Value::Table(m))?
            }
            b'~' => {
                let n = self.count(1)?.ok_or(RespError::Malformed)?;
                let s = lua.create_table()?;
                for _ in 0..n {
                    let k = self.element(lua, depth)?;
                    if !is_bad_key(&k) {
                        s.raw_set(k, true)?;
                    }
                }
                single_field(lua, "set", Value::Table(s))?
            }
            b'|' => {
                // An attribute: read and dropped, then the reply itself.
                let n = self.count(2)?.ok_or(RespError::Malformed)?;
                for _ in 0..2 * n {
                    self.element(lua, depth)?;
                }
                return self.value(lua, depth + 1);
            }
            _ => return Err(RespError::Malformed),
        };
        Ok(Some(v))
    }

    fn element(&mut self, lua: &Lua, depth: usize) -> Result<Value, RespError> {
        Ok(self.value(lua, depth + 1)?.unwrap_or(Value::Nil))
    }
}

fn is_bad_key(k: &Value) -> bool {
    match k {
        Value::Nil => true,
        Value::Number(n) => n.is_nan(),
        _ => false,
    }
}

/// A RESP3 double's text (`inf`, `-inf`, `nan` included).
fn parse_double(l: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(l).ok()?;
    match s {
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" | "-nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

fn single_field(lua: &Lua, field: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

/// Redis's `luaPushErrorBuff` of `-line`: `{err = "CODE message"}`, the
/// code `ERR` when the line has no space (no code of its own).
pub fn error_table(lua: &Lua, line: &[u8]) -> mlua::Result<Value> {
    let text = error_text(line);
    single_field(lua, "err", Value::String(lua.create_string(&text)?))
}

/// An error raised by a Redis function of the sandbox (`redis.call` of a
/// failing command, `redis.sha1hex()`…): its `err` text. Rust functions
/// raise it as an mlua error — they are C functions to Lua, so a `return
/// redis.call(…)` keeps the script's frame for the error's line, as in
/// Redis; the error handler and `pcall` turn it back into `{err = text}`
/// and `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaisedError(pub Vec<u8>);

impl std::fmt::Display for RaisedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::error::Error for RaisedError {}

/// The `err` text of a Lua error value raised as [`RaisedError`] (through
/// any callback layers mlua wrapped it in).
pub fn raised_text(v: &Value) -> Option<&[u8]> {
    let Value::Error(e) = v else {
        return None;
    };
    let mut e: &mlua::Error = e;
    loop {
        match e {
            mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
                e = cause;
            }
            mlua::Error::ExternalError(inner) => {
                return inner.downcast_ref::<RaisedError>().map(|r| r.0.as_slice())
            }
            _ => return None,
        }
    }
}

/// Raises `{err = "ERR " .. msg}` (Redis's `luaPushError` then `luaError`).
pub fn raise_plain(msg: &str) -> mlua::Error {
    mlua::Error::external(RaisedError(format!("ERR {msg}").into_bytes()))
}

/// Raises the error table `t` (from [`error_table`]).
pub fn raise_table(t: &Value) -> mlua::Error {
    let text = match t {
        Value::Table(t) => t
            .raw_get::<mlua::LuaString>("err")
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    mlua::Error::external(RaisedError(text))
}

/// Redis's `luaPushError(msg)` of a message of its own (no `-`): `{err =
/// "ERR " .. msg}`.
pub fn plain_error_table(lua: &Lua, msg: &str) -> mlua::Result<Value> {
    let text = format!("ERR {msg}");
    single_field(lua, "err", Value::String(lua.create_string(&text)?))
}

/// The `err` text Redis keeps for an error line (without its `-`): `CODE
/// message`; a line without a space gets the code `ERR`; CR/LF at the end
/// trimmed.
pub fn error_text(line: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match line.iter().position(|&c| c == b' ') {
        Some(i) => (
            line.get(..i).unwrap_or_default(),
            line.get(i + 1..).unwrap_or_default(),
        ),
        None => (b"ERR", line),
    };
    let msg = trim_crlf(msg);
    let mut out = Vec::with_capacity(code.len() + 1 + msg.len());
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(msg);
    out
}

/// `sdstrim(s, "\r\n")`: CR and LF off both ends.
fn trim_crlf(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|c| !b"\r\n".contains(c))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|c| !b"\r\n".contains(c))
        .map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// C-string view: up to the first NUL (Redis reads these fields with
/// `lua_tostring` into C strings).
fn c_string(s: &[u8]) -> &[u8] {
    s.iter()
        .position(|&c| c == 0)
        .map_or(s, |i| s.get(..i).unwrap_or_default())
}

/// A status or big-number text: CR and LF become spaces.
fn one_line(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

/// The text of an error reply made from a script's `err` field: Redis
/// writes `-%s`, trims CR/LF at the end and turns the others into spaces.
pub fn error_reply_text(err: &[u8]) -> Vec<u8> {
    let s = c_string(err);
    let end = s
        .iter()
        .rposition(|c| !b"\r\n".contains(c))
        .map_or(0, |i| i + 1);
    one_line(s.get(..end).unwrap_or_default())
}

/// `redis.call`'s arguments as a command line: strings as they are,
/// numbers as `%.17g`; `Err` with Redis's message for anything else or no
/// argument at all.
pub fn lua_args(args: &[Value]) -> Result<Vec<Vec<u8>>, &'static str> {
    if args.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    args.iter()
        .map(|a| match a {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            Value::Integer(i) => Ok(format_g17(*i as f64).into_bytes()),
            Value::Number(n) => Ok(format_g17(*n).into_bytes()),
            _ => Err("Lua redis lib command arguments must be strings or integers"),
        })
        .collect()
}

/// Converts a script's return value (`resp3`: the script called
/// `redis.setresp(3)`, which turns booleans into RESP3 booleans). A table
/// found inside itself becomes `reached lua stack limit` where Redis
/// would nest it to its stack limit first.
pub fn lua_to_reply(v: &Value, resp3: bool) -> ScriptReply {
    lua_to_reply_bounded(v, resp3, MAX_REPLY_VALUES)
}

/// [`lua_to_reply`] visiting at most `max_values` values.
pub fn lua_to_reply_bounded(v: &Value, resp3: bool, max_values: usize) -> ScriptReply {
    let mut converter = Converter {
        resp3,
        bytes: MAX_REPLY_BYTES,
        values: max_values,
        path: Vec::new(),
    };
    match converter.reply(v, 0) {
        Some(r) => r,
        None => ScriptReply::error(format!(
            "ERR the script's reply is larger than {MAX_REPLY_BYTES} bytes or {max_values} values"
        )),
    }
}

struct Converter {
    resp3: bool,
    /// Bytes left of [`MAX_REPLY_BYTES`].
    bytes: usize,
    /// Values left of [`MAX_REPLY_VALUES`].
    values: usize,
    /// The tables being converted, outermost first.
    path: Vec<*const std::ffi::c_void>,
}

impl Converter {
    /// `None` once the reply passed [`MAX_REPLY_BYTES`] or
    /// [`MAX_REPLY_VALUES`].
    fn reply(&mut self, v: &Value, depth: usize) -> Option<ScriptReply> {
        self.values = self.values.checked_sub(1)?;
        let r = match v {
            Value::String(s) => ScriptReply::Bulk(s.as_bytes().to_vec()),
            Value::Boolean(b) if self.resp3 => ScriptReply::Bool(*b),
            Value::Boolean(true) => ScriptReply::Int(1),
            Value::Boolean(false) => ScriptReply::Null,
            Value::Integer(i) => ScriptReply::Int(*i),
            Value::Number(n) => ScriptReply::Int(lua_number_to_integer(*n)),
            Value::Table(t) if depth >= MAX_DEPTH || self.path.contains(&t.to_pointer()) => {
                ScriptReply::error("ERR reached lua stack limit")
            }
            Value::Table(t) => {
                self.path.push(t.to_pointer());
                let r = self.table(t, depth);
                self.path.pop();
                r?
            }
            _ => ScriptReply::Null,
        };
        let size = 16
            + match &r {
                ScriptReply::Bulk(b) | ScriptReply::Status(b) | ScriptReply::Error(b) => b.len(),
                _ => 0,
            };
        self.bytes = self.bytes.checked_sub(size)?;
        Some(r)
    }

    fn table(&mut self, t: &Table, depth: usize) -> Option<ScriptReply> {
        // Fields are read as Redis reads them (`lua_gettable`, so
        // metamethods apply); a field whose read fails counts as absent.
        let field = |name: &str| t.get::<Value>(name).unwrap_or(Value::Nil);
        if let Value::String(e) = field("err") {
            return Some(ScriptReply::Error(error_reply_text(&e.as_bytes())));
        }
        if let Value::String(s) = field("ok") {
            return Some(ScriptReply::Status(one_line(c_string(&s.as_bytes()))));
        }
        match field("double") {
            Value::Number(d) => return Some(ScriptReply::Double(d)),
            Value::Integer(i) => return Some(ScriptReply::Double(i as f64)),
            _ => {}
        }
        if let Value::String(s) = field("big_number") {
            return Some(ScriptReply::BigNumber(one_line(&s.as_bytes())));
        }
        if let Value::Table(v) = field("verbatim_string") {
            if let (Ok(Value::String(format)), Ok(Value::String(text))) =
                (v.get::<Value>("format"), v.get::<Value>("string"))
            {
                let format = format.as_bytes();
                return Some(ScriptReply::Verbatim {
                    format: c_string(&format).iter().take(3).copied().collect(),
                    text: text.as_bytes().to_vec(),
                });
            }
        }
        if let Value::Table(m) = field("map") {
            let mut pairs = Vec::new();
            for pair in m.pairs::<Value, Value>() {
                let (k, v) = pair.ok()?;
                let k = self.reply(&k, depth + 1)?;
                let v = self.reply(&v, depth + 1)?;
                pairs.push((k, v));
            }
            return Some(ScriptReply::Map(pairs));
        }
        if let Value::Table(s) = field("set") {
            let mut members = Vec::new();
            for pair in s.pairs::<Value, Value>() {
                let (k, _) = pair.ok()?;
                members.push(self.reply(&k, depth + 1)?);
            }
            return Some(ScriptReply::Set(members));
        }
        let mut items = Vec::new();
        for i in 1.. {
            let v = t.get::<Value>(i).unwrap_or(Value::Nil);
            if v.is_nil() {
                break;
            }
            items.push(self.reply(&v, depth + 1)?);
        }
        Some(ScriptReply::Array(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lua() -> Lua {
        Lua::new()
    }

    fn eval(lua: &Lua, code: &str) -> Value {
        lua.load(code).eval().unwrap()
    }

    #[test]
    fn lua_values_become_redis_replies() {
        let l = lua();
        let r = |code: &str| lua_to_reply(&eval(&l, code), false);
        assert_eq!(r("return 3.99"), ScriptReply::Int(3));
        assert_eq!(r("return -3.99"), ScriptReply::Int(-3));
        assert_eq!(r("return 0/0"), ScriptReply::Int(i64::MIN));
        assert_eq!(r("return true"), ScriptReply::Int(1));
        assert_eq!(r("return false"), ScriptReply::Null);
        assert_eq!(r("return nil"), ScriptReply::Null);
        assert_eq!(
            r("return {1, 2, nil, 4}"),
            ScriptReply::Array(vec![ScriptReply::Int(1), ScriptReply::Int(2)])
        );
        assert_eq!(
            r("return {err='-x y'}"),
            ScriptReply::Error(b"-x y".to_vec())
        );
        assert_eq!(
            r("return {ok='A\\r\\nB'}"),
            ScriptReply::Status(b"A  B".to_vec())
        );
        assert_eq!(r("return {double=1.5}"), ScriptReply::Double(1.5));
        assert_eq!(
            lua_to_reply(&eval(&l, "return false"), true),
            ScriptReply::Bool(false)
        );
        assert_eq!(
            r("local t = {} t[1] = t return t"),
            ScriptReply::Array(vec![ScriptReply::error("ERR reached lua stack limit")])
        );
        assert_eq!(r("local t = {} for i = 1, 200 do t = {t} end return t"), {
            let mut want = ScriptReply::error("ERR reached lua stack limit");
            for _ in 0..MAX_DEPTH {
                want = ScriptReply::Array(vec![want]);
            }
            want
        });
        // A table whose __index never ends is cut at the budget.
        assert!(matches!(
            r("return setmetatable({}, {__index = function(_, k) if type(k) == 'number' then return 'xxxxxxxxxxxxxxxx' end end})"),
            ScriptReply::Error(e) if e.starts_with(b"ERR the script's reply is larger")
        ));
        // Tables that hold the next one twice, 100 levels deep: cut by
        // the value count.
        let started = std::time::Instant::now();
        assert!(matches!(
            r("local t = {} for i = 1, 100 do t = {t, t} end return t"),
            ScriptReply::Error(e) if e.starts_with(b"ERR the script's reply is larger")
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn replies_become_lua_values() {
        let l = lua();
        let conv = |bytes: &[u8]| resp_to_lua(&l, bytes);
        let check = |bytes: &[u8], code: &str| {
            let v = conv(bytes).unwrap();
            let f: mlua::Function = l.load(code).eval().unwrap();
            assert!(
                f.call::<bool>(v).unwrap(),
                "{}: {code}",
                String::from_utf8_lossy(bytes)
            );
        };
        check(b":42\r\n", "return function(v) return v == 42 end");
        check(b"$-1\r\n", "return function(v) return v == false end");
        check(b"*-1\r\n", "return function(v) return v == false end");
        check(b"_\r\n", "return function(v) return v == nil end");
        check(b"+OK\r\n", "return function(v) return v.ok == 'OK' end");
        check(
            b"-WRONGTYPE Operation\r\n",
            "return function(v) return v.err == 'WRONGTYPE Operation' end",
        );
        check(
            b"-oops\r\n",
            "return function(v) return v.err == 'ERR oops' end",
        );
        check(
            b"*3\r\n$1\r\na\r\n_\r\n:1\r\n",
            "return function(v) return v[1] == 'a' and v[2] == nil and v[3] == 1 end",
        );
        check(
            b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
            "return function(v) return v.map.f == 'v' end",
        );
        check(
            b"~1\r\n$1\r\nm\r\n",
            "return function(v) return v.set.m == true end",
        );
        check(b",1.5\r\n", "return function(v) return v.double == 1.5 end");
        check(b"#t\r\n", "return function(v) return v == true end");
        check(
            b"=8\r\ntxt:abcd\r\n",
            "return function(v) return v.verbatim_string.format == 'txt' and v.verbatim_string.string == 'abcd' end",
        );
        assert_eq!(conv(b":1\r\n:2\r\n").err(), Some(RespError::Trailing));
        assert_eq!(conv(b"*5\r\n:1\r\n").err(), Some(RespError::Malformed));
        assert_eq!(conv(b"$10\r\nab\r\n").err(), Some(RespError::Malformed));
        assert_eq!(conv(b"*99999999999\r\n").err(), Some(RespError::Malformed));
        assert_eq!(conv(b"").err(), Some(RespError::Malformed));
    }

    #[test]
    fn arguments_are_strings_and_numbers() {
        let l = lua();
        let args: mlua::MultiValue = l.load("return 'set', 1.5, 3, 1e20").eval().unwrap();
        let args: Vec<Value> = args.into_iter().collect();
        assert_eq!(
            lua_args(&args).unwrap(),
            vec![
                b"set".to_vec(),
                b"1.5".to_vec(),
                b"3".to_vec(),
                b"1e+20".to_vec()
            ]
        );
        assert!(lua_args(&[]).is_err());
        assert!(lua_args(&[Value::Boolean(true)]).is_err());
    }

    #[test]
    fn error_texts_follow_redis() {
        assert_eq!(error_text(b"ERR bad thing"), b"ERR bad thing");
        assert_eq!(error_text(b"NOSCRIPT"), b"ERR NOSCRIPT");
        assert_eq!(error_text(b"X y\r\n"), b"X y");
        assert_eq!(error_reply_text(b"a\r\nb\n"), b"a  b");
        assert_eq!(error_reply_text(b"\nx"), b" x");
    }
}
