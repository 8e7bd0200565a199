//! Damaged files: whatever happens to the bytes, opening yields a state some
//! prefix of the commit sequence produced, or a typed error. Never a panic,
//! never a state no prefix produced, never an I/O or internal error.
//!
//! The image under test holds a store written in several flushes (commits
//! spanning pages), then compacted (a snapshot chain), then written again,
//! then closed. Each case alters a copy of the image and opens it, read-only
//! or for writing, and checks:
//!
//! * one byte changed in a data page (page 4 on): `Ok` with the state after
//!   exactly the commits the store says it holds, or `Corrupted`/`Tampered`;
//! * one byte changed in meta page 0 or 1 (every header byte of both
//!   copies, plus random bytes): the other copy wins and the full state
//!   opens, or a typed error;
//! * two data pages swapped: a prefix state or a typed error;
//! * the file cut at a random length (random bytes and page boundaries): a
//!   prefix state or a typed error;
//! * a file whose last act was a compaction (so nothing follows the
//!   snapshot) with any one data page damaged: the full state or a typed
//!   error, never the snapshot's base count over a partial or empty
//!   snapshot.
//!
//! "A prefix state" is checked strictly: the store reports how many commits
//! it replayed (`p`), and what it shows must be the model after commits
//! `1..=p`. A store that showed an older state while numbering its next
//! commit `p + 1` would build every later commit on the wrong base. When a
//! damaged file opens for writing, a further commit is flushed and the file
//! reopened, to check that writing over the damage keeps the store
//! consistent.
//!
//! Default: 80 to 450 cases per kind (about 1,500 opens); `REDDB_EXTENDED=1`
//! multiplies the random ones by ten.

mod harness;

use harness::extended;
use harness::rng::{OnPanic, Rng};
use harness::sim_disk::SimDisk;
use harness::store_model::{
    committed, create_store, diff, matching_prefixes, open_store, random_commit, Model, NOW_MS,
    PAGE_SIZE,
};
use reddb::pager::FIRST_DATA_PAGE;
use reddb::store::record::{Mutation, Namespace, Value};
use reddb::Error;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const PS: usize = PAGE_SIZE as usize;
const SEED: u64 = 0x7A3E_2024_0000_0001;
/// Small enough that an open (which decrypts the whole chain) stays cheap,
/// large enough that commits and the snapshot span pages.
const KEYS_PER_NS: u64 = 8;
const MAX_VALUE_LEN: usize = 3000;

/// The pristine file and the commits it holds.
struct Fixture {
    image: Vec<u8>,
    history: Vec<Vec<Mutation>>,
    /// `prefixes[p]`: the model after the first `p` commits.
    prefixes: Vec<Model>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = Rng::new(SEED);
        let disk = SimDisk::new();
        let mut store = create_store(&disk);
        let mut history = Vec::new();
        let mut stage = |store: &mut reddb::store::Store, rng: &mut Rng, n: usize| {
            for i in 0..n {
                let commit = random_commit(rng, KEYS_PER_NS, MAX_VALUE_LEN);
                store.apply(commit.clone()).expect("apply");
                history.push(commit);
                if i % 3 == 2 {
                    store.flush().expect("flush");
                }
            }
            store.flush().expect("flush");
        };
        stage(&mut store, &mut rng, 24);
        store.compact(NOW_MS).expect("compact");
        stage(&mut store, &mut rng, 12);
        drop(store);
        let image = disk.image();
        assert_eq!(image, disk.durable_image(), "everything was synced");
        let prefixes = Model::prefixes(&history);
        Fixture {
            image,
            history,
            prefixes,
        }
    })
}

/// How an open of a damaged image ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Opened with the state after this many commits.
    Prefix(usize),
    /// Refused with this error code.
    Refused(&'static str),
}

/// How a case opens the damaged image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    ReadOnly,
    Writable,
    /// Open for writing, flush one more commit, reopen and check it.
    WriteOver,
}

impl Mode {
    fn pick(rng: &mut Rng) -> Self {
        match rng.below(4) {
            0 | 1 => Mode::ReadOnly,
            2 => Mode::Writable,
            _ => Mode::WriteOver,
        }
    }
}

