//! Pub/sub and keyspace notifications over real sockets, side by side with
//! a real `redis-server` (Debian's 7.0.15 is the oracle): the reply shapes
//! of every pub/sub command in RESP2 and RESP3, the subscribed-mode
//! refusals, `PUBSUB CHANNELS/NUMSUB/NUMPAT`, glob patterns, the keyspace
//! notification sequence of every command family (expirations included),
//! and — red only — authentication, the pub/sub output limit that
//! disconnects a subscriber that never reads while the publisher keeps
//! being answered, and that no notification names a `red.secret.` key.
//!
//! When `redis-server` is not installed the side-by-side tests say so and
//! pass — unless `REDDB_REQUIRE_CLIENTS` is set.

mod harness;

use harness::cli::need;
use harness::daemon::Daemon;
use harness::redis_reference::Reference;
use harness::wire::{bulk, err, int, ok, Client, Value, NOAUTH};
use std::time::{Duration, Instant};

/// A redis-server and a `--dev` red, and new connections to either.
struct Pair {
    red: Daemon,
    redis: Reference,
    _dir: tempfile::TempDir,
}

impl Pair {
    fn start() -> Option<Pair> {
        if !need("redis-server", "redis-server", &["--version"]) {
            return None;
        }
        let redis = Reference::start();
        let dir = harness::tmp();
        let red = Daemon::start_dev(dir.path(), &[]);
        Some(Pair {
            red,
            redis,
            _dir: dir,
        })
    }

    /// A new connection to red (authenticated) or to redis-server.
    fn conn(&self, red: bool) -> Client {
        if red {
            self.red.authed()
        } else {
            Client::connect(self.redis.port)
        }
    }
}

/// The next `n` frames on `c`.
fn frames(c: &mut Client, n: usize) -> Vec<Value> {
    (0..n)
        .map(|_| c.read().expect("read").expect("a frame, not a close"))
        .collect()
}

/// Sends `args` and reads `n` frames.
fn send(c: &mut Client, args: &[&str], n: usize) -> Vec<Value> {
    if !args.is_empty() {
        c.send(&harness::wire::encode_command(args)).expect("send");
    }
    frames(c, n)
}

/// One step of a scripted session: which connection, the command, and how
/// many frames it answers with.
#[derive(Clone, Copy)]
struct Step {
    conn: usize,
    args: &'static [&'static str],
    frames: usize,
}

const fn step(conn: usize, args: &'static [&'static str], frames: usize) -> Step {
    Step { conn, args, frames }
}

/// Runs `steps` on `connections` fresh connections to one server; every
/// frame read, in order, with the step that produced it. Connection 0
/// is the subscriber; `HELLO 3` first when `resp3`.
fn run_script(pair: &Pair, red: bool, resp3: bool, steps: &[Step]) -> Vec<(String, Value)> {
    let mut conns: Vec<Client> = (0..3).map(|_| pair.conn(red)).collect();
    if resp3 {
        for c in &mut conns {
            let hello = send(c, &["HELLO", "3"], 1);
            assert!(matches!(hello.first(), Some(Value::Map(_))), "{hello:?}");
        }
    }
    let mut out = Vec::new();
    for s in steps {
        let c = &mut conns[s.conn];
        for v in send(c, s.args, s.frames) {
            out.push((format!("conn {} {:?}", s.conn, s.args), v));
        }
    }
    out
}

/// Compares a script's frames on both servers.
fn same_on_both(pair: &Pair, resp3: bool, steps: &[Step]) {
    let red = run_script(pair, true, resp3, steps);
    let redis = run_script(pair, false, resp3, steps);
    let mut failures = Vec::new();
    for (i, (ours, theirs)) in red.iter().zip(&redis).enumerate() {
        if ours != theirs {
            failures.push(format!("frame {i}: red {ours:?}\n      redis {theirs:?}"));
        }
    }
    assert_eq!(red.len(), redis.len());
    assert!(
        failures.is_empty(),
        "resp3={resp3}\n{}",
        failures.join("\n")
    );
}

