//! Model-based test: the store behaves exactly like a map per namespace
//! with expiry, across flushes, compactions, reopens and a moving clock.
//!
//! proptest generates sequences of steps: commits of 1..=3 puts (bytes,
//! sets or hashes, with or without an expiry a little after the simulated
//! clock, including "expires now"), deletes and clears; `flush`; advancing
//! the clock; `sweep_expired`; `compact` at the current time; reopening
//! the store (drop, then `Store::open` on the same disk) for writing or
//! read-only; and a simulated power cut followed by a reopen. The model is
//! a `BTreeMap` per namespace and a "durable" copy of it taken at every
//! flush and compaction.
//!
//! After every step, every key of a fixed universe is read through
//! `Store::get` and every namespace is listed through `State::iter`, at the
//! current clock, and both must equal the model: an entry is visible iff
//! `expires_at_ms == 0 || expires_at_ms > now`. A reopen must bring back
//! exactly the durable model (staged, unflushed commits are gone; flushed
//! ones are all there) and the same commit count.
//!
//! Default: 192 sequences; `REDDB_EXTENDED=1`: 2048.

mod harness;

use harness::extended;
use harness::rng::Rng;
use harness::sim_disk::SimDisk;
use harness::store_model::{committed, create_store, diff, open_store, show_entry, Model, NOW_MS};
use proptest::prelude::*;
use reddb::store::record::{Mutation, Namespace, Value};
use reddb::store::sorted_set::{Score, SortedSet};
use reddb::store::Store;

const KEYS: u8 = 6;
const SPACES: [Namespace; 3] = [Namespace::Keyspace, Namespace::Secrets, Namespace::Audit];

#[derive(Debug, Clone)]
enum Change {
    Put {
        ns: usize,
        key: u8,
        /// 0 bytes, 1 set, 2 hash.
        kind: u8,
        len: usize,
        fill: u8,
        /// Expires this many ms after the current clock (0 = at once).
        ttl: Option<u64>,
    },
    Delete {
        ns: usize,
        key: u8,
    },
    Clear {
        ns: usize,
    },
}

#[derive(Debug, Clone)]
enum Step {
    Commit(Vec<Change>),
    Flush,
    Advance(u64),
    Sweep(usize),
    Compact,
    /// Flush, then start an incremental checkpoint.
    BeginCheckpoint,
    /// Flush, then one checkpoint step of about this many bytes.
    CheckpointSlice(usize),
    Reopen,
    ReopenReadOnly,
    Crash(u64),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        6 => (0..SPACES.len(), 0..KEYS, 0u8..5, 0usize..5000, any::<u8>(), prop::option::of(0u64..300))
            .prop_map(|(ns, key, kind, len, fill, ttl)| Change::Put { ns, key, kind, len, fill, ttl }),
        3 => (0..SPACES.len(), 0..KEYS).prop_map(|(ns, key)| Change::Delete { ns, key }),
        1 => (0..SPACES.len()).prop_map(|ns| Change::Clear { ns }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => prop::collection::vec(change(), 1..4).prop_map(Step::Commit),
        4 => Just(Step::Flush),
        4 => (0u64..200).prop_map(Step::Advance),
        1 => (0usize..4).prop_map(Step::Sweep),
        2 => Just(Step::Compact),
        2 => Just(Step::BeginCheckpoint),
        6 => (1usize..6000).prop_map(Step::CheckpointSlice),
        2 => Just(Step::Reopen),
        1 => Just(Step::ReopenReadOnly),
        1 => any::<u64>().prop_map(Step::Crash),
    ]
}

fn key(k: u8) -> Vec<u8> {
    format!("key-{k}").into_bytes()
}

/// A value of `kind`: bytes, a set, a hash with values up to 625 bytes
/// (past the 64 a packed hash holds), a hash or sorted set of up to 139
/// short entries (across the 128 the state packs, see
/// `crates/storage/src/store/small_collection.rs`).
fn value(kind: u8, len: usize, fill: u8) -> Value {
    match kind {
        0 => Value::Bytes(vec![fill; len]),
        1 => Value::Set((0..(len % 5) as u8).map(|i| vec![fill, i]).collect()),
        2 => Value::Hash(
            (0..(len % 4) as u8)
                .map(|i| (vec![i], vec![fill; len / 8]))
                .collect(),
        ),
        3 => Value::Hash(
            (0..len % 140)
                .map(|i| ((i as u16).to_be_bytes().to_vec(), vec![fill; i % 9]))
                .collect(),
        ),
        _ => {
            let mut z = SortedSet::new();
            for i in 0..len % 140 {
                let score = Score::new(f64::from(fill) - (i % 7) as f64 / 4.0).unwrap();
                z.insert((i as u16).to_be_bytes().to_vec(), score);
            }
            Value::SortedSet(Box::new(z))
        }
    }
}

