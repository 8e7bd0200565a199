//! The `cjson` table scripts get: lua-cjson 2.1.0 as Redis 7.0 builds it
//! (`encode`, `decode`, `null`, `new`, `_NAME`, `_VERSION` and the
//! configuration functions `encode_sparse_array`, `encode_max_depth`,
//! `decode_max_depth`, `encode_number_precision`, `encode_keep_buffer`,
//! `encode_invalid_numbers`, `decode_invalid_numbers`), with each
//! function's argument checks and messages. The configuration lives with
//! the table (as the C library keeps it in an upvalue), so it lasts as long
//! as the Lua state, as it does in Redis. The encoder and decoder are in
//! `cjson_encode.rs` and `cjson_decode.rs`.

use super::calling::{c_string, Args, FunctionMaker, LibResult};
use super::cjson_decode::decode;
use super::cjson_encode::Encoder;
use mlua::{Lua, Table, Value};
use std::cell::Cell;
use std::rc::Rc;

/// lua-cjson's settings (`json_config_t`), with its defaults.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub encode_sparse_convert: i32,
    pub encode_sparse_ratio: i32,
    pub encode_sparse_safe: i32,
    pub encode_max_depth: i32,
    /// 0: refuse NaN/Inf, 1: write them (`nan`, `inf`), 2: write `null`.
    pub encode_invalid_numbers: i32,
    pub encode_number_precision: i32,
    pub encode_keep_buffer: i32,
    pub decode_invalid_numbers: i32,
    pub decode_max_depth: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            encode_sparse_convert: 0,
            encode_sparse_ratio: 2,
            encode_sparse_safe: 10,
            encode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: 1,
            decode_invalid_numbers: 1,
            decode_max_depth: 1000,
        }
    }
}

type Shared = Rc<Cell<Config>>;

