//! Small hashes and sorted sets packed into one byte string, as Redis
//! packs them into a listpack, and the read views ([`HashRef`],
//! [`ZSetRef`]) that answer the commands' questions from either form.
//!
//! The state packs a hash or sorted set of at most [`PACK_MAX_ENTRIES`]
//! entries, none longer than [`PACK_MAX_ELEMENT`] bytes (Redis's
//! `hash-max-listpack-*` and `zset-max-listpack-*` defaults), into one
//! cell with its key (see `state.rs`); a larger one stays a tree. Only
//! the state holds packed forms: a value handed out to be changed is
//! always the tree form ([`ValueRef::to_value`](super::record::ValueRef::to_value)).
//!
//! ```text
//! packed hash = count varint | (field_len varint | field | value_len varint | value) * count
//!               (in field byte order, the order of the tree form)
//! packed zset = count varint | (score | member_len varint | member) * count
//!               (in (score, member) order)
//! score       = 0 | f64 bits u64 LE
//!             | 1 | zigzag varint    (an integer of at most 2^53 in magnitude,
//!                                     not -0: the bits read back the same)
//! ```
//!
//! Every question about a packed form is a walk of at most 128 entries
//! (Redis walks its listpacks the same way); every read is a checked
//! slice, and bytes that do not decode read as an empty collection.

use super::edit::Edit;
use super::record::{FIELD_OVERHEAD, SCORED_OVERHEAD};
use super::sorted_set::{Ranked, Score, SortedSet};
use std::cmp::Ordering;
use std::collections::{btree_map, BTreeMap};

/// Most entries a packed hash or sorted set holds.
pub const PACK_MAX_ENTRIES: usize = 128;
/// Longest field, value or member a packed form holds.
pub const PACK_MAX_ELEMENT: usize = 64;

/// `n` as LEB128 (7 bits a byte, low first), in `buf`.
pub(crate) fn encode_varint(mut n: usize, buf: &mut [u8; 10]) -> &[u8] {
    let mut len = 0;
    for b in buf.iter_mut() {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        len += 1;
        if n == 0 {
            *b = byte;
            break;
        }
        *b = byte | 0x80;
    }
    buf.get(..len).unwrap_or_default()
}

/// Appends `n` as LEB128.
pub(crate) fn put_varint(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(encode_varint(n, &mut [0u8; 10]));
}

/// Reads a LEB128 number at `*at` (at most 10 bytes), moving `at` past it.
pub(crate) fn read_varint(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let mut n = 0usize;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        n |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

fn read_blob<'a>(bytes: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let len = read_varint(bytes, at)?;
    let blob = bytes.get(*at..at.checked_add(len)?)?;
    *at += len;
    Some(blob)
}

/// Whether a hash of these fields is packed.
pub(crate) fn hash_packs(h: &BTreeMap<Vec<u8>, Vec<u8>>) -> bool {
    h.len() <= PACK_MAX_ENTRIES
        && h.iter()
            .all(|(f, v)| f.len() <= PACK_MAX_ELEMENT && v.len() <= PACK_MAX_ELEMENT)
}

/// Whether a sorted set of these members is packed.
pub(crate) fn zset_packs(z: &SortedSet) -> bool {
    z.len() <= PACK_MAX_ENTRIES && z.iter().all(|(_, m)| m.len() <= PACK_MAX_ELEMENT)
}

/// The packed form of a hash (see the module header).
pub fn pack_hash(h: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    encode_hash(h.len(), h.iter().map(|(f, v)| (f.as_slice(), v.as_slice())))
}

/// The packed form of `len` fields and values, given in field order.
fn encode_hash<'a>(len: usize, entries: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, len);
    for (f, v) in entries {
        put_varint(&mut out, f.len());
        out.extend_from_slice(f);
        put_varint(&mut out, v.len());
        out.extend_from_slice(v);
    }
    out
}

/// The packed form of a sorted set (see the module header).
pub fn pack_zset(z: &SortedSet) -> Vec<u8> {
    encode_zset(z.len(), z.iter())
}

/// The packed form of `len` members, given in (score, member) order.
fn encode_zset<'a>(len: usize, entries: impl Iterator<Item = (Score, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, len);
    for (score, member) in entries {
        put_score(&mut out, score);
        put_varint(&mut out, member.len());
        out.extend_from_slice(member);
    }
    out
}

