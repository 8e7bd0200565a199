//! The scripting engine's RESP<->Lua conversion (`reddb_scripting::convert`).
//! The first byte picks what the rest is:
//!
//! - even: a command's reply as RESP bytes → `resp_to_lua` (as
//!   `redis.call` returns it) → `lua_to_reply` (as a script returns it).
//!   Never panics; malformed input is refused, never half-read; and a reply
//!   made only of integers (within a Lua number's exact range), bulk
//!   strings and arrays of them comes back as the same reply.
//! - odd: a program building Lua values — numbers (NaN and infinities
//!   included), strings, booleans, tables with Redis's special fields
//!   (`err`, `ok`, `double`, `map`, `set`, `big_number`,
//!   `verbatim_string`), tables that hold themselves — then `lua_to_reply`
//!   under RESP2 and RESP3 (visiting at most 4096 values) and `lua_args`
//!   on each value. Never panics, never nests a reply deeper than
//!   `MAX_DEPTH` (plus the error at the bottom).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlua::{Lua, Table, Value};
use reddb::server::wire::resp::{parse_value, Value as Resp};
use reddb_scripting::convert::{
    lua_args, lua_to_reply, lua_to_reply_bounded, resp_to_lua, MAX_DEPTH,
};
use reddb_scripting::ScriptReply;

thread_local! {
    static LUA: Lua = {
        let lua = Lua::new();
        let _ = lua.set_memory_limit(256 * 1024 * 1024);
        lua
    };
}

/// The reply `bytes` must come back as, when it is made only of what
/// crosses both ways unchanged.
fn plain(v: &Resp) -> Option<ScriptReply> {
    const EXACT: i64 = 1 << 53;
    match v {
        Resp::Integer(i) if (-EXACT..=EXACT).contains(i) => Some(ScriptReply::Int(*i)),
        Resp::Bulk(b) => Some(ScriptReply::Bulk(b.clone())),
        Resp::Array(items) => items
            .iter()
            .map(plain)
            .collect::<Option<Vec<_>>>()
            .map(ScriptReply::Array),
        _ => None,
    }
}

fn depth(r: &ScriptReply) -> usize {
    match r {
        ScriptReply::Array(v) | ScriptReply::Set(v) => 1 + v.iter().map(depth).max().unwrap_or(0),
        ScriptReply::Map(v) => {
            1 + v
                .iter()
                .map(|(k, x)| depth(k).max(depth(x)))
                .max()
                .unwrap_or(0)
        }
        _ => 0,
    }
}

fn from_resp(lua: &Lua, data: &[u8]) {
    let Ok(v) = resp_to_lua(lua, data) else {
        return;
    };
    for resp3 in [false, true] {
        let back = lua_to_reply(&v, resp3);
        assert!(depth(&back) <= MAX_DEPTH + 1);
    }
    if let Ok(Some((parsed, used))) = parse_value(data) {
        if used == data.len() {
            if let Some(want) = plain(&parsed) {
                assert_eq!(
                    lua_to_reply(&v, false),
                    want,
                    "a plain reply changed on the way"
                );
            }
        }
    }
}

const FIELDS: [&str; 8] = [
    "err",
    "ok",
    "double",
    "map",
    "set",
    "big_number",
    "verbatim_string",
    "format",
];

/// Runs the value-building program in `prog`.
fn from_program(lua: &Lua, prog: &[u8]) -> mlua::Result<()> {
    let mut values: Vec<Value> = vec![Value::Nil];
    let mut bytes = prog.iter().copied();
    let pick = |values: &Vec<Value>, b: u8| values[usize::from(b) % values.len()].clone();
    while let Some(op) = bytes.next() {
        let arg = bytes.next().unwrap_or(0);
        let v = match op % 8 {
            0 => Value::Number(f64::from(i32::from(arg) - 128) / 3.0),
            1 => Value::Number(match arg % 5 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                3 => 9.3e18,
                _ => -0.0,
            }),
            2 => Value::String(lua.create_string([arg; 3])?),
            3 => Value::Boolean(arg % 2 == 0),
            4 => Value::Table(lua.create_table()?),
            5 => {
                // t[field or index] = value
                let (t, k, x) = (
                    pick(&values, arg),
                    bytes.next().unwrap_or(0),
                    bytes.next().unwrap_or(0),
                );
                if let Value::Table(t) = t {
                    let value = pick(&values, x);
                    if k % 2 == 0 {
                        t.raw_set(FIELDS[usize::from(k / 2) % FIELDS.len()], value)?;
                    } else {
                        t.raw_set(i64::from(k / 2) % 8 + 1, value)?;
                    }
                }
                continue;
            }
            6 => {
                // A table holding itself.
                let t: Table = lua.create_table()?;
                t.raw_set(1, t.clone())?;
                t.raw_set("map", t.clone())?;
                Value::Table(t)
            }
            _ => Value::Integer(i64::from(arg) << (arg % 60)),
        };
        values.push(v);
        if values.len() > 64 {
            break;
        }
    }
    for v in &values {
        for resp3 in [false, true] {
            // Bounded lower than the server's (2^18 values) so that tables
            // holding a table twice per level stay quick to convert.
            let r = lua_to_reply_bounded(v, resp3, 4096);
            assert!(depth(&r) <= MAX_DEPTH + 1, "nested past the bound");
        }
    }
    let _ = lua_args(&values);
    let _ = lua_args(values.get(1..).unwrap_or(&[]));
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    LUA.with(|lua| {
        if mode % 2 == 0 {
            from_resp(lua, rest);
        } else {
            let _ = from_program(lua, rest);
        }
        let _ = lua.gc_collect();
    });
});
