//! What a staged [`Changes`] touches, for the wire layer's `WATCH`: the
//! keys it writes or deletes and whether it empties the keyspace first.
//!
//! It must never change a [`Changes`] nor report a key the commit does
//! not write.

use super::Changes;
use reddb_storage::store::record::Mutation;

impl Changes {
    /// Every key this commit writes or deletes (a delete of a key that
    /// did not exist is not in a commit at all).
    pub fn written_keys(&self) -> impl Iterator<Item = &[u8]> {
        self.mutations.iter().filter_map(|m| match m {
            Mutation::Put { key, .. } | Mutation::Delete { key, .. } => Some(key.as_slice()),
            Mutation::Clear { .. } => None,
        })
    }

    /// Whether it empties the keyspace first (`FLUSHDB`, `FLUSHALL`).
    pub fn clears(&self) -> bool {
        self.mutations
            .iter()
            .any(|m| matches!(m, Mutation::Clear { .. }))
    }
}
