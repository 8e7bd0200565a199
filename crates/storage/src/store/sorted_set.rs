//! The sorted-set value: members with a floating-point score, ordered by
//! (score, member bytes) as Redis orders them, with the order statistics
//! the sorted-set commands need in O(log n).
//!
//! [`Score`] is an `f64` that is never NaN, so its order is total; `-0.0`
//! and `0.0` compare equal (as in Redis) but keep their bits, so a stored
//! score reads back exactly as it was written.
//!
//! [`SortedSet`] is a treap (a binary search tree kept balanced by random
//! node priorities) in an arena of nodes linked by index, plus a hash map
//! from member to node. Each node knows its subtree's size, so a rank, the
//! member at a rank and a score bound's position are one descent; and the
//! least and greatest member bytes of its subtree, so the first member at
//! or after a rank that passes a byte-order test (Redis's lexicographic
//! ranges) is one descent too. Priorities come from a generator seeded per
//! process, so no client can choose members that unbalance the tree.

use std::cmp::Ordering;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// A sorted-set score: any `f64` but NaN (infinities are allowed).
#[derive(Debug, Clone, Copy)]
pub struct Score(f64);

impl Score {
    /// `None` for NaN.
    pub fn new(v: f64) -> Option<Self> {
        (!v.is_nan()).then_some(Self(v))
    }

    pub fn get(self) -> f64 {
        self.0
    }

    pub fn to_bits(self) -> u64 {
        self.0.to_bits()
    }

    /// `None` when the bits are a NaN.
    pub fn from_bits(bits: u64) -> Option<Self> {
        Self::new(f64::from_bits(bits))
    }
}

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        // Never NaN (see `new`), so `partial_cmp` always answers.
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// No node (an empty subtree).
const NIL: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Node {
    member: Vec<u8>,
    score: Score,
    left: u32,
    right: u32,
    /// Nodes in the subtree rooted here.
    size: u32,
    priority: u64,
    /// The nodes holding the least and the greatest member bytes of the
    /// subtree.
    least: u32,
    greatest: u32,
}

/// Members and their scores, with the (score, member) order kept.
#[derive(Debug, Clone)]
pub struct SortedSet {
    /// The arena; slots listed in `free` hold no member.
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    by_member: HashMap<Vec<u8>, u32>,
    /// The priority generator's state (xorshift64).
    seed: u64,
}

impl Default for SortedSet {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            by_member: HashMap::new(),
            seed: RandomState::new().hash_one(0x5eed_u64) | 1,
        }
    }
}

impl PartialEq for SortedSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for SortedSet {}

