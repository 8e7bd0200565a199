//! Commit-log frames: `record::decode_frame` and `record::decode_body` on
//! raw bytes, plus two round-trip properties:
//!
//! 1. whenever the raw input decodes as a frame, `encode_frame` of that
//!    frame decodes back to the same frame, using all of its bytes;
//! 2. structure-aware: the same input, read through `arbitrary` as a frame
//!    (kind, commit_seq, mutations), is encoded, must decode to exactly
//!    that frame, and every strict prefix of the encoding must read as
//!    "incomplete" (`Ok(None)`), never as an error or a shorter frame.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use reddb::store::edit::Edit;
use reddb::store::record::{
    self, Frame, FrameKind, Mutation, Namespace, Value, FRAME_HEADER_LEN,
};
use reddb::store::sorted_set::{Score, SortedSet};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Arbitrary, Debug)]
enum ArbValue {
    Bytes(Vec<u8>),
    Set(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    List(Vec<Vec<u8>>),
    /// Score bits (a NaN becomes 0).
    SortedSet(Vec<(u64, Vec<u8>)>),
}

#[derive(Arbitrary, Debug)]
enum ArbEdit {
    SetAdd(Vec<Vec<u8>>),
    SetRemove(Vec<Vec<u8>>),
    HashPut(Vec<(Vec<u8>, Vec<u8>)>),
    HashRemove(Vec<Vec<u8>>),
    ListPush { front: bool, items: Vec<Vec<u8>> },
    ListPop { front: bool, count: u32 },
    ListSet { index: u32, item: Vec<u8> },
    ListTrim { start: u32, len: u32 },
    SortedAdd(Vec<(u64, Vec<u8>)>),
    SortedRemove(Vec<Vec<u8>>),
    Expire(u64),
    ListRotate { from_front: bool },
}

#[derive(Arbitrary, Debug)]
enum ArbMutation {
    Put { ns: u8, key: Vec<u8>, value: ArbValue, expires_at_ms: u64 },
    Delete { ns: u8, key: Vec<u8> },
    Clear { ns: u8 },
    Edit { ns: u8, key: Vec<u8>, edit: ArbEdit },
    Swap { a: u8, b: u8 },
}

fn score(bits: u64) -> Score {
    Score::from_bits(bits).unwrap_or_else(|| Score::from_bits(0).unwrap())
}

fn keyspace(v: u8) -> Namespace {
    Namespace::KEYSPACES[usize::from(v) % Namespace::KEYSPACES.len()]
}

impl ArbEdit {
    fn build(self) -> Edit {
        match self {
            ArbEdit::SetAdd(m) => Edit::SetAdd(m),
            ArbEdit::SetRemove(m) => Edit::SetRemove(m),
            ArbEdit::HashPut(p) => Edit::HashPut(p),
            ArbEdit::HashRemove(f) => Edit::HashRemove(f),
            ArbEdit::ListPush { front, items } => Edit::ListPush { front, items },
            ArbEdit::ListPop { front, count } => Edit::ListPop { front, count },
            ArbEdit::ListSet { index, item } => Edit::ListSet { index, item },
            ArbEdit::ListTrim { start, len } => Edit::ListTrim { start, len },
            ArbEdit::SortedAdd(p) => Edit::SortedAdd(p.into_iter().map(|(b, m)| (score(b), m)).collect()),
            ArbEdit::SortedRemove(m) => Edit::SortedRemove(m),
            ArbEdit::Expire(at) => Edit::Expire(at),
            ArbEdit::ListRotate { from_front } => Edit::ListRotate { from_front },
        }
    }
}

#[derive(Arbitrary, Debug)]
struct ArbFrame {
    snapshot: bool,
    commit_seq: u64,
    mutations: Vec<ArbMutation>,
}

fn ns(v: u8) -> Namespace {
    Namespace::ALL[usize::from(v) % Namespace::ALL.len()]
}

impl ArbMutation {
    fn build(self) -> Mutation {
        match self {
            ArbMutation::Put { ns: n, key, value, expires_at_ms } => Mutation::Put {
                ns: ns(n),
                key,
                value: match value {
                    ArbValue::Bytes(b) => Value::Bytes(b),
                    ArbValue::Set(s) => Value::Set(s.into_iter().collect::<BTreeSet<_>>()),
                    ArbValue::Hash(h) => Value::Hash(h.into_iter().collect::<BTreeMap<_, _>>()),
                    ArbValue::List(l) => Value::List(l.into_iter().collect::<VecDeque<_>>()),
                    ArbValue::SortedSet(pairs) => {
                        let mut z = SortedSet::new();
                        for (bits, m) in pairs {
                            z.insert(m, score(bits));
                        }
                        Value::SortedSet(Box::new(z))
                    }
                },
                expires_at_ms,
            },
            ArbMutation::Delete { ns: n, key } => Mutation::Delete { ns: ns(n), key },
            ArbMutation::Clear { ns: n } => Mutation::Clear { ns: ns(n) },
            ArbMutation::Edit { ns: n, key, edit } => Mutation::Edit { ns: ns(n), key, edit: edit.build() },
            ArbMutation::Swap { a, b } => Mutation::Swap { a: keyspace(a), b: keyspace(b) },
        }
    }
}

fn raw(data: &[u8]) {
    let _ = record::decode_body(data);
    let Ok(Some((frame, used))) = record::decode_frame(data) else { return };
    assert!((FRAME_HEADER_LEN..=data.len()).contains(&used), "frame used {used} of {} bytes", data.len());
    // The body alone decodes to the same mutations.
    assert_eq!(
        record::decode_body(&data[FRAME_HEADER_LEN..used]).as_ref(),
        Ok(&frame.mutations)
    );
    let mut out = Vec::new();
    record::encode_frame(&mut out, frame.kind, frame.commit_seq, &frame.mutations);
    // Decoding dedups set members / hash fields / sorted-set members, so the
    // re-encoding is never longer.
    assert!(out.len() <= used, "re-encoding grew from {used} to {} bytes", out.len());
    match record::decode_frame(&out) {
        Ok(Some((again, used2))) => {
            assert_eq!(again, frame, "re-encoded frame decodes differently");
            assert_eq!(used2, out.len());
        }
        other => panic!("re-encoded frame does not decode: {other:?}"),
    }
}

fn structured(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(arb) = ArbFrame::arbitrary(&mut u) else { return };
    let kind = if arb.snapshot { FrameKind::Snapshot } else { FrameKind::Commit };
    let mutations: Vec<Mutation> = arb.mutations.into_iter().map(ArbMutation::build).collect();
    for m in &mutations {
        assert_eq!(record::validate(m), Ok(()), "small generated mutation refused: {m:?}");
    }
    let mut stream = Vec::new();
    record::encode_frame(&mut stream, kind, arb.commit_seq, &mutations);
    let expect = Frame { kind, commit_seq: arb.commit_seq, mutations };
    assert_eq!(record::decode_frame(&stream), Ok(Some((expect.clone(), stream.len()))));
    // A second frame appended does not change what the first decodes to.
    let mut two = stream.clone();
    record::encode_frame(&mut two, FrameKind::Commit, 1, &[]);
    assert_eq!(record::decode_frame(&two), Ok(Some((expect, stream.len()))));
    // Every strict prefix is "not complete yet". All cuts for small frames,
    // the header cuts and a spread of body cuts for large ones.
    let n = stream.len();
    let step = if n <= 512 { 1 } else { n / 257 + 1 };
    let cuts = (0..FRAME_HEADER_LEN.min(n)).chain((FRAME_HEADER_LEN..n).step_by(step)).chain(n.checked_sub(1));
    for cut in cuts {
        assert_eq!(record::decode_frame(&stream[..cut]), Ok(None), "prefix of {cut}/{n} bytes");
    }
}

fuzz_target!(|data: &[u8]| {
    raw(data);
    structured(data);
});
