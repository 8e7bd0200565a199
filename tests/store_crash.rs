//! Simulated power cuts: no acknowledged commit is ever lost, and recovery
//! never shows a state that no prefix of the commit sequence produced.
//!
//! Each case builds a store on a [`SimDisk`] and runs a random workload:
//! commits of puts (values up to 3000 bytes, so commits span pages, some
//! with a far-future expiry), deletes and clears; a flush after random
//! groups of commits; now and then a compaction. Half the flushes are the
//! server's pipelined group commit instead: `write_staged`, then the sync
//! through the file's barrier (as the sync thread runs it) while more
//! commits are staged and checkpoint steps write pages, the sync landing
//! before or after those writes; then `synced`. A commit counts as
//! acknowledged once a `flush` (or `compact`, or the `synced` report of a
//! ticket) that covers it returned `Ok`.
//!
//! The power is cut at a random I/O operation (the disk fails that
//! `write_at`/`sync`/`set_len` and every later one, so the cut lands inside
//! a flush, a compaction, a meta write or the epoch bump of an open) or
//! between operations. The crash then drops, applies or tears each write
//! that no `sync` covered. A fresh store is opened on what is left, and:
//!
//! * open must succeed (a crash is not corruption);
//! * the store says it holds `p` commits; `p` covers every acknowledged
//!   commit and no more than were staged;
//! * what it shows is exactly the model state after commits `1..=p`.
//!
//! Then the recovered store takes a few more commits and is crashed again,
//! which checks that appending after a recovery never lets pages of the
//! torn, unacknowledged log come back. In about a quarter of the
//! recoveries, a first open is cut short by another power cut during its
//! meta write (or, now and then, completes) before the open that is checked. Across each disk's whole life, no AES-GCM nonce may be used
//! twice for different data pages.
//!
//! A second test cuts the power inside the pager's double-written meta
//! writes alone (cheap, so many more cases): the meta that survives is the
//! one the pager last read or wrote, or the one being written, never an
//! older one, and a cut never leaves no valid copy.
//!
//! A third test cuts the power inside an import's commit (`red import`:
//! puts applied to memory with `Store::put_for_snapshot`, then one
//! compaction): the recovered state is the whole import or none of it,
//! never part, and a log write on top of the unlogged puts is refused.
//!
//! Default: 500 store crashes, 20,000 meta-write cuts and 60 cut imports
//! (one in six large enough that the snapshot is written in several
//! batches). `REDDB_EXTENDED=1`: 10,000, 200,000 and 2,000.
//! `REDDB_SEED=<seed>` replays the one case a failure printed.

mod harness;

use harness::extended;
use harness::rng::{case_seed, seed_override, OnPanic, Rng};
use harness::sim_disk::SimDisk;
use harness::store_model::{
    committed, create_store, diff, keys, matching_prefixes, open_store, random_commit, Model,
    NOW_MS, PAGE_SIZE,
};
use reddb::crypto::seal::NONCE_LEN;
use reddb::pager::{MetaState, Pager, FIRST_DATA_PAGE};
use reddb::store::log::SESSION_LEN;
use reddb::store::record::{Mutation, Namespace, Value};
use reddb::store::{CheckpointProgress, Store};
use std::time::Instant;

const DEFAULT_CRASHES: usize = 500;
const EXTENDED_CRASHES: usize = 10_000;
const BASE_SEED: u64 = 0x00C0_FFEE_5EED_0001;
/// Distinct keys per namespace: small, so puts overwrite and deletes hit.
const KEYS_PER_NS: u64 = 20;
const MAX_VALUE_LEN: usize = 3000;

/// The commit sequence of one disk and how much of it was acknowledged.
#[derive(Default)]
struct Run {
    history: Vec<Vec<Mutation>>,
    acked: usize,
}

/// What the run did, printed at the end so a reader can see the harness
/// actually reached the interesting states.
#[derive(Debug, Default)]
struct Tally {
    crashes: usize,
    cut_mid_operation: usize,
    cut_between_operations: usize,
    flushes_ok: usize,
    pipelined_ok: usize,
    compactions_ok: usize,
    checkpoints_ok: usize,
    commits_staged: usize,
    recovered_beyond_ack: usize,
    unacked_lost: usize,
    writes_dropped: usize,
    writes_applied: usize,
    writes_torn: usize,
    set_len_kept: usize,
    set_len_lost: usize,
    opens_cut: usize,
}