/// Largest integer magnitude a score is packed as an integer at (every
/// integer up to it is an exact `f64`).
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// A score as an integer (zigzag varint, 1 to 8 bytes: a rate limiter's
/// millisecond timestamp takes 6) when that reads back the same bits, as
/// its 8 bytes otherwise.
fn put_score(out: &mut Vec<u8>, score: Score) {
    let v = score.get();
    let integral = v.trunc() == v && v.abs() <= EXACT_INTEGER && v.to_bits() != (-0.0f64).to_bits();
    if integral {
        let i = v as i64;
        out.push(1);
        put_varint(out, ((i << 1) ^ (i >> 63)) as u64 as usize);
    } else {
        out.push(0);
        out.extend_from_slice(&score.to_bits().to_le_bytes());
    }
}

fn read_score(bytes: &[u8], at: &mut usize) -> Option<Score> {
    let tag = *bytes.get(*at)?;
    *at += 1;
    match tag {
        0 => {
            let b = <[u8; 8]>::try_from(bytes.get(*at..*at + 8)?).ok()?;
            *at += 8;
            Score::from_bits(u64::from_le_bytes(b))
        }
        1 => {
            let z = read_varint(bytes, at)? as u64;
            let i = ((z >> 1) as i64) ^ -((z & 1) as i64);
            Score::new(i as f64)
        }
        _ => None,
    }
}

/// What an element edit made of a packed form: its new bytes, the
/// payload added and removed (as [`Edit::apply_to`] counts them) and
/// whether it is now empty.
pub(crate) struct PackedEdit {
    pub bytes: Vec<u8>,
    pub grew: usize,
    pub shrank: usize,
    pub empty: bool,
}

/// Applies a hash edit (`HashPut`, `HashRemove`) to a packed hash without
/// making the tree: O(entries) and two allocations. `None` for another
/// edit, or when the result would not pack (the caller makes the tree).
pub(crate) fn edit_packed_hash(bytes: &[u8], edit: &Edit) -> Option<PackedEdit> {
    let mut entries: Vec<(&[u8], &[u8])> = HashRef::packed(bytes).iter().collect();
    let (mut grew, mut shrank) = (0usize, 0usize);
    let find = |entries: &[(&[u8], &[u8])], field: &[u8]| {
        entries.binary_search_by(|(f, _)| (*f).cmp(field))
    };
    match edit {
        Edit::HashPut(pairs) => {
            for (f, v) in pairs {
                if f.len() > PACK_MAX_ELEMENT || v.len() > PACK_MAX_ELEMENT {
                    return None;
                }
                grew += v.len();
                match find(&entries, f) {
                    Ok(i) => {
                        if let Some(e) = entries.get_mut(i) {
                            shrank += e.1.len();
                            e.1 = v;
                        }
                    }
                    Err(i) => {
                        grew += f.len() + FIELD_OVERHEAD;
                        entries.insert(i, (f, v));
                    }
                }
            }
        }
        Edit::HashRemove(fields) => {
            for f in fields {
                if let Ok(i) = find(&entries, f) {
                    let (f, v) = entries.remove(i);
                    shrank += f.len() + v.len() + FIELD_OVERHEAD;
                }
            }
        }
        _ => return None,
    }
    if entries.len() > PACK_MAX_ENTRIES {
        return None;
    }
    Some(PackedEdit {
        bytes: encode_hash(entries.len(), entries.iter().copied()),
        grew,
        shrank,
        empty: entries.is_empty(),
    })
}

/// (score, member) order, as [`SortedSet`] keeps it.
fn scored_order(a: (Score, &[u8]), b: (Score, &[u8])) -> Ordering {
    a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1))
}

