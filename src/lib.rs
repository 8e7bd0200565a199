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

pub mod cli;
pub mod config;

pub use reddb_server as server;
pub use reddb_server::harden;
pub use reddb_service as service;
pub use reddb_service::strict_decimal;
pub use reddb_storage::{
    backup, codec, crypto, database, error, logging, pager, small_file, store, vault,
};
pub use reddb_storage::{log_error, log_info, log_notice, log_warn};

pub use error::{Error, Result};