/// The RESP2 script: subscribing, the confirmations' counts, what a
/// subscribed connection may and may not run, messages and pmessages,
/// unsubscribing one by one and all at once, `PUBSUB`'s introspection.
const RESP2_SCRIPT: &[Step] = &[
    step(0, &["UNSUBSCRIBE"], 1),
    step(0, &["PUNSUBSCRIBE"], 1),
    step(0, &["UNSUBSCRIBE", "nothing"], 1),
    step(0, &["SUBSCRIBE", "a", "b", "a"], 3),
    step(0, &["GET", "x"], 1),
    step(0, &["SET", "x", "1"], 1),
    step(0, &["PUBSUB", "CHANNELS"], 1),
    step(0, &["MULTI"], 1),
    step(0, &["HELLO", "2"], 1),
    step(0, &["PING"], 1),
    step(0, &["PING", "hi"], 1),
    step(0, &["PING", "a", "b"], 1),
    step(0, &["SUBSCRIBE"], 1),
    // No channel below matches two patterns (Redis walks its patterns in
    // hash order).
    step(0, &["PSUBSCRIBE", "h?llo", "b[ae]d", "x*"], 3),
    step(1, &["PUBLISH", "a", "m1"], 1),
    step(1, &["PUBLISH", "hello", "m2"], 1),
    step(1, &["PUBLISH", "bad", "m3"], 1),
    step(1, &["PUBLISH", "bid", "m4"], 1),
    step(1, &["PUBLISH", "nobody", "m5"], 1),
    step(1, &["PUBLISH", "xa", ""], 1),
    step(1, &["PUBSUB", "NUMSUB", "a", "b", "zz"], 1),
    step(1, &["PUBSUB", "NUMSUB"], 1),
    step(1, &["PUBSUB", "NUMPAT"], 1),
    step(1, &["PUBSUB", "CHANNELS", "a*"], 1),
    step(1, &["PUBSUB", "NUMPAT", "x"], 1),
    step(1, &["PUBSUB", "SHARDCHANNELS"], 1),
    step(1, &["PUBSUB", "SHARDNUMSUB", "a"], 1),
    step(1, &["PUBSUB", "BOGUS"], 1),
    step(1, &["PUBSUB"], 1),
    step(1, &["PUBSUB", "HELP"], 1),
    step(1, &["PUBLISH", "a"], 1),
    step(0, &["UNSUBSCRIBE", "a"], 1),
    step(1, &["PUBLISH", "a", "gone"], 1),
    step(1, &["PUBLISH", "b", "still"], 1),
    step(0, &["PUNSUBSCRIBE", "x*", "nope"], 2),
    step(0, &["UNSUBSCRIBE"], 1),
    step(0, &["GET", "x"], 1),
    step(0, &["PUNSUBSCRIBE", "h?llo"], 1),
    step(0, &["PUNSUBSCRIBE", "b[ae]d"], 1),
    step(0, &["GET", "x"], 1),
    step(0, &["PING"], 1),
    step(0, &["MULTI"], 1),
    step(0, &["SUBSCRIBE", "q"], 1),
    step(0, &["EXEC"], 1),
    step(1, &["PUBLISH", "q", "after exec"], 1),
    step(0, &["QUIT"], 1),
];

#[test]
fn pubsub_replies_match_redis_server_in_resp2() {
    let Some(pair) = Pair::start() else {
        return;
    };
    // Frames a publish sends to the subscriber are read by the empty
    // step after it (the subscriber reads them in order).
    let mut steps: Vec<Step> = Vec::new();
    for s in RESP2_SCRIPT {
        steps.push(Step {
            frames: s.frames,
            ..*s
        });
        if s.conn == 1 && s.args.first() == Some(&"PUBLISH") && s.args.len() == 3 {
            let receivers = match s.args.get(1) {
                Some(&"a" | &"b" | &"q" | &"hello" | &"bad" | &"xa") => 1,
                _ => 0,
            };
            if receivers > 0 && !matches!(s.args.get(2), Some(&"gone")) {
                steps.push(step(0, &[], receivers));
            }
        }
    }
    same_on_both(&pair, false, &steps);
}

#[test]
fn pubsub_replies_match_redis_server_in_resp3() {
    let Some(pair) = Pair::start() else {
        return;
    };
    // RESP3: every command runs while subscribed; confirmations and
    // messages are pushes.
    let steps = [
        step(0, &["UNSUBSCRIBE"], 1),
        step(0, &["SUBSCRIBE", "a"], 1),
        step(0, &["PSUBSCRIBE", "a*"], 1),
        step(0, &["GET", "x"], 1),
        step(0, &["PING"], 1),
        step(0, &["PING", "hi"], 1),
        step(1, &["PUBLISH", "a", "m1"], 1),
        step(0, &[], 2),
        // A publish to its own channel: the message comes before the reply.
        step(0, &["PUBLISH", "a", "self"], 3),
        step(0, &["SET", "k", "v"], 1),
        step(0, &["PUNSUBSCRIBE"], 1),
        step(0, &["UNSUBSCRIBE"], 1),
        step(0, &["UNSUBSCRIBE"], 1),
        step(0, &["PUBSUB", "NUMSUB", "a"], 1),
    ];
    same_on_both(&pair, true, &steps);
}

#[test]
fn pubsub_needs_authentication() {
    let Some(_) = Pair::start() else {
        return;
    };
    let redis = Reference::start_with_password("pw");
    let dir = harness::tmp();
    let red = Daemon::start_dev(dir.path(), &[]);
    for port in [redis.port, red.wire_port] {
        let mut c = Client::connect(port);
        for args in [
            &["SUBSCRIBE", "a"][..],
            &["PSUBSCRIBE", "*"],
            &["UNSUBSCRIBE"],
            &["PUBLISH", "a", "m"],
            &["PUBSUB", "CHANNELS"],
        ] {
            assert_eq!(c.cmd(args), err(NOAUTH), "{args:?} on port {port}");
        }
    }
    // Nothing was subscribed by the refused commands.
    let mut c = red.authed();
    assert_eq!(c.cmd(&["PUBSUB", "NUMPAT"]), int(0));
    assert_eq!(c.cmd(&["PUBLISH", "a", "m"]), int(0));
}

