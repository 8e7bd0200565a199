//! The list family over real sockets: blocking pops woken by another
//! connection's push (first blocked, first served; from the key that was
//! written; through `MULTI`, `RENAME`, `SWAPDB` and a served `BLMOVE`),
//! timeouts answered with the nil array, a client that disconnects while
//! blocked taking nothing, a blocked client's pipelined input waiting,
//! blocking commands inside `MULTI` answering at once, the nil types of
//! every list reply as redis-server sends them, a list of 100,000 pushes,
//! and lists (and served pops) surviving a restart and `SAVE`.

mod harness;

use harness::daemon::Daemon;
use harness::redis_reference::SideBySide;
use harness::wire::*;
use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

/// How long a test waits for a state it expects (a client to block, a
/// reply to arrive) before it fails.
const PATIENCE: Duration = Duration::from_secs(20);

fn blocked_clients(c: &mut Client) -> i64 {
    info_clients(c, "blocked_clients")
}

/// A field of `INFO clients`.
fn info_clients(c: &mut Client, field: &str) -> i64 {
    let info = text(&c.cmd(&["INFO", "clients"]));
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {info}"))
}

/// Waits until the server counts `n` blocked clients.
fn wait_blocked(c: &mut Client, n: i64) {
    let ok = harness::wait_until(PATIENCE, || blocked_clients(c) == n);
    assert!(ok, "blocked_clients never reached {n}");
}

/// Sends a command without reading its reply.
fn send(c: &mut Client, args: &[&str]) {
    c.send(&encode_command(args)).expect("send");
}

/// Whether nothing arrives on `c` for `quiet`.
fn silent_for(c: &mut Client, quiet: Duration) -> bool {
    c.stream.set_read_timeout(Some(quiet)).expect("timeout");
    let silent = match c.read() {
        Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        Ok(_) => false,
    };
    c.stream
        .set_read_timeout(Some(harness::IO_TIMEOUT))
        .expect("timeout");
    silent
}

fn next(c: &mut Client) -> Value {
    c.read().expect("read").expect("a reply, not a close")
}

#[test]
fn a_push_wakes_blocked_clients_first_blocked_first() {
    let dir = harness::tmp();
    let mut s = Daemon::start_dev(dir.path(), &[]);
    let mut pusher = s.authed();
    let (mut first, mut second) = (s.authed(), s.authed());
    send(&mut first, &["BLPOP", "other", "q", "0"]);
    wait_blocked(&mut pusher, 1);
    assert_eq!(
        info_clients(&mut pusher, "clients_in_timeout_table"),
        0,
        "timeout 0 waits for ever"
    );
    send(&mut second, &["BLPOP", "q", "0"]);
    wait_blocked(&mut pusher, 2);
    let list = text(&pusher.cmd(&["CLIENT", "LIST"]));
    assert_eq!(list.matches("flags=b").count(), 2, "{list}");
    assert!(silent_for(&mut first, Duration::from_millis(100)));
    // The push answers its own length; then the waiters pop, in order.
    assert_eq!(pusher.cmd(&["RPUSH", "q", "x", "y", "z"]), int(3));
    assert_eq!(next(&mut first), bulks(&["q", "x"]));
    assert_eq!(next(&mut second), bulks(&["q", "y"]));
    assert_eq!(pusher.cmd(&["LRANGE", "q", "0", "-1"]), bulks(&["z"]));
    assert_eq!(blocked_clients(&mut pusher), 0);
    // Served pops are committed like any write.
    s.restart();
    let mut c = s.authed();
    assert_eq!(c.cmd(&["LRANGE", "q", "0", "-1"]), bulks(&["z"]));
}

#[test]
fn the_pusher_next_command_runs_after_the_waiter_is_served() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let (mut pusher, mut waiter) = (s.authed(), s.authed());
    send(&mut waiter, &["BLPOP", "k", "0"]);
    wait_blocked(&mut pusher, 1);
    let mut both = encode_command(&["RPUSH", "k", "v"]);
    both.extend(encode_command(&["LPOP", "k"]));
    pusher.send(&both).expect("send");
    assert_eq!(next(&mut pusher), int(1));
    assert_eq!(next(&mut pusher), Value::Null, "the waiter took it first");
    assert_eq!(next(&mut waiter), bulks(&["k", "v"]));
}

