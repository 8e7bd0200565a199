//! Measures what a certificate rotation (`Database::prepare_rekey` +
//! `Database::commit_rekey`, the work behind `red rekey` and
//! `POST /admin/rekey`) costs in a store of 100 entries and in one of
//! 100,000, on a real file: the Argon2id derivation of the new vault key,
//! the writes (vault page, two meta copies, vault page, each fdatasync'd),
//! and which pages of the file changed (read back and compared byte for
//! byte). It should not depend on the size: no data page is rewritten.
//!
//! Run with `cargo bench --bench rekey_cost`. The file lives in the system
//! temporary directory, so the numbers include that file system's real
//! sync cost.

use reddb::crypto::keys::Certificate;
use reddb::crypto::password::PasswordCost;
use reddb::database::{open_pager, Database};
use reddb::store::record::{Mutation, Namespace, Value};
use std::time::{Duration, Instant};

const SIZES: [usize; 2] = [100, 100_000];
/// Rekeys timed per size (each on the result of the previous one).
const N: usize = 7;
const FILL_BATCH: usize = 1_000;
const VALUE_LEN: usize = 100;
const PAGE: usize = 4096;

struct Row {
    size: usize,
    file_pages: usize,
    derive: Duration,
    commit: Duration,
    changed: Vec<usize>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn changed_pages(before: &[u8], after: &[u8]) -> Vec<usize> {
    let pages = before.len().max(after.len()).div_ceil(PAGE);
    (0..pages)
        .filter(|&p| before.get(p * PAGE..(p + 1) * PAGE) != after.get(p * PAGE..(p + 1) * PAGE))
        .collect()
}

fn measure(size: usize) -> Row {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.rdb");
    let cost = PasswordCost {
        m_kib: 1024,
        t: 1,
        p: 1,
    };
    let pager = open_pager(&path, true).expect("create");
    let (db, out) = reddb::service::bootstrap::bootstrap(pager, "admin", b"bench-password", cost)
        .expect("bootstrap");
    drop(db);
    let cert = Certificate::parse_hex(&out.certificate_hex).expect("certificate");
    let pager = open_pager(&path, false).expect("open");
    let mut db = Database::unseal(pager, &cert, true).expect("unseal");
    for first in (0..size).step_by(FILL_BATCH) {
        let batch = (first..(first + FILL_BATCH).min(size))
            .map(|i| Mutation::Put {
                ns: Namespace::Keyspace,
                key: format!("bench:key:{i:08}").into_bytes(),
                value: Value::Bytes(vec![b'x'; VALUE_LEN]),
                expires_at_ms: 0,
            })
            .collect();
        db.store_mut().apply(batch).expect("apply");
        db.store_mut().flush().expect("flush");
    }
    let mut derive = Vec::new();
    let mut commit = Vec::new();
    let mut changed = Vec::new();
    let mut file_pages = 0;
    for _ in 0..N {
        let before = std::fs::read(&path).expect("read");
        file_pages = before.len() / PAGE;
        let t = Instant::now();
        let prepared = Database::prepare_rekey().expect("prepare");
        derive.push(t.elapsed());
        let t = Instant::now();
        db.commit_rekey(prepared)
            .map_err(|e| e.into_error())
            .expect("rekey");
        commit.push(t.elapsed());
        let after = std::fs::read(&path).expect("read");
        let c = changed_pages(&before, &after);
        if !changed.is_empty() {
            assert_eq!(c, changed, "every rekey changes the same pages");
        }
        changed = c;
    }
    assert_eq!(
        db.store()
            .state()
            .count_live(Namespace::Keyspace, reddb::database::now_ms()),
        size
    );
    Row {
        size,
        file_pages,
        derive: median(derive),
        commit: median(commit),
        changed,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn main() {
    println!(
        "rekey_cost: prepare_rekey (Argon2id 16 MiB) + commit_rekey (4 page writes, 4 fdatasync); median of {N}; files in {}",
        std::env::temp_dir().display()
    );
    println!();
    let rows: Vec<Row> = SIZES.iter().map(|&s| measure(s)).collect();
    println!(
        "{:>8} | {:>10} | {:>13} | {:>13} | pages changed",
        "entries", "file pages", "derive ms", "writes ms"
    );
    println!(
        "{:->8}-+-{:->10}-+-{:->13}-+-{:->13}-+-{:->14}",
        "", "", "", "", ""
    );
    for r in &rows {
        println!(
            "{:>8} | {:>10} | {:>13} | {:>13} | {:?}",
            r.size,
            r.file_pages,
            ms(r.derive),
            ms(r.commit),
            r.changed
        );
    }
    let (small, large) = (&rows[0], &rows[rows.len() - 1]);
    println!();
    println!(
        "ratio (derive + writes) {}/{} = {:.2}",
        large.size,
        small.size,
        (large.derive + large.commit).as_secs_f64() / (small.derive + small.commit).as_secs_f64()
    );
}
