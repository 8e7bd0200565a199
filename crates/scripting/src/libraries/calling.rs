//! How a library function written in Rust is called from a script the way
//! Redis's C library functions are: its arguments read with the Lua C API's
//! rules (`luaL_checknumber`, `luaL_checklstring`, ...), and its errors
//! raised as plain Lua *strings* worded as `luaL_argerror`/`luaL_error`
//! word them, so `pcall(cjson.decode, s)` hands a script the same message
//! Redis does.
//!
//! mlua raises an error returned from a Rust callback as a userdata, not a
//! string, so each library function is a pair: the Rust body, an mlua
//! function that answers its results or its message without raising, and
//! a small C closure ([`c_entry`]) over it, which is what the library
//! table holds and which raises the message.
//! Being a real C function it also answers `lua_getinfo` and `luaL_where`
//! as Redis's C functions do: the caller keeps its frame (even in `return
//! f(x)`), argument errors name the function as the script called it,
//! and a raised message gets the caller's "chunk:line: " prefix exactly as
//! `luaL_error` adds it.

use mlua::{ffi, Function, Lua, LuaString, MultiValue, Table, Value};
use std::os::raw::c_int;

/// Lua 5.1's `LUAI_MAXCSTACK`: the most values one C function may have on
/// its part of the Lua stack (`lua_checkstack` fails past it). The cjson
/// depth limits and struct.unpack's result count are checked against it as
/// the C code's `lua_checkstack` calls are.
pub const LUA_MAX_C_STACK: usize = 8000;

/// Why a library function stopped.
#[derive(Debug)]
pub enum Raise {
    /// A message raised to the script as a Lua string, as `luaL_error`
    /// raises it: after the caller's "chunk:line: " when the caller is Lua
    /// code with line information.
    Message(Vec<u8>),
    /// A message raised as Lua's own runtime errors are from inside a C
    /// function (`luaG_runerror`, e.g. "table index is nil"): no prefix.
    Plain(Vec<u8>),
    /// An error of the Lua state itself (out of memory): passed on as is.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Raise {
    fn from(e: mlua::Error) -> Self {
        Raise::Lua(e)
    }
}

impl Raise {
    pub fn msg(text: impl Into<Vec<u8>>) -> Raise {
        Raise::Message(text.into())
    }
}

pub type LibResult<T> = Result<T, Raise>;

/// How a body's answer starts (its first value).
const FAILED: i64 = 0;
const RESULTS_FOLLOW: i64 = 1;
const RESULTS_IN_TABLE: i64 = 2;
const FAILED_PLAIN: i64 = 3;

/// Results past this many travel in a table (mlua pushes a callback's
/// results on its own, smaller, share of the stack).
const MOST_INLINE_RESULTS: usize = 16;

/// The C function every library function is. It moves its arguments into
/// a table and calls its upvalue (the Rust body) with that table and their
/// count, so the body reads only the arguments it needs and never holds
/// thousands of values. The body answers `RESULTS_FOLLOW, results...`,
/// `RESULTS_IN_TABLE, table, n` (pushed here, as the C code pushes them,
/// within the 8000 slots a C function has), or `FAILED, message`, raised
/// here as `luaL_error` raises it: prefixed with `luaL_where(L, 1)`, the
/// caller's position.
///
/// # Safety
/// Called by Lua only, as a C closure whose upvalue 1 is the body.
unsafe extern "C-unwind" fn c_entry(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: `state` is the running Lua state calling this closure. Every
    // push is within the LUA_MINSTACK slots Lua gives a C function beyond
    // its arguments (at most three here at once, the arguments having
    // moved into the table), except the results pushed from the table,
    // for which lua_checkstack is asked first. The frame holds no Rust
    // value with a destructor, so the longjmp of a Lua error (from the
    // body, or lua_error below) crosses nothing that needs dropping.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        ffi::lua_createtable(state, nargs, 0);
        ffi::lua_insert(state, 1);
        for i in (1..=nargs).rev() {
            ffi::lua_rawseti_(state, 1, i);
        }
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_pushinteger(state, ffi::lua_Integer::from(nargs));
        ffi::lua_call(state, 2, ffi::LUA_MULTRET);
        match ffi::lua_tointeger(state, 1) {
            RESULTS_FOLLOW => {
                ffi::lua_remove(state, 1);
                ffi::lua_gettop(state)
            }
            RESULTS_IN_TABLE => {
                let n = c_int::try_from(ffi::lua_tointeger(state, 3)).unwrap_or(0);
                ffi::lua_settop(state, 2);
                ffi::lua_remove(state, 1);
                if ffi::lua_checkstack(state, n) == 0 {
                    ffi::lua_settop(state, 0);
                    ffi::lua_pushstring(state, c"stack overflow (too many results)".as_ptr());
                    ffi::lua_error(state)
                }
                for i in 1..=n {
                    ffi::lua_rawgeti_(state, 1, i);
                }
                n
            }
            FAILED_PLAIN => {
                ffi::lua_remove(state, 1);
                ffi::lua_error(state)
            }
            _ => {
                ffi::luaL_where(state, 1);
                ffi::lua_pushvalue(state, 2);
                ffi::lua_concat(state, 2);
                ffi::lua_error(state)
            }
        }
    }
}