/// The value of `result`, or `None` once its error is asserted to come
/// from the simulated power cut of `disk` (`what` failed).
fn unless_cut<T, E: std::fmt::Display>(
    disk: &SimDisk,
    result: Result<T, E>,
    what: &str,
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            assert!(disk.tripped(), "{what} failed without a fault: {e}");
            None
        }
    }
}

/// Stages `n` random commits, flushing after random groups and compacting
/// now and then. Stops at the first error, which must come from the
/// simulated power cut.
fn workload(
    store: &mut Store,
    disk: &SimDisk,
    rng: &mut Rng,
    run: &mut Run,
    n: usize,
    tally: &mut Tally,
) {
    for _ in 0..n {
        if !stage(store, disk, rng, run, tally) {
            return;
        }
        if rng.chance(1, 6) {
            if !pipelined_flush(store, disk, rng, run, tally) {
                return;
            }
        } else if rng.chance(1, 5) {
            if unless_cut(disk, store.flush(), "flush").is_none() {
                assert_poisoned(store, "flush");
                return;
            }
            run.acked = run.history.len();
            tally.flushes_ok += 1;
        }
        if rng.chance(1, 12) {
            if unless_cut(disk, store.compact(NOW_MS), "compact").is_none() {
                return;
            }
            run.acked = run.history.len();
            tally.compactions_ok += 1;
        }
        if !checkpoint(store, disk, rng, run, tally) {
            return;
        }
    }
    if rng.chance(1, 2) && unless_cut(disk, store.flush(), "flush").is_some() {
        run.acked = run.history.len();
    }
}

/// A failed `what` must have poisoned the store: nothing staged after it
/// may be acknowledged.
fn assert_poisoned(store: &mut Store, what: &str) {
    assert!(
        store.apply(Vec::new()).is_err(),
        "a failed {what} must poison the store"
    );
}

/// Stages one random commit. False once the power is cut.
fn stage(
    store: &mut Store,
    disk: &SimDisk,
    rng: &mut Rng,
    run: &mut Run,
    tally: &mut Tally,
) -> bool {
    let commit = random_commit(rng, KEYS_PER_NS, MAX_VALUE_LEN);
    let Some(seq) = unless_cut(disk, store.apply(commit.clone()), "apply") else {
        return false;
    };
    assert_eq!(
        seq as usize,
        run.history.len() + 1,
        "commit sequence numbers are dense"
    );
    run.history.push(commit);
    tally.commits_staged += 1;
    true
}

/// The server's group commit with its sync on the sync thread: the
/// staged commits' pages are written, and while their sync runs the loop
/// stages more commits and may take checkpoint steps (which write pages
/// the sync may or may not cover: it lands before or after them). The
/// ticket's commits are acknowledged once `synced` took its success.
/// False once the power is cut.
fn pipelined_flush(
    store: &mut Store,
    disk: &SimDisk,
    rng: &mut Rng,
    run: &mut Run,
    tally: &mut Tally,
) -> bool {
    let Some(ticket) = unless_cut(disk, store.write_staged(), "write staged") else {
        assert_poisoned(store, "write");
        return false;
    };
    let Some(ticket) = ticket else {
        return true;
    };
    let mut barrier = store
        .barrier()
        .expect("the simulated disk hands out a barrier");
    let mut result = if rng.chance(1, 2) {
        Some(barrier.sync())
    } else {
        None
    };
    for _ in 0..rng.below(3) {
        if !stage(store, disk, rng, run, tally) {
            return false;
        }
    }
    if !checkpoint(store, disk, rng, run, tally) {
        return false;
    }
    let result = result.take().unwrap_or_else(|| barrier.sync());
    drop(barrier);
    if unless_cut(disk, store.synced(ticket, result), "sync").is_none() {
        assert_poisoned(store, "sync");
        return false;
    }
    run.acked = run.acked.max(ticket.commit_seq() as usize);
    tally.pipelined_ok += 1;
    true
}

