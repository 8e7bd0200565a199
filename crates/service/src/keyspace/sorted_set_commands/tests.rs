//! The range selection against a line-by-line model of Redis 7.0's
//! small-set (listpack) code — `zzlFirstInLexRange`, `zzlLastInLexRange`,
//! `genericZrangebyscoreCommand`'s offset and limit loops — and the
//! commands' semantics on a transaction.

use super::super::Txn;
use super::*;
use proptest::prelude::*;
use reddb_storage::store::small_collection::pack_zset;
use reddb_storage::store::State;

fn z(items: &[(f64, &str)]) -> SortedSet {
    let mut z = SortedSet::new();
    for (s, m) in items {
        z.insert(m.as_bytes().to_vec(), Score::new(*s).unwrap());
    }
    z
}

fn members(v: &[Scored]) -> Vec<String> {
    v.iter()
        .map(|(m, _)| String::from_utf8_lossy(m).into_owned())
        .collect()
}

/// Redis's listpack walk of a score or lex range with `LIMIT`: find the
/// first member in range from the start (or the end), skip `offset`
/// members whatever they are, then answer while in range, `count` at most.
fn model_walk(
    all: &[(Score, &[u8])],
    reverse: bool,
    limit: Option<Limit>,
    first_ok: &dyn Fn(&[u8], f64) -> bool,
    keep_going: &dyn Fn(&[u8], f64) -> bool,
    start: Option<usize>,
) -> Vec<usize> {
    let Some(mut at) = start else {
        return Vec::new();
    };
    let (offset, mut count) = limit.map_or((0, -1), |l| (l.offset, l.count));
    if offset > 0 && offset >= all.len() as i64 {
        return Vec::new();
    }
    let get = |i: usize| all.get(i).map(|(s, m)| (*m, s.get()));
    let Some((m, s)) = get(at) else {
        return Vec::new();
    };
    if !first_ok(m, s) {
        return Vec::new();
    }
    let step = |i: usize| -> Option<usize> {
        if reverse {
            i.checked_sub(1)
        } else {
            Some(i + 1).filter(|&j| j < all.len())
        }
    };
    let mut offset = offset;
    let mut cur = Some(at);
    while offset != 0 {
        offset -= 1;
        cur = cur.and_then(step);
        if cur.is_none() {
            return Vec::new();
        }
    }
    let mut out = Vec::new();
    while let Some(i) = cur {
        if count == 0 {
            break;
        }
        count -= 1;
        let Some((m, s)) = get(i) else { break };
        if !keep_going(m, s) {
            break;
        }
        out.push(i);
        at = i;
        cur = step(at);
    }
    out
}

fn model_lex(
    all: &[(Score, &[u8])],
    r: &LexRange,
    reverse: bool,
    limit: Option<Limit>,
) -> Vec<usize> {
    let n = all.len();
    let in_range = n > 0
        && !r.is_empty()
        && all.last().is_some_and(|(_, m)| r.above_min(m))
        && all.first().is_some_and(|(_, m)| r.below_max(m));
    let start = if !in_range {
        None
    } else if reverse {
        (0..n).rev().find(|&i| r.below_max(all[i].1))
    } else {
        (0..n).find(|&i| r.above_min(all[i].1))
    };
    let first_ok = |m: &[u8], _: f64| {
        if reverse {
            r.above_min(m)
        } else {
            r.below_max(m)
        }
    };
    let keep_going = |m: &[u8], _: f64| {
        if reverse {
            r.above_min(m)
        } else {
            r.below_max(m)
        }
    };
    model_walk(all, reverse, limit, &first_ok, &keep_going, start)
}

fn model_score(
    all: &[(Score, &[u8])],
    r: &ScoreRange,
    reverse: bool,
    limit: Option<Limit>,
) -> Vec<usize> {
    let above = |s: f64| {
        if r.min.exclusive {
            s > r.min.value
        } else {
            s >= r.min.value
        }
    };
    let below = |s: f64| {
        if r.max.exclusive {
            s < r.max.value
        } else {
            s <= r.max.value
        }
    };
    let n = all.len();
    let start = if reverse {
        (0..n).rev().find(|&i| below(all[i].0.get()))
    } else {
        (0..n).find(|&i| above(all[i].0.get()))
    };
    let first_ok = |_: &[u8], s: f64| above(s) && below(s);
    let keep_going = |_: &[u8], s: f64| if reverse { above(s) } else { below(s) };
    model_walk(all, reverse, limit, &first_ok, &keep_going, start)
}