/// Opens `image` and checks the outcome is a consistent prefix state or a
/// typed refusal.
fn open_damaged(image: Vec<u8>, mode: Mode, what: &str) -> Outcome {
    let fx = fixture();
    let _note = OnPanic(what.to_string());
    let disk = SimDisk::from_image(image);
    let mut store = match open_store(&disk, mode != Mode::ReadOnly) {
        Ok(store) => store,
        Err(e) => {
            assert!(
                matches!(
                    e,
                    Error::Corrupted(_)
                        | Error::Tampered(_)
                        | Error::UnsupportedFormat(_)
                        | Error::NotBootstrapped
                ),
                "{what}: refused with an error of the wrong kind: {e} ({})",
                e.code()
            );
            return Outcome::Refused(e.code());
        }
    };
    let p = committed(&mut store);
    assert!(
        p <= fx.history.len(),
        "{what}: the store claims {p} commits"
    );
    if let Some(d) = diff(store.state(), &fx.prefixes[p], NOW_MS) {
        panic!(
            "{what}: opened claiming {p} commits, but does not show the state after them: {d}; \
             prefixes it does equal: {:?}",
            matching_prefixes(store.state(), &fx.prefixes, NOW_MS)
        );
    }
    if mode == Mode::WriteOver {
        // Write over whatever the damage left, then read it back.
        let extra = vec![Mutation::Put {
            ns: Namespace::Keyspace,
            key: b"after-damage".to_vec(),
            value: Value::Bytes(vec![0xAB; 5000]),
            expires_at_ms: 0,
        }];
        store.apply(extra.clone()).expect("apply after damage");
        store.flush().expect("flush after damage");
        drop(store);
        let mut again = open_store(&disk, false).expect("reopen after writing over damage");
        let mut want = fx.prefixes[p].clone();
        want.apply_commit(&extra);
        assert_eq!(
            committed(&mut again),
            p + 1,
            "{what}: commit count after writing over damage"
        );
        if let Some(d) = diff(again.state(), &want, NOW_MS) {
            panic!("{what}: after writing over the damage the state is wrong: {d}");
        }
    }
    Outcome::Prefix(p)
}

fn cases(default: usize) -> usize {
    if extended() {
        default * 10
    } else {
        default
    }
}

fn report(kind: &str, outcomes: &[Outcome]) {
    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    for o in outcomes {
        *counts.entry(*o).or_default() += 1;
    }
    eprintln!("{kind}: {} cases: {counts:?}", outcomes.len());
}

#[test]
fn pristine_image_opens_with_every_commit() {
    let fx = fixture();
    let n = fx.history.len();
    let disk = SimDisk::from_image(fx.image.clone());
    let chain_pages = open_store(&disk, false).expect("open").stats().chain_pages;
    assert!(
        chain_pages >= 6,
        "the fixture's log spans several pages ({chain_pages})"
    );
    for mode in [Mode::ReadOnly, Mode::Writable, Mode::WriteOver] {
        assert_eq!(
            open_damaged(fx.image.clone(), mode, "pristine"),
            Outcome::Prefix(n)
        );
    }
}

#[test]
fn flipped_data_byte_gives_prefix_or_typed_error() {
    let fx = fixture();
    let mut rng = Rng::new(SEED ^ 1);
    let start = FIRST_DATA_PAGE as usize * PS;
    let mut outcomes = Vec::new();
    for case in 0..cases(400) {
        let mut image = fx.image.clone();
        let at = rng.range(start, image.len());
        let xor = rng.range(1, 256) as u8;
        image[at] ^= xor;
        let what = format!(
            "data flip case {case}: byte {at} (page {}) ^= {xor:#04x}",
            at / PS
        );
        outcomes.push(open_damaged(image, Mode::pick(&mut rng), &what));
    }
    report("data byte flips", &outcomes);
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Prefix(p) if *p < fx.history.len())),
        "no flip ever cut the log: the cases miss the live chain"
    );
}

#[test]
fn flipped_meta_byte_leaves_the_other_copy() {
    let fx = fixture();
    let n = fx.history.len();
    let mut rng = Rng::new(SEED ^ 2);
    let mut positions: Vec<(usize, u8)> = Vec::new();
    // Every header and sealed-state byte of both copies (0..98 header,
    // 98..174 sealed meta), then random bytes anywhere in the two pages.
    for page in 0..2 {
        for i in 0..174 {
            positions.push((page * PS + i, rng.range(1, 256) as u8));
        }
    }
    for _ in 0..cases(100) {
        positions.push((rng.range(0, 2 * PS), rng.range(1, 256) as u8));
    }
    // Copy 0's page-size field (bytes 10..14, big-endian) rewritten to each
    // other supported size: the damaged copy then names the wrong place for
    // copy 1, which must still be found.
    let mut damages: Vec<(Vec<(usize, u8)>, String)> = positions
        .iter()
        .map(|&(at, xor)| {
            (
                vec![(at, xor)],
                format!("byte {at} (page {}) ^= {xor:#04x}", at / PS),
            )
        })
        .collect();
    for size in [8192u32, 16384, 32768, 65536] {
        let xor = (size ^ PAGE_SIZE).to_be_bytes();
        let bytes = (0..4)
            .filter(|&i| xor[i] != 0)
            .map(|i| (10 + i, xor[i]))
            .collect();
        damages.push((bytes, format!("copy 0 page size field set to {size}")));
    }
    let mut outcomes = Vec::new();
    for (case, (bytes, how)) in damages.iter().enumerate() {
        let mut image = fx.image.clone();
        for &(at, xor) in bytes {
            image[at] ^= xor;
        }
        let what = format!("meta flip case {case}: {how}");
        let outcome = open_damaged(image, Mode::pick(&mut rng), &what);
        assert!(
            matches!(outcome, Outcome::Prefix(p) if p == n),
            "{what}: one damaged meta copy must leave the other in charge, got {outcome:?}"
        );
        outcomes.push(outcome);
    }
    report("meta byte flips", &outcomes);
}