impl SortedSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.by_member.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_member.is_empty()
    }

    pub fn score(&self, member: &[u8]) -> Option<Score> {
        let id = *self.by_member.get(member)?;
        self.node(id).map(|n| n.score)
    }

    /// Sets `member`'s score; the previous score if it was present.
    /// O(log n).
    pub fn insert(&mut self, member: Vec<u8>, score: Score) -> Option<Score> {
        if let Some(&id) = self.by_member.get(&member) {
            let old = self.node(id)?.score;
            if old.to_bits() == score.to_bits() {
                return Some(old);
            }
            self.root = self.detach(self.root, id);
            if let Some(n) = self.nodes.get_mut(id as usize) {
                n.score = score;
                n.left = NIL;
                n.right = NIL;
            }
            self.update(id);
            self.root = self.attach(self.root, id);
            return Some(old);
        }
        let id = self.allocate(member.clone(), score);
        self.by_member.insert(member, id);
        self.root = self.attach(self.root, id);
        None
    }

    /// Removes `member`; its score if it was present. O(log n).
    pub fn remove(&mut self, member: &[u8]) -> Option<Score> {
        let id = self.by_member.remove(member)?;
        self.root = self.detach(self.root, id);
        let node = self.nodes.get_mut(id as usize)?;
        let score = node.score;
        node.member = Vec::new();
        self.free.push(id);
        if self.by_member.is_empty()
            || (self.free.len() > 64 && self.free.len() > self.by_member.len())
        {
            self.compact();
        }
        Some(score)
    }

    /// Rebuilds the arena without its free slots (after many removals).
    /// O(n log n), once per as many removals as members are left.
    fn compact(&mut self) {
        let mut nodes = std::mem::take(&mut self.nodes);
        let live: Vec<u32> = self.by_member.values().copied().collect();
        self.free.clear();
        self.root = NIL;
        self.by_member.clear();
        for id in live {
            if let Some(n) = nodes.get_mut(id as usize) {
                let member = std::mem::take(&mut n.member);
                self.insert(member, n.score);
            }
        }
    }

    /// The 0-based position of `member` in (score, member) order.
    /// O(log n).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let target = *self.by_member.get(member)?;
        let mut rank = 0usize;
        let mut at = self.root;
        while let Some(n) = self.node(at) {
            match self.compare(target, at) {
                Ordering::Less => at = n.left,
                Ordering::Equal => return Some(rank + self.size(n.left)),
                Ordering::Greater => {
                    rank += self.size(n.left) + 1;
                    at = n.right;
                }
            }
        }
        None
    }

    /// The member at position `rank`. O(log n).
    pub fn get(&self, rank: usize) -> Option<(Score, &[u8])> {
        let n = self.node(self.select(rank)?)?;
        Some((n.score, n.member.as_slice()))
    }

    /// How many members score below `score` (`or_equal`: at or below it).
    /// With it, a score interval's positions are one subtraction. O(log n).
    pub fn count_below(&self, score: f64, or_equal: bool) -> usize {
        let mut count = 0usize;
        let mut at = self.root;
        while let Some(n) = self.node(at) {
            let s = n.score.get();
            if s < score || (or_equal && s == score) {
                count += self.size(n.left) + 1;
                at = n.right;
            } else {
                at = n.left;
            }
        }
        count
    }

    /// The first position at or after `from` whose member passes
    /// `wanted`, a test that, once true for some bytes, is true for every
    /// greater bytes (such as "at least `min`"); members need not be in
    /// byte order (the set is ordered by score first). O(log n).
    pub fn first_rank_from(&self, from: usize, wanted: impl Fn(&[u8]) -> bool) -> Option<usize> {
        self.first_in(self.root, 0, from, &wanted)
    }

    /// The last position at or before `until` whose member passes
    /// `wanted`, a test that, once true for some bytes, is true for every
    /// smaller bytes (such as "at most `max`"). O(log n).
    pub fn last_rank_until(&self, until: usize, wanted: impl Fn(&[u8]) -> bool) -> Option<usize> {
        self.last_in(self.root, 0, until, &wanted)
    }

    /// Members at positions `ranks`, in order (`.rev()` walks back).
    /// O(log n) to start, then O(1) a member (amortized).
    pub fn range(&self, ranks: std::ops::Range<usize>) -> Ranked<'_> {
        let end = ranks.end.min(self.len());
        let start = ranks.start.min(end);
        let mut walk = Ranked {
            set: self,
            front: Vec::new(),
            back: Vec::new(),
            remaining: end - start,
        };
        if start < end {
            walk.descend_front(start);
            walk.descend_back(end - 1);
        }
        walk
    }

    /// Members in (score, member) order.
    pub fn iter(&self) -> Ranked<'_> {
        self.range(0..self.len())
    }

    fn node(&self, id: u32) -> Option<&Node> {
        self.nodes.get(id as usize)
    }

    fn size(&self, id: u32) -> usize {
        self.node(id).map_or(0, |n| n.size as usize)
    }

    fn member(&self, id: u32) -> &[u8] {
        self.node(id).map_or(&[], |n| n.member.as_slice())
    }

    /// (score, member) order of two nodes.
    fn compare(&self, a: u32, b: u32) -> Ordering {
        match (self.node(a), self.node(b)) {
            (Some(a), Some(b)) => a.score.cmp(&b.score).then_with(|| a.member.cmp(&b.member)),
            _ => Ordering::Equal,
        }
    }

    fn next_priority(&mut self) -> u64 {
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed = x;
        x
    }

    fn allocate(&mut self, member: Vec<u8>, score: Score) -> u32 {
        let priority = self.next_priority();
        let id = self
            .free
            .pop()
            .unwrap_or_else(|| u32::try_from(self.nodes.len()).unwrap_or(NIL));
        let node = Node {
            member,
            score,
            left: NIL,
            right: NIL,
            size: 1,
            priority,
            least: id,
            greatest: id,
        };
        match self.nodes.get_mut(id as usize) {
            Some(slot) => *slot = node,
            None => self.nodes.push(node),
        }
        id
    }

    /// Recomputes `id`'s size and member bounds from its children.
    fn update(&mut self, id: u32) {
        let Some(n) = self.node(id) else { return };
        let (left, right) = (n.left, n.right);
        let size = 1 + self.size(left) + self.size(right);
        let (mut least, mut greatest) = (id, id);
        for child in [left, right] {
            if let Some(c) = self.node(child) {
                if self.member(c.least) < self.member(least) {
                    least = c.least;
                }
                if self.member(c.greatest) > self.member(greatest) {
                    greatest = c.greatest;
                }
            }
        }
        if let Some(n) = self.nodes.get_mut(id as usize) {
            n.size = u32::try_from(size).unwrap_or(u32::MAX);
            n.least = least;
            n.greatest = greatest;
        }
    }

    fn children(&self, id: u32) -> (u32, u32) {
        self.node(id).map_or((NIL, NIL), |n| (n.left, n.right))
    }

    fn set_children(&mut self, id: u32, left: u32, right: u32) {
        if let Some(n) = self.nodes.get_mut(id as usize) {
            n.left = left;
            n.right = right;
        }
        self.update(id);
    }

    fn priority(&self, id: u32) -> u64 {
        self.node(id).map_or(0, |n| n.priority)
    }

    /// Adds the lone node `id` to the subtree `at`; the new subtree root.
    fn attach(&mut self, at: u32, id: u32) -> u32 {
        if at == NIL {
            return id;
        }
        if self.priority(id) > self.priority(at) {
            let (left, right) = self.split(at, id);
            self.set_children(id, left, right);
            return id;
        }
        let (left, right) = self.children(at);
        if self.compare(id, at) == Ordering::Less {
            let left = self.attach(left, id);
            self.set_children(at, left, right);
        } else {
            let right = self.attach(right, id);
            self.set_children(at, left, right);
        }
        at
    }

    /// Splits the subtree `at` into the nodes ordered before node `pivot`
    /// and the rest.
    fn split(&mut self, at: u32, pivot: u32) -> (u32, u32) {
        if at == NIL {
            return (NIL, NIL);
        }
        let (left, right) = self.children(at);
        if self.compare(at, pivot) == Ordering::Less {
            let (mid, rest) = self.split(right, pivot);
            self.set_children(at, left, mid);
            (at, rest)
        } else {
            let (before, mid) = self.split(left, pivot);
            self.set_children(at, mid, right);
            (before, at)
        }
    }

    /// Joins two subtrees, every node of `a` ordered before every node of
    /// `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.priority(a) > self.priority(b) {
            let (left, right) = self.children(a);
            let right = self.merge(right, b);
            self.set_children(a, left, right);
            a
        } else {
            let (left, right) = self.children(b);
            let left = self.merge(a, left);
            self.set_children(b, left, right);
            b
        }
    }

    /// Takes node `id` out of the subtree `at`; the new subtree root.
    fn detach(&mut self, at: u32, id: u32) -> u32 {
        if at == NIL {
            return NIL;
        }
        let (left, right) = self.children(at);
        if at == id {
            return self.merge(left, right);
        }
        if self.compare(id, at) == Ordering::Less {
            let left = self.detach(left, id);
            self.set_children(at, left, right);
        } else {
            let right = self.detach(right, id);
            self.set_children(at, left, right);
        }
        at
    }

    /// The node at position `rank`.
    fn select(&self, mut rank: usize) -> Option<u32> {
        let mut at = self.root;
        while let Some(n) = self.node(at) {
            let left = self.size(n.left);
            match rank.cmp(&left) {
                Ordering::Less => at = n.left,
                Ordering::Equal => return Some(at),
                Ordering::Greater => {
                    rank -= left + 1;
                    at = n.right;
                }
            }
        }
        None
    }

    /// [`SortedSet::first_rank_from`] within the subtree `at`, whose first
    /// position is `base`.
    fn first_in(
        &self,
        at: u32,
        base: usize,
        from: usize,
        wanted: &dyn Fn(&[u8]) -> bool,
    ) -> Option<usize> {
        let n = self.node(at)?;
        if base + (n.size as usize) <= from || !wanted(self.member(n.greatest)) {
            return None;
        }
        if let Some(found) = self.first_in(n.left, base, from, wanted) {
            return Some(found);
        }
        let here = base + self.size(n.left);
        if here >= from && wanted(&n.member) {
            return Some(here);
        }
        self.first_in(n.right, here + 1, from, wanted)
    }

    /// [`SortedSet::last_rank_until`] within the subtree `at`, whose first
    /// position is `base`.
    fn last_in(
        &self,
        at: u32,
        base: usize,
        until: usize,
        wanted: &dyn Fn(&[u8]) -> bool,
    ) -> Option<usize> {
        let n = self.node(at)?;
        if base > until || !wanted(self.member(n.least)) {
            return None;
        }
        let here = base + self.size(n.left);
        if let Some(found) = self.last_in(n.right, here + 1, until, wanted) {
            return Some(found);
        }
        if here <= until && wanted(&n.member) {
            return Some(here);
        }
        self.last_in(n.left, base, until, wanted)
    }
}

