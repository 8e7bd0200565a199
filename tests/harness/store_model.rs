//! The storage tests' side of the harness: a store on a simulated disk
//! ([`super::sim_disk`]) with a fixed key, a reference model of the store
//! (a map per namespace with expiry), a random commit generator, and the
//! comparison that states which key differs when the store and the model
//! disagree.

use super::rng::Rng;
use super::sim_disk::SimDisk;
use reddb::crypto::keys::DataKey;
use reddb::pager::Pager;
use reddb::store::edit::Edit;
use reddb::store::record::{Mutation, Namespace, Value};
use reddb::store::sorted_set::{Score, SortedSet};
use reddb::store::{Entry, State, Store, StoreKeys};
use std::collections::{BTreeMap, BTreeSet};

pub const PAGE_SIZE: u32 = 4096;
/// A fixed "now" for tests that do not move the clock.
pub const NOW_MS: u64 = 1_700_000_000_000;
/// An expiry far beyond any clock the tests use.
pub const FAR_FUTURE_MS: u64 = NOW_MS + 1_000_000_000_000;

/// The cheap fixed data key of the tests.
pub fn keys() -> StoreKeys {
    let data_key = DataKey::from_bytes(&[7u8; 32]).expect("data key");
    StoreKeys::derive(&data_key).expect("store keys")
}

/// A new bootstrapped (openable) store on an empty disk.
pub fn create_store(disk: &SimDisk) -> Store {
    let pager = Pager::create(disk.io(), PAGE_SIZE).expect("Pager::create");
    let mut store = Store::initialize(pager, keys()).expect("Store::initialize");
    let mut header = *store.header();
    header.bootstrapped = true;
    store.commit_header(header).expect("commit_header");
    store
}

/// Opens the store held by `disk`.
pub fn open_store(disk: &SimDisk, writable: bool) -> reddb::Result<Store> {
    let pager = Pager::open(disk.io())?;
    Store::open(pager, keys(), writable)
}

/// How many commits the store says it holds (the last commit sequence number
/// it replayed or staged).
pub fn committed(store: &mut Store) -> usize {
    (store.stats().next_commit_seq - 1) as usize
}

/// The reference model: one ordered map per namespace. Entries are kept
/// after they expire (like the store's memory) and hidden by [`Model::live`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    spaces: [BTreeMap<Vec<u8>, Entry>; 20],
}

impl Model {
    pub fn apply(&mut self, m: &Mutation) {
        match m {
            Mutation::Put {
                ns,
                key,
                value,
                expires_at_ms,
            } => {
                self.spaces[ns.index()]
                    .insert(key.clone(), Entry::new(value.clone(), *expires_at_ms));
            }
            Mutation::Delete { ns, key } => {
                self.spaces[ns.index()].remove(key);
            }
            Mutation::Clear { ns } => self.spaces[ns.index()].clear(),
            // Edits use the store's own element code (its semantics are
            // the keyspace tests' and the differential test's business);
            // the model checks that they survive the log and replay.
            Mutation::Edit { ns, key, edit } => {
                let space = &mut self.spaces[ns.index()];
                if let Some(e) = space.get_mut(key) {
                    e.apply_edit(edit);
                    if e.value.is_empty_collection() {
                        space.remove(key);
                    }
                }
            }
            Mutation::Swap { a, b } => self.spaces.swap(a.index(), b.index()),
        }
    }

    pub fn apply_commit(&mut self, commit: &[Mutation]) {
        for m in commit {
            self.apply(m);
        }
    }

    /// The model after `commits`, from empty.
    pub fn replay(commits: &[Vec<Mutation>]) -> Self {
        let mut model = Self::default();
        for c in commits {
            model.apply_commit(c);
        }
        model
    }

    /// The model after each prefix of `commits`: element `p` is the state
    /// after the first `p` commits.
    pub fn prefixes(commits: &[Vec<Mutation>]) -> Vec<Self> {
        let mut out = vec![Self::default()];
        let mut model = Self::default();
        for c in commits {
            model.apply_commit(c);
            out.push(model.clone());
        }
        out
    }