/// [`edit_packed_hash`] for a sorted set (`SortedAdd`, `SortedRemove`).
pub(crate) fn edit_packed_zset(bytes: &[u8], edit: &Edit) -> Option<PackedEdit> {
    let mut entries: Vec<(Score, &[u8])> = ZSetRef::packed(bytes).iter_packed().collect();
    let (mut grew, mut shrank) = (0usize, 0usize);
    match edit {
        Edit::SortedAdd(pairs) => {
            for (score, m) in pairs {
                if m.len() > PACK_MAX_ELEMENT {
                    return None;
                }
                match entries.iter().position(|(_, e)| *e == m.as_slice()) {
                    Some(i) => {
                        entries.remove(i);
                    }
                    None => grew += m.len() + SCORED_OVERHEAD,
                }
                let at = entries
                    .binary_search_by(|e| scored_order(*e, (*score, m)))
                    .unwrap_or_else(|i| i);
                entries.insert(at, (*score, m));
            }
        }
        Edit::SortedRemove(members) => {
            for m in members {
                if let Some(i) = entries.iter().position(|(_, e)| *e == m.as_slice()) {
                    entries.remove(i);
                    shrank += m.len() + SCORED_OVERHEAD;
                }
            }
        }
        _ => return None,
    }
    if entries.len() > PACK_MAX_ENTRIES {
        return None;
    }
    Some(PackedEdit {
        bytes: encode_zset(entries.len(), entries.iter().copied()),
        grew,
        shrank,
        empty: entries.is_empty(),
    })
}

/// A packed form split into its count and its entries.
fn split(bytes: &[u8]) -> (usize, &[u8]) {
    let mut at = 0;
    match read_varint(bytes, &mut at) {
        Some(n) => (n, bytes.get(at..).unwrap_or_default()),
        None => (0, &[]),
    }
}

/// A hash as read in place: the tree, or a packed hash.
#[derive(Debug, Clone, Copy)]
pub enum HashRef<'a> {
    Tree(&'a BTreeMap<Vec<u8>, Vec<u8>>),
    Packed { len: usize, entries: &'a [u8] },
}

impl<'a> HashRef<'a> {
    /// The view of a packed hash's bytes.
    pub fn packed(bytes: &'a [u8]) -> Self {
        let (len, entries) = split(bytes);
        HashRef::Packed { len, entries }
    }

    pub fn len(self) -> usize {
        match self {
            HashRef::Tree(h) => h.len(),
            HashRef::Packed { len, .. } => len,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn get(self, field: &[u8]) -> Option<&'a [u8]> {
        match self {
            HashRef::Tree(h) => h.get(field).map(Vec::as_slice),
            HashRef::Packed { .. } => self.iter().find(|(f, _)| *f == field).map(|(_, v)| v),
        }
    }

    pub fn contains_key(self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Fields and values in field byte order.
    pub fn iter(self) -> HashIter<'a> {
        match self {
            HashRef::Tree(h) => HashIter::Tree(h.iter()),
            HashRef::Packed { len, entries } => HashIter::Packed {
                entries,
                at: 0,
                left: len,
            },
        }
    }

    pub fn keys(self) -> impl Iterator<Item = &'a [u8]> {
        self.iter().map(|(f, _)| f)
    }

    pub fn values(self) -> impl Iterator<Item = &'a [u8]> {
        self.iter().map(|(_, v)| v)
    }

    /// A copy in the tree form.
    pub fn to_tree(self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        match self {
            HashRef::Tree(h) => h.clone(),
            HashRef::Packed { .. } => self.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect(),
        }
    }
}

impl PartialEq for HashRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for HashRef<'_> {}

impl<'a> IntoIterator for HashRef<'a> {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = HashIter<'a>;

    fn into_iter(self) -> HashIter<'a> {
        self.iter()
    }
}

impl<'a> From<&'a BTreeMap<Vec<u8>, Vec<u8>>> for HashRef<'a> {
    fn from(h: &'a BTreeMap<Vec<u8>, Vec<u8>>) -> Self {
        HashRef::Tree(h)
    }
}

/// [`HashRef::iter`].
pub enum HashIter<'a> {
    Tree(btree_map::Iter<'a, Vec<u8>, Vec<u8>>),
    Packed {
        entries: &'a [u8],
        at: usize,
        left: usize,
    },
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Tree(it) => it.next().map(|(f, v)| (f.as_slice(), v.as_slice())),
            HashIter::Packed { entries, at, left } => {
                if *left == 0 {
                    return None;
                }
                *left -= 1;
                let field = read_blob(entries, at);
                let value = read_blob(entries, at);
                let pair = field.zip(value);
                if pair.is_none() {
                    *left = 0;
                }
                pair
            }
        }
    }
}

