//! `BGSAVE` over the real `red server`: the compaction runs as an
//! incremental checkpoint in bounded steps between loop turns, so other
//! clients are answered (reads and writes) while it runs; when it ends the
//! log is shorter, and every value written before and during it survives a
//! restart. `SAVE` still compacts in one go. Nothing here times anything:
//! "not stalled" is shown by replies that arrive while `INFO` still says
//! the checkpoint runs (`docs/BENCHMARKS.md` has the latency figures).

mod harness;

use harness::daemon::Daemon;
use harness::wire::*;
use std::time::{Duration, Instant};

/// Keys written before the checkpoint (each twice, so half the log is
/// garbage) and their value size: about 12 MB live, many checkpoint steps.
const KEYS: usize = 40_000;
/// Turns of the other client that write while the checkpoint runs.
const WRITES_DURING: usize = 500;
const VALUE_LEN: usize = 300;
const BATCH: usize = 1_000;

fn value(i: usize, round: u8) -> String {
    let mut v = format!("{round}-{i}-");
    while v.len() < VALUE_LEN {
        v.push((b'a' + (i % 26) as u8) as char);
    }
    v
}

/// `MSET` of keys `from..to` with round `round`'s values.
fn fill(c: &mut Client, from: usize, to: usize, round: u8) {
    for start in (from..to).step_by(BATCH) {
        let mut args = vec!["MSET".to_string()];
        for i in start..(start + BATCH).min(to) {
            args.push(format!("key:{i}"));
            args.push(value(i, round));
        }
        assert_eq!(c.cmd(&args), ok());
    }
}

fn metric(d: &Daemon, name: &str) -> f64 {
    let r = d.get("/metrics", Some(d.api_key()));
    assert_eq!(r.status, 200, "/metrics: {}", r.text());
    r.text()
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

fn saving(c: &mut Client) -> bool {
    let info = text(&c.cmd(&["INFO", "persistence"]));
    assert!(info.contains("rdb_bgsave_in_progress:"), "{info}");
    info.contains("rdb_bgsave_in_progress:1")
}

#[test]
fn bgsave_checkpoints_in_steps_while_other_clients_are_served() {
    let dir = harness::tmp();
    let mut d = Daemon::start_dev(dir.path(), &[]);
    let mut writer = d.authed();
    fill(&mut writer, 0, KEYS, 1);
    fill(&mut writer, 0, KEYS, 2);
    let pages_before = metric(&d, "reddb_store_log_pages");
    let compactions_before = metric(&d, "reddb_store_compactions_total");
    assert!(!saving(&mut writer), "no checkpoint before BGSAVE");

    assert_eq!(writer.cmd(&["BGSAVE"]), simple("Background saving started"));
    // A second BGSAVE while the first runs is refused, as Redis refuses it.
    assert_eq!(
        writer.cmd(&["BGSAVE"]),
        err("ERR Background save already in progress")
    );

    // Another client reads and writes while the checkpoint runs: its
    // first WRITES_DURING turns write, the rest only read (the log's
    // shrink below must not depend on how long the paced checkpoint
    // takes on a loaded machine, only on what was written meanwhile).
    let mut other = d.authed();
    let started = Instant::now();
    let mut served_while_saving = 0usize;
    let mut during = 0usize;
    while saving(&mut other) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the checkpoint did not finish in 120 s"
        );
        served_while_saving += 1;
        if during < WRITES_DURING {
            assert_eq!(
                other.cmd(&["SET", &format!("during:{during}"), &value(during, 3)]),
                ok()
            );
            // Overwrite a listed key too: the checkpoint must keep the
            // newer value.
            assert_eq!(
                other.cmd(&["SET", &format!("key:{during}"), &value(during, 4)]),
                ok()
            );
            during += 1;
        }
        assert_eq!(other.cmd(&["GET", "key:39999"]), bulk(&value(39_999, 2)));
    }
    assert!(
        served_while_saving > 0,
        "no command was answered while the checkpoint ran"
    );
    assert_eq!(
        metric(&d, "reddb_store_compactions_total"),
        compactions_before + 1.0
    );
    let pages_after = metric(&d, "reddb_store_log_pages");
    assert!(
        pages_after < pages_before * 0.75,
        "the log did not shrink: {pages_before} pages before, {pages_after} after"
    );

    // Everything survives a restart: the keys written before (the later
    // round), the ones overwritten and written during the checkpoint.
    d.restart();
    let mut c = d.authed();
    for i in (0..KEYS).step_by(997).chain([KEYS - 1]) {
        let want = if i < during { value(i, 4) } else { value(i, 2) };
        assert_eq!(c.cmd(&["GET", &format!("key:{i}")]), bulk(&want), "key:{i}");
    }
    for i in 0..during {
        assert_eq!(
            c.cmd(&["GET", &format!("during:{i}")]),
            bulk(&value(i, 3)),
            "during:{i}"
        );
    }
    assert_eq!(as_int(&c.cmd(&["DBSIZE"])), (KEYS + during) as i64);
}

#[test]
fn save_compacts_in_one_go_and_bgsave_after_it_starts_fresh() {
    let dir = harness::tmp();
    let mut d = Daemon::start_dev(dir.path(), &[]);
    let mut c = d.authed();
    fill(&mut c, 0, 2_000, 1);
    fill(&mut c, 0, 2_000, 2);
    assert_eq!(c.cmd(&["SAVE"]), ok());
    assert!(!saving(&mut c), "SAVE leaves no checkpoint running");
    assert_eq!(c.cmd(&["BGSAVE"]), simple("Background saving started"));
    let started = Instant::now();
    while saving(&mut c) {
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    assert_eq!(
        c.cmd(&["BGSAVE", "SCHEDULE"]),
        simple("Background saving started")
    );
    assert_eq!(c.cmd(&["BGSAVE", "NOW"]), err("ERR syntax error"));
    d.restart();
    let mut c = d.authed();
    assert_eq!(c.cmd(&["GET", "key:1999"]), bulk(&value(1999, 2)));
    assert_eq!(c.cmd(&["DBSIZE"]), int(2_000));
}
