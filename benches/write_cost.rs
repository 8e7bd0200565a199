//! Measures the cost of one more durable write — a one-mutation commit
//! followed by `flush` (sealed log page(s) written + `fdatasync`) — in a
//! store holding 100 entries and in one holding 100,000, and shows whether
//! that cost depends on the store size (it should not: a commit costs pages
//! proportional to its own size). Reports median and p99 latency, pages
//! written per commit (from `StoreStats::pages_written`), and the ratio of
//! the medians.
//!
//! Run with `cargo bench --bench write_cost`. The file lives in the system
//! temporary directory, so the numbers include that file system's real
//! sync cost.

use reddb::crypto::keys::Certificate;
use reddb::crypto::password::PasswordCost;
use reddb::database::{open_pager, Database};
use reddb::store::record::{Mutation, Namespace, Value};
use std::time::{Duration, Instant};

const SIZES: [usize; 2] = [100, 100_000];
/// Timed single-write commits per size.
const N: usize = 200;
/// Untimed single-write commits before timing (page cache, allocator).
const WARMUP: usize = 10;
const FILL_BATCH: usize = 1_000;
const VALUE_LEN: usize = 100;

struct Row {
    size: usize,
    fill: Duration,
    median: Duration,
    p99: Duration,
    mean: Duration,
    pages_per_commit: f64,
    max_pages: u64,
    log_pages: usize,
    file_pages: u64,
}

fn value(i: usize, round: usize) -> Vec<u8> {
    let mut v = format!("value:{round}:{i:08}:").into_bytes();
    v.resize(VALUE_LEN, b'x');
    v
}

fn put(i: usize, round: usize) -> Mutation {
    Mutation::Put {
        ns: Namespace::Keyspace,
        key: format!("bench:key:{i:08}").into_bytes(),
        value: Value::Bytes(value(i, round)),
        expires_at_ms: 0,
    }
}

/// The value at `p` (0..=1) of sorted `samples`, nearest-rank.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
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
    let store = db.store_mut();

    let start = Instant::now();
    for first in (0..size).step_by(FILL_BATCH) {
        let batch = (first..(first + FILL_BATCH).min(size))
            .map(|i| put(i, 0))
            .collect();
        store.apply(batch).expect("apply");
        store.flush().expect("flush");
    }
    let fill = start.elapsed();

    // Overwrites of existing keys, spread over the store, so its size stays
    // exactly `size` while it is measured.
    let target = |j: usize| (j * 7919) % size;
    for j in 0..WARMUP {
        store.apply(vec![put(target(j), 1)]).expect("apply");
        store.flush().expect("flush");
    }
    let mut samples = Vec::with_capacity(N);
    let mut pages = Vec::with_capacity(N);
    for j in 0..N {
        let m = put(target(WARMUP + j), 2);
        let before = store.stats().pages_written;
        let t = Instant::now();
        store.apply(vec![m]).expect("apply");
        store.flush().expect("flush");
        samples.push(t.elapsed());
        pages.push(store.stats().pages_written - before);
    }
    let stats = store.stats();
    assert_eq!(
        db.store()
            .state()
            .count_live(Namespace::Keyspace, reddb::database::now_ms()),
        size,
        "the store size changed while it was measured"
    );

    let mean = samples.iter().sum::<Duration>() / N as u32;
    samples.sort();
    Row {
        size,
        fill,
        median: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
        mean,
        pages_per_commit: pages.iter().sum::<u64>() as f64 / N as f64,
        max_pages: pages.iter().copied().max().unwrap_or(0),
        log_pages: stats.chain_pages,
        file_pages: stats.file_pages,
    }
}

fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

fn main() {
    let tmp = std::env::temp_dir();
    println!(
        "write_cost: one durable write = apply(1 mutation, {VALUE_LEN}-byte value) + flush (fdatasync)"
    );
    println!(
        "            {N} timed commits per store size after {WARMUP} warm-up commits; files in {}",
        tmp.display()
    );
    println!();
    let rows: Vec<Row> = SIZES.iter().map(|&s| measure(s)).collect();
    println!(
        "{:>10} | {:>9} | {:>10} | {:>8} | {:>9} | {:>12} | {:>9} | {:>10}",
        "entries",
        "fill",
        "median µs",
        "p99 µs",
        "mean µs",
        "pages/commit",
        "log pages",
        "file pages"
    );
    println!(
        "{:->10}-+-{:->9}-+-{:->10}-+-{:->8}-+-{:->9}-+-{:->12}-+-{:->9}-+-{:->10}",
        "", "", "", "", "", "", "", ""
    );
    for r in &rows {
        println!(
            "{:>10} | {:>7.2} s | {:>10} | {:>8} | {:>9} | {:>7.2} (≤{}) | {:>9} | {:>10}",
            r.size,
            r.fill.as_secs_f64(),
            us(r.median),
            us(r.p99),
            us(r.mean),
            r.pages_per_commit,
            r.max_pages,
            r.log_pages,
            r.file_pages
        );
    }
    println!();
    let small = &rows[0];
    let large = &rows[rows.len() - 1];
    println!(
        "ratio median({})/median({}) = {:.2}",
        large.size,
        small.size,
        large.median.as_secs_f64() / small.median.as_secs_f64()
    );
}