#[test]
fn a_waiter_on_several_keys_pops_from_the_key_written() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let (mut c, mut w) = (s.authed(), s.authed());
    send(&mut w, &["BRPOP", "a", "b", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["RPUSH", "b", "1", "2"]), int(2));
    assert_eq!(next(&mut w), bulks(&["b", "2"]));
    // Inside MULTI, the first key written is served first (as Redis).
    send(&mut w, &["BLPOP", "b2", "a2", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["MULTI"]), ok());
    assert_eq!(c.cmd(&["RPUSH", "a2", "1"]), simple("QUEUED"));
    assert_eq!(c.cmd(&["RPUSH", "b2", "2"]), simple("QUEUED"));
    assert_eq!(c.cmd(&["EXEC"]), arr(vec![int(1), int(1)]));
    assert_eq!(next(&mut w), bulks(&["a2", "1"]));
    // BLMPOP pops its count from the key written.
    send(
        &mut w,
        &["BLMPOP", "0", "2", "x", "y", "RIGHT", "COUNT", "2"],
    );
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["RPUSH", "y", "1", "2", "3"]), int(3));
    assert_eq!(
        next(&mut w),
        arr(vec![bulk("y"), bulks(&["3", "2"])]),
        "[key, items]"
    );
}

#[test]
fn keys_filled_by_rename_swapdb_or_a_served_blmove_wake_their_waiters() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let (mut c, mut w1, mut w2) = (s.authed(), s.authed(), s.authed());
    // RENAME onto a waited key.
    send(&mut w1, &["BLPOP", "dst", "0"]);
    wait_blocked(&mut c, 1);
    c.cmd(&["RPUSH", "src", "r"]);
    assert_eq!(c.cmd(&["RENAME", "src", "dst"]), ok());
    assert_eq!(next(&mut w1), bulks(&["dst", "r"]));
    // SWAPDB brings a list into the waiter's database.
    assert_eq!(w1.cmd(&["SELECT", "1"]), ok());
    send(&mut w1, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    c.cmd(&["RPUSH", "k", "swapped"]);
    assert_eq!(c.cmd(&["SWAPDB", "0", "1"]), ok());
    assert_eq!(next(&mut w1), bulks(&["k", "swapped"]));
    assert_eq!(w1.cmd(&["SELECT", "0"]), ok());
    // A served BLMOVE pushes to its destination, whose waiter is served in
    // the same pass.
    send(&mut w1, &["BLMOVE", "from", "to", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut c, 1);
    send(&mut w2, &["BLPOP", "to", "0"]);
    wait_blocked(&mut c, 2);
    assert_eq!(c.cmd(&["RPUSH", "from", "v"]), int(1));
    assert_eq!(next(&mut w1), bulk("v"));
    assert_eq!(next(&mut w2), bulks(&["to", "v"]));
    assert_eq!(c.cmd(&["EXISTS", "from", "to"]), int(0));
    // A waited key set to another type keeps its waiter waiting.
    send(&mut w1, &["BLPOP", "t", "0"]);
    wait_blocked(&mut c, 1);
    c.cmd(&["SET", "t", "string"]);
    assert!(silent_for(&mut w1, Duration::from_millis(200)));
    c.cmd(&["DEL", "t"]);
    c.cmd(&["LPUSH", "t", "list"]);
    assert_eq!(next(&mut w1), bulks(&["t", "list"]));
}

#[test]
fn blmove_waits_then_moves_and_checks_its_destination() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let (mut c, mut w) = (s.authed(), s.authed());
    send(&mut w, &["BRPOPLPUSH", "src", "dst", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["RPUSH", "src", "a", "b"]), int(2));
    assert_eq!(next(&mut w), bulk("b"));
    assert_eq!(c.cmd(&["LRANGE", "dst", "0", "-1"]), bulks(&["b"]));
    // A destination of another type: the waiter gets WRONGTYPE and the
    // source keeps its items.
    c.cmd(&["DEL", "src"]);
    c.cmd(&["SET", "str", "x"]);
    send(&mut w, &["BLMOVE", "src", "str", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut c, 1);
    c.cmd(&["RPUSH", "src", "1", "2"]);
    assert_eq!(
        next(&mut w),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(c.cmd(&["LRANGE", "src", "0", "-1"]), bulks(&["1", "2"]));
    // A list moved onto itself rotates.
    assert_eq!(
        w.cmd(&["BLMOVE", "src", "src", "LEFT", "RIGHT", "0"]),
        bulk("1")
    );
    assert_eq!(c.cmd(&["LRANGE", "src", "0", "-1"]), bulks(&["2", "1"]));
}

#[test]
fn timeouts_answer_the_nil_array_and_the_blocked_input_waits() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let (mut c, mut w) = (s.authed(), s.authed());
    let started = Instant::now();
    let mut pipeline = encode_command(&["BLPOP", "none", "0.3"]);
    pipeline.extend(encode_command(&["SET", "after", "1"]));
    pipeline.extend(encode_command(&["GET", "after"]));
    w.send(&pipeline).expect("send");
    wait_blocked(&mut c, 1);
    assert_eq!(info_clients(&mut c, "clients_in_timeout_table"), 1);
    assert_eq!(
        c.cmd(&["EXISTS", "after"]),
        int(0),
        "nothing after the blocked command runs"
    );
    assert_eq!(next(&mut w), Value::Null);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert_eq!(next(&mut w), ok());
    assert_eq!(next(&mut w), bulk("1"));
    // RESP3: `_`. Each blocking command times out alike.
    assert!(matches!(w.cmd(&["HELLO", "3"]), Value::Map(_)));
    for command in [
        &["BRPOP", "none", "none2", "0.05"][..],
        &["BLMOVE", "none", "x", "LEFT", "LEFT", "0.05"],
        &["BRPOPLPUSH", "none", "x", "0.05"],
        &["BLMPOP", "0.05", "1", "none", "LEFT"],
    ] {
        assert_eq!(w.cmd(command), Value::Null, "{command:?}");
    }
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn a_client_that_disconnects_while_blocked_takes_nothing() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    {
        let mut gone = s.authed();
        send(&mut gone, &["BLPOP", "q", "0"]);
        wait_blocked(&mut c, 1);
    }
    wait_blocked(&mut c, 0);
    // One that half-closes while blocked is dropped too.
    let mut half = s.authed();
    send(&mut half, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    half.shutdown_write();
    wait_blocked(&mut c, 0);
    assert!(half.is_closed(), "the server closed the half-closed client");
    let mut w = s.authed();
    send(&mut w, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["RPUSH", "q", "a"]), int(1));
    assert_eq!(next(&mut w), bulks(&["q", "a"]));
    assert_eq!(c.cmd(&["LLEN", "q"]), int(0));
}

#[test]
fn client_unblock_answers_a_blocked_client() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let (mut c, mut w) = (s.authed(), s.authed());
    let id = as_int(&w.cmd(&["CLIENT", "ID"])).to_string();
    assert_eq!(c.cmd(&["CLIENT", "UNBLOCK", &id]), int(0), "not blocked");
    send(&mut w, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]), int(1));
    assert_eq!(
        next(&mut w),
        err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    );
    send(&mut w, &["BLMOVE", "k", "d", "LEFT", "LEFT", "0"]);
    wait_blocked(&mut c, 1);
    let mut twice = encode_command(&["CLIENT", "UNBLOCK", &id, "timeout"]);
    twice.extend(encode_command(&["CLIENT", "UNBLOCK", &id]));
    c.send(&twice).expect("send");
    assert_eq!(next(&mut c), int(1));
    assert_eq!(next(&mut c), int(0), "already unblocked");
    assert_eq!(next(&mut w), Value::Null);
    assert_eq!(blocked_clients(&mut c), 0);
    // The unblocked client takes nothing from a later push.
    c.cmd(&["RPUSH", "k", "v"]);
    assert_eq!(c.cmd(&["LLEN", "k"]), int(1));
}

