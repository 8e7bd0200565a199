//! The sorted-set value: members with a floating-point score, ordered by
//! (score, member bytes) as Redis orders them.
//!
//! [`Score`] is an `f64` that is never NaN, so its order is total; `-0.0`
//! and `0.0` compare equal (as in Redis) but keep their bits, so a stored
//! score reads back exactly as it was written.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

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

/// Members and their scores, with the (score, member) order kept.
#[derive(Debug, Clone, Default)]
pub struct SortedSet {
    scores: HashMap<Vec<u8>, Score>,
    order: BTreeSet<(Score, Vec<u8>)>,
}

impl PartialEq for SortedSet {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}

impl Eq for SortedSet {}

impl SortedSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn score(&self, member: &[u8]) -> Option<Score> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score; the previous score if it was present.
    pub fn insert(&mut self, member: Vec<u8>, score: Score) -> Option<Score> {
        let old = self.scores.insert(member.clone(), score);
        if let Some(old) = old {
            self.order.remove(&(old, member.clone()));
        }
        self.order.insert((score, member));
        old
    }

    /// Removes `member`; its score if it was present.
    pub fn remove(&mut self, member: &[u8]) -> Option<Score> {
        let old = self.scores.remove(member)?;
        self.order.remove(&(old, member.to_vec()));
        Some(old)
    }

    /// Members in (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (Score, &[u8])> {
        self.order.iter().map(|(s, m)| (*s, m.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(v: f64) -> Score {
        Score::new(v).unwrap()
    }

    #[test]
    fn nan_is_not_a_score() {
        assert!(Score::new(f64::NAN).is_none());
        assert!(Score::from_bits(f64::NAN.to_bits()).is_none());
        assert!(Score::new(f64::INFINITY).is_some());
    }

    #[test]
    fn orders_by_score_then_member() {
        let mut z = SortedSet::new();
        z.insert(b"b".to_vec(), score(1.0));
        z.insert(b"a".to_vec(), score(1.0));
        z.insert(b"c".to_vec(), score(-0.5));
        assert_eq!(z.insert(b"c".to_vec(), score(2.0)), Some(score(-0.5)));
        let order: Vec<&[u8]> = z.iter().map(|(_, m)| m).collect();
        assert_eq!(order, vec![&b"a"[..], b"b", b"c"]);
        assert_eq!(z.remove(b"a"), Some(score(1.0)));
        assert_eq!(z.remove(b"a"), None);
        assert_eq!(z.len(), 2);
    }

    #[test]
    fn negative_zero_keeps_its_bits() {
        let mut z = SortedSet::new();
        z.insert(b"m".to_vec(), score(-0.0));
        assert_eq!(z.score(b"m").unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(score(-0.0), score(0.0));
    }
}