/// A new `cjson` table with its own default configuration.
pub fn table(lua: &Lua, maker: &Rc<FunctionMaker>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let cfg: Shared = Rc::new(Cell::new(Config::default()));
    let next: mlua::Function = lua.globals().raw_get("next")?;

    let c = cfg.clone();
    t.raw_set(
        "encode",
        maker.make(lua, "encode", move |lua, args| {
            if args.count() != 1 {
                return Err(args.arg_error(1, b"expected 1 argument"));
            }
            let bytes = Encoder::new(lua, c.get(), next.clone())?.run(args.get(1))?;
            Ok(vec![Value::String(lua.create_string(bytes)?)])
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        maker.make(lua, "decode", move |lua, args| {
            if args.count() != 1 {
                return Err(args.arg_error(1, b"expected 1 argument"));
            }
            let text = args.check_string(1)?;
            Ok(vec![decode(lua, &text.as_bytes(), c.get())?])
        })?,
    )?;
    install_config_functions(lua, maker, &t, &cfg)?;
    let m = maker.clone();
    t.raw_set(
        "new",
        maker.make(lua, "new", move |lua, _args| {
            Ok(vec![Value::Table(table(lua, &m)?)])
        })?,
    )?;
    t.raw_set("null", Value::NULL)?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn install_config_functions(
    lua: &Lua,
    maker: &FunctionMaker,
    t: &Table,
    cfg: &Shared,
) -> mlua::Result<()> {
    let c = cfg.clone();
    t.raw_set(
        "encode_sparse_array",
        maker.make(lua, "encode_sparse_array", move |_, args| {
            check_arg_count(args, 3)?;
            let mut v = c.get();
            let convert = enum_option(args, 1, &mut v.encode_sparse_convert, None)?;
            let ratio = integer_option(args, 2, &mut v.encode_sparse_ratio, 0, i32::MAX)?;
            let safe = integer_option(args, 3, &mut v.encode_sparse_safe, 0, i32::MAX)?;
            c.set(v);
            Ok(vec![convert, ratio, safe])
        })?,
    )?;
    let integers = [
        IntegerSetting {
            name: "encode_max_depth",
            min: 1,
            max: i32::MAX,
            field: |c| &mut c.encode_max_depth,
        },
        IntegerSetting {
            name: "decode_max_depth",
            min: 1,
            max: i32::MAX,
            field: |c| &mut c.decode_max_depth,
        },
        IntegerSetting {
            name: "encode_number_precision",
            min: 1,
            max: 14,
            field: |c| &mut c.encode_number_precision,
        },
    ];
    for setting in integers {
        integer_setting(lua, maker, t, cfg, setting)?;
    }
    enum_setting(lua, maker, t, cfg, "encode_keep_buffer", None, |c| {
        &mut c.encode_keep_buffer
    })?;
    enum_setting(
        lua,
        maker,
        t,
        cfg,
        "encode_invalid_numbers",
        Some(&["off", "on", "null"]),
        |c| &mut c.encode_invalid_numbers,
    )?;
    enum_setting(lua, maker, t, cfg, "decode_invalid_numbers", None, |c| {
        &mut c.decode_invalid_numbers
    })?;
    Ok(())
}

/// A one-argument setting holding an integer in `min..=max`.
struct IntegerSetting {
    name: &'static str,
    min: i32,
    max: i32,
    field: fn(&mut Config) -> &mut i32,
}

fn integer_setting(
    lua: &Lua,
    maker: &FunctionMaker,
    t: &Table,
    cfg: &Shared,
    setting: IntegerSetting,
) -> mlua::Result<()> {
    let c = cfg.clone();
    let IntegerSetting {
        name,
        min,
        max,
        field,
    } = setting;
    t.raw_set(
        name,
        maker.make(lua, name, move |_, args| {
            check_arg_count(args, 1)?;
            let mut v = c.get();
            let out = integer_option(args, 1, field(&mut v), min, max)?;
            c.set(v);
            Ok(vec![out])
        })?,
    )
}

/// A one-argument setting chosen from `options` (or off/on).
fn enum_setting(
    lua: &Lua,
    maker: &FunctionMaker,
    t: &Table,
    cfg: &Shared,
    name: &'static str,
    options: Option<&'static [&'static str]>,
    field: fn(&mut Config) -> &mut i32,
) -> mlua::Result<()> {
    let c = cfg.clone();
    t.raw_set(
        name,
        maker.make(lua, name, move |_, args| {
            check_arg_count(args, 1)?;
            let mut v = c.get();
            let out = enum_option(args, 1, field(&mut v), options)?;
            c.set(v);
            Ok(vec![out])
        })?,
    )
}

/// `json_arg_init`: at most `n` arguments.
fn check_arg_count(args: &Args, n: usize) -> LibResult<()> {
    if args.count() > n {
        return Err(args.arg_error(n + 1, b"found too many arguments"));
    }
    Ok(())
}

/// `json_integer_option`: sets the value when the argument is not nil
/// (read into a C `int`, so truncated to 32 bits) and returns it. The
/// range error names argument #1 whatever the option's position, as the C
/// code does.
fn integer_option(
    args: &Args,
    index: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> LibResult<Value> {
    if !matches!(args.get(index), Value::Nil) {
        #[allow(clippy::cast_possible_truncation)]
        let value = args.check_integer(index)? as i32;
        if value < min || value > max {
            let msg = format!("expected integer between {min} and {max}");
            return Err(args.arg_error(1, msg.as_bytes()));
        }
        *setting = value;
    }
    Ok(Value::Number(f64::from(*setting)))
}

/// `json_enum_option` with `bool_true` 1: a boolean sets 0/1, a string one
/// of `options` (default off/on); answers a boolean for 0/1 and the option
/// name otherwise.
fn enum_option(
    args: &Args,
    index: usize,
    setting: &mut i32,
    options: Option<&'static [&'static str]>,
) -> LibResult<Value> {
    let options = options.unwrap_or(&["off", "on"]);
    let v = args.get(index);
    if !matches!(v, Value::Nil) {
        if let Some(b) = args.boolean(index) {
            *setting = i32::from(b);
        } else {
            let name = args.check_string(index)?;
            let bytes = name.as_bytes();
            let name = c_string(&bytes);
            match options.iter().position(|o| o.as_bytes() == name) {
                Some(i) => *setting = i32::try_from(i).unwrap_or(0),
                None => {
                    let mut msg = b"invalid option '".to_vec();
                    msg.extend_from_slice(name);
                    msg.push(b'\'');
                    return Err(args.arg_error(index, &msg));
                }
            }
        }
    }
    if *setting == 0 || *setting == 1 {
        return Ok(Value::Boolean(*setting == 1));
    }
    let name = usize::try_from(*setting)
        .ok()
        .and_then(|i| options.get(i))
        .copied()
        .unwrap_or("");
    Ok(Value::String(args_lua_string(args, name)?))
}

fn args_lua_string(args: &Args, s: &str) -> LibResult<mlua::LuaString> {
    Ok(args.lua().create_string(s)?)
}