#[test]
fn swapped_data_pages_give_prefix_or_typed_error() {
    let fx = fixture();
    let mut rng = Rng::new(SEED ^ 3);
    let pages = fx.image.len() / PS;
    let first = FIRST_DATA_PAGE as usize;
    let mut outcomes = Vec::new();
    for case in 0..cases(200) {
        let a = rng.range(first, pages);
        let b = rng.range(first, pages);
        if a == b {
            continue;
        }
        let mut image = fx.image.clone();
        let page_a = image[a * PS..(a + 1) * PS].to_vec();
        image.copy_within(b * PS..(b + 1) * PS, a * PS);
        image[b * PS..(b + 1) * PS].copy_from_slice(&page_a);
        let what = format!("swap case {case}: pages {a} and {b}");
        outcomes.push(open_damaged(image, Mode::pick(&mut rng), &what));
    }
    report("page swaps", &outcomes);
}

#[test]
fn truncated_file_gives_prefix_or_typed_error() {
    let fx = fixture();
    let mut rng = Rng::new(SEED ^ 4);
    let len = fx.image.len();
    // An empty file is not a damaged database but no database at all: the
    // pager refuses it before looking for a header (callers create there).
    assert!(open_store(&SimDisk::from_image(Vec::new()), false).is_err());
    let mut lengths: Vec<usize> = (1..=len / PS).map(|p| p * PS).collect();
    lengths.extend([
        1,
        8,
        63,
        64,
        97,
        98,
        173,
        174,
        PS - 1,
        PS + 1,
        2 * PS - 1,
        len - 1,
    ]);
    for _ in 0..cases(200) {
        lengths.push(rng.range(1, len));
    }
    let mut outcomes = Vec::new();
    for (case, &cut) in lengths.iter().enumerate() {
        let what = format!("truncation case {case}: {cut} of {len} bytes");
        outcomes.push(open_damaged(
            fx.image[..cut].to_vec(),
            Mode::pick(&mut rng),
            &what,
        ));
    }
    report("truncations", &outcomes);
}

#[test]
fn damaged_snapshot_of_a_just_compacted_file_is_not_a_state() {
    // Commits, then a compaction as the last act: the chain is the snapshot
    // alone, and no later group follows it.
    let mut rng = Rng::new(SEED ^ 5);
    let disk = SimDisk::new();
    let mut store = create_store(&disk);
    let mut history = Vec::new();
    for i in 0..24 {
        let commit = random_commit(&mut rng, KEYS_PER_NS, MAX_VALUE_LEN);
        store.apply(commit.clone()).expect("apply");
        history.push(commit);
        if i % 4 == 3 {
            store.flush().expect("flush");
        }
    }
    store.compact(NOW_MS).expect("compact");
    let snapshot_pages = store.stats().chain_pages;
    assert!(
        snapshot_pages >= 3,
        "the snapshot spans pages ({snapshot_pages})"
    );
    drop(store);
    let image = disk.image();
    let full = Model::replay(&history);
    let n = history.len();
    let mut outcomes = Vec::new();
    for page in FIRST_DATA_PAGE as usize..image.len() / PS {
        for offset in [0, 40, PS / 2, PS - 1] {
            let mut bad = image.clone();
            bad[page * PS + offset] ^= 0x5A;
            let what = format!("just-compacted file, page {page} byte {offset} altered");
            let _note = OnPanic(what.clone());
            match open_store(&SimDisk::from_image(bad), false) {
                Ok(mut store) => {
                    let p = committed(&mut store);
                    assert_eq!(p, n, "{what}: the snapshot holds all {n} commits");
                    if let Some(d) = diff(store.state(), &full, NOW_MS) {
                        panic!("{what}: opened claiming all {n} commits without their state: {d}");
                    }
                    outcomes.push(Outcome::Prefix(p));
                }
                Err(e) => {
                    assert!(
                        matches!(e, Error::Corrupted(_) | Error::Tampered(_)),
                        "{what}: {e}"
                    );
                    outcomes.push(Outcome::Refused(e.code()));
                }
            }
        }
    }
    report("just-compacted page damage", &outcomes);
    assert!(
        outcomes.iter().any(|o| matches!(o, Outcome::Refused(_))),
        "no case damaged the snapshot"
    );
}