#[test]
fn blocking_commands_inside_multi_answer_at_once() {
    let dir = harness::tmp();
    let s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    c.cmd(&["RPUSH", "full", "x"]);
    assert_eq!(c.cmd(&["MULTI"]), ok());
    for command in [
        &["BLPOP", "none", "0"][..],
        &["BLMOVE", "none", "x", "LEFT", "LEFT", "0"],
        &["BLMPOP", "0", "1", "none", "LEFT"],
        &["BRPOP", "none", "full", "0"],
    ] {
        assert_eq!(c.cmd(command), simple("QUEUED"));
    }
    let started = Instant::now();
    assert_eq!(
        c.cmd(&["EXEC"]),
        arr(vec![
            Value::Null,
            Value::Null,
            Value::Null,
            bulks(&["full", "x"])
        ])
    );
    assert!(started.elapsed() < PATIENCE);
    assert_eq!(blocked_clients(&mut c), 0);
}

/// Sends `args` and returns the raw bytes of a one-line reply (a nil, an
/// integer, an error).
fn raw_line(c: &mut Client, args: &[&str]) -> Vec<u8> {
    send(c, args);
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while !out.ends_with(b"\r\n") {
        match c.stream.read(&mut byte) {
            Ok(1) => out.push(byte[0]),
            other => panic!("{args:?}: {other:?} after {out:?}"),
        }
    }
    out
}