/// Members of a position range in order, from either end.
#[derive(Debug, Clone)]
pub struct Ranked<'a> {
    set: &'a SortedSet,
    /// The next member forward is the top; below it, the ancestors whose
    /// turn comes after their left subtree.
    front: Vec<u32>,
    /// The mirror image for walking back.
    back: Vec<u32>,
    remaining: usize,
}

impl Ranked<'_> {
    /// Stacks the path to position `rank` for walking forward.
    fn descend_front(&mut self, mut rank: usize) {
        let mut at = self.set.root;
        while let Some(n) = self.set.node(at) {
            let left = self.set.size(n.left);
            match rank.cmp(&left) {
                Ordering::Less => {
                    self.front.push(at);
                    at = n.left;
                }
                Ordering::Equal => {
                    self.front.push(at);
                    return;
                }
                Ordering::Greater => {
                    rank -= left + 1;
                    at = n.right;
                }
            }
        }
    }

    /// Stacks the path to position `rank` for walking back.
    fn descend_back(&mut self, mut rank: usize) {
        let mut at = self.set.root;
        while let Some(n) = self.set.node(at) {
            let left = self.set.size(n.left);
            match rank.cmp(&left) {
                Ordering::Less => at = n.left,
                Ordering::Equal => {
                    self.back.push(at);
                    return;
                }
                Ordering::Greater => {
                    self.back.push(at);
                    rank -= left + 1;
                    at = n.right;
                }
            }
        }
    }
}

impl<'a> Iterator for Ranked<'a> {
    type Item = (Score, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let set = self.set;
        let n = set.node(self.front.pop()?)?;
        let mut at = n.right;
        while let Some(child) = set.node(at) {
            self.front.push(at);
            at = child.left;
        }
        self.remaining -= 1;
        Some((n.score, n.member.as_slice()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Ranked<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let set = self.set;
        let n = set.node(self.back.pop()?)?;
        let mut at = n.left;
        while let Some(child) = set.node(at) {
            self.back.push(at);
            at = child.right;
        }
        self.remaining -= 1;
        Some((n.score, n.member.as_slice()))
    }
}

impl ExactSizeIterator for Ranked<'_> {}

#[cfg(test)]
mod tests;
