//! What a staged [`Changes`] touches, for the wire layer's `WATCH`: the
//! (database, key) pairs it writes, edits or deletes, and the databases it
//! empties or swaps wholesale.
//!
//! It must never change a [`Changes`] nor report a key the commit does
//! not write.

use super::Changes;
use reddb_storage::store::record::Mutation;

impl Changes {
    /// Every (database, key) this commit writes, edits or deletes (a delete
    /// of a key that did not exist is not in a commit at all).
    pub fn written_keys(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.mutations.iter().filter_map(|m| match m {
            Mutation::Put { ns, key, .. }
            | Mutation::Delete { ns, key }
            | Mutation::Edit { ns, key, .. } => Some((ns.keyspace_db()?, key.as_slice())),
            Mutation::Clear { .. } | Mutation::Swap { .. } => None,
        })
    }

    /// The databases replaced wholesale, as Redis touches their watched
    /// keys: `(db, None)` for a flush (a watched key that existed in `db`
    /// changed), `(db, Some(other))` for a swap (a watched key that existed
    /// in `db` or in `other` changed).
    pub fn wholesale(&self) -> Vec<(usize, Option<usize>)> {
        let mut out = Vec::new();
        for m in &self.mutations {
            match m {
                Mutation::Clear { ns } => out.extend(ns.keyspace_db().map(|db| (db, None))),
                Mutation::Swap { a, b } => {
                    if let (Some(a), Some(b)) = (a.keyspace_db(), b.keyspace_db()) {
                        out.push((a, Some(b)));
                        out.push((b, Some(a)));
                    }
                }
                _ => {}
            }
        }
        out
    }
}