/// Reads what a `PSUBSCRIBE *` connection received until the message on
/// channel `end`: (channel, payload) pairs.
fn received_until_end(sub: &mut Client) -> Vec<(String, String)> {
    let mut got = Vec::new();
    loop {
        let v = sub.read().expect("read").expect("a message, not a close");
        let items = match v {
            Value::Array(items) | Value::Push(items) => items,
            other => panic!("not a message: {other:?}"),
        };
        let texts: Vec<String> = items
            .iter()
            .map(|i| String::from_utf8_lossy(i.as_bytes().unwrap_or(b"")).into_owned())
            .collect();
        let [_, _, channel, payload] = texts.as_slice() else {
            panic!("not a pmessage: {texts:?}");
        };
        if channel == "end" {
            return got;
        }
        got.push((channel.clone(), payload.clone()));
    }
}

/// One command of every family with each of its outcomes (changed,
/// unchanged, emptied), as `redis-cli` would send them.
const KEYSPACE_COMMANDS: &[&str] = &[
    "set k v",
    "set k v EX 100",
    "set k v NX",
    "set k v2 XX GET",
    "set k v NX GET",
    "set n 1 KEEPTTL",
    "setex k 100 v",
    "psetex k 100000 v",
    "setnx k v",
    "setnx k2 v",
    "getset k v3",
    "getdel k2",
    "getdel k2",
    "getex k EX 100",
    "getex k PERSIST",
    "getex k",
    "mset a 1 b 2",
    "msetnx a 1 c 3",
    "msetnx c 3 d 4",
    "del a b zz",
    "unlink c d",
    "expire k 100",
    "expire k 100 NX",
    "pexpire k 100000",
    "expireat k 9999999999",
    "expire k -1",
    "set k v",
    "persist k",
    "expire k 10",
    "persist k",
    "incr n",
    "incrby n 5",
    "decr n",
    "decrby n 2",
    "incrbyfloat n 1.5",
    "append n x",
    "append new x",
    "setrange new 0 y",
    "setrange new 5 z",
    "setrange new 0 ",
    "setbit bits 3 1",
    "setbit bits 3 1",
    "setbit bits 3 0",
    "rename new new2",
    "rename new2 new2",
    "renamenx new2 bits",
    "renamenx new2 new3",
    "copy new3 new4",
    "copy new3 new4",
    "copy new3 new4 REPLACE",
    "copy new3 new4 DB 2",
    "move new4 1",
    "move new4 1",
    "sadd s a b",
    "sadd s a",
    "srem s zz",
    "srem s a",
    "spop s",
    "spop s",
    "sadd s a b c",
    "spop s 2",
    "spop s 5",
    "sadd s a b c",
    "smove s s2 c",
    "smove s s2 c",
    "smove s s a",
    "sadd s x",
    "sinterstore d s s2",
    "sunionstore d s s2",
    "sdiffstore d nope s",
    "sdiffstore d nope s",
    "zadd z 1 a 2 b",
    "zadd z 1 a",
    "zadd z 5 a",
    "zadd z INCR 1 a",
    "zincrby z 1 b",
    "zincrby z 0 b",
    "zrem z zz",
    "zrem z a",
    "zadd z 1 a 3 c 4 d",
    "zremrangebyscore z 3 3",
    "zremrangebyrank z 0 0",
    "zremrangebylex z [a [a",
    "zadd z 1 a 2 b",
    "zremrangebylex z - +",
    "zadd z 1 a 2 b 3 c",
    "zpopmin z",
    "zpopmax z",
    "zadd z2 5 q",
    "zunionstore zd 2 z z2",
    "zinterstore zd 2 z z2",
    "zdiffstore zd 1 z",
    "zrangestore zr z 0 -1",
    "zrangestore zr z 5 6",
    "zpopmin z 5",
    "hset h f v g w",
    "hset h f v",
    "hsetnx h f v",
    "hsetnx h q v",
    "hmset h a 1",
    "hincrby h a 2",
    "hincrbyfloat h a 1.5",
    "hdel h zz",
    "hdel h f g q a",
    "lpush l a b",
    "rpush l c",
    "lpushx l d",
    "rpushx nol d",
    "lpop l",
    "rpop l 1",
    "lset l 0 x",
    "linsert l BEFORE x y",
    "linsert l BEFORE nope y",
    "lrem l 1 y",
    "lrem l 1 nope",
    "ltrim l 0 0",
    "lpush l a b c",
    "lmove l l2 LEFT RIGHT",
    "rpoplpush l l2",
    "lmpop 1 l LEFT COUNT 5",
    "lmpop 1 l LEFT COUNT 5",
    "blpop l2 0",
    "brpop l2 0",
    "lpush l a",
    "blmove l l3 RIGHT LEFT 0",
    "brpoplpush l3 l 0",
    "blmpop 0 1 l RIGHT",
    "rpop l",
    "multi",
    "set m1 v",
    "lpush m2 a",
    "del m1",
    "exec",
    "select 3",
    "set in3 v",
    "del in3",
    "select 0",
    "flushdb",
];

