//! The libraries Redis 7.0 preloads for scripts, written here in Rust over
//! mlua: `cjson` (lua-cjson 2.1.0), `bit` (LuaBitOp 1.0.2) and `struct`
//! (Roberto Ierusalimschy's struct 1.4 with Redis's fixes). Each answers
//! as Redis's C copy does — same results, same error messages — and none
//! can be made to panic, recurse without bound or allocate outside the Lua
//! allocator beyond a bounded buffer by what a script passes it.
//! [`install`] sets the globals.

mod bit;
mod c_numbers;
mod calling;
mod cjson;
mod cjson_decode;
mod cjson_encode;
mod struct_pack;

use std::rc::Rc;

/// Sets the globals `cjson`, `bit` and `struct` in `lua`, which must have
/// Lua's base library loaded (the libraries keep its `error` and `next`).
pub fn install(lua: &mlua::Lua) -> mlua::Result<()> {
    let maker = Rc::new(calling::FunctionMaker::new(lua)?);
    let globals = lua.globals();
    globals.raw_set("cjson", cjson::table(lua, &maker)?)?;
    globals.raw_set("bit", bit::table(lua, &maker)?)?;
    globals.raw_set("struct", struct_pack::table(lua, &maker)?)?;
    Ok(())
}