#[test]
fn nil_replies_have_the_types_redis_server_gives_them() {
    let Some(mut pair) = SideBySide::start() else {
        return;
    };
    let script: &[&[&str]] = &[
        &["LPOP", "none"],
        &["LPOP", "none", "0"],
        &["RPOP", "none", "2"],
        &["LINDEX", "none", "0"],
        &["LPOS", "none", "a"],
        &["LMOVE", "none", "x", "LEFT", "LEFT"],
        &["RPOPLPUSH", "none", "x"],
        &["LMPOP", "1", "none", "LEFT"],
        &["BLPOP", "none", "0.01"],
        &["BLMOVE", "none", "x", "LEFT", "LEFT", "0.01"],
        &["BLMPOP", "0.01", "1", "none", "LEFT"],
        &["RPUSH", "l", "a"],
        &["LPOS", "l", "zz"],
        &["LINDEX", "l", "5"],
    ];
    for proto in ["2", "3"] {
        for c in [&mut pair.red, &mut pair.redis] {
            c.cmd(&["HELLO", proto]);
            c.cmd(&["FLUSHALL"]);
        }
        for command in script {
            let ours = raw_line(&mut pair.red, command);
            let theirs = raw_line(&mut pair.redis, command);
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "RESP{proto} {command:?}"
            );
        }
        for c in [&mut pair.red, &mut pair.redis] {
            c.cmd(&["MULTI"]);
            c.cmd(&["BLPOP", "none", "0"]);
            c.cmd(&["BLMOVE", "none", "x", "LEFT", "LEFT", "0"]);
        }
        assert_eq!(
            String::from_utf8_lossy(&raw_exec(&mut pair.red)),
            String::from_utf8_lossy(&raw_exec(&mut pair.redis)),
            "RESP{proto} MULTI BLPOP BLMOVE EXEC"
        );
    }
}

/// `EXEC` of a block of two nil-answering commands: its three lines.
fn raw_exec(c: &mut Client) -> Vec<u8> {
    let mut all = raw_line(c, &["EXEC"]);
    for _ in 0..2 {
        let mut byte = [0u8; 1];
        let at = all.len();
        while !all[at..].ends_with(b"\r\n") {
            match c.stream.read(&mut byte) {
                Ok(1) => all.push(byte[0]),
                other => panic!("EXEC: {other:?} after {all:?}"),
            }
        }
    }
    all
}

