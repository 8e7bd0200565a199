//! The engine's Lua state ([`Vm`]) and the sandbox every script runs in.
//!
//! One state serves every run (compiled scripts stay in it), but no run
//! can leave anything for the next — another principal's, perhaps: each
//! run's script gets a fresh environment table (`new_env` in
//! `prelude.lua`) holding the globals, read-only views of the library
//! tables and a `redis` table bound to that run; the shared tables behind
//! the views are out of reach (their metatables, the string metatable
//! included, are protected), and `collectgarbage` cannot change the
//! collector. What the shared state holds is immutable functions.
//!
//! The globals are what redis-server 7.0.15 gives a script, less what
//! reddb leaves out: the base library without `dofile loadfile load
//! loadstring require module getfenv setfenv print newproxy`, `table`,
//! `string` without `string.dump`, `math` with Redis's `math.random`,
//! `coroutine`, `cjson`/`bit`/`struct` (see [`crate::libraries`]) and the
//! `redis` table. No `os`, `io`, `debug` or `package` are ever loaded; no
//! bytecode is ever loaded (text chunks only). The environment and the
//! library views refuse new fields ("Attempt to modify a readonly
//! table"), and reading a missing global is an error ("Script attempted
//! to access nonexistent global variable"), as in Redis 7.

use crate::cache::sha1_hex;
use crate::convert::{error_table, plain_error_table, raise_plain, raised_text};
use crate::libraries;
use crate::rand48::Rand48;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value, Variadic};
use std::cell::Cell;
use std::rc::Rc;

/// The sandbox's own Lua code (see the file).
const PRELUDE: &str = include_str!("prelude.lua");

/// The chunk name of a user script: Redis's, so error lines read
/// `user_script:1: …` and `… on @user_script:1.`.
pub(crate) const USER_SCRIPT: &str = "@user_script";

/// Redis's `redis.log` levels.
const LOG_LEVELS: [(&str, i64); 4] = [
    ("LOG_DEBUG", 0),
    ("LOG_VERBOSE", 1),
    ("LOG_NOTICE", 2),
    ("LOG_WARNING", 3),
];

/// Redis's `redis.set_repl` flags.
const REPL_FLAGS: [(&str, i64); 5] = [
    ("REPL_NONE", 0),
    ("REPL_AOF", 1),
    ("REPL_SLAVE", 2),
    ("REPL_REPLICA", 2),
    ("REPL_ALL", 3),
];

/// What the current run shares between the state's Rust callbacks; reset
/// at the start of every run.
#[derive(Debug, Default)]
pub(crate) struct RunFlags {
    /// `SCRIPT KILL` stopped the script.
    pub killed: Cell<bool>,
    /// The script called `redis.setresp(3)`.
    pub resp3: Cell<bool>,
    /// Its shebang says `flags=no-writes`.
    pub no_writes: Cell<bool>,
    /// `math.random`'s generator (seed 0 at the start of each run).
    pub rand: Cell<Rand48>,
}

impl RunFlags {
    /// A new run: nothing of the last one is left.
    pub fn reset(&self, no_writes: bool) {
        self.killed.set(false);
        self.resp3.set(false);
        self.no_writes.set(no_writes);
        self.rand.set(Rand48::default());
    }
}

/// The engine's Lua state, shaped by the prelude.
pub(crate) struct Vm {
    pub lua: Lua,
    pub flags: Rc<RunFlags>,
    /// Makes one run's environment: `(call, pcall, acl_check_cmd, KEYS,
    /// ARGV)` → table.
    pub new_env: Function,
    /// Lua's own `xpcall`, kept before the sandbox wraps it.
    pub xpcall: Function,
    /// Adds the error's location (`source`, `line`) as Redis's error
    /// handler does.
    pub handler: Function,
    /// The libraries' settings, put back to their defaults before each run.
    pub libraries: libraries::Installed,
}

/// Builds the state. `version` and `version_num` are what
/// `redis.REDIS_VERSION` and `redis.REDIS_VERSION_NUM` show.
pub(crate) fn build(version: &str, version_num: i64) -> mlua::Result<Vm> {
    let flags = Rc::new(RunFlags::default());
    let lua = Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::new(),
    )?;
    let libraries = libraries::install(&lua)?;
    let globals = lua.globals();
    let xpcall: Function = globals.get("xpcall")?;
    globals.set("redis", redis_table(&lua, version, version_num, &flags)?)?;
    let killed = {
        let flags = Rc::clone(&flags);
        lua.create_function(move |_, ()| Ok(flags.killed.get()))?
    };
    let (random, randomseed) = random_functions(&lua, &flags)?;
    let raised = lua.create_function(|lua, e: Value| {
        raised_text(&e).map(|t| lua.create_string(t)).transpose()
    })?;
    let new_env: Function = lua
        .load(PRELUDE)
        .set_name("=reddb")
        .set_mode(mlua::chunk::ChunkMode::Text)
        .call((killed, random, randomseed, raised))?;
    let handler = error_handler(&lua, &flags)?;
    Ok(Vm {
        lua,
        flags,
        new_env,
        xpcall,
        handler,
        libraries,
    })
}

