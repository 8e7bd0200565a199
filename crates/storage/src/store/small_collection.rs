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
//! slice, and bytes that do not decode read as an empty collection. An
//! edit splices each changed entry into a copy of the bytes (one
//! `memmove` of what follows it), or, when values are replaced by ones
//! as long, writes them where they lie.

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

/// Byte order of two elements (at most [`PACK_MAX_ELEMENT`] bytes when
/// packed), eight bytes at a time and inline: a walk compares every entry
/// it passes, and a libc `memcmp` call per entry was a tenth of a
/// pipelined `HSET`'s time. Past the whole words of the shorter length
/// `n`, the last word read is the one ending at `n` (overlapping bytes
/// already found equal), so `key:000000000042` takes two compares.
#[inline]
pub(crate) fn element_order(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_be_bytes)
    };
    let mut at = 0;
    while at + 8 <= n {
        let (x, y) = (word(a, at), word(b, at));
        if x != y {
            return x.cmp(&y);
        }
        at += 8;
    }
    if at < n && n >= 8 {
        let (x, y) = (word(a, n - 8), word(b, n - 8));
        if x != y {
            return x.cmp(&y);
        }
    } else {
        for (x, y) in a.iter().zip(b).take(n).skip(at) {
            if x != y {
                return x.cmp(y);
            }
        }
    }
    a.len().cmp(&b.len())
}

/// Whether two elements are equal ([`element_order`]'s inline compare,
/// lengths first).
#[inline]
fn element_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && element_order(a, b) == Ordering::Equal
}

/// A length-prefixed element at `*at`, moving `at` past it. Packed
/// elements are at most 64 bytes, so their length is one byte: read
/// inline, the varint loop only for anything else.
#[inline]
fn read_blob<'a>(bytes: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let len = match bytes.get(*at) {
        Some(&b) if b < 0x80 => {
            *at += 1;
            usize::from(b)
        }
        _ => read_varint(bytes, at)?,
    };
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
    out.extend_from_slice(encode_score(score, &mut [0u8; 11]));
}