/// Now and then starts an incremental checkpoint; while one runs, takes
/// steps of random small budgets (so a checkpoint spans many commits).
/// Steps write staged commits unsynced; only the last step's sync
/// acknowledges them. False once the power is cut.
fn checkpoint(
    store: &mut Store,
    disk: &SimDisk,
    rng: &mut Rng,
    run: &mut Run,
    tally: &mut Tally,
) -> bool {
    if !store.checkpoint_running() {
        if rng.chance(1, 6) {
            return unless_cut(disk, store.begin_checkpoint(), "begin checkpoint").is_some();
        }
        return true;
    }
    if !rng.chance(1, 2) {
        return true;
    }
    let budget = rng.range(1, 8000);
    match unless_cut(
        disk,
        store.checkpoint_step(NOW_MS, budget),
        "checkpoint step",
    ) {
        None => false,
        Some(CheckpointProgress::Completed) => {
            run.acked = run.history.len();
            tally.checkpoints_ok += 1;
            true
        }
        Some(_) => true,
    }
}

/// Opens the crashed disk and checks the recovered state; afterwards the
/// recovered commits are the new (durable) history.
fn recover(disk: &SimDisk, rng: &mut Rng, run: &mut Run, tally: &mut Tally) -> Store {
    if rng.chance(1, 4) {
        // Cut the power again during the open itself (its epoch bump is
        // write, sync, write, sync); sometimes let it complete.
        disk.fail_after(rng.below(5));
        match unless_cut(disk, open_store(disk, true), "open") {
            Some(store) => {
                disk.disarm();
                drop(store);
            }
            None => tally.opens_cut += 1,
        }
        disk.crash(rng);
    }
    let mut store = match open_store(disk, true) {
        Ok(s) => s,
        Err(e) => panic!("open after a crash failed: {e} ({})", e.code()),
    };
    let p = committed(&mut store);
    let n = run.history.len();
    assert!(
        p >= run.acked,
        "acknowledged commits lost: the store recovered {p} commits, {} were acknowledged ({n} staged)",
        run.acked
    );
    assert!(p <= n, "the store claims {p} commits, only {n} were staged");
    let want = Model::replay(&run.history[..p]);
    if let Some(d) = diff(store.state(), &want, NOW_MS) {
        let prefixes = Model::prefixes(&run.history);
        panic!(
            "recovered state is not the state after its {p} commits ({} acknowledged, {n} staged): {d}; \
             prefixes it does equal: {:?}",
            run.acked,
            matching_prefixes(store.state(), &prefixes, NOW_MS)
        );
    }
    if p > run.acked {
        tally.recovered_beyond_ack += 1;
    }
    if p < n {
        tally.unacked_lost += 1;
    }
    run.history.truncate(p);
    run.acked = p;
    store
}

/// Cuts the power and counts the crash.
fn crash(disk: &SimDisk, rng: &mut Rng, tally: &mut Tally) {
    if disk.tripped() {
        tally.cut_mid_operation += 1;
    } else {
        tally.cut_between_operations += 1;
    }
    let r = disk.crash(rng);
    tally.writes_dropped += r.dropped;
    tally.writes_applied += r.applied;
    tally.writes_torn += r.torn;
    tally.set_len_kept += r.set_len_kept;
    tally.set_len_lost += r.set_len_lost;
    tally.crashes += 1;
}

/// One disk: a workload cut by a power failure, recovery, more commits,
/// another power failure, recovery. Does at most `budget` crashes.
fn run_case(seed: u64, budget: usize, tally: &mut Tally) {
    let _note = OnPanic(format!(
        "store_crash seed {seed:#x} (rerun: REDDB_SEED={seed:#x} cargo test --test store_crash power_cuts)"
    ));
    let mut rng = Rng::new(seed);
    let disk = SimDisk::new();
    // A log page starts with its session id (which names its key) and nonce.
    disk.track_nonces(PAGE_SIZE as usize, FIRST_DATA_PAGE, SESSION_LEN + NONCE_LEN);
    let mut run = Run::default();
    let mut store = create_store(&disk);

    // Round 1: the power is cut at a random I/O operation, or (if the
    // workload does fewer) after the last one.
    let n = rng.range(1, 40);
    disk.fail_after(rng.below(n as u64 + 2));
    workload(&mut store, &disk, &mut rng, &mut run, n, tally);
    drop(store);
    crash(&disk, &mut rng, tally);
    let mut store = recover(&disk, &mut rng, &mut run, tally);

    // Round 2: append after the recovery, then cut again (half the time
    // inside an operation, otherwise between operations).
    if budget > 1 {
        let n = rng.range(1, 12);
        if rng.chance(1, 2) {
            disk.fail_after(rng.below(n as u64 + 2));
        }
        workload(&mut store, &disk, &mut rng, &mut run, n, tally);
        drop(store);
        crash(&disk, &mut rng, tally);
        drop(recover(&disk, &mut rng, &mut run, tally));
    }

    let reuse = disk.nonce_violations();
    assert!(reuse.is_empty(), "AES-GCM nonce reused: {reuse:?}");
}