/// Sends every command of [`KEYSPACE_COMMANDS`] with `flags` set and
/// returns what a `PSUBSCRIBE *` connection received meanwhile.
fn keyspace_events(pair: &Pair, red: bool, flags: &str) -> Vec<(String, String)> {
    let mut admin = pair.conn(red);
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]),
        ok()
    );
    assert_eq!(admin.cmd(&["FLUSHALL"]), ok());
    let mut sub = pair.conn(red);
    send(&mut sub, &["PSUBSCRIBE", "*"], 1);
    let mut c = pair.conn(red);
    for line in KEYSPACE_COMMANDS {
        let mut args: Vec<&str> = line.split(' ').collect();
        if line.ends_with(' ') {
            // `setrange new 0 ""`: an empty last argument.
            args.pop();
            args.push("");
        }
        c.cmd(&args);
    }
    c.cmd(&["PUBLISH", "end", "end"]);
    let got = received_until_end(&mut sub);
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]),
        ok()
    );
    got
}

#[test]
fn keyspace_notifications_match_redis_server_for_every_family() {
    let Some(pair) = Pair::start() else {
        return;
    };
    for flags in ["KEA", "Kgl", "E$hz", "KEAn", "Ks"] {
        let ours = keyspace_events(&pair, true, flags);
        let theirs = keyspace_events(&pair, false, flags);
        if ours != theirs {
            let first = ours
                .iter()
                .zip(&theirs)
                .position(|(a, b)| a != b)
                .unwrap_or(ours.len().min(theirs.len()));
            panic!(
                "flags {flags}: first difference at event {first}:\n red   {:?}\n redis {:?}",
                ours.get(first.saturating_sub(2)..(first + 4).min(ours.len())),
                theirs.get(first.saturating_sub(2)..(first + 4).min(theirs.len()))
            );
        }
        if flags == "KEA" {
            assert!(ours.len() > 200, "{flags}: {ours:?}");
        }
        assert!(
            ours.iter()
                .all(|(ch, payload)| !ch.contains("red.secret") && !payload.contains("red.secret")),
            "a secret key in a notification: {ours:?}"
        );
    }
}

#[test]
fn config_get_shows_notify_keyspace_events_as_redis_normalises_it() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let (mut red, mut redis) = (pair.conn(true), pair.conn(false));
    for flags in ["KEA", "Ex", "KEn", "nA", "AKEmn", "g$lshzxetd", "", "lK"] {
        let mut shown = Vec::new();
        for c in [&mut red, &mut redis] {
            assert_eq!(
                c.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]),
                ok()
            );
            shown.push(c.cmd(&["CONFIG", "GET", "notify-keyspace-events"]));
        }
        assert_eq!(shown[0], shown[1], "{flags}");
    }
    for c in [&mut red, &mut redis] {
        let bad = c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KQ"]);
        assert_eq!(
            bad,
            err("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        );
    }
}

/// Waits (at most 10 s) for an `expired` event of `key` on `sub`.
fn wait_expired(sub: &mut Client, key: &str) -> Vec<(String, String)> {
    sub.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let Ok(Some(v)) = sub.read() else { break };
        let Value::Array(items) = v else { continue };
        let texts: Vec<String> = items
            .iter()
            .map(|i| String::from_utf8_lossy(i.as_bytes().unwrap_or(b"")).into_owned())
            .collect();
        if let [_, _, channel, payload] = texts.as_slice() {
            got.push((channel.clone(), payload.clone()));
            if channel.ends_with(":expired") && payload == key {
                break;
            }
        }
    }
    got
}

#[test]
fn expirations_are_notified_like_redis_server() {
    let Some(pair) = Pair::start() else {
        return;
    };
    for red in [true, false] {
        let mut c = pair.conn(red);
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEx"]),
            ok()
        );
        let mut sub = pair.conn(red);
        send(&mut sub, &["PSUBSCRIBE", "__key*"], 1);
        assert_eq!(c.cmd(&["SELECT", "2"]), ok());
        assert_eq!(c.cmd(&["SET", "short", "v", "PX", "50"]), ok());
        let got = wait_expired(&mut sub, "short");
        assert_eq!(
            got,
            vec![
                ("__keyspace@2__:short".to_string(), "expired".to_string()),
                ("__keyevent@2__:expired".to_string(), "short".to_string()),
            ],
            "red: {red}"
        );
        assert_eq!(c.cmd(&["EXISTS", "short"]), int(0));
    }
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected_and_the_publisher_is_not_held() {
    let dir = harness::tmp();
    let red = Daemon::start_dev(dir.path(), &[]);
    let mut sub = red.authed();
    send(&mut sub, &["SUBSCRIBE", "flood"], 1);
    let mut reader = red.authed();
    send(&mut reader, &["SUBSCRIBE", "flood"], 1);
    let mut publisher = red.authed();
    let message = "x".repeat(1024 * 1024);
    // 32 MiB of unsent output disconnects it; the kernel's socket buffers
    // hold a few MiB more. 96 messages are bounded and more than enough.
    let mut delivered_to_slow = true;
    for i in 0..96 {
        let started = Instant::now();
        let n = harness::wire::as_int(&publisher.cmd(&["PUBLISH", "flood", &message]));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "publish {i} took {:?}",
            started.elapsed()
        );
        // The reader keeps up.
        let got = frames(&mut reader, 1);
        assert_eq!(got.len(), 1);
        if n == 1 {
            delivered_to_slow = false;
            break;
        }
        assert_eq!(n, 2, "publish {i}");
    }
    assert!(
        !delivered_to_slow,
        "the subscriber that never reads was never disconnected"
    );
    assert_eq!(
        publisher.cmd(&["PUBSUB", "NUMSUB", "flood"]),
        Value::Array(vec![bulk("flood"), int(1)])
    );
    // The slow subscriber's connection ends (after what the kernel held).
    sub.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut read = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        use std::io::Read;
        match sub.stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the slow subscriber was not closed: {e} after {read} bytes"),
        }
        assert!(read < 200 << 20, "unbounded output to the slow subscriber");
    }
    assert!(
        red.stderr().contains("pub/sub output limit"),
        "{}",
        red.stderr()
    );
    // Counted under Redis 7.2's name.
    assert_eq!(
        info_field(
            &mut publisher,
            "stats",
            "client_output_buffer_limit_disconnections"
        ),
        "1"
    );
    // The server is well and the publisher still answered.
    assert_eq!(publisher.cmd(&["PING"]), Value::Simple(b"PONG".to_vec()));
}

