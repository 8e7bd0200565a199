//! The cursor of `SSCAN`, `HSCAN` and `ZSCAN`: each element of a
//! collection has a fixed position (a hash of its bytes), a cursor is a
//! position, and a page is the elements from the cursor on up to a
//! boundary position, all elements of one position together. So an element
//! present for a whole iteration is returned exactly once, whatever is
//! added or removed meanwhile, and cursors stay valid across restarts.
//!
//! Owns the position function and the page cut; each command filters by
//! its pattern and orders its page as it answers.

use super::CURSOR_SHIFT;
use std::collections::hash_map::DefaultHasher;
use std::hash::{BuildHasher, BuildHasherDefault};

/// An element's position: 53 bits (exact as a JavaScript number, which is
/// how node-redis parses cursors), never 0 (0 starts and ends an
/// iteration). The hash is unkeyed so that a cursor outlives a restart.
pub(super) fn scan_position(element: &[u8]) -> u64 {
    (BuildHasherDefault::<DefaultHasher>::default().hash_one(element) >> CURSOR_SHIFT).max(1)
}

/// One page from `ahead` (the elements whose position is at or past the
/// cursor, with their positions): about `want` of them — every element
/// below the boundary position that leaves at most `want`, or, when the
/// first `want + 1` share one position, all of that position. Returns the
/// next cursor (0 when nothing is left) and the page, unordered. Linear in
/// the size of `ahead` (a selection, not a sort).
pub(super) fn scan_window<T>(mut ahead: Vec<(u64, T)>, want: usize) -> (u64, Vec<(u64, T)>) {
    let want = want.max(1);
    if ahead.len() <= want {
        return (0, ahead);
    }
    ahead.select_nth_unstable_by_key(want, |(pos, _)| *pos);
    let boundary = ahead.get(want).map_or(0, |(pos, _)| *pos);
    if ahead.iter().any(|(pos, _)| *pos < boundary) {
        ahead.retain(|(pos, _)| *pos < boundary);
        return (boundary, ahead);
    }
    // Every element examined shares one position: all of it.
    let next = ahead
        .iter()
        .map(|(pos, _)| *pos)
        .filter(|pos| *pos > boundary)
        .min()
        .unwrap_or(0);
    ahead.retain(|(pos, _)| *pos == boundary);
    (next, ahead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Paging through a fixed collection returns every element once,
        /// each page at most `want` elements unless one position holds
        /// more, positions never 0 and below 2^53.
        #[test]
        fn pages_cover_every_element_once(
            elements in prop::collection::btree_set(prop::collection::vec(any::<u8>(), 0..6), 0..300),
            want in 1usize..40,
            collide in 0u64..4,
        ) {
            let positioned: Vec<(u64, Vec<u8>)> = elements
                .iter()
                .map(|e| {
                    // Some elements share a position, as hash collisions do.
                    let p = if collide > 0 && e.len() as u64 == collide { 7 } else { scan_position(e) };
                    (p, e.clone())
                })
                .collect();
            let (mut seen, mut cursor) = (BTreeSet::new(), 0u64);
            for _ in 0..=positioned.len() + 1 {
                let ahead: Vec<(u64, Vec<u8>)> =
                    positioned.iter().filter(|(p, _)| *p >= cursor).cloned().collect();
                let (next, page) = scan_window(ahead, want);
                let positions: BTreeSet<u64> = page.iter().map(|(p, _)| *p).collect();
                prop_assert!(page.len() <= want || positions.len() == 1);
                for (p, e) in page {
                    prop_assert!(p > 0 && p < 1 << 53);
                    prop_assert!(seen.insert(e), "returned twice");
                }
                if next == 0 {
                    break;
                }
                prop_assert!(next > cursor);
                cursor = next;
            }
            prop_assert_eq!(seen, elements);
        }
    }
}