    /// The entry visible under `key` at `now_ms`.
    pub fn get(&self, ns: Namespace, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.spaces[ns.index()]
            .get(key)
            .filter(|e| visible(e, now_ms))
    }

    /// Every entry of `ns` visible at `now_ms`.
    pub fn live(&self, ns: Namespace, now_ms: u64) -> BTreeMap<Vec<u8>, Entry> {
        self.spaces[ns.index()]
            .iter()
            .filter(|(_, e)| visible(e, now_ms))
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect()
    }

    /// Every key the model has ever been told about in `ns` (live or not).
    pub fn keys(&self, ns: Namespace) -> impl Iterator<Item = &Vec<u8>> {
        self.spaces[ns.index()].keys()
    }
}

/// The visibility rule the store must honour.
pub fn visible(entry: &Entry, now_ms: u64) -> bool {
    entry.expires_at_ms == 0 || entry.expires_at_ms > now_ms
}

/// Every entry of `ns` the store shows at `now_ms`.
pub fn store_live(state: &State, ns: Namespace, now_ms: u64) -> BTreeMap<Vec<u8>, Entry> {
    let mut out = BTreeMap::new();
    for (k, e) in state.iter(ns, now_ms) {
        assert!(
            out.insert(k.to_vec(), e.to_entry()).is_none(),
            "State::iter yielded key {} twice",
            show_key(k)
        );
    }
    out
}

/// Compares everything the store shows at `now_ms` with the model: each
/// model key through `get`, and the whole namespace through `iter` (which
/// catches keys the model does not have). Returns the first difference.
pub fn diff(state: &State, model: &Model, now_ms: u64) -> Option<String> {
    for ns in Namespace::ALL {
        for key in model.keys(ns) {
            let got = state.get(ns, key, now_ms).map(|e| e.to_entry());
            let want = model.get(ns, key, now_ms);
            if got.as_ref() != want {
                return Some(format!(
                    "{ns:?} key {}: store.get shows {}, model has {}",
                    show_key(key),
                    show_entry(got.as_ref()),
                    show_entry(want)
                ));
            }
        }
        let got = store_live(state, ns, now_ms);
        let want = model.live(ns, now_ms);
        if got != want {
            let keys: BTreeSet<&Vec<u8>> = got.keys().chain(want.keys()).collect();
            for key in keys {
                if got.get(key) != want.get(key) {
                    return Some(format!(
                        "{ns:?} key {}: store iter shows {}, model has {}",
                        show_key(key),
                        show_entry(got.get(key)),
                        show_entry(want.get(key))
                    ));
                }
            }
        }
    }
    None
}

/// Indices `p` such that the store shows exactly `prefixes[p]` (diagnostics).
pub fn matching_prefixes(state: &State, prefixes: &[Model], now_ms: u64) -> Vec<usize> {
    (0..prefixes.len())
        .filter(|&p| diff(state, &prefixes[p], now_ms).is_none())
        .collect()
}

