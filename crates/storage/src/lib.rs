//! reddb's storage: the database file and everything that touches its
//! bytes — the page codec, the crypto (keys, seals, locked memory,
//! passwords), the pager, the append-only store, the vault, the database
//! life cycle (create, bootstrap, unseal, rekey), the logical-backup file
//! format, and the error and logging types every layer above shares.
//!
//! No sockets, no JSON, no service types: the crate graph (storage →
//! service → server → `red`) is checked by `tests/crate_graph.rs`.

// Outside data must never reach a panic: no `unwrap`/`expect` and no
// unchecked indexing in the library (tests may; see clippy.toml).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
// No function over 80 lines of code (the threshold is in clippy.toml); one
// that must be says why next to a function-level `#[allow]`.
#![warn(clippy::too_many_lines)]

pub mod backup;
pub(crate) mod codec;
pub mod crypto;
pub mod database;
pub mod error;
pub mod logging;
pub mod pager;
pub mod small_file;
pub mod store;
pub mod vault;

pub use error::{Error, Result};
