//! `cjson.decode` (the Lua library scripts get, `reddb_scripting::libraries`)
//! on any bytes, in a fresh Lua state per input under a memory limit (a
//! state kept in a thread-local would outlive the run, which
//! LeakSanitizer reports).
//! Properties: never panics and never aborts; a refusal reaches the script
//! as a string message (what `pcall` returns), never as another value; an
//! accepted document encodes again (`cjson.encode`, with NaN/Inf allowed),
//! and that text decodes and re-encodes to a text of the same length (the
//! same members, perhaps in another `next` order; numbers written with
//! `%.14g` read back to the same text).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlua::{Function, Lua};

const CHECK: &str = r#"
local text = ...
local ok, value = pcall(cjson.decode, text)
if not ok then
  assert(type(value) == "string", "a refusal must be a string message")
  return
end
local c = cjson.new()
c.encode_invalid_numbers(true)
local first = c.encode(value)
local again = c.encode(c.decode(first))
assert(#again == #first, "re-encoding changed the text's length")
"#;

fuzz_target!(|data: &[u8]| {
    let lua = Lua::new();
    reddb_scripting::libraries::install(&lua).expect("install the libraries");
    lua.set_memory_limit(256 * 1024 * 1024).expect("memory limit");
    let check: Function = lua.load(CHECK).into_function().expect("compile the check");
    let text = lua.create_string(data).expect("input string");
    match check.call::<()>(text) {
        Ok(()) => {}
        // Only the allocator may refuse; anything else is a failed check.
        Err(mlua::Error::MemoryError(_)) => {}
        Err(e) => panic!("{e}"),
    }
});