pub fn show_key(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

pub fn show_entry(e: Option<&Entry>) -> String {
    match e {
        None => "nothing".into(),
        Some(e) => {
            let what = match &e.value {
                Value::Bytes(b) => format!("{} bytes", b.len()),
                Value::Set(s) => format!("a set of {}", s.len()),
                Value::Hash(h) => format!("a hash of {}", h.len()),
                Value::List(l) => format!("a list of {}", l.len()),
                Value::SortedSet(z) => format!("a sorted set of {}", z.len()),
            };
            format!("{what} (expires {})", e.expires_at_ms)
        }
    }
}

/// The namespaces the random workloads touch.
pub const WORK_NAMESPACES: [Namespace; 4] = [
    Namespace::Keyspace,
    Namespace::Secrets,
    Namespace::Vault,
    Namespace::Db3,
];

fn random_score(rng: &mut Rng) -> Score {
    Score::new(rng.below(2_000) as f64 / 8.0 - 100.0).unwrap_or_else(|| unreachable!())
}

/// Elements of a random hash or sorted set: mostly a few, sometimes
/// around the 128 the state packs (`small_collection.rs`), so edits move
/// values across that limit.
fn collection_len(rng: &mut Rng) -> usize {
    if rng.chance(1, 6) {
        rng.range(124, 134)
    } else {
        rng.range(0, 5)
    }
}

/// A value or member's length bound: mostly short, sometimes past the 64
/// bytes a packed form holds.
fn element_max(rng: &mut Rng, short: usize) -> usize {
    if rng.chance(1, 12) {
        70
    } else {
        short
    }
}

/// A random value: mostly bytes of `0..max_len` length, sometimes a set,
/// hash, list or sorted set.
pub fn random_value(rng: &mut Rng, max_len: usize) -> Value {
    match rng.below(12) {
        0 => Value::Set((0..rng.below(5)).map(|_| rng.blob(0, 12)).collect()),
        1 => {
            let n = collection_len(rng);
            let max = element_max(rng, 40);
            Value::Hash((0..n).map(|_| (rng.blob(0, 8), rng.blob(0, max))).collect())
        }
        2 => Value::List((0..rng.below(6)).map(|_| rng.blob(0, 12)).collect()),
        3 => {
            let mut z = SortedSet::new();
            let n = collection_len(rng);
            let max = element_max(rng, 8);
            for _ in 0..n {
                let score = random_score(rng);
                z.insert(rng.blob(0, max), score);
            }
            Value::SortedSet(Box::new(z))
        }
        _ => Value::Bytes(rng.blob(0, max_len + 1)),
    }
}

/// A random element-level edit (of any type: one that does not fit the
/// entry it meets changes nothing, in the store as in the model).
pub fn random_edit(rng: &mut Rng) -> Edit {
    let blobs = |rng: &mut Rng| (0..rng.range(1, 4)).map(|_| rng.blob(0, 12)).collect();
    match rng.below(11) {
        0 => Edit::SetAdd(blobs(rng)),
        1 => Edit::SetRemove(blobs(rng)),
        2 => Edit::HashPut(vec![(rng.blob(0, 8), rng.blob(0, 40))]),
        3 => Edit::HashRemove(blobs(rng)),
        4 => Edit::ListPush {
            front: rng.chance(1, 2),
            items: blobs(rng),
        },
        5 => Edit::ListPop {
            front: rng.chance(1, 2),
            count: rng.below(3) as u32,
        },
        6 => Edit::ListSet {
            index: rng.below(4) as u32,
            item: rng.blob(0, 12),
        },
        7 => Edit::ListTrim {
            start: rng.below(3) as u32,
            len: rng.below(4) as u32,
        },
        8 => Edit::SortedAdd(vec![(random_score(rng), rng.blob(0, 8))]),
        9 => Edit::SortedRemove(blobs(rng)),
        _ => Edit::Expire(if rng.chance(1, 2) { FAR_FUTURE_MS } else { 0 }),
    }
}

/// One random commit of 1..=3 mutations over a small key space, so that
/// puts overwrite, deletes hit, and clears matter. Values reach
/// `max_value_len` bytes, so a commit can span pages. Expiries are either
/// none or far in the future.
pub fn random_commit(rng: &mut Rng, keys_per_ns: u64, max_value_len: usize) -> Vec<Mutation> {
    let n = rng.range(1, 4);
    (0..n)
        .map(|_| {
            let ns = WORK_NAMESPACES[rng.below(WORK_NAMESPACES.len() as u64) as usize];
            let key = format!("k{}", rng.below(keys_per_ns)).into_bytes();
            match rng.below(100) {
                0..=59 => Mutation::Put {
                    ns,
                    key,
                    value: random_value(rng, max_value_len),
                    expires_at_ms: if rng.chance(1, 4) { FAR_FUTURE_MS } else { 0 },
                },
                60..=79 => Mutation::Delete { ns, key },
                80..=95 => Mutation::Edit {
                    ns,
                    key,
                    edit: random_edit(rng),
                },
                96 => Mutation::Swap {
                    a: Namespace::Keyspace,
                    b: Namespace::Db3,
                },
                _ => Mutation::Clear { ns },
            }
        })
        .collect()
}