fn mutation(c: &Change, now: u64) -> Mutation {
    match *c {
        Change::Put {
            ns,
            key: k,
            kind,
            len,
            fill,
            ttl,
        } => Mutation::Put {
            ns: SPACES[ns],
            key: key(k),
            value: value(kind, len, fill),
            expires_at_ms: ttl.map_or(0, |t| now + t),
        },
        Change::Delete { ns, key: k } => Mutation::Delete {
            ns: SPACES[ns],
            key: key(k),
        },
        Change::Clear { ns } => Mutation::Clear { ns: SPACES[ns] },
    }
}

/// The store and the model it must match.
struct Harness {
    disk: SimDisk,
    store: Option<Store>,
    now: u64,
    model: Model,
    commits: usize,
    durable: Model,
    durable_commits: usize,
}

impl Harness {
    fn store(&mut self) -> &mut Store {
        self.store.as_mut().expect("store is open")
    }

    fn reopen(&mut self, writable: bool) -> Result<(), TestCaseError> {
        self.store = None;
        let mut store = open_store(&self.disk, writable)
            .map_err(|e| TestCaseError::fail(format!("reopen: {e}")))?;
        self.model = self.durable.clone();
        self.commits = self.durable_commits;
        prop_assert_eq!(
            committed(&mut store),
            self.commits,
            "commit count after reopen"
        );
        self.store = Some(store);
        Ok(())
    }

    /// Everything visible now, through `get` and `iter`, equals the model.
    fn check(&mut self, after: &Step) -> Result<(), TestCaseError> {
        let now = self.now;
        let store = self.store.as_ref().expect("store is open");
        for ns in Namespace::ALL {
            for k in 0..KEYS {
                let got = store.get(ns, &key(k), now).map(|e| e.to_entry());
                let want = self.model.get(ns, &key(k), now);
                prop_assert!(
                    got.as_ref() == want,
                    "after {:?} at t={}: {:?} {:?} is {} in the store, {} in the model",
                    after,
                    now - NOW_MS,
                    ns,
                    k,
                    show_entry(got.as_ref()),
                    show_entry(want)
                );
            }
        }
        if let Some(d) = diff(store.state(), &self.model, now) {
            return Err(TestCaseError::fail(format!(
                "after {after:?} at t={}: {d}",
                now - NOW_MS
            )));
        }
        Ok(())
    }

    fn run(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Commit(changes) => {
                let now = self.now;
                let commit: Vec<Mutation> = changes.iter().map(|c| mutation(c, now)).collect();
                let seq = self
                    .store()
                    .apply(commit.clone())
                    .map_err(|e| TestCaseError::fail(format!("apply: {e}")))?;
                self.commits += 1;
                prop_assert_eq!(seq as usize, self.commits);
                self.model.apply_commit(&commit);
            }
            Step::Flush => {
                self.store()
                    .flush()
                    .map_err(|e| TestCaseError::fail(format!("flush: {e}")))?;
                self.durable = self.model.clone();
                self.durable_commits = self.commits;
            }
            Step::Advance(ms) => self.now += ms,
            Step::Sweep(limit) => {
                let now = self.now;
                self.store().sweep_expired(now, *limit);
            }
            Step::Compact => {
                let now = self.now;
                self.store()
                    .compact(now)
                    .map_err(|e| TestCaseError::fail(format!("compact: {e}")))?;
                self.durable = self.model.clone();
                self.durable_commits = self.commits;
            }
            Step::BeginCheckpoint | Step::CheckpointSlice(_) => {
                // The loop runs checkpoint steps after its group commit;
                // what a step writes is then only re-puts (no-ops).
                let now = self.now;
                let store = self.store();
                store
                    .flush()
                    .map_err(|e| TestCaseError::fail(format!("flush: {e}")))?;
                let result = match step {
                    Step::CheckpointSlice(budget) => {
                        store.checkpoint_step(now, *budget).map(|_| ())
                    }
                    _ => store.begin_checkpoint().map(|_| ()),
                };
                result.map_err(|e| TestCaseError::fail(format!("checkpoint: {e}")))?;
                self.durable = self.model.clone();
                self.durable_commits = self.commits;
            }
            Step::Reopen => self.reopen(true)?,
            Step::ReopenReadOnly => {
                self.reopen(false)?;
                self.check(step)?;
                prop_assert!(
                    self.store().apply(Vec::new()).is_err(),
                    "a read-only store took a commit"
                );
                self.reopen(true)?;
            }
            Step::Crash(seed) => {
                // Everything acknowledged was synced; a power cut may only
                // undo what was not (a compaction's truncation).
                self.store = None;
                self.disk.crash(&mut Rng::new(*seed));
                self.reopen(true)?;
            }
        }
        self.check(step)
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: if extended() { 2048 } else { 192 },
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn store_matches_the_model(steps in prop::collection::vec(step(), 1..60)) {
        let disk = SimDisk::new();
        let store = create_store(&disk);
        let mut h = Harness {
            disk,
            store: Some(store),
            now: NOW_MS,
            model: Model::default(),
            commits: 0,
            durable: Model::default(),
            durable_commits: 0,
        };
        for step in &steps {
            h.run(step)?;
        }
    }
}