#[test]
fn no_notification_names_a_secret_key() {
    let dir = harness::tmp();
    let red = Daemon::start_dev(dir.path(), &[]);
    let mut c = red.authed();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        ok()
    );
    let mut sub = red.authed();
    send(&mut sub, &["PSUBSCRIBE", "*"], 1);
    for args in [
        &["SET", "red.secret.k", "v"][..],
        &["DEL", "red.secret.k"],
        &["HSET", "red.secret.h", "f", "v"],
        &["RENAME", "plain", "red.secret.x"],
    ] {
        assert!(matches!(c.cmd(args), Value::Error(_)), "{args:?}");
    }
    assert_eq!(c.cmd(&["SET", "plain", "v"]), ok());
    c.cmd(&["PUBLISH", "end", "end"]);
    let got = received_until_end(&mut sub);
    assert_eq!(
        got,
        vec![
            ("__keyspace@0__:plain".to_string(), "set".to_string()),
            ("__keyevent@0__:set".to_string(), "plain".to_string()),
        ]
    );
}

#[test]
fn the_server_flag_turns_notifications_on_at_start() {
    let dir = harness::tmp();
    let red = Daemon::start_dev(dir.path(), &["--notify-keyspace-events", "KEA"]);
    let mut c = red.authed();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "notify-keyspace-events"]),
        Value::Array(vec![bulk("notify-keyspace-events"), bulk("AKE")])
    );
    let mut sub = red.authed();
    send(&mut sub, &["PSUBSCRIBE", "*"], 1);
    assert_eq!(c.cmd(&["LPUSH", "jobs", "a"]), int(1));
    c.cmd(&["PUBLISH", "end", "end"]);
    assert_eq!(
        received_until_end(&mut sub),
        vec![
            ("__keyspace@0__:jobs".to_string(), "lpush".to_string()),
            ("__keyevent@0__:lpush".to_string(), "jobs".to_string()),
        ]
    );
}

#[test]
fn channel_policies_allow_and_deny_channels() {
    use serde_json::json;
    let dir = harness::tmp();
    let red = Daemon::start_dev(dir.path(), &[]);
    let admin = red.api_key().to_string();
    red.create_user(&admin, "carol", "carol-password-1", "user")
        .ok("create carol");
    let carol_key = red
        .mint_api_key(&admin, &json!({ "owner": "carol" }), "mint carol's key")
        .token;
    let mut carol = red.client_authed(&[&carol_key]);
    // No policy names a channel action for carol: channels are open.
    assert_eq!(carol.cmd(&["PUBLISH", "anything", "x"]), int(0));
    let news_only = json!({
        "id": "news-only",
        "statements": [
            {"effect": "allow", "actions": ["channel:*"], "resources": ["channel:news.*"]},
            {"effect": "deny", "actions": ["channel:subscribe"], "resources": ["channel:news.secret"]},
        ],
    });
    red.call("PUT", "/policies/news-only", Some(&admin), Some(&news_only))
        .ok("put news-only");
    red.attach_policy(&admin, "news-only", &json!({"user": "carol"}))
        .ok("attach to carol");
    let noperm =
        err("NOPERM this user has no permissions to access one of the channels used as arguments");
    assert_eq!(carol.cmd(&["PUBLISH", "other", "x"]), noperm);
    assert_eq!(carol.cmd(&["SUBSCRIBE", "news.sport", "other"]), noperm);
    assert_eq!(carol.cmd(&["PSUBSCRIBE", "*"]), noperm);
    assert_eq!(
        carol.cmd(&["PUBSUB", "NUMPAT"]),
        int(0),
        "nothing half-subscribed"
    );
    assert_eq!(carol.cmd(&["PUBLISH", "news.sport", "x"]), int(0));
    let confirmed = send(&mut carol, &["PSUBSCRIBE", "news.*"], 1);
    assert_eq!(
        confirmed,
        vec![Value::Array(vec![
            bulk("psubscribe"),
            bulk("news.*"),
            int(1)
        ])]
    );
    // The admin (no channel policy) publishes anywhere; carol's pattern
    // matches news.secret, which her policy denies: she never sees it.
    let mut publisher = red.authed();
    publisher.cmd(&["PUBLISH", "news.sport", "goal"]);
    publisher.cmd(&["PUBLISH", "news.secret", "hidden"]);
    publisher.cmd(&["PUBLISH", "news.weather", "rain"]);
    let got = frames(&mut carol, 2);
    let pmessage = |channel: &str, data: &str| {
        Value::Array(vec![
            bulk("pmessage"),
            bulk("news.*"),
            bulk(channel),
            bulk(data),
        ])
    };
    assert_eq!(
        got,
        vec![
            pmessage("news.sport", "goal"),
            pmessage("news.weather", "rain")
        ]
    );
    // A vault action does not reach channels, nor `vault:*` a channel.
    let bad = json!({
        "id": "mixed",
        "statements": [{"effect": "allow", "actions": ["channel:publish"], "resources": ["channel:has space"]}],
    });
    red.call("PUT", "/policies/mixed", Some(&admin), Some(&bad))
        .expect_error(400, "bad_request", "a channel pattern with a space");
}

