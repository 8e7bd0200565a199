//! The libraries Redis 7.0 preloads for scripts, written here in Rust over
//! mlua: `cjson` (lua-cjson 2.1.0), `bit` (LuaBitOp 1.0.2), `struct`
//! (Roberto Ierusalimschy's struct 1.4 with Redis's fixes) and `cmsgpack`
//! (lua-cmsgpack 0.4.0). Each answers
//! as Redis's C copy does — same results, same error messages — and none
//! can be made to panic, recurse without bound or allocate outside the Lua
//! allocator beyond a bounded buffer by what a script passes it.
//! [`install`] sets the globals.

// The libraries read only what scripts pass them: no panicking access.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod bit;
mod c_numbers;
mod calling;
mod cjson;
mod cjson_decode;
mod cjson_encode;
mod cmsgpack;
mod struct_pack;

use std::rc::Rc;

/// Sets the globals `cjson`, `bit`, `struct` and `cmsgpack` in `lua`, which must have
/// Lua's base library loaded (the libraries keep its `error` and `next`).
pub fn install(lua: &mlua::Lua) -> mlua::Result<Installed> {
    let maker = Rc::new(calling::FunctionMaker::new(lua)?);
    let globals = lua.globals();
    let (cjson, cjson_config) = cjson::table_with_config(lua, &maker)?;
    globals.raw_set("cjson", cjson)?;
    globals.raw_set("bit", bit::table(lua, &maker)?)?;
    globals.raw_set("struct", struct_pack::table(lua, &maker)?)?;
    globals.raw_set("cmsgpack", cmsgpack::table(lua, &maker)?)?;
    Ok(Installed { cjson_config })
}

/// What [`install`] leaves that outlives one script: the global `cjson`'s
/// settings (`cjson.encode_max_depth(…)` and the others).
#[derive(Debug)]
pub struct Installed {
    cjson_config: cjson::Shared,
}

impl Installed {
    /// Puts the libraries' settings back to their defaults. The engine
    /// calls it before every run, so one script's `cjson` settings never
    /// reach another's (Redis keeps them for the server's life: one user's
    /// script could change how another's encodes).
    pub fn reset(&self) {
        self.cjson_config.set(cjson::Config::default());
    }
}

/// A plain Lua state (standard libraries) with the libraries installed,
/// and a way to run a snippet in it.
#[cfg(test)]
pub(crate) mod test_lua {
    pub fn new() -> mlua::Lua {
        let lua = mlua::Lua::new();
        super::install(&lua).expect("install the libraries");
        lua
    }

    /// What `code` (a chunk named `t`) returns, or "error: " and the
    /// message it raised through `pcall`, shown as one string: values
    /// joined by spaces, strings quoted with `%q`.
    pub fn run(lua: &mlua::Lua, code: &str) -> String {
        // The results are gathered inside the protected call: Lua 5.1's
        // pcall pushing many results trips the API checks of a debug build.
        let wrapped = format!(
            "local function body() {code} end
             local function gather(...) return {{n = select('#', ...), ...}} end
             local ok, r = pcall(function() return gather(body()) end)
             if not ok then return 'error: ' .. string.format('%q', tostring(r)) end
             local out = {{}}
             for i = 1, r.n do
               local v = r[i]
               out[#out + 1] = type(v) == 'string' and string.format('%q', v) or tostring(v)
             end
             return table.concat(out, ' ')"
        );
        lua.load(wrapped)
            .set_name("=t")
            .eval::<String>()
            .expect("the snippet runs")
    }

    /// [`run`] in a fresh state.
    pub fn eval(code: &str) -> String {
        run(&new(), code)
    }
}
