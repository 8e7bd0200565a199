//! The in-process benchmark of the wire command path: what one pipelined
//! command costs from parsing to its encoded reply (`CommandParser::parse`
//! then [`Shared::handle`], as `process_wire` runs them), without sockets,
//! the kernel or a load generator on the other core. On a shared 2-core
//! machine a socket benchmark moves by ±9 % between rounds, so a change
//! worth 5 % of a pipelined `GET` can only be seen here.
//!
//! An ignored test: `bench/command_path.sh` runs it (release build) and
//! prints nanoseconds per command, the median and the fastest of its rounds.
//! What the commands staged is flushed (written and synced) after each
//! round, untimed: a sync between batches, as the loop's group commit
//! makes, would leave the next batch's timing to the kernel's writeback.

use super::resp::{encode_command, Limits};
use super::{Session, Shared, Step};
use reddb_service::{DbState, Service, ServiceConfig};
use reddb_storage::crypto::keys::Certificate;
use reddb_storage::crypto::password::PasswordCost;
use reddb_storage::database::{open_pager, Database};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Commands per pipelined batch (`redis-benchmark -P 16`).
const PIPELINE: usize = 16;
/// Keys written before the reads, as `bench/server_cpu.sh` does.
const KEYS: usize = 20_000;

/// A bootstrapped dev database in `dir`, the service over it, and a wire
/// session logged in with the admin's API key.
fn serve(dir: &std::path::Path) -> (Service, Shared, Session) {
    let path = dir.join("bench.rdb");
    let cheap = PasswordCost {
        m_kib: 1024,
        t: 1,
        p: 1,
    };
    let pager = open_pager(&path, true).unwrap_or_else(|e| panic!("create: {e}"));
    let (db, out) = reddb_service::bootstrap::bootstrap(pager, "admin", b"bench-password", cheap)
        .unwrap_or_else(|e| panic!("bootstrap: {e}"));
    drop(db);
    let cert = Certificate::parse_hex(&out.certificate_hex).unwrap_or_else(|e| panic!("{e}"));
    let pager = open_pager(&path, false).unwrap_or_else(|e| panic!("open: {e}"));
    let mut db = Database::unseal(pager, &cert, true).unwrap_or_else(|e| panic!("unseal: {e}"));
    db.complete_first_boot()
        .unwrap_or_else(|e| panic!("first boot: {e}"));
    let mut svc = Service::new(DbState::Open(Box::new(db)), ServiceConfig::default());
    let mut shared = Shared::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), false, 16);
    let mut s = shared.connect(SocketAddr::from((Ipv4Addr::LOCALHOST, 1)));
    let auth = vec![b"AUTH".to_vec(), out.api_key.as_bytes().to_vec()];
    let mut reply = Vec::new();
    match shared.handle(&mut s, &mut svc, auth, &mut reply) {
        Step::Continue => assert_eq!(reply, b"+OK\r\n", "AUTH with the API key"),
        Step::Defer(work) => {
            let then = work.then;
            let result = svc.finish(then, work.job.run());
            shared.auth_done(&mut s, &mut svc, result, &mut reply);
            assert_eq!(reply, b"+OK\r\n", "AUTH with the API key");
        }
        _ => panic!("AUTH neither answered nor deferred"),
    }
    (svc, shared, s)
}

/// Runs `input` (whole commands) as `process_wire` does: parse, handle,
/// one batch. The replies are appended to `out`.
fn run_batch(
    shared: &mut Shared,
    svc: &mut Service,
    s: &mut Session,
    input: &[u8],
    out: &mut Vec<u8>,
) {
    let limits: Limits = s.limits();
    let mut off = 0;
    shared.clock.open_batch();
    while let Ok(Some((args, used))) = s.parser.parse(input.get(off..).unwrap_or(&[]), &limits) {
        off += used;
        let step = shared.handle(s, svc, args, out);
        assert!(matches!(step, Step::Continue), "a plain command ran");
    }
    shared.clock.close_batch();
    assert_eq!(off, input.len(), "every command parsed");
}

/// The group commit after a round (not timed).
fn flush(svc: &mut Service) {
    if let Some(db) = svc.database_mut() {
        db.flush_staged().unwrap_or_else(|e| panic!("flush: {e}"));
    }
}

/// Nanoseconds per command of `batches` (each `PIPELINE` commands), over
/// `rounds` rounds: (median, fastest).
fn measure(
    shared: &mut Shared,
    svc: &mut Service,
    s: &mut Session,
    batches: &[Vec<u8>],
    rounds: usize,
) -> (f64, f64) {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut per_round = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let mut took = Duration::ZERO;
        for batch in batches {
            shared.clock.resync();
            out.clear();
            let start = Instant::now();
            run_batch(shared, svc, s, batch, &mut out);
            took += start.elapsed();
            assert!(!out.starts_with(b"-"), "{}", String::from_utf8_lossy(&out));
        }
        flush(svc);
        let commands = (batches.len() * PIPELINE) as f64;
        per_round.push(took.as_nanos() as f64 / commands);
    }
    per_round.sort_by(f64::total_cmp);
    let median = per_round.get(rounds / 2).copied().unwrap_or(f64::NAN);
    let fastest = per_round.first().copied().unwrap_or(f64::NAN);
    (median, fastest)
}

/// `KEYS` commands built by `one(i)`, cut into pipelined batches.
fn batches(one: impl Fn(usize) -> Vec<u8>) -> Vec<Vec<u8>> {
    (0..KEYS / PIPELINE)
        .map(|b| (0..PIPELINE).flat_map(|i| one(b * PIPELINE + i)).collect())
        .collect()
}

fn key(i: usize) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

#[test]
#[ignore = "a benchmark: bench/command_path.sh runs it in a release build"]
fn command_path() {
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (mut svc, mut shared, mut s) = serve(dir.path());
    let value = [b'x'; 3];
    let sets = batches(|i| encode_command::<&[u8]>(&[b"SET", &key(i), &value]));
    let gets = batches(|i| encode_command::<&[u8]>(&[b"GET", &key(i)]));
    let incrs = batches(|i| encode_command::<&[u8]>(&[b"INCR", &key(KEYS + i % 1000)]));
    let lpush =
        batches(|i| encode_command::<&[u8]>(&[b"LPUSH", &key(2 * KEYS + i % 1000), &value]));
    // As redis-benchmark sends them: one set and one sorted set, the same
    // member again and again (after the first call, reads).
    let sadd = batches(|_| encode_command::<&[u8]>(&[b"SADD", b"myset", b"element:1"]));
    let zadd = batches(|_| encode_command::<&[u8]>(&[b"ZADD", b"myzset", b"0", b"element:1"]));
    let workloads: [(&str, &[Vec<u8>]); 6] = [
        ("SET", &sets),
        ("GET", &gets),
        ("INCR", &incrs),
        ("LPUSH", &lpush),
        ("SADD", &sadd),
        ("ZADD", &zadd),
    ];
    // ONLY=GET,SET runs those alone (for a profile of one).
    let only = std::env::var("ONLY").unwrap_or_default();
    for (name, load) in workloads {
        if !only.is_empty() && !only.split(',').any(|o| o.eq_ignore_ascii_case(name)) {
            continue;
        }
        let (median, fastest) = measure(&mut shared, &mut svc, &mut s, load, rounds);
        println!(
            "{name:<6} -P {PIPELINE}: {median:7.1} ns per command (median of {rounds} rounds of {KEYS}), fastest {fastest:7.1}"
        );
    }
}