/// A sorted set as read in place: the tree, or a packed sorted set.
#[derive(Debug, Clone, Copy)]
pub enum ZSetRef<'a> {
    Tree(&'a SortedSet),
    Packed { len: usize, entries: &'a [u8] },
}

impl<'a> From<&'a SortedSet> for ZSetRef<'a> {
    fn from(z: &'a SortedSet) -> Self {
        ZSetRef::Tree(z)
    }
}

impl PartialEq for ZSetRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .map(|(s, m)| (s.to_bits(), m))
                .eq(other.iter().map(|(s, m)| (s.to_bits(), m)))
    }
}

impl Eq for ZSetRef<'_> {}

impl<'a> ZSetRef<'a> {
    /// The view of a packed sorted set's bytes.
    pub fn packed(bytes: &'a [u8]) -> Self {
        let (len, entries) = split(bytes);
        ZSetRef::Packed { len, entries }
    }

    pub fn len(self) -> usize {
        match self {
            ZSetRef::Tree(z) => z.len(),
            ZSetRef::Packed { len, .. } => len,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The packed entries in order, with their ranks.
    fn walk(self) -> impl Iterator<Item = (usize, (Score, &'a [u8]))> {
        self.iter_packed().enumerate()
    }

    pub fn score(self, member: &[u8]) -> Option<Score> {
        match self {
            ZSetRef::Tree(z) => z.score(member),
            ZSetRef::Packed { .. } => self
                .iter_packed()
                .find(|(_, m)| *m == member)
                .map(|(s, _)| s),
        }
    }

    /// [`SortedSet::rank`].
    pub fn rank(self, member: &[u8]) -> Option<usize> {
        match self {
            ZSetRef::Tree(z) => z.rank(member),
            ZSetRef::Packed { .. } => self.walk().find(|(_, (_, m))| *m == member).map(|(r, _)| r),
        }
    }

    /// [`SortedSet::get`].
    pub fn get(self, rank: usize) -> Option<(Score, &'a [u8])> {
        match self {
            ZSetRef::Tree(z) => z.get(rank),
            ZSetRef::Packed { .. } => self.iter_packed().nth(rank),
        }
    }

    /// [`SortedSet::count_below`].
    pub fn count_below(self, score: f64, or_equal: bool) -> usize {
        match self {
            ZSetRef::Tree(z) => z.count_below(score, or_equal),
            ZSetRef::Packed { .. } => self
                .iter_packed()
                .take_while(|(s, _)| s.get() < score || (or_equal && s.get() == score))
                .count(),
        }
    }

    /// [`SortedSet::first_rank_from`].
    pub fn first_rank_from(self, from: usize, wanted: impl Fn(&[u8]) -> bool) -> Option<usize> {
        match self {
            ZSetRef::Tree(z) => z.first_rank_from(from, wanted),
            ZSetRef::Packed { .. } => self
                .walk()
                .skip(from)
                .find(|(_, (_, m))| wanted(m))
                .map(|(r, _)| r),
        }
    }

    /// [`SortedSet::last_rank_until`].
    pub fn last_rank_until(self, until: usize, wanted: impl Fn(&[u8]) -> bool) -> Option<usize> {
        match self {
            ZSetRef::Tree(z) => z.last_rank_until(until, wanted),
            ZSetRef::Packed { .. } => self
                .walk()
                .take_while(|(r, _)| *r <= until)
                .filter(|(_, (_, m))| wanted(m))
                .last()
                .map(|(r, _)| r),
        }
    }

    /// [`SortedSet::range`].
    pub fn range(self, ranks: std::ops::Range<usize>) -> ZSetIter<'a> {
        match self {
            ZSetRef::Tree(z) => ZSetIter::Tree(z.range(ranks)),
            ZSetRef::Packed { len, .. } => {
                let end = ranks.end.min(len);
                let start = ranks.start.min(end);
                let mut walk = self.iter_packed();
                for _ in 0..start {
                    walk.next();
                }
                walk.left = end - start;
                ZSetIter::Walk(walk)
            }
        }
    }

    /// Members in (score, member) order.
    pub fn iter(self) -> ZSetIter<'a> {
        self.range(0..self.len())
    }

    /// The packed entries in order (nothing for the tree form).
    fn iter_packed(self) -> PackedWalk<'a> {
        let (left, entries) = match self {
            ZSetRef::Tree(_) => (0, &[][..]),
            ZSetRef::Packed { len, entries } => (len, entries),
        };
        PackedWalk {
            entries,
            at: 0,
            left,
        }
    }

