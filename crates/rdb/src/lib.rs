//! `reddb-rdb`: a streaming reader of Redis RDB files, for `red import`.
//!
//! [`RdbReader`] reads an RDB file (versions 9 to 12: Redis 6.x, 7.0, 7.2,
//! 7.4 and Valkey 7/8) from any [`std::io::Read`] and yields one
//! [`Record`] at a time: a key with its value and absolute expiry, or a
//! named thing it does not carry over (a stream, a module value, a
//! function library, a hash with per-field TTLs), skipped over exactly.
//! Memory is bounded by the largest single value (and the [`Limits`]),
//! never by the file. The CRC-64 is computed as the bytes pass and checked
//! against the eight bytes after the EOF opcode.
//!
//! What it must never do: panic on any input, allocate more than the limits
//! or the bytes actually present, or return a record after an error (the
//! reader is fused). It knows nothing of reddb: no workspace dependency, no
//! runtime dependency beyond std. Every error carries the byte offset.

// Outside data never panics the reader: no unwrap, expect or indexing
// outside the tests (as in the other crates).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod crc64;
mod error;
pub mod lzf;
pub mod packed;
mod reader;
pub mod write;

pub use crc64::Crc64;
pub use error::{ErrorKind, RdbError};
pub use reader::{Checksum, Limits, RdbReader, Record, UnsupportedKind};

/// A value as Redis holds it, whatever encoding the file used.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbValue {
    String(Vec<u8>),
    /// Head first.
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    /// Members with their scores (never NaN), in file order.
    SortedSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
}

impl RdbValue {
    /// The Redis type name (`TYPE key`).
    pub fn type_name(&self) -> &'static str {
        match self {
            RdbValue::String(_) => "string",
            RdbValue::List(_) => "list",
            RdbValue::Set(_) => "set",
            RdbValue::SortedSet(_) => "zset",
            RdbValue::Hash(_) => "hash",
        }
    }

    /// Whether the collection is empty (Redis never loads an empty one).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            RdbValue::String(_) => false,
            RdbValue::List(v) | RdbValue::Set(v) => v.is_empty(),
            RdbValue::SortedSet(v) => v.is_empty(),
            RdbValue::Hash(v) => v.is_empty(),
        }
    }
}

/// One key of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The Redis database number (`SELECT n`) the key was in.
    pub db: u64,
    pub key: Vec<u8>,
    pub value: RdbValue,
    /// Absolute Unix milliseconds, when the key has a TTL.
    pub expires_at_ms: Option<u64>,
}

#[cfg(test)]
mod tests;