#[test]
fn power_cuts_never_lose_acknowledged_commits() {
    let target = if extended() {
        EXTENDED_CRASHES
    } else {
        DEFAULT_CRASHES
    };
    let started = Instant::now();
    let mut tally = Tally::default();
    if let Some(seed) = seed_override() {
        run_case(seed, 2, &mut tally);
        eprintln!("replayed seed {seed:#x}: {tally:#?}");
        return;
    }
    let mut case = 0;
    while tally.crashes < target {
        run_case(
            case_seed(BASE_SEED, case),
            target - tally.crashes,
            &mut tally,
        );
        case += 1;
    }
    eprintln!(
        "{} crashes over {case} disks in {:.1?}: {tally:#?}",
        tally.crashes,
        started.elapsed()
    );
    assert_eq!(
        tally.crashes, target,
        "every planned crash was run and checked"
    );
    assert!(
        tally.cut_mid_operation > target / 4,
        "too few cuts inside an operation"
    );
    assert!(
        tally.writes_torn > 0 && tally.writes_dropped > 0,
        "crashes never tore or dropped a write"
    );
    assert!(tally.compactions_ok > 0, "the workload never compacted");
    assert!(
        tally.pipelined_ok > 0,
        "no pipelined group commit (sync on the sync thread) completed"
    );
    assert!(
        tally.checkpoints_ok > 0,
        "the workload never finished a checkpoint"
    );
    assert!(
        tally.unacked_lost > 0,
        "no crash ever lost an unacknowledged commit"
    );
}

/// A distinct meta state per version number `n`.
fn meta_version(n: u64) -> MetaState {
    MetaState {
        epoch: n as u32,
        log_head_page: FIRST_DATA_PAGE + n,
        log_head_seq: n,
        log_anchor: [n as u8; 16],
        base_commit_seq: n,
    }
}

/// One pager: rounds of successful meta writes, each round ended by a power
/// cut inside a write and a reopen.
fn run_meta_case(seed: u64, keys: &reddb::store::StoreKeys) -> usize {
    let _note = OnPanic(format!(
        "meta-write seed {seed:#x} (rerun: REDDB_SEED={seed:#x} cargo test --test store_crash cut_meta)"
    ));
    let mut rng = Rng::new(seed);
    let disk = SimDisk::new();
    let mut pager = Pager::create(disk.io(), PAGE_SIZE).expect("Pager::create");
    let mut header = *pager.header();
    header.bootstrapped = true;
    pager
        .write_meta(header, Some((&meta_version(1), &keys.meta)))
        .expect("first meta write");
    // `current`: the version the pager last read or wrote successfully.
    let mut current = 1;
    let mut next = 2;
    let rounds = rng.range(1, 6);
    for _ in 0..rounds {
        // A meta write is write, sync, write, sync: cut within the next two.
        disk.fail_after(rng.below(8));
        let in_flight = loop {
            let v = next;
            next += 1;
            match pager.write_meta(header, Some((&meta_version(v), &keys.meta))) {
                Ok(()) => current = v,
                Err(_) => break v,
            }
        };
        drop(pager);
        disk.crash(&mut rng);
        pager = Pager::open(disk.io()).expect("a cut meta write left no valid copy");
        let got = pager
            .unseal_meta(&keys.meta)
            .expect("the surviving meta authenticates");
        assert!(
            got == meta_version(current) || got == meta_version(in_flight),
            "after a cut while writing version {in_flight} over version {current}, the pager opened version {}",
            got.base_commit_seq
        );
        current = got.base_commit_seq;
    }
    rounds
}