    /// A copy in the tree form.
    pub fn to_tree(self) -> SortedSet {
        match self {
            ZSetRef::Tree(z) => z.clone(),
            ZSetRef::Packed { .. } => {
                let mut z = SortedSet::new();
                for (score, member) in self.iter_packed() {
                    z.insert(member.to_vec(), score);
                }
                z
            }
        }
    }
}

/// A forward walk over `left` packed sorted-set entries from `at`.
pub struct PackedWalk<'a> {
    entries: &'a [u8],
    at: usize,
    left: usize,
}

impl<'a> Iterator for PackedWalk<'a> {
    type Item = (Score, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = read_score(self.entries, &mut self.at)
            .and_then(|score| read_blob(self.entries, &mut self.at).map(|m| (score, m)));
        if item.is_none() {
            self.left = 0;
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// [`ZSetRef::iter`] and [`ZSetRef::range`]: in order, `.rev()` walks
/// back (a packed walk is collected first: its entries are only read
/// forward).
pub enum ZSetIter<'a> {
    Tree(Ranked<'a>),
    Walk(PackedWalk<'a>),
    Collected(std::vec::IntoIter<(Score, &'a [u8])>),
}

impl<'a> Iterator for ZSetIter<'a> {
    type Item = (Score, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ZSetIter::Tree(it) => it.next(),
            ZSetIter::Walk(it) => it.next(),
            ZSetIter::Collected(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            ZSetIter::Tree(it) => it.size_hint(),
            // Exact unless the bytes do not decode (never for a form the
            // state wrote).
            ZSetIter::Walk(it) => (it.left, Some(it.left)),
            ZSetIter::Collected(it) => it.size_hint(),
        }
    }
}

impl DoubleEndedIterator for ZSetIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if let ZSetIter::Walk(walk) = self {
            let items: Vec<_> = walk.collect();
            *self = ZSetIter::Collected(items.into_iter());
        }
        match self {
            ZSetIter::Tree(it) => it.next_back(),
            ZSetIter::Walk(_) => None,
            ZSetIter::Collected(it) => it.next_back(),
        }
    }
}

impl ExactSizeIterator for ZSetIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..4)
    }

    proptest! {
        /// A packed hash answers every question as the tree it was made
        /// from.
        #[test]
        fn a_packed_hash_reads_as_its_tree(
            h in prop::collection::btree_map(member(), member(), 0..20),
            probes in prop::collection::vec(member(), 0..10),
        ) {
            let bytes = pack_hash(&h);
            let (tree, packed) = (HashRef::Tree(&h), HashRef::packed(&bytes));
            prop_assert_eq!(packed.len(), tree.len());
            prop_assert_eq!(packed.is_empty(), tree.is_empty());
            prop_assert!(packed.iter().eq(tree.iter()));
            prop_assert!(packed.keys().eq(tree.keys()));
            prop_assert!(packed.values().eq(tree.values()));
            for p in probes.iter().chain(h.keys()) {
                prop_assert_eq!(packed.get(p), tree.get(p));
                prop_assert_eq!(packed.contains_key(p), tree.contains_key(p));
            }
            prop_assert_eq!(&packed.to_tree(), &h);
            prop_assert_eq!(packed, tree);
        }

        /// A packed sorted set answers every question as the tree it was
        /// made from: ranks, scores, score bounds, byte-order searches and
        /// ranges both ways.
        #[test]
        fn a_packed_zset_reads_as_its_tree(
            items in prop::collection::vec((member(), -3i8..3), 0..20),
            probes in prop::collection::vec(member(), 0..6),
            bound in -4i8..4,
            span in (0usize..25, 0usize..25),
        ) {
            let mut z = SortedSet::new();
            for (m, s) in items {
                z.insert(m, Score::new(f64::from(s)).unwrap());
            }
            let bytes = pack_zset(&z);
            let (tree, packed) = (ZSetRef::Tree(&z), ZSetRef::packed(&bytes));
            prop_assert_eq!(packed.len(), tree.len());
            prop_assert_eq!(packed, tree);
            let members: Vec<Vec<u8>> = z.iter().map(|(_, m)| m.to_vec()).collect();
            for p in probes.iter().chain(members.iter()) {
                prop_assert_eq!(packed.score(p).map(Score::to_bits), tree.score(p).map(Score::to_bits));
                prop_assert_eq!(packed.rank(p), tree.rank(p));
                for from in 0..=z.len() {
                    prop_assert_eq!(
                        packed.first_rank_from(from, |m| m >= p.as_slice()),
                        tree.first_rank_from(from, |m| m >= p.as_slice())
                    );
                    prop_assert_eq!(
                        packed.last_rank_until(from, |m| m <= p.as_slice()),
                        tree.last_rank_until(from, |m| m <= p.as_slice())
                    );
                }
            }
            for rank in 0..=z.len() {
                prop_assert_eq!(packed.get(rank).map(|(s, m)| (s.to_bits(), m)), tree.get(rank).map(|(s, m)| (s.to_bits(), m)));
            }
            for or_equal in [false, true] {
                prop_assert_eq!(packed.count_below(f64::from(bound), or_equal), tree.count_below(f64::from(bound), or_equal));
            }
            let ranks = span.0.min(span.1)..span.0.max(span.1);
            let bits = |(s, m): (Score, &[u8])| (s.to_bits(), m.to_vec());
            prop_assert_eq!(packed.range(ranks.clone()).map(bits).collect::<Vec<_>>(), tree.range(ranks.clone()).map(bits).collect::<Vec<_>>());
            prop_assert_eq!(packed.range(ranks.clone()).rev().map(bits).collect::<Vec<_>>(), tree.range(ranks.clone()).rev().map(bits).collect::<Vec<_>>());
            prop_assert_eq!(packed.range(ranks.clone()).len(), tree.range(ranks).len());
            prop_assert_eq!(packed.to_tree(), z);
        }
    }

    fn small_member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            20 => prop::collection::vec(prop_oneof![Just(b'a'), Just(b'b')], 0..3),
            1 => prop::collection::vec(Just(b'x'), 60..70),
        ]
    }

    proptest! {
        /// An edit of a packed form leaves what the same edit leaves of
        /// the tree, counts the same payload change, and declines exactly
        /// when the result would not pack.
        #[test]
        fn packed_edits_do_what_tree_edits_do(
            start in prop::collection::vec((small_member(), small_member(), -2i8..3), 0..12),
            big in prop::bool::weighted(0.1),
            edits in prop::collection::vec((any::<bool>(), prop::collection::vec((small_member(), small_member(), -2i8..3), 1..4)), 1..6),
        ) {
            let mut h: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            let mut z = SortedSet::new();
            let extra = if big { PACK_MAX_ENTRIES - 2 } else { 0 };
            for i in 0..extra {
                h.insert(format!("f{i}").into_bytes(), b"v".to_vec());
                z.insert(format!("m{i}").into_bytes(), Score::new(i as f64).unwrap());
            }
            for (f, v, sc) in &start {
                if f.len() <= PACK_MAX_ELEMENT && v.len() <= PACK_MAX_ELEMENT {
                    h.insert(f.clone(), v.clone());
                    z.insert(f.clone(), Score::new(f64::from(*sc)).unwrap());
                }
            }
            for (remove, items) in edits {
                let oversized = !remove
                    && items.iter().any(|(f, v, _)| f.len() > PACK_MAX_ELEMENT || v.len() > PACK_MAX_ELEMENT);
                let (hash_edit, zset_edit) = if remove {
                    (Edit::HashRemove(items.iter().map(|(f, _, _)| f.clone()).collect()),
                     Edit::SortedRemove(items.iter().map(|(f, _, _)| f.clone()).collect()))
                } else {
                    (Edit::HashPut(items.iter().map(|(f, v, _)| (f.clone(), v.clone())).collect()),
                     Edit::SortedAdd(items.iter().map(|(f, _, sc)| (Score::new(f64::from(*sc) / 2.0).unwrap(), f.clone())).collect()))
                };
                // (Only packing forms are packed: once a value stops
                // packing, the tree goes on alone.)
                let packed_h = hash_packs(&h).then(|| edit_packed_hash(&pack_hash(&h), &hash_edit)).flatten();
                let mut tree_h = crate::store::record::Value::Hash(h.clone());
                let (grew, shrank) = hash_edit.apply_to(&mut tree_h);
                let crate::store::record::Value::Hash(new_h) = tree_h else { unreachable!() };
                match packed_h {
                    Some(e) => {
                        prop_assert!(hash_packs(&new_h));
                        prop_assert_eq!(HashRef::packed(&e.bytes).to_tree(), new_h.clone());
                        prop_assert_eq!((e.grew, e.shrank, e.empty), (grew, shrank, new_h.is_empty()));
                    }
                    // Declined: the result does not pack, or the edit
                    // carried an element too long to pack (even one a later
                    // pair of it replaced); the caller then edits the tree,
                    // which the state packs again if it can.
                    None => prop_assert!(!hash_packs(&h) || !hash_packs(&new_h) || oversized),
                }
                let packed_z = zset_packs(&z).then(|| edit_packed_zset(&pack_zset(&z), &zset_edit)).flatten();
                let mut tree_z = crate::store::record::Value::SortedSet(Box::new(z.clone()));
                let (grew, shrank) = zset_edit.apply_to(&mut tree_z);
                let crate::store::record::Value::SortedSet(new_z) = tree_z else { unreachable!() };
                match packed_z {
                    Some(e) => {
                        prop_assert!(zset_packs(&new_z));
                        prop_assert_eq!(ZSetRef::packed(&e.bytes), ZSetRef::Tree(&new_z));
                        prop_assert_eq!((e.grew, e.shrank, e.empty), (grew, shrank, new_z.is_empty()));
                    }
                    None => prop_assert!(!zset_packs(&z) || !zset_packs(&new_z) || oversized),
                }
                h = new_h;
                z = *new_z;
            }
        }
    }

    #[test]
    fn every_score_reads_back_with_its_bits() {
        let scores = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            1e300,
            -1e-300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9_007_199_254_740_992.0,
            -9_007_199_254_740_992.0,
            9_007_199_254_740_994.0,
            1_765_000_000_000.0,
            f64::MIN_POSITIVE,
            123_456.789,
        ];
        let mut z = SortedSet::new();
        for (i, s) in scores.iter().enumerate() {
            z.insert(vec![i as u8], Score::new(*s).unwrap());
        }
        let bytes = pack_zset(&z);
        let got: Vec<(u64, Vec<u8>)> = ZSetRef::packed(&bytes)
            .iter()
            .map(|(s, m)| (s.to_bits(), m.to_vec()))
            .collect();
        let want: Vec<(u64, Vec<u8>)> = z.iter().map(|(s, m)| (s.to_bits(), m.to_vec())).collect();
        assert_eq!(got, want);
        // A millisecond timestamp packs in 1 + 6 bytes, not 1 + 8.
        let mut one = SortedSet::new();
        one.insert(b"m".to_vec(), Score::new(1_765_000_000_000.0).unwrap());
        assert_eq!(pack_zset(&one).len(), 1 + 1 + 6 + 1 + 1);
    }

    #[test]
    fn bytes_that_do_not_decode_read_as_fewer_entries_never_a_panic() {
        let h: BTreeMap<Vec<u8>, Vec<u8>> = [(b"f".to_vec(), b"v".to_vec())].into();
        let bytes = pack_hash(&h);
        for cut in 0..bytes.len() {
            let view = HashRef::packed(&bytes[..cut]);
            assert!(view.iter().count() <= 1);
            let _ = view.get(b"f");
        }
        let mut z = SortedSet::new();
        z.insert(b"m".to_vec(), Score::new(1.5).unwrap());
        let bytes = pack_zset(&z);
        for cut in 0..bytes.len() {
            let view = ZSetRef::packed(&bytes[..cut]);
            assert!(view.iter().count() == 0);
            let _ = (view.rank(b"m"), view.range(0..5).rev().count());
        }
    }
}
