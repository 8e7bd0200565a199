//! What keyspace notifications need to know of a key around a command,
//! read without counting a hit or a miss (`INFO`'s `keyspace_hits` counts
//! the commands' own reads only): the length of a string value, so that
//! `SETBIT` is reported when it grows the string, as Redis reports it.
//!
//! It must never change the transaction.

use super::Txn;
use reddb_storage::store::record::ValueRef;

impl Txn<'_> {
    /// The length of the string under `key` in database `db` as this
    /// transaction sees it; `None` when it is missing or not a string.
    pub fn string_len_in(&self, db: usize, key: &[u8]) -> Option<usize> {
        match &self.lookup_in(db, key)?.value {
            ValueRef::Bytes(b) => Some(b.len()),
            _ => None,
        }
    }
}