/// [`put_score`]'s bytes, in `buf`.
fn encode_score(score: Score, buf: &mut [u8; 11]) -> &[u8] {
    let v = score.get();
    let integral = v.trunc() == v && v.abs() <= EXACT_INTEGER && v.to_bits() != (-0.0f64).to_bits();
    let (tag, rest) = buf.split_at_mut(1);
    let used = if integral {
        let i = v as i64;
        tag.fill(1);
        let zigzag = ((i << 1) ^ (i >> 63)) as u64 as usize;
        let mut varint = [0u8; 10];
        let bytes = encode_varint(zigzag, &mut varint);
        if let Some(r) = rest.get_mut(..bytes.len()) {
            r.copy_from_slice(bytes);
        }
        1 + bytes.len()
    } else {
        tag.fill(0);
        if let Some(r) = rest.get_mut(..8) {
            r.copy_from_slice(&score.to_bits().to_le_bytes());
        }
        9
    };
    buf.get(..used).unwrap_or_default()
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

/// What an element edit made of a packed form (its new bytes are in the
/// caller's buffer): the payload added and removed (as [`Edit::apply_to`]
/// counts them) and whether it is now empty.
pub(crate) struct PackedEdit {
    pub grew: usize,
    pub shrank: usize,
    pub empty: bool,
}

/// Replaces `out[start..end]` with the concatenation of `parts`, moving
/// the tail once (a listpack insert's `memmove`). `false` when the range
/// is not in `out`.
fn splice_bytes(out: &mut Vec<u8>, start: usize, end: usize, parts: &[&[u8]]) -> bool {
    let (old_len, total) = (out.len(), out.len());
    if start > end || end > old_len {
        return false;
    }
    let new_len: usize = parts.iter().map(|p| p.len()).sum();
    let removed = end - start;
    if new_len > removed {
        out.resize(total + (new_len - removed), 0);
    }
    out.copy_within(end..old_len, start + new_len);
    if new_len < removed {
        out.truncate(total - (removed - new_len));
    }
    let mut at = start;
    for part in parts {
        if let Some(place) = out.get_mut(at..at + part.len()) {
            place.copy_from_slice(part);
        }
        at += part.len();
    }
    true
}

/// Rewrites the count varint at the front of `out` as `len` (growing or
/// shrinking the front when its length changes, at 128 entries).
fn set_count(out: &mut Vec<u8>, len: usize) -> Option<()> {
    let mut at = 0;
    read_varint(out, &mut at)?;
    let mut buf = [0u8; 10];
    let count = encode_varint(len, &mut buf);
    splice_bytes(out, 0, at, &[count]).then_some(())
}

/// Where a field is, or would go, among packed hash entries starting at
/// byte `from` of `bytes`.
enum FieldAt {
    /// Its entry spans `start..end`; its value (`old_len` bytes, after
    /// their length) starts at `value`.
    Found {
        start: usize,
        value: usize,
        end: usize,
        old_len: usize,
    },
    /// It is absent; its entry would go at this byte.
    Absent(usize),
}

/// Walks `len` packed hash entries (in field order, stopping at the
/// first greater field). `None` when the bytes do not decode.
fn find_field(bytes: &[u8], from: usize, len: usize, field: &[u8]) -> Option<FieldAt> {
    let mut at = from;
    for _ in 0..len {
        let start = at;
        let f = read_blob(bytes, &mut at)?;
        match element_order(f, field) {
            Ordering::Less => {
                read_blob(bytes, &mut at)?;
            }
            Ordering::Equal => {
                let value = at;
                let old_len = read_blob(bytes, &mut at)?.len();
                return Some(FieldAt::Found {
                    start,
                    value,
                    end: at,
                    old_len,
                });
            }
            Ordering::Greater => return Some(FieldAt::Absent(start)),
        }
    }
    Some(FieldAt::Absent(at))
}

/// `HSET`'s commonest case, done where the bytes lie: when every pair
/// names a field the hash has and its new value is as long as the old,
/// nothing moves, and the values are written over the old ones (no copy
/// of the collection). `None`, with nothing changed, otherwise.
pub(crate) fn overwrite_hash_values(bytes: &mut [u8], edit: &Edit) -> Option<PackedEdit> {
    let Edit::HashPut(pairs) = edit else {
        return None;
    };
    let (len, entries) = split(bytes);
    let from = bytes.len() - entries.len();
    let value_at = |bytes: &[u8], f: &[u8], v: &[u8]| match find_field(bytes, from, len, f) {
        Some(FieldAt::Found { value, old_len, .. }) if old_len == v.len() => Some(value + 1),
        _ => None,
    };
    if pairs.len() > 1 && !pairs.iter().all(|(f, v)| value_at(bytes, f, v).is_some()) {
        return None;
    }
    let mut written = 0;
    for (f, v) in pairs {
        // The value's length is one byte (it is at most 64 long).
        let at = value_at(bytes, f, v)?;
        bytes.get_mut(at..at + v.len())?.copy_from_slice(v);
        written += v.len();
    }
    Some(PackedEdit {
        grew: written,
        shrank: written,
        empty: len == 0,
    })
}

/// Applies a hash edit (`HashPut`, `HashRemove`) to a packed hash without
/// making the tree: its new bytes go in `out` (cleared first), each field
/// spliced in place. `None` for another edit, or when the result would
/// not pack (the caller makes the tree; `out` is then garbage).
pub(crate) fn edit_packed_hash(bytes: &[u8], edit: &Edit, out: &mut Vec<u8>) -> Option<PackedEdit> {
    let (mut len, entries) = split(bytes);
    let from = bytes.len() - entries.len();
    out.clear();
    out.extend_from_slice(bytes);
    let (mut grew, mut shrank) = (0usize, 0usize);
    let mut buf = ([0u8; 10], [0u8; 10]);
    match edit {
        Edit::HashPut(pairs) => {
            for (f, v) in pairs {
                if f.len() > PACK_MAX_ELEMENT || v.len() > PACK_MAX_ELEMENT {
                    return None;
                }
                grew += v.len();
                let v_len = encode_varint(v.len(), &mut buf.1);
                match find_field(out, from, len, f)? {
                    FieldAt::Found {
                        value,
                        end,
                        old_len,
                        ..
                    } => {
                        shrank += old_len;
                        splice_bytes(out, value, end, &[v_len, v]).then_some(())?;
                    }
                    FieldAt::Absent(at) => {
                        grew += f.len() + FIELD_OVERHEAD;
                        let f_len = encode_varint(f.len(), &mut buf.0);
                        splice_bytes(out, at, at, &[f_len, f, v_len, v]).then_some(())?;
                        len += 1;
                    }
                }
            }
        }
        Edit::HashRemove(fields) => {
            for f in fields {
                if let FieldAt::Found {
                    start,
                    end,
                    old_len,
                    ..
                } = find_field(out, from, len, f)?
                {
                    splice_bytes(out, start, end, &[]).then_some(())?;
                    len -= 1;
                    shrank += f.len() + old_len + FIELD_OVERHEAD;
                }
            }
        }
        _ => return None,
    }
    if len > PACK_MAX_ENTRIES {
        return None;
    }
    set_count(out, len)?;
    Some(PackedEdit {
        grew,
        shrank,
        empty: len == 0,
    })
}

/// (score, member) order, as [`SortedSet`] keeps it.
fn scored_order(a: (Score, &[u8]), b: (Score, &[u8])) -> Ordering {
    a.0.cmp(&b.0).then_with(|| element_order(a.1, b.1))
}

/// Moves `at` past a packed score without decoding it.
#[inline]
fn skip_score(bytes: &[u8], at: &mut usize) -> Option<()> {
    match *bytes.get(*at)? {
        0 => *at += 9,
        1 => {
            *at += 1;
            read_varint(bytes, at)?;
        }
        _ => return None,
    }
    Some(())
}

/// Where `member`'s entry is among `len` packed sorted-set entries from
/// byte `from` (a walk of every entry: members are in score order;
/// scores are skipped, not decoded): its byte range and rank.
/// `Some(None)` when absent, `None` when the bytes do not decode.
fn find_member(
    bytes: &[u8],
    from: usize,
    len: usize,
    member: &[u8],
) -> Option<Option<(usize, usize, usize)>> {
    let mut at = from;
    for rank in 0..len {
        let start = at;
        skip_score(bytes, &mut at)?;
        if element_eq(read_blob(bytes, &mut at)?, member) {
            return Some(Some((start, at, rank)));
        }
    }
    Some(None)
}

/// The byte where `(score, member)` goes among `len` packed sorted-set
/// entries from byte `from`.
fn scored_place(
    bytes: &[u8],
    from: usize,
    len: usize,
    score: Score,
    member: &[u8],
) -> Option<usize> {
    let mut at = from;
    for _ in 0..len {
        let start = at;
        let s = read_score(bytes, &mut at)?;
        let m = read_blob(bytes, &mut at)?;
        if scored_order((s, m), (score, member)) == Ordering::Greater {
            return Some(start);
        }
    }
    Some(at)
}

/// [`edit_packed_hash`] for a sorted set (`SortedAdd`, `SortedRemove`).
pub(crate) fn edit_packed_zset(bytes: &[u8], edit: &Edit, out: &mut Vec<u8>) -> Option<PackedEdit> {
    let (mut len, entries) = split(bytes);
    let from = bytes.len() - entries.len();
    out.clear();
    out.extend_from_slice(bytes);
    let (mut grew, mut shrank) = (0usize, 0usize);
    let (mut score_buf, mut len_buf) = ([0u8; 11], [0u8; 10]);
    match edit {
        Edit::SortedAdd(pairs) => {
            for (score, m) in pairs {
                if m.len() > PACK_MAX_ELEMENT {
                    return None;
                }
                let found = find_member(out, from, len, m)?;
                let old = found.and_then(|(start, _, _)| read_score(out, &mut { start }));
                match found {
                    Some(_) if old.is_some_and(|o| o.to_bits() == score.to_bits()) => continue,
                    Some((start, end, _)) => {
                        splice_bytes(out, start, end, &[]).then_some(())?;
                        len -= 1;
                    }
                    None => grew += m.len() + SCORED_OVERHEAD,
                }
                let at = scored_place(out, from, len, *score, m)?;
                let parts = [
                    encode_score(*score, &mut score_buf),
                    encode_varint(m.len(), &mut len_buf),
                    m.as_slice(),
                ];
                splice_bytes(out, at, at, &parts).then_some(())?;
                len += 1;
            }
        }
        Edit::SortedRemove(members) => {
            for m in members {
                if let Some((start, end, _)) = find_member(out, from, len, m)? {
                    splice_bytes(out, start, end, &[]).then_some(())?;
                    len -= 1;
                    shrank += m.len() + SCORED_OVERHEAD;
                }
            }
        }
        _ => return None,
    }
    if len > PACK_MAX_ENTRIES {
        return None;
    }
    set_count(out, len)?;
    Some(PackedEdit {
        grew,
        shrank,
        empty: len == 0,
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
            HashRef::Packed { len, entries } => match find_field(entries, 0, len, field)? {
                FieldAt::Found { value, .. } => read_blob(entries, &mut { value }),
                FieldAt::Absent(_) => None,
            },
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
            ZSetRef::Packed { len, entries } => {
                let (start, _, _) = find_member(entries, 0, len, member)??;
                read_score(entries, &mut { start })
            }
        }
    }

    /// [`SortedSet::rank`].
    pub fn rank(self, member: &[u8]) -> Option<usize> {
        match self {
            ZSetRef::Tree(z) => z.rank(member),
            ZSetRef::Packed { len, entries } => {
                find_member(entries, 0, len, member)?.map(|(_, _, rank)| rank)
            }
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
                let mut out = Vec::new();
                let packed_h = hash_packs(&h).then(|| edit_packed_hash(&pack_hash(&h), &hash_edit, &mut out)).flatten();
                let mut tree_h = crate::store::record::Value::Hash(h.clone());
                let (grew, shrank) = hash_edit.apply_to(&mut tree_h);
                let crate::store::record::Value::Hash(new_h) = tree_h else { unreachable!() };
                if hash_packs(&h) {
                    // In place, when it applies, makes the same bytes.
                    let mut bytes = pack_hash(&h);
                    if let Some(e) = overwrite_hash_values(&mut bytes, &hash_edit) {
                        prop_assert_eq!(&bytes, &pack_hash(&new_h));
                        prop_assert_eq!((e.grew, e.shrank, e.empty), (grew, shrank, new_h.is_empty()));
                    } else {
                        prop_assert_eq!(&bytes, &pack_hash(&h), "declined, yet changed");
                    }
                }
                match packed_h {
                    Some(e) => {
                        prop_assert!(hash_packs(&new_h));
                        prop_assert_eq!(HashRef::packed(&out).to_tree(), new_h.clone());
                        // The very bytes packing the tree gives.
                        prop_assert_eq!(&out, &pack_hash(&new_h));
                        prop_assert_eq!((e.grew, e.shrank, e.empty), (grew, shrank, new_h.is_empty()));
                    }
                    // Declined: the result does not pack, or the edit
                    // carried an element too long to pack (even one a later
                    // pair of it replaced); the caller then edits the tree,
                    // which the state packs again if it can.
                    None => prop_assert!(!hash_packs(&h) || !hash_packs(&new_h) || oversized),
                }
                let packed_z = zset_packs(&z).then(|| edit_packed_zset(&pack_zset(&z), &zset_edit, &mut out)).flatten();
                let mut tree_z = crate::store::record::Value::SortedSet(Box::new(z.clone()));
                let (grew, shrank) = zset_edit.apply_to(&mut tree_z);
                let crate::store::record::Value::SortedSet(new_z) = tree_z else { unreachable!() };
                match packed_z {
                    Some(e) => {
                        prop_assert!(zset_packs(&new_z));
                        prop_assert_eq!(ZSetRef::packed(&out), ZSetRef::Tree(&new_z));
                        prop_assert_eq!(&out, &pack_zset(&new_z));
                        prop_assert_eq!((e.grew, e.shrank, e.empty), (grew, shrank, new_z.is_empty()));
                    }
                    None => prop_assert!(!zset_packs(&z) || !zset_packs(&new_z) || oversized),
                }
                h = new_h;
                z = *new_z;
            }
        }
    }

    proptest! {
        #[test]
        fn element_order_is_byte_order(
            shared in prop::collection::vec(0u8..3, 0..30),
            a_tail in prop::collection::vec(0u8..3, 0..12),
            b_tail in prop::collection::vec(0u8..3, 0..12),
        ) {
            // A shared prefix of any length, then tails that differ (or not).
            let (a, b) = ([shared.as_slice(), &a_tail].concat(), [shared.as_slice(), &b_tail].concat());
            prop_assert_eq!(element_order(&a, &b), a.cmp(&b));
            prop_assert_eq!(element_eq(&a, &b), a == b);
            prop_assert_eq!(element_order(&a, &a), Ordering::Equal);
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
