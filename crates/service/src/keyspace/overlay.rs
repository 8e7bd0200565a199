//! A transaction's staged writes to one stored database: the final state
//! of each key it touched ([`Staged`]). Most transactions are one command
//! on one key, so the first [`SMALL`] keys live in a vector searched by
//! comparing keys — no hashing, no table to allocate and grow, and the
//! commit walks them in the order they were written. Past that (a `MULTI`
//! block, a script or an `MSET` of many keys) they move to a hash map with
//! random SipHash keys, so that no client can choose keys that collide.

use super::Staged;
use std::collections::HashMap;

/// Keys kept in the vector before the overlay becomes a hash map.
const SMALL: usize = 8;

/// See the module documentation.
#[derive(Default)]
pub(super) struct Overlay {
    /// The keys while there are at most [`SMALL`] of them (then empty).
    small: Vec<(Vec<u8>, Staged)>,
    /// Every key once there were more.
    map: Option<HashMap<Vec<u8>, Staged>>,
}

impl Overlay {
    pub(super) fn new() -> Self {
        Self::default()
    }

    pub(super) fn get(&self, key: &[u8]) -> Option<&Staged> {
        match &self.map {
            Some(map) => map.get(key),
            None => self.small.iter().find(|(k, _)| k == key).map(|(_, s)| s),
        }
    }

    pub(super) fn get_mut(&mut self, key: &[u8]) -> Option<&mut Staged> {
        match &mut self.map {
            Some(map) => map.get_mut(key),
            None => self
                .small
                .iter_mut()
                .find(|(k, _)| k == key)
                .map(|(_, s)| s),
        }
    }

    pub(super) fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Stages `staged` for `key`, replacing what was staged for it.
    pub(super) fn insert(&mut self, key: Vec<u8>, staged: Staged) {
        if let Some(map) = &mut self.map {
            map.insert(key, staged);
            return;
        }
        if let Some(slot) = self.small.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = staged;
            return;
        }
        if self.small.len() < SMALL {
            self.small.push((key, staged));
            return;
        }
        let mut map: HashMap<Vec<u8>, Staged> = self.small.drain(..).collect();
        map.insert(key, staged);
        self.map = Some(map);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.small.is_empty() && self.map.as_ref().is_none_or(HashMap::is_empty)
    }

    /// The staged keys (in no particular order).
    pub(super) fn keys(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.small
            .iter()
            .map(|(k, _)| k)
            .chain(self.map.iter().flat_map(HashMap::keys))
    }
}

impl IntoIterator for Overlay {
    type Item = (Vec<u8>, Staged);
    type IntoIter = std::iter::Chain<
        std::vec::IntoIter<(Vec<u8>, Staged)>,
        std::iter::Flatten<std::option::IntoIter<HashMap<Vec<u8>, Staged>>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.small.into_iter().chain(self.map.into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn staged(tag: u8) -> Staged {
        Staged::Replaced(match tag {
            0 => None,
            t => Some(reddb_storage::store::Entry::new(
                reddb_storage::store::record::Value::Bytes(vec![t]),
                0,
            )),
        })
    }

    fn tag(s: &Staged) -> u8 {
        match s {
            Staged::Replaced(Some(e)) => match &e.value {
                reddb_storage::store::record::Value::Bytes(v) => v.first().copied().unwrap_or(255),
                _ => 255,
            },
            Staged::Replaced(None) => 0,
            Staged::Edited { .. } => 255,
        }
    }

    proptest! {
        /// The overlay answers as a hash map does, across the move from
        /// the vector to the map.
        #[test]
        fn behaves_as_a_map(ops in prop::collection::vec((0u8..24, 0u8..5), 0..60)) {
            let mut overlay = Overlay::new();
            let mut model: HashMap<Vec<u8>, u8> = HashMap::new();
            for (k, t) in ops {
                let key = vec![b'k', k];
                overlay.insert(key.clone(), staged(t));
                model.insert(key, t);
                prop_assert_eq!(overlay.is_empty(), model.is_empty());
                for probe in 0u8..24 {
                    let key = vec![b'k', probe];
                    prop_assert_eq!(overlay.get(&key).map(tag), model.get(&key).copied());
                    prop_assert_eq!(overlay.contains_key(&key), model.contains_key(&key));
                }
            }
            let mut keys: Vec<Vec<u8>> = overlay.keys().cloned().collect();
            keys.sort();
            let mut expected: Vec<Vec<u8>> = model.keys().cloned().collect();
            expected.sort();
            prop_assert_eq!(keys, expected);
            if let Some(first) = model.keys().next().cloned() {
                if let Some(Staged::Replaced(slot)) = overlay.get_mut(&first) {
                    *slot = None;
                }
                model.insert(first.clone(), 0);
                prop_assert_eq!(overlay.get(&first).map(tag), Some(0));
            }
            let mut all: Vec<(Vec<u8>, u8)> = overlay.into_iter().map(|(k, s)| (k, tag(&s))).collect();
            all.sort();
            let mut expected: Vec<(Vec<u8>, u8)> = model.into_iter().collect();
            expected.sort();
            prop_assert_eq!(all, expected);
        }
    }
}