#[test]
fn a_hundred_thousand_pushes_onto_one_list() {
    const ITEMS: usize = 100_000;
    const BATCH: usize = 1_000;
    let dir = harness::tmp();
    let mut s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    for batch in 0..ITEMS / BATCH {
        let mut pipeline = Vec::new();
        for i in 0..BATCH {
            let item = format!("item-{}", batch * BATCH + i);
            pipeline.extend(encode_command(&["LPUSH", "big", item.as_str()]));
        }
        c.send(&pipeline).expect("send");
        for i in 0..BATCH {
            let want = i64::try_from(batch * BATCH + i + 1).expect("fits");
            assert_eq!(next(&mut c), int(want));
        }
    }
    let last = format!("item-{}", ITEMS - 1);
    assert_eq!(c.cmd(&["LINDEX", "big", "0"]), bulk(&last));
    assert_eq!(c.cmd(&["LINDEX", "big", "-1"]), bulk("item-0"));
    // Each push logged one item, not the list: the file stays small.
    let file = std::fs::metadata(dir.path().join("data.rdb")).map(|m| m.len());
    assert!(
        file.as_ref().is_ok_and(|len| *len < 256 * 1024 * 1024),
        "{file:?}"
    );
    s.restart();
    let mut c = s.authed();
    let n = i64::try_from(ITEMS).expect("fits");
    assert_eq!(c.cmd(&["LLEN", "big"]), int(n));
    assert_eq!(c.cmd(&["LINDEX", "big", "0"]), bulk(&last));
    assert_eq!(c.cmd(&["LINDEX", "big", "50000"]), bulk("item-49999"));
    // Rotating and trimming it are single edits too.
    assert_eq!(c.cmd(&["RPOPLPUSH", "big", "big"]), bulk("item-0"));
    assert_eq!(c.cmd(&["LTRIM", "big", "0", "9"]), ok());
    s.restart();
    let mut c = s.authed();
    assert_eq!(c.cmd(&["LLEN", "big"]), int(10));
    assert_eq!(c.cmd(&["LINDEX", "big", "0"]), bulk("item-0"));
    assert_eq!(c.cmd(&["LINDEX", "big", "1"]), bulk(&last));
}

/// What the lists of [`lists_survive_restart_and_save`] hold: `l`, `m`
/// and `ttl` in database 0, whether `ttl` still has a TTL, `l` in
/// database 1.
fn snapshot(c: &mut Client) -> Vec<Value> {
    let mut out: Vec<Value> = ["l", "m", "ttl"]
        .iter()
        .map(|k| c.cmd(&["LRANGE", k, "0", "-1"]))
        .collect();
    out.push(match c.cmd(&["TTL", "ttl"]) {
        Value::Integer(t) if t > 0 => int(1),
        other => other,
    });
    c.cmd(&["SELECT", "1"]);
    out.push(c.cmd(&["LRANGE", "l", "0", "-1"]));
    c.cmd(&["SELECT", "0"]);
    out
}

#[test]
fn lists_survive_restart_and_save() {
    let dir = harness::tmp();
    let mut s = Daemon::start_dev(dir.path(), &[]);
    let mut c = s.authed();
    c.cmd(&["RPUSH", "l", "a", "b", "c", "d", "e", "f"]);
    c.cmd(&["LPUSH", "l", "z"]);
    c.cmd(&["LSET", "l", "1", "A"]);
    c.cmd(&["LINSERT", "l", "AFTER", "c", "c2"]);
    c.cmd(&["LREM", "l", "1", "d"]);
    c.cmd(&["LMOVE", "l", "l", "RIGHT", "LEFT"]);
    c.cmd(&["RPOP", "l"]);
    c.cmd(&["LTRIM", "l", "0", "-2"]);
    c.cmd(&["RPOPLPUSH", "l", "m"]);
    c.cmd(&["LMPOP", "1", "m", "LEFT"]);
    c.cmd(&["RPUSH", "m", "1", "2"]);
    c.cmd(&["RPUSH", "ttl", "t"]);
    c.cmd(&["EXPIRE", "ttl", "1000"]);
    c.cmd(&["SELECT", "1"]);
    c.cmd(&["RPUSH", "l", "one", "two"]);
    c.cmd(&["LPOP", "l"]);
    c.cmd(&["SELECT", "0"]);
    let before = snapshot(&mut c);
    let want = [
        bulks(&["f", "z", "A", "b"]),
        bulks(&["1", "2"]),
        bulks(&["t"]),
        int(1),
        bulks(&["two"]),
    ];
    assert_eq!(before, want);
    s.restart();
    let mut c = s.authed();
    assert_eq!(snapshot(&mut c), before, "after a restart");
    assert_eq!(c.cmd(&["SAVE"]), ok());
    s.restart();
    let mut c = s.authed();
    assert_eq!(snapshot(&mut c), before, "after SAVE and a restart");
}
