//! Sorted sets over real sockets: a 100,000-member set built one `ZADD`
//! at a time (each logged as the one member it adds, so building it is
//! linear) answers ranks, ranges and counts like a sorted model, and keeps
//! doing so across a restart (replay of the element edits), a `SAVE`
//! (compaction into a snapshot) and edits after it; a sliding-window rate
//! limiter as services write it (`ZREMRANGEBYSCORE` + `ZADD` + `ZCARD` in
//! `MULTI`/`EXEC`); and RESP3's doubles and nested pairs.

mod harness;

use harness::daemon::Daemon;
use harness::wire::*;
use std::time::Instant;

const MEMBERS: usize = 100_000;
/// Commands sent before their replies are read.
const PIPELINE: usize = 1_000;

fn member(i: usize) -> String {
    format!("member:{i:06}")
}

/// Scores out of insertion order, with ties (so members order them),
/// negatives and fractions.
fn score(i: usize) -> f64 {
    let spread = (i * 7919) % 20_011;
    (spread as f64 - 10_000.0) / 4.0
}

/// The set as (score, member), sorted as Redis orders it.
fn model(members: impl Iterator<Item = usize>) -> Vec<(f64, String)> {
    let mut all: Vec<(f64, String)> = members.map(|i| (score(i), member(i))).collect();
    sort(&mut all);
    all
}

fn sort(all: &mut [(f64, String)]) {
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
}

/// Sends `commands` in one write and reads their replies.
fn pipeline(c: &mut Client, commands: &[Vec<String>]) -> Vec<Value> {
    let mut bytes = Vec::new();
    for command in commands {
        bytes.extend(encode_command(command));
    }
    c.send(&bytes).expect("send a pipeline");
    (0..commands.len())
        .map(|i| {
            c.read()
                .unwrap_or_else(|e| panic!("reply {i}: {e}"))
                .unwrap_or_else(|| panic!("closed before reply {i}"))
        })
        .collect()
}

/// A score's text: the shortest that reads back exactly, which for these
/// scores (quarters, below 2^20) is also what Redis prints (`%.17g`).
fn printed(v: f64) -> String {
    format!("{v}")
}

/// Checks ranks, ranges, counts and scores of `key` against `want`.
fn check_against(c: &mut Client, key: &str, want: &[(f64, String)]) {
    let n = want.len();
    assert_eq!(c.cmd(&["ZCARD", key]), int(n as i64));
    for rank in [0, 1, n / 3, n / 2, n - 2, n - 1] {
        let (s, m) = &want[rank];
        assert_eq!(c.cmd(&["ZRANK", key, m]), int(rank as i64), "ZRANK {m}");
        let rev = (n - 1 - rank) as i64;
        assert_eq!(c.cmd(&["ZREVRANK", key, m]), int(rev), "ZREVRANK {m}");
        let got = c.cmd(&["ZSCORE", key, m]);
        let got: f64 = text(&got).parse().expect("a score");
        assert_eq!(got, *s, "ZSCORE {m}");
    }
    let from = n / 2;
    let got = c.cmd(&["ZRANGE", key, &from.to_string(), &(from + 4).to_string()]);
    let expect: Vec<&str> = want[from..from + 5]
        .iter()
        .map(|(_, m)| m.as_str())
        .collect();
    assert_eq!(got, bulks(&expect), "ZRANGE by rank in the middle");
    let got = c.cmd(&["ZREVRANGE", key, "0", "2"]);
    let expect: Vec<&str> = want[n - 3..]
        .iter()
        .rev()
        .map(|(_, m)| m.as_str())
        .collect();
    assert_eq!(got, bulks(&expect), "ZREVRANGE");
    // A score interval, one end exclusive, with LIMIT.
    let (lo, hi) = (-100.25, 300.5);
    let inside: Vec<&(f64, String)> = want.iter().filter(|(s, _)| *s > lo && *s <= hi).collect();
    let got = c.cmd(&["ZCOUNT", key, &format!("({lo}"), &hi.to_string()]);
    assert_eq!(got, int(inside.len() as i64), "ZCOUNT");
    let got = c.cmd(&[
        "ZRANGEBYSCORE",
        key,
        &format!("({lo}"),
        &hi.to_string(),
        "LIMIT",
        "10",
        "3",
    ]);
    let expect: Vec<&str> = inside[10..13].iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(got, bulks(&expect), "ZRANGEBYSCORE LIMIT");
}