#[test]
fn client_tracking_invalidates_like_redis_server() {
    let Some(pair) = Pair::start() else {
        return;
    };
    // RESP3 on every connection; connection 0 tracks, 1 writes.
    let steps = [
        step(0, &["CLIENT", "TRACKINGINFO"], 1),
        step(0, &["CLIENT", "GETREDIR"], 1),
        step(0, &["CLIENT", "TRACKING", "maybe"], 1),
        step(0, &["CLIENT", "CACHING", "yes"], 1),
        step(0, &["CLIENT", "CACHING", "no"], 1),
        step(0, &["CLIENT", "TRACKING", "ON"], 1),
        step(0, &["CLIENT", "TRACKINGINFO"], 1),
        step(0, &["CLIENT", "GETREDIR"], 1),
        step(0, &["CLIENT", "CACHING", "yes"], 1),
        step(0, &["CLIENT", "CACHING", "no"], 1),
        step(0, &["CLIENT", "CACHING", "maybe"], 1),
        step(0, &["SET", "a", "1"], 1),
        step(0, &["SET", "b", "1"], 1),
        step(0, &["GET", "a"], 1),
        step(0, &["MGET", "a", "b"], 1),
        step(0, &["EXISTS", "zz"], 1),
        step(1, &["SET", "a", "2"], 1),
        step(0, &[], 1),
        // Invalidated once: until it is read again, a write says nothing.
        step(1, &["SET", "a", "3"], 1),
        step(0, &["GET", "a"], 1),
        // Its own write: the reply, then the invalidation.
        step(0, &["SET", "a", "4"], 2),
        step(1, &["SET", "zz", "1"], 1),
        step(0, &[], 1),
        step(1, &["DEL", "b"], 1),
        step(0, &[], 1),
        step(0, &["GET", "a"], 1),
        step(1, &["FLUSHALL"], 1),
        step(0, &[], 1),
        step(0, &["SET", "k", "v", "PX", "300"], 1),
        step(0, &["GET", "k"], 1),
        // The expiry invalidates it (Redis's active expiry, red's sweep).
        step(0, &[], 1),
        step(0, &["CLIENT", "TRACKING", "OFF"], 1),
        step(0, &["CLIENT", "TRACKINGINFO"], 1),
        step(0, &["GET", "a"], 1),
        step(1, &["SET", "a", "5"], 1),
        step(0, &["PING"], 1),
        step(0, &["CLIENT", "TRACKING", "ON", "NOLOOP"], 1),
        step(0, &["GET", "a"], 1),
        step(0, &["SET", "a", "6"], 1),
        step(1, &["GET", "a"], 1),
        step(0, &["PING"], 1),
    ];
    same_on_both(&pair, true, &steps);
}

#[test]
fn client_tracking_modes_other_than_default_are_refused_clearly() {
    let dir = harness::tmp();
    let red = Daemon::start_dev(dir.path(), &[]);
    let mut c = red.authed();
    for mode in [
        &["BCAST"][..],
        &["OPTIN"],
        &["OPTOUT"],
        &["PREFIX", "x"],
        &["REDIRECT", "1"],
    ] {
        let mut args = vec!["CLIENT", "TRACKING", "ON"];
        args.extend_from_slice(mode);
        assert_eq!(
            c.cmd(&args),
            err("ERR reddb supports only the default CLIENT TRACKING mode (no BCAST, OPTIN, OPTOUT, PREFIX or REDIRECT)"),
            "{mode:?}"
        );
    }
    // RESP2 may turn it on (as Redis): it is sent nothing.
    assert_eq!(c.cmd(&["CLIENT", "TRACKING", "ON"]), ok());
    assert_eq!(c.cmd(&["GET", "t"]), Value::Null);
    red.authed().cmd(&["SET", "t", "1"]);
    assert_eq!(c.cmd(&["PING"]), Value::Simple(b"PONG".to_vec()));
}