/// Makes library functions.
pub struct FunctionMaker;

impl FunctionMaker {
    pub fn new(_lua: &Lua) -> mlua::Result<FunctionMaker> {
        Ok(FunctionMaker)
    }

    /// A Lua function running `body`; `_name` is the library's name for
    /// it (Lua finds the name a script uses by itself).
    pub fn make<F>(&self, lua: &Lua, _name: &'static str, body: F) -> mlua::Result<Function>
    where
        F: Fn(&Lua, &Args) -> LibResult<Vec<Value>> + 'static,
    {
        let raw = lua.create_function(move |lua, (values, count): (Table, i64)| {
            let args = Args {
                lua,
                values,
                count: usize::try_from(count).unwrap_or(0),
                nil_after: std::cell::Cell::new(false),
            };
            answer(lua, body(lua, &args))
        })?;
        // SAFETY: exec_raw runs the closure protected, with `raw` pushed as
        // its one argument; lua_pushcclosure pops it as the upvalue of
        // `c_entry` and pushes the closure, which exec_raw returns.
        unsafe {
            lua.exec_raw::<Function>(raw, |state| {
                ffi::lua_pushcclosure(state, c_entry, 1);
            })
        }
    }
}

/// A body's outcome in the form [`c_entry`] reads.
fn answer(lua: &Lua, outcome: LibResult<Vec<Value>>) -> mlua::Result<MultiValue> {
    match outcome {
        Ok(results) if results.len() <= MOST_INLINE_RESULTS => {
            let mut out = Vec::with_capacity(results.len() + 1);
            out.push(Value::Integer(RESULTS_FOLLOW));
            out.extend(results);
            Ok(MultiValue::from_vec(out))
        }
        Ok(results) => {
            let n = results.len();
            let t = lua.create_table_with_capacity(n, 0)?;
            for (i, v) in results.into_iter().enumerate() {
                t.raw_set(i + 1, v)?;
            }
            Ok(MultiValue::from_vec(vec![
                Value::Integer(RESULTS_IN_TABLE),
                Value::Table(t),
                Value::Integer(i64::try_from(n).unwrap_or(0)),
            ]))
        }
        Err(Raise::Message(text)) => Ok(MultiValue::from_vec(vec![
            Value::Integer(FAILED),
            Value::String(lua.create_string(text)?),
        ])),
        Err(Raise::Plain(text)) => Ok(MultiValue::from_vec(vec![
            Value::Integer(FAILED_PLAIN),
            Value::String(lua.create_string(text)?),
        ])),
        Err(Raise::Lua(e)) => Err(e),
    }
}

/// The type name Lua gives a value in messages (`lua_typename`).
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// A number value as the double Lua holds (mlua shows integral doubles as
/// `Integer`; the conversion back is exact).
pub fn number_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        #[allow(clippy::cast_precision_loss)]
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// C's conversion of a double to a 64-bit signed integer on x86-64
/// (`cvttsd2si`): truncation, and the "integer indefinite" value
/// `i64::MIN` for NaN and out-of-range values (where Rust's `as`
/// saturates instead).
pub fn c_double_to_i64(n: f64) -> i64 {
    // 2^63 as a double; everything in (-2^63 - 1, 2^63) truncates exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if n > -LIMIT - 1.0 && n < LIMIT {
        #[allow(clippy::cast_possible_truncation)]
        let t = n as i64;
        t
    } else {
        i64::MIN
    }
}

/// C's conversion of a double to `int` on x86-64: as [`c_double_to_i64`]
/// with `i32::MIN` as the indefinite value.
pub fn c_double_to_i32(n: f64) -> i32 {
    if n > -2_147_483_649.0 && n < 2_147_483_648.0 {
        #[allow(clippy::cast_possible_truncation)]
        let t = n as i32;
        t
    } else {
        i32::MIN
    }
}

/// C's conversion of a double to `unsigned long` as gcc compiles it on
/// x86-64: below 2^63 through the signed conversion, above it through the
/// signed conversion of `n - 2^63` with the top bit flipped.
#[allow(clippy::cast_sign_loss)]
pub fn c_double_to_u64(n: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if n < TWO_63 {
        c_double_to_i64(n) as u64
    } else {
        (c_double_to_i64(n - TWO_63) as u64) ^ (1u64 << 63)
    }
}

/// The arguments a script passed, read with the Lua C API's rules.
pub struct Args<'a> {
    lua: &'a Lua,
    /// The arguments, moved into a table by [`c_entry`].
    values: Table,
    /// How many there were (`lua_gettop`).
    count: usize,
    /// Whether the C function has pushed a nil right after its arguments
    /// (struct.pack's mark), which the checks then see as one more
    /// argument.
    nil_after: std::cell::Cell<bool>,
}

