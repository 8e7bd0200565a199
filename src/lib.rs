//! reddb: a hardened single-host secret and auth store.
//!
//! The crate is the daemon and CLI behind the `red` binary. Data flows
//! socket → protocol parser → service → store → pager; see
//! `docs/ARCHITECTURE.md` for the map and `docs/FORMAT.md` for the file.

// Outside data must never reach a panic: no `unwrap`/`expect` and no
// unchecked indexing in the library (tests may; see clippy.toml). Enforced
// by `cargo clippy -- -D warnings` in `.ci/run`.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
// No function over 80 lines of code (the threshold is in clippy.toml); one
// that must be says why next to a function-level `#[allow]`.
#![warn(clippy::too_many_lines)]

pub mod backup;
pub mod cli;
pub(crate) mod codec;
pub mod config;
pub mod crypto;
pub mod database;
pub mod error;
pub mod harden;
pub(crate) mod logging;
pub mod pager;
pub mod server;
pub mod service;
pub(crate) mod small_file;
pub mod store;
pub(crate) mod strict_decimal;
pub mod vault;

pub use error::{Error, Result};