/// The value of `field` in an `INFO` reply.
fn info_field(c: &mut Client, section: &str, field: &str) -> String {
    let text = match c.cmd(&["INFO", section]) {
        Value::Bulk(b) | Value::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO {section}: {other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}: {text}"))
        .to_string()
}

#[test]
fn info_counts_channels_patterns_and_tracking_clients_like_redis_server() {
    let Some(pair) = Pair::start() else {
        return;
    };
    for red in [true, false] {
        let mut sub = pair.conn(red);
        send(&mut sub, &["SUBSCRIBE", "a", "b"], 2);
        send(&mut sub, &["PSUBSCRIBE", "x*"], 1);
        let mut other = pair.conn(red);
        send(&mut other, &["SUBSCRIBE", "a"], 1);
        let mut tracker = pair.conn(red);
        assert_eq!(tracker.cmd(&["CLIENT", "TRACKING", "ON"]), ok());
        let mut c = pair.conn(red);
        let counts = |c: &mut Client| {
            (
                info_field(c, "stats", "pubsub_channels"),
                info_field(c, "stats", "pubsub_patterns"),
                info_field(c, "clients", "tracking_clients"),
            )
        };
        assert_eq!(
            counts(&mut c),
            ("2".into(), "1".into(), "1".into()),
            "red: {red}"
        );
        drop(other);
        send(&mut sub, &["UNSUBSCRIBE", "b"], 1);
        assert_eq!(tracker.cmd(&["CLIENT", "TRACKING", "OFF"]), ok());
        let left = harness::wait_until(Duration::from_secs(10), || {
            counts(&mut c) == ("1".into(), "1".into(), "0".into())
        });
        assert!(left, "red: {red}: {:?}", counts(&mut c));
    }
}

#[test]
fn a_served_blocked_pop_is_notified_like_redis_server() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let mut seen = Vec::new();
    for red in [true, false] {
        let mut admin = pair.conn(red);
        assert_eq!(
            admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
            ok()
        );
        let mut sub = pair.conn(red);
        send(&mut sub, &["PSUBSCRIBE", "*"], 1);
        let mut waiter = pair.conn(red);
        waiter
            .send(&harness::wire::encode_command(&["BLPOP", "queue", "0"]))
            .expect("send");
        // The waiter is blocked once the server counts it.
        let blocked = harness::wait_until(Duration::from_secs(10), || {
            info_field(&mut admin, "clients", "blocked_clients") == "1"
        });
        assert!(blocked, "red: {red}");
        assert_eq!(admin.cmd(&["RPUSH", "queue", "job"]), int(1));
        assert_eq!(
            frames(&mut waiter, 1),
            vec![Value::Array(vec![bulk("queue"), bulk("job")])]
        );
        admin.cmd(&["PUBLISH", "end", "end"]);
        seen.push(received_until_end(&mut sub));
        assert_eq!(
            admin.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]),
            ok()
        );
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].len(), 6, "rpush, lpop, del: {:?}", seen[0]);
}

#[test]
fn a_subscriber_whose_key_is_revoked_receives_nothing_more() {
    use serde_json::json;
    let dir = harness::tmp();
    let red = Daemon::start_dev(dir.path(), &[]);
    let admin = red.api_key().to_string();
    let minted = red.mint_api_key(&admin, &json!({ "owner": "admin" }), "mint a second key");
    let mut sub = red.client_authed(&[&minted.token]);
    send(&mut sub, &["SUBSCRIBE", "news"], 1);
    let mut publisher = red.authed();
    assert_eq!(publisher.cmd(&["PUBLISH", "news", "before"]), int(1));
    assert_eq!(
        frames(&mut sub, 1),
        vec![Value::Array(vec![
            bulk("message"),
            bulk("news"),
            bulk("before")
        ])]
    );
    red.delete(&format!("/auth/api-keys/{}", minted.id), Some(&admin))
        .ok("revoke the subscriber's key");
    publisher.cmd(&["PUBLISH", "news", "after"]);
    // The subscriber is logged out and disconnected, the message unsent.
    sub.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    assert!(
        matches!(sub.read(), Ok(None)),
        "the revoked subscriber still reads"
    );
    assert_eq!(
        publisher.cmd(&["PUBSUB", "NUMSUB", "news"]),
        Value::Array(vec![bulk("news"), int(0)])
    );
}

#[test]
fn client_info_shows_subscriptions_and_tracking_like_redis_server() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let fields = |c: &mut Client| -> Vec<String> {
        let line = match c.cmd(&["CLIENT", "INFO"]) {
            Value::Bulk(b) | Value::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("CLIENT INFO: {other:?}"),
        };
        line.split_whitespace()
            .filter(|f| {
                ["flags=", "sub=", "psub=", "redir="]
                    .iter()
                    .any(|p| f.starts_with(p))
            })
            .map(str::to_string)
            .collect()
    };
    let mut seen = Vec::new();
    for red in [true, false] {
        let mut c = pair.conn(red);
        send(&mut c, &["HELLO", "3"], 1);
        let mut states = vec![fields(&mut c)];
        send(&mut c, &["SUBSCRIBE", "a", "b"], 2);
        send(&mut c, &["PSUBSCRIBE", "x*"], 1);
        states.push(fields(&mut c));
        assert_eq!(c.cmd(&["CLIENT", "TRACKING", "ON"]), ok());
        states.push(fields(&mut c));
        send(&mut c, &["UNSUBSCRIBE"], 2);
        send(&mut c, &["PUNSUBSCRIBE"], 1);
        states.push(fields(&mut c));
        seen.push(states);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0][1], ["flags=P", "sub=2", "psub=1", "redir=-1"]);
}

