//! [`SortedSet`] against a naive model: a `Vec` of (score, member) kept
//! sorted, where every query is a linear scan.

use super::*;
use proptest::prelude::*;

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
    assert_eq!(z.rank(b"c"), Some(2));
    assert_eq!(z.get(0).map(|(_, m)| m.to_vec()), Some(b"a".to_vec()));
    assert_eq!(z.remove(b"a"), Some(score(1.0)));
    assert_eq!(z.remove(b"a"), None);
    assert_eq!(z.len(), 2);
}

#[test]
fn negative_zero_keeps_its_bits() {
    let mut z = SortedSet::new();
    z.insert(b"m".to_vec(), score(0.0));
    assert_eq!(z.insert(b"m".to_vec(), score(-0.0)), Some(score(0.0)));
    assert_eq!(z.score(b"m").unwrap().to_bits(), (-0.0f64).to_bits());
    assert_eq!(score(-0.0), score(0.0));
}

#[test]
fn a_large_set_stays_shallow_and_compacts() {
    let mut z = SortedSet::new();
    // Ascending inserts: the worst case of an unbalanced tree.
    for i in 0..20_000u32 {
        z.insert(format!("m{i:06}").into_bytes(), score(f64::from(i)));
    }
    assert!(depth(&z, z.root) < 100, "depth {}", depth(&z, z.root));
    assert_eq!(z.rank(b"m012345"), Some(12_345));
    for i in 0..19_990u32 {
        z.remove(format!("m{i:06}").as_bytes());
    }
    assert!(
        z.nodes.len() < 200,
        "arena of {} for 10 members",
        z.nodes.len()
    );
    let left: Vec<u32> = z.iter().map(|(s, _)| s.get() as u32).collect();
    assert_eq!(left, (19_990..20_000).collect::<Vec<_>>());
    for i in 19_990..20_000u32 {
        z.remove(format!("m{i:06}").as_bytes());
    }
    assert!(z.is_empty() && z.nodes.is_empty() && z.root == NIL);
}

fn depth(z: &SortedSet, at: u32) -> usize {
    z.node(at)
        .map_or(0, |n| 1 + depth(z, n.left).max(depth(z, n.right)))
}

/// The model: sorted by (score, member).
#[derive(Default)]
struct Model(Vec<(Score, Vec<u8>)>);

impl Model {
    fn insert(&mut self, member: Vec<u8>, s: Score) -> Option<Score> {
        let old = self.remove(&member);
        self.0.push((s, member));
        self.0
            .sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        old
    }

    fn remove(&mut self, member: &[u8]) -> Option<Score> {
        let at = self.0.iter().position(|(_, m)| m == member)?;
        Some(self.0.remove(at).0)
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, f64),
    Remove(Vec<u8>),
}

fn arb_member() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![b'a', b'b', b'c', 0u8, 0xff]),
        0..3,
    )
}

fn arb_score() -> impl Strategy<Value = f64> {
    prop::sample::select(vec![
        0.0,
        -0.0,
        1.0,
        1.5,
        -2.25,
        3e10,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
    ])
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (arb_member(), arb_score()).prop_map(|(m, s)| Op::Insert(m, s)),
        1 => arb_member().prop_map(Op::Remove),
    ]
}

/// Every query of `z` against the model.
fn check_queries(z: &SortedSet, model: &Model, bounds: &[(f64, bool)], lex: &[Vec<u8>]) {
    let all: Vec<(Score, &[u8])> = model.0.iter().map(|(s, m)| (*s, m.as_slice())).collect();
    assert_eq!(z.len(), all.len());
    assert_eq!(z.iter().collect::<Vec<_>>(), all);
    assert_eq!(z.iter().rev().collect::<Vec<_>>(), {
        let mut r = all.clone();
        r.reverse();
        r
    });
    for (rank, (s, m)) in all.iter().enumerate() {
        assert_eq!(z.rank(m), Some(rank));
        assert_eq!(z.score(m).map(Score::to_bits), Some(s.to_bits()));
        assert_eq!(z.get(rank), Some((*s, *m)));
    }
    assert_eq!(z.get(all.len()), None);
    let n = all.len();
    for a in 0..=n + 1 {
        for b in a..=n + 1 {
            let want: Vec<_> = all.get(a.min(n)..b.min(n)).unwrap_or_default().to_vec();
            assert_eq!(z.range(a..b).collect::<Vec<_>>(), want, "{a}..{b}");
            let mut back = want.clone();
            back.reverse();
            assert_eq!(z.range(a..b).rev().collect::<Vec<_>>(), back);
            // Both ends at once meet in the middle, never cross.
            let mut walk = z.range(a..b);
            let mut met = Vec::new();
            while let Some(x) = walk.next() {
                met.push(x);
                if let Some(y) = walk.next_back() {
                    met.push(y);
                }
            }
            assert_eq!(met.len(), want.len());
        }
    }
    for &(bound, or_equal) in bounds {
        let want = all
            .iter()
            .filter(|(s, _)| s.get() < bound || (or_equal && s.get() == bound))
            .count();
        assert_eq!(z.count_below(bound, or_equal), want, "{bound} {or_equal}");
    }
    // A score interval's members: the positions between two bounds.
    for &(min, min_exclusive) in bounds {
        for &(max, max_exclusive) in bounds {
            let inside = |s: f64| {
                (if min_exclusive { s > min } else { s >= min })
                    && (if max_exclusive { s < max } else { s <= max })
            };
            let want: Vec<_> = all
                .iter()
                .filter(|(s, _)| inside(s.get()))
                .copied()
                .collect();
            let start = z.count_below(min, min_exclusive);
            let end = z.count_below(max, !max_exclusive).max(start);
            assert_eq!(z.range(start..end).collect::<Vec<_>>(), want);
        }
    }
    for pivot in lex {
        let at_least = |m: &[u8]| m >= pivot.as_slice();
        let at_most = |m: &[u8]| m <= pivot.as_slice();
        for from in 0..=n {
            let want = (from..n).find(|&r| all.get(r).is_some_and(|(_, m)| at_least(m)));
            assert_eq!(
                z.first_rank_from(from, at_least),
                want,
                "{pivot:?} from {from}"
            );
            let want = (0..=from.min(n.saturating_sub(1)))
                .rev()
                .find(|&r| all.get(r).is_some_and(|(_, m)| at_most(m)));
            let got = if n == 0 {
                None
            } else {
                z.last_rank_until(from, at_most)
            };
            assert_eq!(got, want, "{pivot:?} until {from}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_a_sorted_vec(
        ops in prop::collection::vec(arb_op(), 0..60),
        bounds in prop::collection::vec((arb_score(), any::<bool>()), 0..6),
        lex in prop::collection::vec(arb_member(), 0..4),
    ) {
        let mut z = SortedSet::new();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Insert(m, s) => {
                    let got = z.insert(m.clone(), score(s)).map(Score::to_bits);
                    prop_assert_eq!(got, model.insert(m, score(s)).map(Score::to_bits));
                }
                Op::Remove(m) => {
                    prop_assert_eq!(z.remove(&m), model.remove(&m));
                }
            }
        }
        check_queries(&z, &model, &bounds, &lex);
        let copy = z.clone();
        prop_assert!(copy == z);
    }
}
