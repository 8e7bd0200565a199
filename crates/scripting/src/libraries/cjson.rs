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

/// A `cjson` table's configuration, shared by its functions.
pub type Shared = Rc<Cell<Config>>;

/// A new `cjson` table with its own default configuration.
pub fn table(lua: &Lua, maker: &Rc<FunctionMaker>) -> mlua::Result<Table> {
    table_with_config(lua, maker).map(|(t, _)| t)
}

/// [`table`], and a handle on its configuration (so the engine can put
/// the defaults back before every script run).
pub fn table_with_config(lua: &Lua, maker: &Rc<FunctionMaker>) -> mlua::Result<(Table, Shared)> {
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
    Ok((t, cfg))
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

#[cfg(test)]
mod tests {
    use super::super::test_lua::{eval, new, run};
    use mlua::{Lua, Value};
    use proptest::prelude::*;

    // Every expected string here is what redis-server 7.0.15 answers.
    #[test]
    fn encodes_as_lua_cjson() {
        assert_eq!(
            eval("return cjson.encode({1,2,{a=3}})"),
            "\"[1,2,{\\\"a\\\":3}]\""
        );
        assert_eq!(eval("return cjson.encode({})"), "\"{}\"");
        assert_eq!(eval("return cjson.encode('a/b')"), "\"\\\"a\\\\/b\\\"\"");
        assert_eq!(
            eval("return cjson.encode({[1]=1,[2]=2,[4]=4})"),
            "\"[1,2,null,4]\""
        );
        assert_eq!(
            eval("return cjson.encode({1e15, 0.1, -0.0, 1/3})"),
            "\"[1e+15,0.1,-0,0.33333333333333]\""
        );
        assert_eq!(
            eval("return cjson.encode({[1]=1,[20]=2})"),
            "error: \"t:1: Cannot serialise table: excessively sparse array\""
        );
        assert_eq!(
            eval("return cjson.encode(0/0)"),
            "error: \"t:1: Cannot serialise number: must not be NaN or Inf\""
        );
        assert_eq!(
            eval("return cjson.encode({[true]=1})"),
            "error: \"t:1: Cannot serialise boolean: table key must be a number or string\""
        );
    }

    #[test]
    fn argument_errors_name_the_function_as_called() {
        // Through pcall Lua cannot name it; called from Lua code it can,
        // and luaL_error's position prefix is the caller's line.
        assert_eq!(
            eval("return pcall(cjson.encode)"),
            "false \"bad argument #1 to '?' (expected 1 argument)\""
        );
        let lua = new();
        assert_eq!(
            run(&lua, "return cjson.encode()"),
            "error: \"t:1: bad argument #1 to 'encode' (expected 1 argument)\""
        );
        assert_eq!(
            run(&lua, "local e = cjson.encode\nreturn e(1, 2)"),
            "error: \"t:2: bad argument #1 to 'e' (expected 1 argument)\""
        );
    }

    #[test]
    fn decodes_as_lua_cjson() {
        assert_eq!(eval("return cjson.decode('[1,2,3]')[3]"), "3");
        assert_eq!(eval("return cjson.decode('null') == cjson.null"), "true");
        assert_eq!(
            eval("return cjson.decode('0x10'), cjson.decode('-Infinity')"),
            "16 -inf"
        );
        assert_eq!(
            eval("return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\"')"),
            "\"é😀\""
        );
        assert_eq!(
            eval("return cjson.decode('[1,2')"),
            "error: \"t:1: Expected comma or array end but found T_END at character 5\""
        );
        assert_eq!(
            eval("return cjson.decode('1\\0 2')"),
            "error: \"t:1: JSON parser does not support UTF-16 or UTF-32\""
        );
    }

    #[test]
    fn nesting_is_limited_at_1000() {
        assert_eq!(
            eval("return #cjson.encode(cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)))"),
            "2000"
        );
        assert_eq!(
            eval("return cjson.decode(string.rep('[', 1001))"),
            "error: \"t:1: Found too many nested data structures (1001) at character 1001\""
        );
        assert_eq!(
            eval("local t = {} t[1] = t return cjson.encode(t)"),
            "error: \"t:1: Cannot serialise, excessive nesting (1001)\""
        );
    }

    #[test]
    fn raised_limits_stop_where_the_lua_stack_would() {
        // lua_checkstack fails past 8000 slots: an object level holds two
        // (table and key), an array level one. Redis's answers.
        let lua = new();
        let code = "cjson.decode_max_depth(100000) cjson.encode_max_depth(100000)
            local _, e1 = pcall(cjson.decode, string.rep('{\"a\":', 5000))
            local t = {} local c = t for i = 1, 5000 do c.a = {} c = c.a end
            local _, e2 = pcall(cjson.encode, t)
            local a = {} c = a for i = 1, 9000 do c[1] = {} c = c[1] end
            local _, e3 = pcall(cjson.encode, a)
            local _, e4 = pcall(cjson.decode, string.rep('[', 9000))
            return e1, e2, e3, e4";
        assert_eq!(
            run(&lua, code),
            "\"Found too many nested data structures (4000) at character 19996\" \
             \"Cannot serialise, excessive nesting (4000)\" \
             \"Cannot serialise, excessive nesting (7998)\" \
             \"Found too many nested data structures (7999) at character 7999\""
        );
    }

    #[test]
    fn configuration_lasts_and_new_tables_start_fresh() {
        let lua = new();
        run(&lua, "cjson.encode_number_precision(3)");
        assert_eq!(run(&lua, "return cjson.encode(3.14159)"), "\"3.14\"");
        assert_eq!(
            run(&lua, "return cjson.new().encode(3.14159)"),
            "\"3.14159\""
        );
        assert_eq!(
            run(
                &lua,
                "return cjson.encode_invalid_numbers('null'), cjson.encode(1/0)"
            ),
            "\"null\" \"null\""
        );
        assert_eq!(
            run(&lua, "return cjson.encode_number_precision(15)"),
            "error: \"t:1: bad argument #1 to 'encode_number_precision' \
             (expected integer between 1 and 14)\""
        );
    }

    /// A JSON value as the property test models it.
    #[derive(Debug, Clone)]
    enum Json {
        Null,
        Bool(bool),
        Num(f64),
        Str(Vec<u8>),
        Arr(Vec<Json>),
        Obj(Vec<(Vec<u8>, Json)>),
    }

    fn json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            // At most 14 significant digits: what %.14g writes exactly.
            (-99_999_999_999_999i64..99_999_999_999_999, 0i32..6)
                .prop_map(|(m, k)| Json::Num(m as f64 / 10f64.powi(k))),
            prop::collection::vec(any::<u8>(), 0..12).prop_map(Json::Str),
        ];
        leaf.prop_recursive(5, 40, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..5).prop_map(Json::Arr),
                prop::collection::btree_map(prop::collection::vec(any::<u8>(), 0..6), inner, 0..5)
                    .prop_map(|m| Json::Obj(m.into_iter().collect())),
            ]
        })
    }

    fn to_lua(lua: &Lua, j: &Json) -> mlua::Result<Value> {
        Ok(match j {
            Json::Null => Value::NULL,
            Json::Bool(b) => Value::Boolean(*b),
            Json::Num(n) => Value::Number(*n),
            Json::Str(s) => Value::String(lua.create_string(s)?),
            Json::Arr(items) => {
                let t = lua.create_table()?;
                for (i, item) in items.iter().enumerate() {
                    t.raw_set(i + 1, to_lua(lua, item)?)?;
                }
                Value::Table(t)
            }
            Json::Obj(members) => {
                let t = lua.create_table()?;
                for (k, v) in members {
                    t.raw_set(lua.create_string(k)?, to_lua(lua, v)?)?;
                }
                Value::Table(t)
            }
        })
    }

    fn same(lua: &Lua, v: &Value, j: &Json) -> bool {
        match (v, j) {
            (Value::LightUserData(p), Json::Null) => p.0.is_null(),
            (Value::Boolean(a), Json::Bool(b)) => a == b,
            (Value::String(a), Json::Str(b)) => a.as_bytes().as_ref() == b.as_slice(),
            (Value::Table(t), Json::Arr(items)) => {
                t.pairs::<Value, Value>().count() == items.len()
                    && items.iter().enumerate().all(|(i, item)| {
                        t.raw_get::<Value>(i + 1).is_ok_and(|x| same(lua, &x, item))
                    })
            }
            (Value::Table(t), Json::Obj(members)) => {
                t.pairs::<Value, Value>().count() == members.len()
                    && members.iter().all(|(k, item)| {
                        lua.create_string(k)
                            .and_then(|key| t.raw_get::<Value>(key))
                            .is_ok_and(|x| same(lua, &x, item))
                    })
            }
            (v, Json::Num(n)) => super::super::calling::number_value(v) == Some(*n),
            _ => false,
        }
    }

    proptest! {
        /// decode(encode(x)) is x for nested tables, strings of any bytes
        /// and numbers that %.14g writes exactly.
        #[test]
        fn decode_reverses_encode(value in json()) {
            let lua = new();
            let cjson: mlua::Table = lua.globals().get("cjson").expect("cjson");
            let encode: mlua::Function = cjson.get("encode").expect("encode");
            let decode: mlua::Function = cjson.get("decode").expect("decode");
            let text: Value = encode.call(to_lua(&lua, &value).expect("model to Lua")).expect("encodes");
            let back: Value = decode.call(text).expect("decodes");
            prop_assert!(same(&lua, &back, &value), "{back:?} is not {value:?}");
        }
    }
}
