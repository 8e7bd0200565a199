//! Lua scripting for reddb. This crate so far owns only the libraries Redis
//! 7.0 preloads for scripts (`cjson`, `bit`, `struct`, `cmsgpack`), written in Rust over
//! mlua's Lua 5.1: see [`libraries`].

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![warn(clippy::too_many_lines)]

pub mod libraries;
