//! reddb: a hardened single-host secret and auth store.
//!
//! This crate is the `red` binary's command line (`cli`) and configuration
//! (`config`: flags, environment, credentials, presets, SIGHUP re-reads).
//! The layers below are crates of their own — `reddb-storage`,
//! `reddb-service`, `reddb-server`, each depending only on the ones under
//! it — re-exported here under their module names for the integration
//! tests, benches and fuzz targets. See `docs/ARCHITECTURE.md`.

// Outside data must never reach a panic: no `unwrap`/`expect` and no
// unchecked indexing in the library (tests may; see clippy.toml). Enforced
// by `cargo clippy -- -D warnings` in `.ci/run`.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
// No function over 80 lines of code (the threshold is in clippy.toml); one
// that must be says why next to a function-level `#[allow]`.
#![warn(clippy::too_many_lines)]

pub mod cli;
pub mod config;

pub use reddb_server as server;
pub use reddb_server::harden;
pub use reddb_service as service;
pub(crate) use reddb_storage::small_file;
pub use reddb_storage::{backup, crypto, database, error, pager, store, vault};
pub use reddb_storage::{log_error, log_info, log_notice, log_warn};

pub use error::{Error, Result};
