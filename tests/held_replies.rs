//! The group commit's sync runs on the sync thread while the event loop
//! keeps serving; a reply must still leave only once every commit it
//! could have seen is durable (docs/FORMAT.md §9.2). With every sync
//! slowed down (`REDDB_TEST_SYNC_DELAY_MS`, a `test-hooks` build only):
//!
//! * a write's reply waits for its sync;
//! * a read on another connection that saw that write waits for the same
//!   sync, though the loop ran it while the sync was in flight;
//! * a second write staged meanwhile is written as the next group and
//!   acknowledged after its own sync, and both survive a restart;
//! * once everything is durable, a read is not held.
//!
//! The delay is a lower bound the server enforces, so "not before" is
//! exact; the one upper bound (a read not held) allows several tries.

mod harness;

use harness::daemon::{Daemon, Options};
use harness::wire::{bulk, ok, Value};
use std::time::{Duration, Instant};

const DELAY_MS: u64 = 800;
const DELAY: Duration = Duration::from_millis(DELAY_MS);

fn set(key: &str, value: &str) -> Vec<u8> {
    format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
        key.len(),
        value.len()
    )
    .into_bytes()
}

/// Reads one reply; returns it with when it arrived.
fn reply(c: &mut harness::wire::Client) -> (Value, Instant) {
    let v = c.read().expect("read").expect("a reply");
    (v, Instant::now())
}

#[test]
fn replies_wait_for_the_sync_of_every_commit_they_could_have_seen() {
    let dir = harness::tmp();
    let db = dir.path().join("data.rdb");
    let opts = Options::dev().env("REDDB_TEST_SYNC_DELAY_MS", DELAY_MS.to_string());
    let mut daemon = Daemon::start(&db, &opts);
    let mut writer = daemon.authed();
    let mut reader = daemon.authed();
    let mut second = daemon.authed();

    let sent = Instant::now();
    writer.send(&set("first", "1")).expect("send");
    // The SET has run and its sync is on the thread well before this.
    std::thread::sleep(Duration::from_millis(150));
    reader
        .send(b"*2\r\n$3\r\nGET\r\n$5\r\nfirst\r\n")
        .expect("send");
    second.send(&set("second", "2")).expect("send");

    let (w, w_at) = reply(&mut writer);
    assert_eq!(w, ok());
    assert!(
        w_at >= sent + DELAY,
        "the SET was acknowledged {:?} after it was sent, before its sync could end",
        w_at - sent
    );
    let (r, r_at) = reply(&mut reader);
    assert_eq!(r, bulk("1"), "the read ran while the sync was in flight");
    assert!(
        r_at >= sent + DELAY,
        "a read that saw an unsynced write left {:?} after the write, before its sync",
        r_at - sent
    );
    let (s, s_at) = reply(&mut second);
    assert_eq!(s, ok());
    assert!(
        s_at >= sent + DELAY + DELAY,
        "the write staged during the first sync needs a sync of its own \
         (acknowledged {:?} after the first write)",
        s_at - sent
    );

    // Everything is durable now: a read is not held (several tries, in
    // case a background commit is being synced).
    let fastest = (0..5)
        .map(|_| {
            let at = Instant::now();
            assert_eq!(reader.cmd(&["GET", "second"]), bulk("2"));
            at.elapsed()
        })
        .min()
        .expect("five reads");
    assert!(
        fastest < DELAY,
        "with nothing to sync, every read still waited {fastest:?}"
    );

    // Both acknowledged writes are in the file (killed, no clean stop).
    daemon.kill9().expect("kill -9");
    daemon.start_again();
    let mut after = daemon.authed();
    assert_eq!(after.cmd(&["GET", "first"]), bulk("1"));
    assert_eq!(after.cmd(&["GET", "second"]), bulk("2"));
}