/// The `redis` table but for `call`, `pcall` and `acl_check_cmd` (bound
/// per run). Functions that raise answer `(value, failed)`; the prelude
/// wraps them.
fn redis_table(
    lua: &Lua,
    version: &str,
    version_num: i64,
    flags: &Rc<RunFlags>,
) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for (name, level) in LOG_LEVELS {
        t.set(name, level)?;
    }
    for (name, flag) in REPL_FLAGS {
        t.set(name, flag)?;
    }
    t.set("REDIS_VERSION", version)?;
    t.set("REDIS_VERSION_NUM", version_num)?;
    t.set("log", lua.create_function(log)?)?;
    t.set(
        "sha1hex",
        lua.create_function(|lua, args: Variadic<Value>| {
            let [arg] = args.as_slice() else {
                return fail("wrong number of arguments");
            };
            let text = lua.coerce_string(arg.clone())?;
            let bytes = text.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
            lua.create_string(sha1_hex(&bytes))
        })?,
    )?;
    t.set(
        "error_reply",
        lua.create_function(|lua, args: Variadic<Value>| match args.as_slice() {
            [Value::String(s)] => {
                let s = s.as_bytes();
                let line = s.strip_prefix(b"-").unwrap_or(&s);
                error_table(lua, line)
            }
            _ => plain_error_table(lua, "wrong number or type of arguments"),
        })?,
    )?;
    t.set(
        "status_reply",
        lua.create_function(|lua, args: Variadic<Value>| match args.as_slice() {
            [s @ Value::String(_)] => {
                let t = lua.create_table()?;
                t.set("ok", s.clone())?;
                Ok(Value::Table(t))
            }
            _ => plain_error_table(lua, "wrong number or type of arguments"),
        })?,
    )?;
    let resp = Rc::clone(flags);
    t.set(
        "setresp",
        lua.create_function(move |_, args: Variadic<Value>| {
            let [v] = args.as_slice() else {
                return fail("redis.setresp() requires one argument.");
            };
            match number(v).map(crate::reply::lua_number_to_integer) {
                Some(2) => resp.resp3.set(false),
                Some(3) => resp.resp3.set(true),
                _ => return fail("RESP version must be 2 or 3."),
            }
            Ok(())
        })?,
    )?;
    t.set(
        "set_repl",
        lua.create_function(|_, args: Variadic<Value>| {
            let [v] = args.as_slice() else {
                return fail("redis.set_repl() requires two arguments.");
            };
            let flags = number(v).map_or(0, crate::reply::lua_number_to_integer);
            if flags & !3 != 0 {
                return fail(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                );
            }
            // Nothing is replicated: the flags change nothing (as for a
            // Redis without replicas or AOF).
            Ok(())
        })?,
    )?;
    t.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    t.set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    t.set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    Ok(t)
}

/// Redis's `math.random` and `math.randomseed` over [`Rand48`] (C
/// functions to Lua, as Redis's are: their argument errors name the
/// script's line).
fn random_functions(lua: &Lua, flags: &Rc<RunFlags>) -> mlua::Result<(Function, Function)> {
    let draw = Rc::clone(flags);
    let seed = Rc::clone(flags);
    let random = lua.create_function(move |lua, args: Variadic<Value>| {
        let mut r = draw.rand.get();
        let unit = r.next_unit();
        draw.rand.set(r);
        match args.len() {
            0 => Ok(unit),
            1 => {
                let u = check_int(lua, &args, 0, "random")?;
                if u < 1 {
                    return Err(arg_error(lua, 1, "random", "interval is empty"));
                }
                Ok((unit * f64::from(u)).floor() + 1.0)
            }
            2 => {
                let l = check_int(lua, &args, 0, "random")?;
                let u = check_int(lua, &args, 1, "random")?;
                if l > u {
                    return Err(arg_error(lua, 2, "random", "interval is empty"));
                }
                Ok((unit * (f64::from(u) - f64::from(l) + 1.0)).floor() + f64::from(l))
            }
            _ => Err(located(lua, "wrong number of arguments")),
        }
    })?;
    let randomseed = lua.create_function(move |lua, args: Variadic<Value>| {
        seed.rand
            .set(Rand48::seeded(check_int(lua, &args, 0, "randomseed")?));
        Ok(())
    })?;
    Ok((random, randomseed))
}

