//! Proves the store holds 200,000 entries through the library: 100,000
//! sealed `red.secret.*` values and 100,000 keyspace entries written in
//! 200 durable commits of 1,000 mutations (one flush each), with one
//! compaction half-way, all come back byte-for-byte after the file is closed
//! and reopened — the half before the compaction from the snapshot chain,
//! the half after it from the commit log replayed on top. Prints how long
//! the write phase and the reopen took.

mod harness;

use harness::rng::Rng;
use reddb::crypto::keys::Certificate;
use reddb::crypto::password::PasswordCost;
use reddb::database::{now_ms, open_pager, Database};
use reddb::store::record::{Mutation, Namespace, Value, ValueRef};
use std::path::Path;
use std::time::Instant;

/// Entries per namespace.
const ENTRIES: usize = 100_000;
/// Mutations per commit: half secrets, half keyspace entries.
const PER_COMMIT: usize = 1_000;
const COMMITS: usize = 2 * ENTRIES / PER_COMMIT;
const COMPACT_AFTER: usize = COMMITS / 2;

/// A cheap Argon2 cost: this test is about the store, not password hashing.
const FAST: PasswordCost = PasswordCost {
    m_kib: 1024,
    t: 1,
    p: 1,
};

fn secret_key(i: usize) -> Vec<u8> {
    format!("red.secret.scale.{i:06}").into_bytes()
}

fn keyspace_key(i: usize) -> Vec<u8> {
    format!("scale:key:{i:06}").into_bytes()
}

/// `len` bytes that differ for every `(i, salt)`.
fn filler(i: usize, salt: usize, len: usize) -> Vec<u8> {
    let mut v = format!("{salt}:{i:06}:").into_bytes();
    let mut rng = Rng::new((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt as u64);
    while v.len() < len {
        v.push(b'!' + rng.below(90) as u8);
    }
    v
}

fn secret_value(i: usize) -> Vec<u8> {
    filler(i, 1, 64)
}

fn keyspace_value(i: usize) -> Vec<u8> {
    filler(i, 2, 100)
}

fn unseal(path: &Path, cert_hex: &str, writable: bool) -> Database {
    let pager = open_pager(path, false).expect("open_pager");
    let cert = Certificate::parse_hex(cert_hex).expect("certificate parses");
    Database::unseal(pager, &cert, writable).expect("unseal")
}

#[test]
fn two_hundred_thousand_entries_survive_compaction_and_reopen() {
    let dir = harness::tmp();
    let path = dir.path().join("scale.rdb");
    let pager = open_pager(&path, true).expect("create");
    let (db, out) =
        reddb::service::bootstrap::bootstrap(pager, "admin", b"scale-test-password", FAST)
            .expect("bootstrap");
    drop(db);
    let cert = out.certificate_hex;
    let mut db = unseal(&path, &cert, true);

    let half = PER_COMMIT / 2;
    let start = Instant::now();
    let mut compact_time = None;
    for c in 0..COMMITS {
        let mut batch = Vec::with_capacity(PER_COMMIT);
        for i in c * half..(c + 1) * half {
            let key = secret_key(i);
            let sealed = db
                .seal_secret_value(&key, 1, &secret_value(i))
                .expect("seal");
            batch.push(Mutation::Put {
                ns: Namespace::Secrets,
                key,
                value: Value::Bytes(sealed),
                expires_at_ms: 0,
            });
            batch.push(Mutation::Put {
                ns: Namespace::Keyspace,
                key: keyspace_key(i),
                value: Value::Bytes(keyspace_value(i)),
                expires_at_ms: 0,
            });
        }
        db.store_mut().apply(batch).expect("apply");
        db.store_mut().flush().expect("flush");
        if c + 1 == COMPACT_AFTER {
            let t = Instant::now();
            db.store_mut().compact(now_ms()).expect("compact");
            compact_time = Some(t.elapsed());
            assert_eq!(db.store_mut().stats().compactions, 1);
        }
    }
    let write_time = start.elapsed();
    let before = db.store_mut().stats();
    drop(db);

    let start = Instant::now();
    let mut db = unseal(&path, &cert, false);
    let reopen_time = start.elapsed();
    let after = db.store_mut().stats();

    eprintln!(
        "scale: wrote {} entries in {COMMITS} commits in {:.2?} (compaction {:.2?}); \
         reopen {:.2?}; {} log pages, {} file pages",
        2 * ENTRIES,
        write_time,
        compact_time.unwrap_or_default(),
        reopen_time,
        after.chain_pages,
        after.file_pages,
    );

    // Bootstrap was commit 1; ours are 2..=COMMITS+1. Only those after the
    // compaction are replayed as commits: the rest came from the snapshot.
    assert_eq!(after.next_commit_seq, (COMMITS + 2) as u64);
    assert_eq!(after.next_commit_seq, before.next_commit_seq);
    assert_eq!(after.commits_replayed, (COMMITS - COMPACT_AFTER) as u64);
    assert_eq!(after.chain_pages, before.chain_pages);

    let now = now_ms();
    let state = db.store().state();
    assert_eq!(state.count_live(Namespace::Secrets, now), ENTRIES);
    assert_eq!(state.count_live(Namespace::Keyspace, now), ENTRIES);
    assert_eq!(
        state.count_live(Namespace::Vault, now),
        2,
        "the bootstrap user and API key did not survive compaction"
    );

    let start = Instant::now();
    let mut bad_secrets = Vec::new();
    let mut bad_keyspace = Vec::new();
    for i in 0..ENTRIES {
        let key = secret_key(i);
        let ok = match db.store().get(Namespace::Secrets, &key, now) {
            Some(entry) => match entry.value {
                ValueRef::Bytes(sealed) => db
                    .open_secret_value(&key, 1, sealed)
                    .is_ok_and(|plain| plain[..] == secret_value(i)[..]),
                _ => false,
            },
            None => false,
        };
        if !ok {
            bad_secrets.push(i);
        }
        let ok = matches!(
            db.store().get(Namespace::Keyspace, &keyspace_key(i), now),
            Some(entry) if entry.value == ValueRef::Bytes(&keyspace_value(i))
        );
        if !ok {
            bad_keyspace.push(i);
        }
    }
    eprintln!(
        "scale: verified {} entries in {:.2?}",
        2 * ENTRIES,
        start.elapsed()
    );
    // Indices only: the values are test data, but keep messages short.
    assert!(
        bad_secrets.is_empty(),
        "{} secrets missing or different, first indices {:?}",
        bad_secrets.len(),
        &bad_secrets[..bad_secrets.len().min(10)]
    );
    assert!(
        bad_keyspace.is_empty(),
        "{} keyspace entries missing or different, first indices {:?}",
        bad_keyspace.len(),
        &bad_keyspace[..bad_keyspace.len().min(10)]
    );
}
