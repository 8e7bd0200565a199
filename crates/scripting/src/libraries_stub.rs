//! Stand-in for `libraries` (cjson, bit, struct), which another change
//! adds as `libraries/mod.rs` with the same `install`: until it lands a
//! script finds none of the three. At the merge, `lib.rs` declares
//! `mod libraries;` instead of this file.

/// Installs nothing.
pub fn install(_lua: &mlua::Lua) -> mlua::Result<()> {
    Ok(())
}
