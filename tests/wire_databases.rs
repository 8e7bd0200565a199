//! The 16 logical databases of the real `red server`, over loopback
//! sockets: `SELECT` isolates keys, `MOVE`, `COPY … DB`, `SWAPDB` (also
//! inside `MULTI`), `FLUSHDB` against `FLUSHALL`, `DBSIZE` and `INFO
//! keyspace` per database, `CLIENT LIST`'s `db=`, and every database kept
//! across a restart and a compaction (`SAVE`). Collections changed element
//! by element (edit records) come back the same after a restart.

mod harness;

use harness::daemon::Daemon;
use harness::wire::*;

#[test]
fn select_isolates_and_moves_keys_between_databases() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    assert_eq!(c.cmd(&["SET", "k", "zero"]), ok());
    assert_eq!(c.cmd(&["SELECT", "3"]), ok());
    assert_eq!(c.cmd(&["GET", "k"]), Value::Null);
    assert_eq!(c.cmd(&["SET", "k", "three"]), ok());
    assert_eq!(c.cmd(&["DBSIZE"]), int(1));
    assert!(text(&c.cmd(&["CLIENT", "LIST"])).contains(" db=3 "));
    // Another connection starts on database 0.
    let mut other = s.authed();
    assert_eq!(other.cmd(&["GET", "k"]), bulk("zero"));
    assert_eq!(
        c.cmd(&["SELECT", "16"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        c.cmd(&["SELECT", "-1"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        c.cmd(&["SELECT", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.cmd(&["GET", "k"]),
        bulk("three"),
        "a refused SELECT keeps the database"
    );

    // MOVE: not over an existing key, not to the same database.
    assert_eq!(c.cmd(&["MOVE", "k", "0"]), int(0));
    assert_eq!(
        c.cmd(&["MOVE", "k", "3"]),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(c.cmd(&["SADD", "s", "a", "b"]), int(2));
    assert_eq!(c.cmd(&["EXPIRE", "s", "1000"]), int(1));
    assert_eq!(c.cmd(&["MOVE", "s", "5"]), int(1));
    assert_eq!(c.cmd(&["EXISTS", "s"]), int(0));
    assert_eq!(c.cmd(&["SELECT", "5"]), ok());
    assert_eq!(c.cmd(&["SCARD", "s"]), int(2));
    let ttl = integer(&c.cmd(&["TTL", "s"]));
    assert!((990..=1000).contains(&ttl), "MOVE keeps the TTL: {ttl}");

    // COPY … DB n, and the same key name into another database.
    assert_eq!(c.cmd(&["COPY", "s", "s", "DB", "7"]), int(1));
    assert_eq!(c.cmd(&["COPY", "s", "s", "DB", "7"]), int(0));
    assert_eq!(c.cmd(&["COPY", "s", "s", "DB", "7", "REPLACE"]), int(1));
    assert_eq!(
        c.cmd(&["COPY", "s", "s"]),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(c.cmd(&["SELECT", "7"]), ok());
    assert_eq!(c.cmd(&["SISMEMBER", "s", "b"]), int(1));

    // INFO keyspace lists each non-empty database.
    let info = text(&c.cmd(&["INFO", "keyspace"]));
    for line in ["db0:keys=1,", "db3:keys=1,", "db5:keys=1,", "db7:keys=1,"] {
        assert!(info.contains(line), "{line} in {info}");
    }
    assert!(!info.contains("db1:"), "{info}");
}

#[test]
fn swapdb_and_flushes_change_only_what_they_name() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    let mut watcher = s.authed();
    assert_eq!(c.cmd(&["SET", "a", "in0"]), ok());
    assert_eq!(c.cmd(&["SELECT", "1"]), ok());
    assert_eq!(c.cmd(&["SET", "b", "in1"]), ok());
    assert_eq!(c.cmd(&["SWAPDB", "0", "1"]), ok());
    // A connection on database 0 sees what database 1 held at once.
    assert_eq!(watcher.cmd(&["GET", "b"]), bulk("in1"));
    assert_eq!(watcher.cmd(&["GET", "a"]), Value::Null);
    assert_eq!(c.cmd(&["GET", "a"]), bulk("in0"));
    assert_eq!(
        c.cmd(&["SWAPDB", "0", "x"]),
        err("ERR invalid second DB index")
    );
    assert_eq!(
        c.cmd(&["SWAPDB", "y", "0"]),
        err("ERR invalid first DB index")
    );
    assert_eq!(
        c.cmd(&["SWAPDB", "0", "16"]),
        err("ERR DB index is out of range")
    );

    // Inside MULTI: writes before and after a SWAPDB land where a client
    // that ran them one by one would see them.
    assert_eq!(c.cmd(&["SELECT", "0"]), ok());
    assert_eq!(c.cmd(&["MULTI"]), simple("OK"));
    for cmd in [
        &["SET", "before", "x"][..],
        &["SWAPDB", "0", "2"],
        &["SET", "after", "y"],
        &["SELECT", "2"],
        &["GET", "before"],
        &["GET", "b"],
    ] {
        assert_eq!(c.cmd(cmd), simple("QUEUED"));
    }
    assert_eq!(
        c.cmd(&["EXEC"]),
        Value::Array(vec![ok(), ok(), ok(), ok(), bulk("x"), bulk("in1")])
    );
    assert_eq!(watcher.cmd(&["GET", "after"]), bulk("y"));
    assert_eq!(watcher.cmd(&["GET", "before"]), Value::Null);
    assert_eq!(watcher.cmd(&["SELECT", "2"]), ok());
    assert_eq!(watcher.cmd(&["GET", "before"]), bulk("x"));

    // FLUSHDB empties the selected database only; FLUSHALL every one.
    assert_eq!(c.cmd(&["SELECT", "2"]), ok());
    assert_eq!(c.cmd(&["FLUSHDB"]), ok());
    assert_eq!(c.cmd(&["DBSIZE"]), int(0));
    assert_eq!(c.cmd(&["SELECT", "1"]), ok());
    assert_eq!(c.cmd(&["GET", "a"]), bulk("in0"));
    assert_eq!(c.cmd(&["FLUSHALL"]), ok());
    for db in 0..16 {
        assert_eq!(c.cmd(&["SELECT", &db.to_string()]), ok());
        assert_eq!(c.cmd(&["DBSIZE"]), int(0), "database {db} after FLUSHALL");
    }
}

#[test]
fn every_database_and_every_edit_survives_restart_and_compaction() {
    let dir = harness::tmp();
    let mut s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    for db in [0, 9, 15] {
        assert_eq!(c.cmd(&["SELECT", &db.to_string()]), ok());
        let value = format!("v{db}");
        assert_eq!(c.cmd(&["SET", "k", &value]), ok());
        assert_eq!(c.cmd(&["SADD", "s", "a", "b", "c"]), int(3));
        assert_eq!(c.cmd(&["SREM", "s", "b"]), int(1));
        assert_eq!(c.cmd(&["HSET", "h", "f", "1", "g", "2"]), int(2));
        assert_eq!(c.cmd(&["HINCRBY", "h", "f", "41"]), int(42));
        assert_eq!(c.cmd(&["HDEL", "h", "g"]), int(1));
        assert_eq!(c.cmd(&["EXPIRE", "h", "5000"]), int(1));
        assert_eq!(c.cmd(&["SADD", "gone", "x"]), int(1));
        assert_eq!(c.cmd(&["SPOP", "gone"]), bulk("x"));
    }
    assert_eq!(c.cmd(&["SWAPDB", "9", "10"]), ok());
    let check = |s: &Daemon, when: &str| {
        let mut c = s.authed();
        for db in [0, 10, 15] {
            assert_eq!(c.cmd(&["SELECT", &db.to_string()]), ok());
            let from = if db == 10 { 9 } else { db };
            assert_eq!(
                c.cmd(&["GET", "k"]),
                bulk(&format!("v{from}")),
                "{when} db {db}"
            );
            assert_eq!(
                sorted(c.cmd(&["SMEMBERS", "s"])),
                vec!["a", "c"],
                "{when} db {db}"
            );
            assert_eq!(
                c.cmd(&["HGETALL", "h"]),
                bulks(&["f", "42"]),
                "{when} db {db}"
            );
            let ttl = integer(&c.cmd(&["TTL", "h"]));
            assert!((4900..=5000).contains(&ttl), "{when} db {db}: TTL {ttl}");
            assert_eq!(c.cmd(&["EXISTS", "gone"]), int(0), "{when} db {db}");
        }
        assert_eq!(c.cmd(&["SELECT", "9"]), ok());
        assert_eq!(
            c.cmd(&["DBSIZE"]),
            int(0),
            "{when}: database 9 was swapped away"
        );
    };
    check(&s, "before restart");
    s.restart();
    check(&s, "after restart");
    let mut c = s.authed();
    assert_eq!(c.cmd(&["SAVE"]), ok());
    s.restart();
    check(&s, "after SAVE and restart");
}

fn integer(v: &Value) -> i64 {
    match v {
        Value::Integer(i) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn sorted(v: Value) -> Vec<String> {
    let Value::Array(items) = v else {
        panic!("expected an array, got {v:?}");
    };
    let mut out: Vec<String> = items.iter().map(text).collect();
    out.sort();
    out
}

#[test]
fn watch_sees_writes_to_its_own_database_and_swaps() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    let mut other = s.authed();
    let exec_after =
        |c: &mut harness::wire::Client, other: &mut harness::wire::Client, write: &[&[&str]]| {
            assert_eq!(c.cmd(&["WATCH", "k"]), ok());
            for w in write {
                other.cmd(w);
            }
            assert_eq!(c.cmd(&["MULTI"]), ok());
            assert_eq!(c.cmd(&["SET", "done", "1"]), simple("QUEUED"));
            c.cmd(&["EXEC"])
        };
    assert_eq!(c.cmd(&["SELECT", "1"]), ok());
    assert_eq!(other.cmd(&["SET", "k", "x"]), ok(), "db 0");
    // A write to the same key name in another database is not a change.
    assert_eq!(
        exec_after(&mut c, &mut other, &[&["SET", "k", "y"]]),
        Value::Array(vec![ok()])
    );
    // The same database is.
    assert_eq!(
        exec_after(&mut c, &mut other, &[&["SELECT", "1"], &["SET", "k", "z"]]),
        Value::Null
    );
    // SWAPDB replaces the watched key of both databases.
    assert_eq!(
        exec_after(&mut c, &mut other, &[&["SWAPDB", "1", "4"]]),
        Value::Null
    );
}