impl Args<'_> {
    /// The Lua state the call runs in.
    pub fn lua(&self) -> &Lua {
        self.lua
    }

    /// Declares the nil mark struct.pack pushes after its arguments.
    pub fn push_nil_mark(&self) {
        self.nil_after.set(true);
    }

    /// `lua_gettop`.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Argument `n` (1-based); `Nil` past the end.
    pub fn get(&self, n: usize) -> Value {
        if self.is_none(n) {
            return Value::Nil;
        }
        self.values.raw_get(n).unwrap_or(Value::Nil)
    }

    /// `lua_isnone`.
    pub fn is_none(&self, n: usize) -> bool {
        n == 0 || n > self.count
    }

    /// `luaL_typename`: "no value" for a missing argument.
    fn arg_type_name(&self, n: usize) -> &'static str {
        if self.nil_after.get() && n == self.count + 1 {
            "nil"
        } else if self.is_none(n) {
            "no value"
        } else {
            type_name(&self.get(n))
        }
    }

    /// `luaL_argerror`: "bad argument #N to 'NAME' (MSG)", with NAME as Lua
    /// finds it for the calling expression ('?' when called from C, e.g.
    /// through `pcall`), and the "calling 'NAME' on bad self" form for
    /// method calls.
    pub fn arg_error(&self, narg: usize, extra: &[u8]) -> Raise {
        let (name, is_method) = self.called_as();
        let mut narg = narg;
        let mut text = Vec::new();
        if is_method {
            narg = narg.saturating_sub(1);
            if narg == 0 {
                text.extend_from_slice(b"calling '");
                text.extend_from_slice(name.as_deref().unwrap_or("?").as_bytes());
                text.extend_from_slice(b"' on bad self (");
                text.extend_from_slice(extra);
                text.push(b')');
                return Raise::Message(text);
            }
        }
        text.extend_from_slice(format!("bad argument #{narg} to '").as_bytes());
        text.extend_from_slice(name.as_deref().unwrap_or("?").as_bytes());
        text.extend_from_slice(b"' (");
        text.extend_from_slice(extra);
        text.push(b')');
        Raise::Message(text)
    }

    /// How the script named this function: `lua_getinfo(L, "n")` of level
    /// 1, the C closure the script called (level 0 is this body).
    fn called_as(&self) -> (Option<String>, bool) {
        self.lua
            .inspect_stack(1, |d| {
                let names = d.names();
                (
                    names.name.map(|n| n.into_owned()),
                    names.name_what == Some("method"),
                )
            })
            .unwrap_or((None, false))
    }

    /// `luaL_typerror`: "T expected, got U".
    pub fn type_error(&self, narg: usize, expected: &str) -> Raise {
        let extra = format!("{expected} expected, got {}", self.arg_type_name(narg));
        self.arg_error(narg, extra.as_bytes())
    }

    /// `lua_isnumber` and `lua_tonumber` at once.
    pub fn number_or_none(&self, n: usize) -> LibResult<Option<f64>> {
        let v = self.get(n);
        if let Some(x) = number_value(&v) {
            return Ok(Some(x));
        }
        match v {
            Value::String(_) => Ok(self.lua.coerce_number(v)?),
            _ => Ok(None),
        }
    }

    /// `luaL_checknumber`.
    pub fn check_number(&self, n: usize) -> LibResult<f64> {
        match self.number_or_none(n)? {
            Some(x) => Ok(x),
            None => Err(self.type_error(n, "number")),
        }
    }

    /// `luaL_checkinteger`: the number truncated as C truncates it.
    pub fn check_integer(&self, n: usize) -> LibResult<i64> {
        Ok(c_double_to_i64(self.check_number(n)?))
    }

    /// `luaL_optinteger`.
    pub fn opt_integer(&self, n: usize, default: i64) -> LibResult<i64> {
        if matches!(self.get(n), Value::Nil) {
            Ok(default)
        } else {
            self.check_integer(n)
        }
    }

    /// `luaL_checklstring`: a string, or a number converted as Lua
    /// converts it (`%.14g`).
    pub fn check_string(&self, n: usize) -> LibResult<LuaString> {
        let v = self.get(n);
        match v {
            Value::String(s) => Ok(s),
            Value::Integer(_) | Value::Number(_) => match self.lua.coerce_string(v)? {
                Some(s) => Ok(s),
                None => Err(self.type_error(n, "string")),
            },
            _ => Err(self.type_error(n, "string")),
        }
    }

    /// `lua_isboolean`.
    pub fn boolean(&self, n: usize) -> Option<bool> {
        match self.get(n) {
            Value::Boolean(b) => Some(b),
            _ => None,
        }
    }
}

/// `luaL_error`'s formatting of a C string argument: up to its first NUL.
pub fn c_string(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => bytes.get(..end).unwrap_or(bytes),
        None => bytes,
    }
}