/// `luaL_checkint(L, i + 1)`: a number (or numeric string) as a C int,
/// truncated.
fn check_int(lua: &Lua, args: &[Value], i: usize, fname: &str) -> mlua::Result<i32> {
    let v = args.get(i).unwrap_or(&Value::Nil);
    match number(v) {
        Some(n) => Ok(crate::reply::lua_number_to_integer(n) as i32),
        None => {
            let got = if i >= args.len() {
                "no value"
            } else {
                v.type_name()
            };
            Err(arg_error(
                lua,
                i + 1,
                fname,
                &format!("number expected, got {got}"),
            ))
        }
    }
}

/// `luaL_argerror`: "bad argument #n to 'fname' (msg)" at the caller's
/// line.
fn arg_error(lua: &Lua, n: usize, fname: &str, msg: &str) -> mlua::Error {
    located(lua, &format!("bad argument #{n} to '{fname}' ({msg})"))
}

/// `luaL_error`: the message after the calling script line's position
/// (`user_script:1: `), raised so the error handler reports it as `ERR …`.
fn located(lua: &Lua, msg: &str) -> mlua::Error {
    let line = lua
        .inspect_stack(1, |d| {
            (d.source().source.as_deref() == Some(USER_SCRIPT)).then(|| d.current_line())
        })
        .flatten()
        .flatten();
    let text = match line {
        Some(line) => format!("ERR user_script:{line}: {msg}"),
        None => format!("ERR {msg}"),
    };
    mlua::Error::external(crate::convert::RaisedError(text.into_bytes()))
}

/// A Lua number, or a string that reads as one (`lua_tonumber`).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Raises Redis's `{err = "ERR " .. msg}`.
fn fail<T>(msg: &str) -> mlua::Result<T> {
    Err(raise_plain(msg))
}

/// `redis.log(level, message…)`: the checks Redis makes, then nothing —
/// reddb writes no script text to its logs (a secret store's values must
/// not reach them).
fn log(_: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    if args.len() < 2 {
        return fail("redis.log() requires two arguments or more.");
    }
    let Some(level) = args.first().and_then(number) else {
        return fail("First argument must be a number (log level).");
    };
    if !(0.0..4.0).contains(&level.trunc()) {
        return fail("Invalid debug level.");
    }
    Ok(())
}

/// Redis's `__redis__err__handler`: a message becomes `{err = "ERR " ..
/// message}`; the table gets the script line the error came from. After
/// `SCRIPT KILL` the error is Redis's kill message whatever was raised.
fn error_handler(lua: &Lua, flags: &Rc<RunFlags>) -> mlua::Result<Function> {
    let flags = Rc::clone(flags);
    lua.create_function(move |lua, err: Value| {
        let raised = raised_text(&err).map(<[u8]>::to_vec);
        let t = match err {
            Value::Table(t) if !flags.killed.get() => t,
            _ if raised.is_some() && !flags.killed.get() => {
                let t = lua.create_table()?;
                t.set("err", lua.create_string(raised.unwrap_or_default())?)?;
                t
            }
            other => {
                let t = lua.create_table()?;
                let msg = if flags.killed.get() {
                    b"Script killed by user with SCRIPT KILL...".to_vec()
                } else {
                    describe(lua, &other)
                };
                let mut text = b"ERR ".to_vec();
                text.extend_from_slice(&msg);
                t.set("err", lua.create_string(&text)?)?;
                t
            }
        };
        if let Some(line) = user_script_line(lua) {
            t.set("source", USER_SCRIPT)?;
            t.set("line", line)?;
        }
        Ok(t)
    })
}

/// Lua's `tostring` of an error value that is not a table.
fn describe(lua: &Lua, v: &Value) -> Vec<u8> {
    match v {
        Value::Nil => b"nil".to_vec(),
        Value::Boolean(b) => b.to_string().into_bytes(),
        Value::String(_) | Value::Integer(_) | Value::Number(_) => lua
            .coerce_string(v.clone())
            .ok()
            .flatten()
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default(),
        Value::Error(e) => e.to_string().into_bytes(),
        other => format!("{}: {:p}", other.type_name(), other.to_pointer()).into_bytes(),
    }
}

/// The current line of the innermost function of the user's script on
/// the stack (the handler itself is level 0).
fn user_script_line(lua: &Lua) -> Option<usize> {
    for level in 0..256 {
        let here = lua.inspect_stack(level, |d| {
            (d.source().source.as_deref() == Some(USER_SCRIPT)).then(|| d.current_line())
        })?;
        if let Some(line) = here {
            return Some(line.unwrap_or(0));
        }
    }
    None
}