#[test]
fn cut_meta_writes_leave_the_current_or_the_new_meta() {
    let target = if extended() { 200_000 } else { 20_000 };
    let keys = keys();
    if let Some(seed) = seed_override() {
        run_meta_case(seed, &keys);
        return;
    }
    let mut cuts = 0;
    let mut case = 0;
    while cuts < target {
        cuts += run_meta_case(case_seed(BASE_SEED ^ 0x3E7A, case), &keys);
        case += 1;
    }
    eprintln!("{cuts} cut meta writes over {case} pagers");
    assert!(cuts >= target);
}

/// One import on a disk: committed history, then puts applied with
/// `put_for_snapshot` (memory only) and one compaction, the power cut at a
/// random operation of it. Returns whether the recovered state is the
/// whole import (true) or none of it (false); anything else fails.
fn run_import_case(seed: u64) -> bool {
    let _note = OnPanic(format!(
        "import seed {seed:#x} (rerun: REDDB_SEED={seed:#x} cargo test --test store_crash import)"
    ));
    let mut rng = Rng::new(seed);
    let disk = SimDisk::new();
    disk.track_nonces(PAGE_SIZE as usize, FIRST_DATA_PAGE, SESSION_LEN + NONCE_LEN);
    let mut store = create_store(&disk);
    let mut history = Vec::new();
    for _ in 0..rng.range(1, 8) {
        let commit = random_commit(&mut rng, KEYS_PER_NS, MAX_VALUE_LEN);
        store.apply(commit.clone()).expect("apply");
        history.push(commit);
    }
    store.flush().expect("flush");
    let before = Model::replay(&history);
    // The import: enough puts to span many pages, some over existing keys;
    // one case in six is big enough (> 4 MiB) that the compaction seals and
    // writes its snapshot in several batches.
    let mut import: Vec<Mutation> = (0..rng.range(1, 120))
        .flat_map(|_| random_commit(&mut rng, KEYS_PER_NS * 3, MAX_VALUE_LEN))
        .filter(|m| matches!(m, Mutation::Put { .. }))
        .collect();
    if rng.chance(1, 6) {
        for i in 0..rng.range(80, 160) {
            import.push(Mutation::Put {
                ns: Namespace::Keyspace,
                key: format!("big-{i}").into_bytes(),
                value: Value::Bytes(vec![(i % 251) as u8; 60_000]),
                expires_at_ms: 0,
            });
        }
    }
    for m in &import {
        store.put_for_snapshot(m.clone()).expect("put_for_snapshot");
    }
    // Nothing may be logged on top of the unlogged puts.
    assert!(store.flush().is_ok(), "nothing staged: flush is a no-op");
    store.apply(vec![]).expect("an empty commit stages");
    assert!(store.flush().is_err(), "a log write over unlogged puts");
    drop(store);
    // Redo it on a fresh open (the refused flush poisoned nothing on disk).
    let mut store = open_store(&disk, true).expect("reopen");
    for m in &import {
        store.put_for_snapshot(m.clone()).expect("put_for_snapshot");
    }
    let mut after = Model::replay(&history);
    for m in &import {
        after.apply(m);
    }
    disk.fail_after(rng.below(10));
    let finished = store.compact(NOW_MS).is_ok();
    drop(store);
    disk.crash(&mut rng);
    let store = open_store(&disk, true).expect("open after a cut import");
    let whole = diff(store.state(), &after, NOW_MS).is_none();
    let none = diff(store.state(), &before, NOW_MS).is_none();
    assert!(
        whole || none,
        "a cut import left part of itself: {}",
        diff(store.state(), &after, NOW_MS).unwrap_or_default()
    );
    if finished {
        assert!(whole, "a finished import was lost");
    }
    let reuse = disk.nonce_violations();
    assert!(reuse.is_empty(), "AES-GCM nonce reused: {reuse:?}");
    whole
}

#[test]
fn power_cuts_during_an_import_leave_all_of_it_or_none() {
    if let Some(seed) = seed_override() {
        run_import_case(seed);
        return;
    }
    let cases: u64 = if extended() { 2000 } else { 60 };
    let whole = (0..cases)
        .filter(|&case| run_import_case(case_seed(BASE_SEED ^ 0x1A9F, case)))
        .count() as u64;
    eprintln!("{cases} cut imports: {whole} whole, {} none", cases - whole);
    // Both outcomes must actually occur, or the test shows nothing.
    assert!(whole > 0 && whole < cases);
}