fn arb_lex_bound() -> impl Strategy<Value = LexBound> {
    let bytes = prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c']), 0..3);
    prop_oneof![
        Just(LexBound::Least),
        Just(LexBound::Greatest),
        bytes.clone().prop_map(LexBound::Inclusive),
        bytes.prop_map(LexBound::Exclusive),
    ]
}

fn arb_score_bound() -> impl Strategy<Value = ScoreBound> {
    let values = prop::sample::select(vec![
        f64::NEG_INFINITY,
        -1.0,
        0.0,
        0.5,
        1.0,
        2.0,
        f64::INFINITY,
    ]);
    (values, any::<bool>()).prop_map(|(value, exclusive)| ScoreBound { value, exclusive })
}

fn arb_limit() -> impl Strategy<Value = Option<Limit>> {
    prop::option::of((-2i64..6, -2i64..6).prop_map(|(offset, count)| Limit { offset, count }))
}

fn arb_set() -> impl Strategy<Value = SortedSet> {
    let member = prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c']), 0..3);
    let score = prop::sample::select(vec![0.0, 0.0, 0.0, 1.0, 0.5, -1.0, 2.0]);
    prop::collection::vec((score, member), 0..10).prop_map(|items| {
        let mut z = SortedSet::new();
        for (s, m) in items {
            z.insert(m, Score::new(s).unwrap());
        }
        z
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lex_ranges_walk_as_redis_small_sets_do(
        set in arb_set(),
        min in arb_lex_bound(),
        max in arb_lex_bound(),
        reverse in any::<bool>(),
        limit in arb_limit(),
    ) {
        let all: Vec<(Score, &[u8])> = set.iter().collect();
        let r = LexRange { min, max };
        let q = RangeQuery { by: RangeBy::Lex(r.clone()), reverse, limit };
        let packed = pack_zset(&set);
        // The tree and the packed form (what the state keeps of a small
        // sorted set) walk the same.
        for z in [ZSetRef::from(&set), ZSetRef::packed(&packed)] {
            let span = query_span(z, &q);
            let got: Vec<usize> = if reverse { span.rev().collect() } else { span.collect() };
            prop_assert_eq!(got, model_lex(&all, &r, reverse, limit));
            if limit.is_none() && !reverse {
                prop_assert_eq!(lex_span(z, &r, false).len(), model_lex(&all, &r, false, None).len());
            }
        }
    }

    #[test]
    fn score_ranges_walk_as_redis_does(
        set in arb_set(),
        min in arb_score_bound(),
        max in arb_score_bound(),
        reverse in any::<bool>(),
        limit in arb_limit(),
    ) {
        let all: Vec<(Score, &[u8])> = set.iter().collect();
        let r = ScoreRange { min, max };
        let q = RangeQuery { by: RangeBy::Score(r), reverse, limit };
        let packed = pack_zset(&set);
        for z in [ZSetRef::from(&set), ZSetRef::packed(&packed)] {
            let span = query_span(z, &q);
            let got: Vec<usize> = if reverse { span.rev().collect() } else { span.collect() };
            prop_assert_eq!(got, model_score(&all, &r, reverse, limit));
        }
    }
}

#[test]
fn ranks_clamp_as_redis_does() {
    let set = z(&[(1.0, "a"), (2.0, "b"), (3.0, "c")]);
    let q = |start, end, reverse| RangeQuery {
        by: RangeBy::Rank { start, end },
        reverse,
        limit: None,
    };
    let set = ZSetRef::from(&set);
    let names = |q: RangeQuery| members(&collect(set, query_span(set, &q), q.reverse));
    assert_eq!(names(q(0, -1, false)), ["a", "b", "c"]);
    assert_eq!(names(q(-2, 100, false)), ["b", "c"]);
    assert_eq!(names(q(0, 0, true)), ["c"]);
    assert_eq!(names(q(1, -1, true)), ["b", "a"]);
    assert!(names(q(2, 1, false)).is_empty());
    assert!(names(q(i64::MIN, i64::MIN, false)).is_empty());
    assert_eq!(names(q(i64::MIN, i64::MAX, false)), ["a", "b", "c"]);
}

#[test]
fn zadd_options_and_increments() {
    let state = State::default();
    let mut t = Txn::new(&state, 1);
    let opts = |cond, gt, lt, incr| ZaddOptions { cond, gt, lt, incr };
    let plain = opts(Condition::Always, false, false, false);
    let pairs = |v: &[(f64, &str)]| -> Vec<(f64, Vec<u8>)> {
        v.iter().map(|(s, m)| (*s, m.as_bytes().to_vec())).collect()
    };
    let added = t.zadd(b"z", plain, &pairs(&[(1.0, "a"), (2.0, "a"), (3.0, "b")]));
    assert_eq!(added.map(|o| (o.added, o.updated)), Ok((2, 1)));
    assert_eq!(t.zscore(b"z", b"a"), Ok(Some(2.0)));
    let xx_missing = t.zadd(
        b"none",
        opts(Condition::IfExists, false, false, false),
        &pairs(&[(1.0, "a")]),
    );
    assert_eq!(xx_missing.map(|o| o.added), Ok(0));
    assert_eq!(t.exists(b"none"), Ok(false));
    let gt = t.zadd(
        b"z",
        opts(Condition::Always, true, false, false),
        &pairs(&[(1.0, "a"), (5.0, "b")]),
    );
    assert_eq!(gt.map(|o| (o.added, o.updated)), Ok((0, 1)));
    let incr = opts(Condition::Always, false, false, true);
    assert_eq!(
        t.zadd(b"z", incr, &pairs(&[(f64::INFINITY, "a")]))
            .map(|o| o.score),
        Ok(Some(f64::INFINITY))
    );
    assert_eq!(
        t.zadd(b"z", incr, &pairs(&[(f64::NEG_INFINITY, "a")])),
        Err(KsError::ScoreNaN)
    );
    let new = t.zadd(b"z", incr, &pairs(&[(-0.0, "n")])).map(|o| o.score);
    assert_eq!(
        new.map(|s| s.map(f64::is_sign_negative)),
        Ok(Some(true)),
        "the answer keeps -0"
    );
    let kept = t.zscore(b"z", b"n");
    assert_eq!(
        kept.map(|s| s.map(f64::is_sign_negative)),
        Ok(Some(false)),
        "the set keeps 0"
    );
    t.set(b"s", b"v".to_vec(), super::super::SetOptions::default())
        .ok();
    assert_eq!(
        t.zadd(b"s", plain, &pairs(&[(1.0, "a")])),
        Err(KsError::WrongType)
    );
}

#[test]
fn removals_pops_and_stores() {
    let state = State::default();
    let mut t = Txn::new(&state, 1);
    let items: Vec<(f64, Vec<u8>)> = (0..10)
        .map(|i| (f64::from(i), format!("m{i}").into_bytes()))
        .collect();
    let plain = ZaddOptions {
        cond: Condition::Always,
        gt: false,
        lt: false,
        incr: false,
    };
    t.zadd(b"z", plain, &items).ok();
    assert_eq!(
        t.zpop(b"z", 2, false).map(|p| members(&p)),
        Ok(vec!["m0".into(), "m1".into()])
    );
    assert_eq!(
        t.zpop(b"z", 1, true).map(|p| members(&p)),
        Ok(vec!["m9".into()])
    );
    let by_score = RangeBy::Score(ScoreRange {
        min: ScoreBound {
            value: 3.0,
            exclusive: true,
        },
        max: ScoreBound {
            value: 5.0,
            exclusive: false,
        },
    });
    assert_eq!(t.zremrange(b"z", &by_score), Ok(2));
    assert_eq!(t.zcard(b"z"), Ok(5));
    assert_eq!(t.zrank(b"z", b"m6", false), Ok(Some(2)));
    assert_eq!(t.zrank(b"z", b"m6", true), Ok(Some(2)));
    let all = RangeQuery {
        by: RangeBy::Rank { start: 0, end: -1 },
        reverse: false,
        limit: None,
    };
    assert_eq!(t.zrangestore(b"copy", b"z", &all), Ok(5));
    assert_eq!(
        t.zrem(b"copy", &[b"m2".to_vec(), b"m2".to_vec(), b"x".to_vec()]),
        Ok(1)
    );
    let w = t.zset_store(
        ZsetOp::Union,
        b"u",
        &[b"z".to_vec(), b"copy".to_vec()],
        &[1.0, -1.0],
        Aggregate::Sum,
    );
    assert_eq!(w, Ok(5));
    assert_eq!(t.zscore(b"u", b"m2"), Ok(Some(2.0)));
    assert_eq!(t.zscore(b"u", b"m6"), Ok(Some(0.0)));
    assert_eq!(t.zintercard(&[b"z".to_vec(), b"copy".to_vec()], 2), Ok(2));
    assert_eq!(
        t.zset_store(
            ZsetOp::Inter,
            b"u",
            &[b"z".to_vec(), b"none".to_vec()],
            &[],
            Aggregate::Sum
        ),
        Ok(0)
    );
    assert_eq!(t.exists(b"u"), Ok(false));
    assert_eq!(
        t.zremrange(b"z", &RangeBy::Rank { start: 0, end: -1 }),
        Ok(5)
    );
    assert_eq!(t.exists(b"z"), Ok(false));
}

#[test]
fn zscan_pages_return_every_member_once() {
    let state = State::default();
    let mut t = Txn::new(&state, 1);
    let items: Vec<(f64, Vec<u8>)> = (0..300)
        .map(|i| (1.0, format!("m{i}").into_bytes()))
        .collect();
    let plain = ZaddOptions {
        cond: Condition::Always,
        gt: false,
        lt: false,
        incr: false,
    };
    t.zadd(b"small", plain, &items[..128]).ok();
    let whole = t
        .zscan(b"small", 0, 7, None)
        .map(|p| (p.cursor, p.members.len()));
    assert_eq!(whole, Ok((0, 128)), "a small set comes whole");
    let long_member = vec![(1.0, vec![b'x'; 65])];
    t.zadd(b"small", plain, &long_member).ok();
    t.zpop(b"small", 1, false).ok();
    let paged = t.zscan(b"small", 0, 7, None).map(|p| p.members.len());
    assert_eq!(paged, Ok(7), "a member over 64 bytes: paged");
    t.zadd(b"z", plain, &items).ok();
    let (mut cursor, mut seen) = (0, Vec::new());
    for _ in 0..1000 {
        let page = t.zscan(b"z", cursor, 7, None);
        let Ok(page) = page else { panic!("{page:?}") };
        assert!(page.members.len() <= 7);
        seen.extend(page.members.into_iter().map(|(m, _)| m));
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    seen.sort();
    let mut want: Vec<Vec<u8>> = items.into_iter().map(|(_, m)| m).collect();
    want.sort();
    assert_eq!(seen, want);
}

#[test]
fn zrandmember_draws_within_the_set() {
    let state = State::default();
    let mut t = Txn::new(&state, 1);
    let items: Vec<(f64, Vec<u8>)> = (0..20)
        .map(|i| (f64::from(i), format!("m{i}").into_bytes()))
        .collect();
    let plain = ZaddOptions {
        cond: Condition::Always,
        gt: false,
        lt: false,
        incr: false,
    };
    t.zadd(b"z", plain, &items).ok();
    let mut n = 7usize;
    let mut pick = |below: usize| {
        n = (n * 31 + 17) % 1000;
        n % below
    };
    for (count, repeat) in [(3, false), (15, false), (25, false), (30, true), (1, false)] {
        let got = t.zrandmember(b"z", count, repeat, &mut pick, 1 << 20);
        let Ok(Some(got)) = got else {
            panic!("{got:?}")
        };
        assert_eq!(got.len(), if repeat { count } else { count.min(20) });
        let unique: HashSet<&Vec<u8>> = got.iter().map(|(m, _)| m).collect();
        assert!(repeat || unique.len() == got.len(), "{count}");
        assert!(got.iter().all(|(m, s)| items.contains(&(*s, m.clone()))));
    }
    assert_eq!(
        t.zrandmember(b"z", usize::MAX, true, &mut pick, 1 << 20),
        Ok(None)
    );
}