#[test]
fn a_hundred_thousand_members_added_one_at_a_time_survive_restart_and_save() {
    let dir = harness::tmp();
    let mut s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    let started = Instant::now();
    // Bounded in count (100 pipelines) and in time (each reply is read
    // under the harness's socket timeout); how long it took is only shown.
    for batch in 0..MEMBERS / PIPELINE {
        let commands: Vec<Vec<String>> = (batch * PIPELINE..(batch + 1) * PIPELINE)
            .map(|i| vec!["ZADD".into(), "big".into(), printed(score(i)), member(i)])
            .collect();
        for (i, reply) in pipeline(&mut c, &commands).into_iter().enumerate() {
            assert_eq!(reply, int(1), "ZADD {}", batch * PIPELINE + i);
        }
    }
    eprintln!("{MEMBERS} ZADDs in {:?}", started.elapsed());
    // Each ZADD logged its member, not the whole set: the log is a few
    // dozen bytes an add (whole values would be gigabytes).
    let log_bytes = std::fs::metadata(&s.db).expect("the data file").len();
    assert!(log_bytes < 64 << 20, "log of {log_bytes} bytes");
    let mut want = model(0..MEMBERS);
    check_against(&mut c, "big", &want);

    s.restart();
    let mut c = s.authed();
    check_against(&mut c, "big", &want);

    assert_eq!(c.cmd(&["SAVE"]), ok());
    // Edits after the snapshot: pops, removals, an increment, a range.
    let popped = c.cmd(&["ZPOPMIN", "big", "3"]);
    assert_eq!(items_len(&popped), 6, "three member/score pairs");
    want.drain(..3);
    let gone = want[1000].1.clone();
    assert_eq!(c.cmd(&["ZREM", "big", &gone, "not-a-member"]), int(1));
    want.remove(1000);
    let moved = want[5].1.clone();
    assert_eq!(
        c.cmd(&["ZINCRBY", "big", "100000", &moved]),
        bulk(&printed(want[5].0 + 100_000.0))
    );
    want[5].0 += 100_000.0;
    sort(&mut want);
    let removed = c.cmd(&["ZREMRANGEBYSCORE", "big", "(0", "10"]);
    let before = want.len();
    want.retain(|(s, _)| !(*s > 0.0 && *s <= 10.0));
    assert_eq!(removed, int((before - want.len()) as i64));
    s.restart();
    let mut c = s.authed();
    check_against(&mut c, "big", &want);
    assert_eq!(
        c.cmd(&["ZRANGE", "big", "-1", "-1"]),
        bulks(&[moved.as_str()]),
        "the increment moved it last"
    );
}

fn items_len(v: &Value) -> usize {
    match v {
        Value::Array(a) => a.len(),
        other => panic!("expected an array, got {other:?}"),
    }
}

#[test]
fn sliding_window_rate_limiter_in_multi_exec() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    // One request every 100 ms of a synthetic clock; a 1 s window; a
    // limit of 8 requests per window.
    let (window, limit) = (1_000u64, 8usize);
    let mut seen: Vec<u64> = Vec::new();
    for step in 0..40u64 {
        let now = 50_000 + step * 100;
        assert_eq!(c.cmd(&["MULTI"]), ok());
        let queued = [
            vec![
                "ZREMRANGEBYSCORE".to_string(),
                "rate:client-1".into(),
                "-inf".into(),
                format!("({}", now - window),
            ],
            vec![
                "ZADD".into(),
                "rate:client-1".into(),
                now.to_string(),
                format!("req-{step}"),
            ],
            vec!["ZCARD".into(), "rate:client-1".into()],
            vec!["PEXPIRE".into(), "rate:client-1".into(), window.to_string()],
        ];
        for q in &queued {
            assert_eq!(c.cmd(q), simple("QUEUED"));
        }
        let before = seen.len();
        seen.retain(|t| *t >= now - window);
        let expired = before - seen.len();
        seen.push(now);
        let reply = c.cmd(&["EXEC"]);
        assert_eq!(
            reply,
            arr(vec![
                int(expired as i64),
                int(1),
                int(seen.len() as i64),
                int(1)
            ]),
            "step {step}"
        );
        let allowed = seen.len() <= limit;
        assert_eq!(allowed, step < limit as u64, "step {step}");
    }
    // The window holds the last 11 requests (both ends inclusive).
    let left = c.cmd(&["ZRANGE", "rate:client-1", "0", "-1"]);
    let expect: Vec<String> = (29..40).map(|i| format!("req-{i}")).collect();
    let expect: Vec<&str> = expect.iter().map(String::as_str).collect();
    assert_eq!(left, bulks(&expect));
    let ttl = c.cmd(&["PTTL", "rate:client-1"]);
    assert!(
        matches!(ttl, Value::Integer(ms) if ms > 0 && ms <= 1_000),
        "{ttl:?}"
    );
}

#[test]
fn resp3_answers_scores_as_doubles() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    assert!(matches!(c.cmd(&["HELLO", "3"]), Value::Map(_)));
    assert_eq!(
        c.cmd(&["ZADD", "z", "1.1", "a", "inf", "b", "-2", "c"]),
        int(3)
    );
    let double = |t: &str| Value::Double(t.as_bytes().to_vec());
    assert_eq!(c.cmd(&["ZSCORE", "z", "a"]), double("1.1000000000000001"));
    assert_eq!(c.cmd(&["ZSCORE", "z", "none"]), Value::Null);
    assert_eq!(
        c.cmd(&["ZMSCORE", "z", "b", "none"]),
        arr(vec![double("inf"), Value::Null])
    );
    assert_eq!(
        c.cmd(&["ZRANGE", "z", "0", "1", "WITHSCORES"]),
        arr(vec![
            arr(vec![bulk("c"), double("-2")]),
            arr(vec![bulk("a"), double("1.1000000000000001")]),
        ])
    );
    assert_eq!(c.cmd(&["ZINCRBY", "z", "0.5", "c"]), double("-1.5"));
    assert_eq!(
        c.cmd(&["ZPOPMAX", "z"]),
        arr(vec![bulk("b"), double("inf")]),
        "without a count: one flat pair"
    );
    assert_eq!(
        c.cmd(&["ZPOPMIN", "z", "1"]),
        arr(vec![arr(vec![bulk("c"), double("-1.5")])]),
        "with a count: nested pairs"
    );
    // ZSCAN's scores are bulk strings in RESP3 too.
    assert_eq!(
        c.cmd(&["ZSCAN", "z", "0"]),
        arr(vec![bulk("0"), bulks(&["a", "1.1000000000000001"])])
    );
    assert_eq!(
        c.cmd(&["ZRANDMEMBER", "z", "1", "WITHSCORES"]),
        arr(vec![arr(vec![bulk("a"), double("1.1000000000000001")])])
    );
}
