//! `WATCH`'s registry: which connections watch which keys, by database
//! and key, and which of them saw a watched key change since. A commit
//! looks up only the keys it wrote (and, for a `FLUSHDB`, the watched
//! keys that existed), never every connection.
//!
//! Redis's rules, kept here: a key is changed by any write of any
//! connection (the watcher's own included), a delete, or a flush that
//! found it; a key that existed at `WATCH` and is gone (expired) at `EXEC`
//! is changed too, while one already gone at `WATCH` is not. A connection
//! marked changed stops watching its keys (nothing can make it clean
//! again but `EXEC`, `DISCARD`, `UNWATCH` or `RESET`, which clear its
//! watches and the mark).
//!
//! It must never scan every connection on a commit, nor hold more than
//! [`MAX_WATCHED_BYTES`] of keys for one connection.

use std::collections::{BTreeSet, HashMap};

/// Most bytes of watched keys one connection may hold (each key counts
/// its length plus [`KEY_OVERHEAD`]).
pub(crate) const MAX_WATCHED_BYTES: usize = 4 * 1024 * 1024;
const KEY_OVERHEAD: usize = 64;

/// A watched key: its database and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct WatchedKey {
    pub db: usize,
    pub key: Vec<u8>,
}

/// What one connection watches.
#[derive(Debug, Default)]
struct Watcher {
    /// Each key, and whether it existed when it was watched.
    keys: Vec<(WatchedKey, bool)>,
    bytes: usize,
    /// A watched key changed since it was watched.
    changed: bool,
}

/// `WATCH` of more keys than [`MAX_WATCHED_BYTES`] allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooManyWatched;

#[derive(Debug, Default)]
pub(crate) struct Watches {
    by_key: HashMap<WatchedKey, BTreeSet<u64>>,
    watchers: HashMap<u64, Watcher>,
}

impl Watches {
    /// Whether nobody watches anything (commits skip every lookup).
    pub(crate) fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Connection `id` watches `key`, which exists now or not. Nothing
    /// happens for a connection already marked changed (as in Redis), nor
    /// for a key it already watches.
    pub(crate) fn watch(
        &mut self,
        id: u64,
        key: WatchedKey,
        exists: bool,
    ) -> Result<(), TooManyWatched> {
        let w = self.watchers.entry(id).or_default();
        if w.changed || w.keys.iter().any(|(k, _)| *k == key) {
            return Ok(());
        }
        let cost = key.key.len() + KEY_OVERHEAD;
        if w.bytes + cost > MAX_WATCHED_BYTES {
            return Err(TooManyWatched);
        }
        w.bytes += cost;
        w.keys.push((key.clone(), exists));
        self.by_key.entry(key).or_default().insert(id);
        Ok(())
    }

    /// `UNWATCH` (and `EXEC`, `DISCARD`, `RESET`, a closed connection):
    /// connection `id` watches nothing and is clean again.
    pub(crate) fn unwatch(&mut self, id: u64) {
        if let Some(w) = self.watchers.remove(&id) {
            self.forget_keys(id, &w.keys);
        }
    }

    fn forget_keys(&mut self, id: u64, keys: &[(WatchedKey, bool)]) {
        for (k, _) in keys {
            if let Some(ids) = self.by_key.get_mut(k) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
    }

    /// `key` was written or deleted: every connection watching it is
    /// marked changed (and stops watching).
    pub(crate) fn touch(&mut self, key: &WatchedKey) {
        let Some(ids) = self.by_key.get(key).cloned() else {
            return;
        };
        for id in ids {
            let keys = match self.watchers.get_mut(&id) {
                Some(w) => {
                    w.changed = true;
                    w.bytes = 0;
                    std::mem::take(&mut w.keys)
                }
                None => continue,
            };
            self.forget_keys(id, &keys);
        }
    }

    /// The watched keys of database `db` (for a flush, which changes those
    /// that exist).
    pub(crate) fn keys_of(&self, db: usize) -> Vec<WatchedKey> {
        self.by_key.keys().filter(|k| k.db == db).cloned().collect()
    }

    /// Whether `EXEC` of connection `id` must fail: a watched key changed,
    /// or one that existed when watched no longer does (`exists` asks).
    pub(crate) fn changed(&self, id: u64, mut exists: impl FnMut(&WatchedKey) -> bool) -> bool {
        self.watchers
            .get(&id)
            .is_some_and(|w| w.changed || w.keys.iter().any(|(k, existed)| *existed && !exists(k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(name: &str) -> WatchedKey {
        WatchedKey {
            db: 0,
            key: name.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_touch_marks_only_the_watchers_of_that_key() {
        let mut w = Watches::default();
        w.watch(1, k("a"), true).unwrap();
        w.watch(2, k("b"), false).unwrap();
        w.touch(&k("a"));
        assert!(w.changed(1, |_| true));
        assert!(!w.changed(2, |_| false));
        // Marked connections stop watching; the mark stays until unwatch.
        assert!(!w.by_key.contains_key(&k("a")));
        w.watch(1, k("c"), true).unwrap();
        assert!(!w.by_key.contains_key(&k("c")));
        w.unwatch(1);
        assert!(!w.changed(1, |_| true));
        // A key gone since WATCH counts as changed; one gone before not.
        w.watch(3, k("d"), true).unwrap();
        assert!(w.changed(3, |_| false));
        assert!(!w.changed(2, |_| false));
        w.unwatch(2);
        w.unwatch(3);
        assert!(w.is_empty());
    }

    #[test]
    fn one_connection_is_bounded() {
        let mut w = Watches::default();
        let big = WatchedKey {
            db: 0,
            key: vec![b'x'; MAX_WATCHED_BYTES],
        };
        assert_eq!(w.watch(1, big, false), Err(TooManyWatched));
        assert_eq!(w.watch(1, k("a"), false), Ok(()));
    }
}