#[test]
fn a_command_meeting_an_expired_key_announces_it_once_before_the_sweep() {
    let dir = harness::tmp();
    let red = Daemon::start_dev(dir.path(), &["--notify-keyspace-events", "Ex"]);
    let mut sub = red.authed();
    send(&mut sub, &["PSUBSCRIBE", "*"], 1);
    let mut c = red.authed();
    // More keys than the sweep drops in a second (1,000): most can only
    // be announced by the GETs that meet them.
    const KEYS: usize = 3000;
    let used = |c: &mut Client| -> u64 {
        info_field(c, "memory", "used_memory")
            .parse()
            .expect("a number")
    };
    let baseline = used(&mut c);
    let mut batch = Vec::new();
    for i in 0..KEYS {
        batch.extend(harness::wire::encode_command(&[
            "SET",
            &format!("lazy:{i}"),
            "v",
            "PX",
            "50",
        ]));
    }
    c.send(&batch).expect("send");
    for _ in 0..KEYS {
        assert_eq!(c.read().expect("read"), Some(ok()));
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut batch = Vec::new();
    for i in 0..KEYS {
        batch.extend(harness::wire::encode_command(&[
            "GET",
            &format!("lazy:{i}"),
        ]));
    }
    c.send(&batch).expect("send");
    for _ in 0..KEYS {
        assert_eq!(c.read().expect("read"), Some(Value::Null));
    }
    c.cmd(&["PUBLISH", "end", "end"]);
    let before_end = received_until_end(&mut sub);
    assert_eq!(before_end.len(), KEYS, "every key announced by then");
    // The sweep drops them all within a few seconds and announces none
    // again.
    assert!(used(&mut c) > baseline, "the expired keys are still held");
    let dropped = harness::wait_until(Duration::from_secs(20), || used(&mut c) <= baseline);
    assert!(dropped, "the sweep did not drop the keys");
    c.cmd(&["PUBLISH", "end", "end"]);
    assert_eq!(
        received_until_end(&mut sub),
        vec![],
        "an expired told twice"
    );
}

#[test]
fn client_pause_write_holds_publish_as_redis_server_does() {
    let Some(pair) = Pair::start() else {
        return;
    };
    for red in [true, false] {
        let mut admin = pair.conn(red);
        let mut publisher = pair.conn(red);
        assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "400", "WRITE"]), ok());
        let started = Instant::now();
        assert_eq!(publisher.cmd(&["PUBLISH", "ch", "m"]), int(0));
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "red: {red}: PUBLISH ran during the pause"
        );
        // A read is not held (a generous bound: the pause lasts 20 s).
        assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "20000", "WRITE"]), ok());
        let started = Instant::now();
        assert_eq!(
            publisher.cmd(&["PUBSUB", "NUMSUB", "ch"]),
            Value::Array(vec![bulk("ch"), int(0)])
        );
        assert!(started.elapsed() < Duration::from_secs(10), "red: {red}");
        assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), ok());
    }
}

#[test]
fn a_governed_subscriber_still_gets_its_tracking_invalidations() {
    use serde_json::json;
    let dir = harness::tmp();
    let red = Daemon::start_dev(dir.path(), &[]);
    let admin = red.api_key().to_string();
    red.create_user(&admin, "dave", "dave-password-1", "user")
        .ok("create dave");
    let key = red
        .mint_api_key(&admin, &json!({ "owner": "dave" }), "mint dave's key")
        .token;
    let policy = json!({
        "id": "dave-news",
        "statements": [{"effect": "allow", "actions": ["channel:subscribe"], "resources": ["channel:news"]}],
    });
    red.call("PUT", "/policies/dave-news", Some(&admin), Some(&policy))
        .ok("put dave-news");
    red.attach_policy(&admin, "dave-news", &json!({"user": "dave"}))
        .ok("attach to dave");
    let mut dave = red.client_authed(&[&key]);
    send(&mut dave, &["HELLO", "3"], 1);
    send(&mut dave, &["SUBSCRIBE", "news"], 1);
    assert_eq!(dave.cmd(&["CLIENT", "TRACKING", "ON"]), ok());
    assert_eq!(dave.cmd(&["GET", "cached"]), Value::Null);
    red.authed().cmd(&["SET", "cached", "1"]);
    assert_eq!(
        frames(&mut dave, 1),
        vec![Value::Push(vec![
            bulk("invalidate"),
            Value::Array(vec![bulk("cached")])
        ])]
    );
}

#[test]
fn a_script_notifies_its_commands_like_redis_server() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let script = "redis.call('SET', KEYS[1], 'v'); redis.call('LPUSH', KEYS[2], 'a'); \
                  redis.call('GET', KEYS[1]); return redis.call('DEL', KEYS[1], KEYS[2])";
    let mut seen = Vec::new();
    for red in [true, false] {
        let mut c = pair.conn(red);
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
            ok()
        );
        let mut sub = pair.conn(red);
        send(&mut sub, &["PSUBSCRIBE", "*"], 1);
        assert_eq!(c.cmd(&["EVAL", script, "2", "s:k", "s:l"]), int(2));
        c.cmd(&["PUBLISH", "end", "end"]);
        seen.push(received_until_end(&mut sub));
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]),
            ok()
        );
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].len(), 8, "set, lpush, del, del: {:?}", seen[0]);
}
