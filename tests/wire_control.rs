//! The wire commands that reach across connections or into number and bit
//! formats, over real sockets: `WATCH`/`UNWATCH` with two connections,
//! `CLIENT KILL`, `CLIENT PAUSE`, `CLIENT REPLY`, `MONITOR` (its lines,
//! its redaction, its admin check and its bound), and — against a real
//! `redis-server` where the reply is deterministic — the scripts of those
//! commands, the error lines, `OBJECT ENCODING` of freshly written values,
//! `SCAN`'s cursor syntax and a few thousand seeded `INCRBYFLOAT` and
//! `HINCRBYFLOAT` sums (reddb emulates the x87 long double Redis computes
//! in, so every digit must match).
//!
//! When `redis-server` is not installed the comparisons say so and pass —
//! unless `REDDB_REQUIRE_CLIENTS` is set; the red-only tests always run.

mod harness;

use harness::cli::need;
use harness::daemon::Daemon;
use harness::redis_reference::Reference;
use harness::rng::{seed_override, Rng};
use harness::wire::{bulk, err, err_text, int, ok, simple, text, Client, Value};
use std::io::Read;
use std::time::{Duration, Instant};

/// A `--dev` red and a real redis-server; clients on each (red's
/// authenticated with the dev admin key).
struct Pair {
    daemon: Daemon,
    _dir: tempfile::TempDir,
    reference: Reference,
}

impl Pair {
    fn start() -> Option<Pair> {
        if !need("redis-server", "redis-server", &["--version"]) {
            return None;
        }
        let reference = Reference::start();
        let dir = harness::tmp();
        let daemon = Daemon::start_dev(dir.path(), &[]);
        Some(Pair {
            daemon,
            _dir: dir,
            reference,
        })
    }

    /// `n` connections to red and `n` to redis-server, both flushed.
    fn clients(&self, n: usize) -> (Vec<Client>, Vec<Client>) {
        let red: Vec<Client> = (0..n).map(|_| self.daemon.authed()).collect();
        let redis: Vec<Client> = (0..n)
            .map(|_| Client::connect(self.reference.port))
            .collect();
        (red, redis)
    }
}

/// One step of a script: which connection sends what (`SLEEP ms` waits).
type Step = (usize, &'static [&'static str]);

/// Runs `script` on both servers (flushed first) and compares every reply.
fn compare_script(pair: &Pair, script: &[Step], failures: &mut Vec<String>) {
    let (mut red, mut redis) = pair.clients(2);
    for c in [&mut red[0], &mut redis[0]] {
        assert_eq!(c.cmd(&["FLUSHALL"]), ok());
    }
    for (who, args) in script {
        if let ["SLEEP", ms] = args {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
            continue;
        }
        let ours = red[*who].cmd(args);
        let theirs = redis[*who].cmd(args);
        if ours != theirs {
            failures.push(format!(
                "{args:?} (connection {who}): red {ours:?}, redis {theirs:?}\n  script: {script:?}"
            ));
            return;
        }
    }
}

#[test]
fn watch_scripts_answer_as_redis_server_does() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let scripts: &[&[Step]] = &[
        // Another connection's write fails EXEC; the watch ends with it.
        &[
            (0, &["WATCH", "k"]),
            (1, &["SET", "k", "1"]),
            (0, &["MULTI"]),
            (0, &["SET", "k", "2"]),
            (0, &["EXEC"]),
            (0, &["GET", "k"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
        ],
        // Untouched: EXEC runs. The watcher's own write counts too.
        &[
            (0, &["WATCH", "k", "j"]),
            (0, &["MULTI"]),
            (0, &["SET", "k", "2"]),
            (0, &["EXEC"]),
            (0, &["WATCH", "k"]),
            (0, &["SET", "k", "3"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
        ],
        // Deleting a missing key, or a SETBIT that changes nothing, is no
        // change; a real SETBIT is.
        &[
            (1, &["SETBIT", "b", "7", "1"]),
            (0, &["WATCH", "missing", "b"]),
            (1, &["DEL", "missing"]),
            (1, &["SETBIT", "b", "7", "1"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
            (0, &["WATCH", "b"]),
            (1, &["SETBIT", "b", "6", "1"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
        ],
        // WATCH inside MULTI is refused without dooming the block.
        &[
            (0, &["MULTI"]),
            (0, &["WATCH", "k"]),
            (0, &["SET", "k", "1"]),
            (0, &["EXEC"]),
        ],
        // UNWATCH and DISCARD make the connection clean again; UNWATCH
        // queued inside MULTI does not (the check comes first).
        &[
            (0, &["WATCH", "k"]),
            (1, &["SET", "k", "1"]),
            (0, &["UNWATCH"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
            (0, &["WATCH", "k"]),
            (1, &["SET", "k", "2"]),
            (0, &["MULTI"]),
            (0, &["DISCARD"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
            (0, &["WATCH", "k"]),
            (1, &["SET", "k", "3"]),
            (0, &["MULTI"]),
            (0, &["UNWATCH"]),
            (0, &["EXEC"]),
        ],
        // A flush changes the watched keys that existed, not the others.
        &[
            (0, &["SET", "k", "1"]),
            (0, &["WATCH", "nothere"]),
            (1, &["FLUSHALL"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
            (0, &["SET", "k", "1"]),
            (0, &["WATCH", "k"]),
            (1, &["FLUSHDB"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
        ],
        // Expiry: a key that expires after WATCH fails EXEC, one already
        // gone at WATCH does not; EXPIRE and RENAME are writes.
        &[
            (0, &["SET", "t", "v", "PX", "100"]),
            (0, &["WATCH", "t"]),
            (0, &["SLEEP", "250"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
            (0, &["WATCH", "t"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
            (0, &["SET", "a", "1"]),
            (0, &["WATCH", "a"]),
            (1, &["EXPIRE", "a", "100"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
            (0, &["WATCH", "z"]),
            (1, &["RENAME", "a", "z"]),
            (0, &["MULTI"]),
            (0, &["EXEC"]),
        ],
        // EXECABORT wins over a changed key; WATCH after a change is OK.
        &[
            (0, &["WATCH", "k"]),
            (1, &["SET", "k", "1"]),
            (0, &["WATCH", "other"]),
            (0, &["MULTI"]),
            (0, &["NOSUCHCOMMAND"]),
            (0, &["EXEC"]),
            (0, &["WATCH"]),
            (0, &["UNWATCH", "x"]),
            (0, &["EXEC"]),
        ],
    ];
    let mut failures = Vec::new();
    for script in scripts {
        compare_script(&pair, script, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_lines_object_and_scan_cursors_answer_as_redis_server_does() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let big_set: Vec<String> = (0..513).map(|i| i.to_string()).collect();
    let big_hash: Vec<String> = (0..513)
        .flat_map(|i| [format!("f{i}"), "v".into()])
        .collect();
    let a44 = "a".repeat(44);
    let a45 = "a".repeat(45);
    let a65 = "a".repeat(65);
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut add = |v: &[&str]| lines.push(v.iter().map(|s| (*s).to_string()).collect());
    for case in [
        &["CLIENT", "KILL", "ID", "x"][..],
        &["CLIENT", "KILL", "ID", "0"],
        &["CLIENT", "KILL", "ID", "999999"],
        &["CLIENT", "KILL", "ID"],
        &["CLIENT", "KILL", "BOGUS", "1"],
        &["CLIENT", "KILL", "TYPE", "bogus"],
        &["CLIENT", "KILL", "TYPE", "pubsub"],
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "maybe"],
        &["CLIENT", "KILL", "USER", "nobody"],
        &["CLIENT", "KILL", "ADDR", "1.2.3.4:5", "ID", "x"],
        &["CLIENT", "KILL", "LADDR", "nope"],
        &["CLIENT", "KILL", "1.2.3.4:5"],
        &["CLIENT", "KILL"],
        &["CLIENT", "PAUSE", "x"],
        &["CLIENT", "PAUSE", "-1"],
        &["CLIENT", "PAUSE", "10", "bogus"],
        &["CLIENT", "PAUSE", "10", "write", "x"],
        &["CLIENT", "UNPAUSE", "x"],
        &["CLIENT", "UNPAUSE"],
        &["CLIENT", "REPLY", "bogus"],
        &["CLIENT", "REPLY"],
        &["CLIENT", "NO-EVICT", "bogus"],
        &["CLIENT", "NO-EVICT", "on"],
        &["OBJECT", "HELP"],
        &["OBJECT", "HELP", "x"],
        &["OBJECT", "BOGUS", "k"],
        &["OBJECT", "ENCODING"],
        &["OBJECT", "ENCODING", "missing"],
        &["OBJECT", "FREQ", "missing"],
        &["OBJECT", "IDLETIME", "missing"],
        &["SCAN", "+1"],
        &["SCAN", "-1"],
        &["SCAN", ""],
        &["SCAN", "+"],
        &["SCAN", " 1"],
        &["SCAN", "1 "],
        &["SCAN", "18446744073709551615"],
        &["SCAN", "18446744073709551616"],
        &["SCAN", "-18446744073709551616"],
        &["SET", "i", "123"],
        &["SET", "big", "10000"],
        &["SET", "z", "007"],
        &["SET", "e", &a44],
        &["SET", "r", &a45],
        &["SADD", "s1", "1", "2", "-3"],
        &["SADD", "s2", "a"],
        &["HSET", "h1", "f", "v"],
        &["HSET", "h2", "f", &a65],
    ] {
        add(case);
    }
    let mut sadd = vec!["SADD", "s3"];
    sadd.extend(big_set.iter().map(String::as_str));
    add(&sadd);
    let mut hset = vec!["HSET", "h3"];
    hset.extend(big_hash.iter().map(String::as_str));
    add(&hset);
    for key in [
        "i", "big", "z", "e", "r", "s1", "s2", "s3", "h1", "h2", "h3",
    ] {
        add(&["OBJECT", "ENCODING", key]);
        add(&["OBJECT", "REFCOUNT", key]);
        add(&["OBJECT", "FREQ", key]);
    }
    for args in [
        &["SSCAN", "s1", "-1"][..],
        &["SSCAN", "s1", "+0"],
        &["HSCAN", "h1", ""],
        &["HSCAN", "h1", "x"],
    ] {
        add(args);
    }
    let (mut red, mut redis) = pair.clients(1);
    for c in [&mut red[0], &mut redis[0]] {
        assert_eq!(c.cmd(&["FLUSHALL"]), ok());
    }
    let mut failures = Vec::new();
    for args in &lines {
        let (ours, theirs) = (red[0].cmd(args), redis[0].cmd(args));
        let shown = &args[..args.len().min(4)];
        // SCAN/SSCAN/HSCAN past the end of a small collection: Redis
        // answers everything at once for a compact encoding, reddb
        // continues from the cursor's position; compare errors only.
        let scan_past = args[0].ends_with("SCAN") && args.len() == 3 && args[0] != "SCAN";
        if scan_past {
            if matches!(ours, Value::Error(_)) != matches!(theirs, Value::Error(_)) {
                failures.push(format!("{shown:?}: red {ours:?}, redis {theirs:?}"));
            }
        } else if ours != theirs {
            failures.push(format!("{shown:?}: red {ours:?}, redis {theirs:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Redis counts idle seconds on a one-second clock; reddb answers 0.
    assert_eq!(red[0].cmd(&["OBJECT", "IDLETIME", "i"]), int(0));
}

/// A decimal or hexadecimal float text for `INCRBYFLOAT`: mostly ordinary
/// numbers, some at the edges of the long double range.
fn float_text(rng: &mut Rng) -> String {
    let digits = |rng: &mut Rng, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect()
    };
    let sign = if rng.chance(1, 3) { "-" } else { "" };
    match rng.below(10) {
        0 => format!("{sign}{}", rng.below(100_000)),
        1 => {
            let n = rng.range(1, 30);
            format!("{sign}{}e{}", digits(rng, n), rng.below(800) as i64 - 400)
        }
        2 => format!(
            "{sign}0x{:x}.{:x}p{}",
            rng.below(1 << 20),
            rng.below(256),
            rng.below(40) as i64 - 20
        ),
        3 => format!("{sign}1e{}", 4900 + rng.below(40)),
        4 => format!("{sign}{}e-{}", digits(rng, 3), 4920 + rng.below(40)),
        _ => {
            let (int_len, frac_len) = (rng.range(0, 12), rng.range(1, 20));
            format!("{sign}{}.{}", digits(rng, int_len), digits(rng, frac_len))
        }
    }
}

#[test]
fn float_increments_match_redis_server_digit_for_digit() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let (mut red, mut redis) = pair.clients(1);
    let seed = seed_override().unwrap_or(0x0F10_A7ED_0D0B_1E00);
    let mut rng = Rng::new(seed);
    let cases = if harness::extended() { 20_000 } else { 2_000 };
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut failures = Vec::new();
    let mut compared = 0;
    for n in 0..cases {
        if Instant::now() >= deadline {
            break;
        }
        let (current, by) = (float_text(&mut rng), float_text(&mut rng));
        let script: [&[&str]; 5] = [
            &["SET", "f", &current],
            &["INCRBYFLOAT", "f", &by],
            &["HSET", "h", "x", &current],
            &["HINCRBYFLOAT", "h", "x", &by],
            &["INCRBYFLOAT", "f", &current],
        ];
        for args in script {
            let (ours, theirs) = (red[0].cmd(args), redis[0].cmd(args));
            if ours != theirs {
                failures.push(format!(
                    "case {n} (seed {seed:#x}): {args:?}: red {ours:?}, redis {theirs:?}"
                ));
            }
        }
        compared += 1;
        if failures.len() > 10 {
            break;
        }
    }
    assert!(compared > 100, "only {compared} cases compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn client_reply_pipelines_answer_as_redis_server_does() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let script: &[&[&str]] = &[
        &["CLIENT", "REPLY", "OFF"],
        &["SET", "r", "1"],
        &["NOSUCHCOMMAND"],
        &["CLIENT", "REPLY", "SKIP"],
        &["CLIENT", "REPLY", "ON"],
        &["CLIENT", "REPLY", "SKIP"],
        &["GET", "r"],
        &["GET", "r"],
        &["CLIENT", "REPLY", "SKIP"],
        &["NOSUCHCOMMAND"],
        &["INCR", "r"],
        &["CLIENT", "REPLY", "SKIP"],
        &["CLIENT", "REPLY", "SKIP"],
        &["GET", "r"],
        &["GET", "r"],
        &["PING", "end"],
    ];
    let (mut red, mut redis) = pair.clients(1);
    let mut replies = Vec::new();
    for c in [&mut red[0], &mut redis[0]] {
        let mut bytes = Vec::new();
        for args in script {
            bytes.extend_from_slice(&harness::wire::encode_command(args));
        }
        c.send(&bytes).unwrap();
        let mut got = Vec::new();
        loop {
            let v = c.read().unwrap().expect("a reply");
            let end = v == bulk("end");
            got.push(v);
            if end {
                break;
            }
        }
        replies.push(got);
    }
    assert_eq!(replies[0], replies[1]);
    assert_eq!(
        replies[0],
        vec![ok(), bulk("1"), int(2), bulk("2"), bulk("end")]
    );
}

/// A user that is not an admin, logged in on a new connection.
fn user_client(d: &Daemon, name: &str) -> Client {
    d.post(
        "/auth/users",
        Some(d.api_key()),
        &serde_json::json!({"username": name, "password": "user-password-1", "role": "user"}),
    )
    .ok("create a user");
    let mut c = d.client();
    assert_eq!(c.cmd(&["AUTH", name, "user-password-1"]), ok());
    c
}

#[test]
fn only_admins_kill_pause_or_monitor() {
    let dir = harness::tmp();
    let d = Daemon::start_dev(dir.path(), &[]);
    let mut bob = user_client(&d, "bob");
    for (args, shown) in [
        (&["CLIENT", "KILL", "ID", "1"][..], "client|kill"),
        (&["CLIENT", "PAUSE", "100"], "client|pause"),
        (&["CLIENT", "UNPAUSE"], "client|unpause"),
        (&["CLIENT", "LIST"], "client|list"),
        (&["MONITOR"], "monitor"),
    ] {
        assert_eq!(
            bob.cmd(args),
            err(&format!(
                "NOPERM this user has no permissions to run the '{shown}' command"
            )),
            "{args:?}"
        );
    }
    // What a user may do: its own reply mode, NO-EVICT, WATCH, its own
    // CLIENT INFO (which names no other connection).
    assert_eq!(bob.cmd(&["CLIENT", "NO-EVICT", "ON"]), ok());
    assert!(text(&bob.cmd(&["CLIENT", "INFO"])).contains("user=bob"));
    assert_eq!(bob.cmd(&["WATCH", "k"]), ok());
    assert!(err_text(&bob.cmd(&["WATCH", "red.secret.x"])).contains("vault"));
    // An admin kills the user's connection by USER.
    let mut admin = d.authed();
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "USER", "bob"]), int(1));
    assert!(bob.is_closed(), "bob's connection is closed");
}

#[test]
fn client_kill_closes_the_connections_it_names() {
    let dir = harness::tmp();
    let d = Daemon::start_dev(dir.path(), &[]);
    let mut a = d.authed();
    let mut b = d.authed();
    let b_id = match b.cmd(&["CLIENT", "ID"]) {
        Value::Integer(i) => i.to_string(),
        other => panic!("CLIENT ID: {other:?}"),
    };
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &b_id]), int(1));
    assert!(b.is_closed(), "killed by ID");
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &b_id]),
        int(0),
        "already gone"
    );
    // The old form, by address, answers OK.
    let mut c = d.authed();
    let info = text(&c.cmd(&["CLIENT", "INFO"]));
    let addr = info
        .split_whitespace()
        .find_map(|f| f.strip_prefix("addr="))
        .expect("addr=")
        .to_string();
    assert_eq!(a.cmd(&["CLIENT", "KILL", &addr]), ok());
    assert!(c.is_closed(), "killed by address");
    assert_eq!(a.cmd(&["CLIENT", "KILL", &addr]), err("ERR No such client"));
    // SKIPME no: the caller is answered, then closed.
    let me = match a.cmd(&["CLIENT", "ID"]) {
        Value::Integer(i) => i.to_string(),
        other => panic!("CLIENT ID: {other:?}"),
    };
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &me]),
        int(0),
        "SKIPME yes by default"
    );
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &me, "SKIPME", "no"]),
        int(1)
    );
    assert!(a.is_closed(), "killed itself after its reply");
    // The server still serves.
    assert_eq!(d.authed().cmd(&["PING"]), simple("PONG"));
}

/// Sends `args` on `c` and waits for the reply; how long it took.
fn timed(c: &mut Client, args: &[&str]) -> (Value, Duration) {
    let t = Instant::now();
    let v = c.cmd(args);
    (v, t.elapsed())
}

#[test]
fn client_pause_holds_commands_in_the_loop_then_runs_them() {
    let dir = harness::tmp();
    let d = Daemon::start_dev(dir.path(), &[]);
    let mut admin = d.authed();
    let mut b = d.authed();
    // WRITE: reads go on, writes wait for the end.
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "600", "WRITE"]), ok());
    let started = Instant::now();
    let (v, took) = timed(&mut b, &["GET", "k"]);
    assert_eq!(v, Value::Null);
    assert!(took < Duration::from_millis(400), "a read waited {took:?}");
    assert_eq!(b.cmd(&["SET", "k", "v"]), ok());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "the write ran after {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(5),
        "the write ran after {waited:?}"
    );
    // ALL: every command waits, the pausing client's too; a pipeline
    // keeps its order.
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "400"]), ok());
    let started = Instant::now();
    let mut bytes = harness::wire::encode_command(&["PING"]);
    bytes.extend_from_slice(&harness::wire::encode_command(&["INCR", "n"]));
    bytes.extend_from_slice(&harness::wire::encode_command(&["INCR", "n"]));
    b.send(&bytes).unwrap();
    assert_eq!(b.read().unwrap(), Some(simple("PONG")));
    assert_eq!(b.read().unwrap(), Some(int(1)));
    assert_eq!(b.read().unwrap(), Some(int(2)));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "ran after {waited:?}");
    // UNPAUSE from another connection releases a held write at once.
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "30000", "WRITE"]), ok());
    let started = Instant::now();
    b.send(&harness::wire::encode_command(&["SET", "k", "w"]))
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), ok());
    assert_eq!(b.read().unwrap(), Some(ok()));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(admin.cmd(&["GET", "k"]), bulk("w"));
    // An EXEC with a write is held in WRITE mode, one with reads only not.
    assert_eq!(b.cmd(&["MULTI"]), ok());
    assert_eq!(b.cmd(&["GET", "k"]), simple("QUEUED"));
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "300", "WRITE"]), ok());
    let (v, took) = timed(&mut b, &["EXEC"]);
    assert_eq!(v, Value::Array(vec![bulk("w")]));
    assert!(
        took < Duration::from_millis(250),
        "a read-only EXEC waited {took:?}"
    );
}

/// Reads `c`'s raw input until `want` monitor lines arrived (or 10 s).
fn monitor_lines(c: &mut Client, want: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while lines.len() < want && Instant::now() < deadline {
        match c.read() {
            Ok(Some(Value::Simple(l))) => lines.push(String::from_utf8_lossy(&l).into_owned()),
            other => panic!("monitor read: {other:?} after {lines:?}"),
        }
    }
    lines
}

#[test]
fn monitor_streams_commands_redacted_and_bounded() {
    let dir = harness::tmp();
    let d = Daemon::start_dev(dir.path(), &[]);
    let key = d.api_key().to_string();
    let mut m = d.authed();
    assert_eq!(m.cmd(&["MONITOR"]), ok());
    let mut b = d.client();
    assert_eq!(
        b.cmd(&["GET", "k"]),
        err(harness::wire::NOAUTH),
        "not shown"
    );
    assert!(err_text(&b.cmd(&["AUTH", "wrong-token"])).starts_with("WRONGPASS"));
    assert_eq!(b.cmd(&["AUTH", &key]), ok());
    assert_eq!(b.cmd(&["SET", "k", "a \"b\"\n"]), ok());
    b.cmd(&["CONFIG", "GET", "port"]);
    b.cmd(&["NOSUCHCOMMAND"]);
    assert!(err_text(&b.cmd(&["SET", "red.secret.x", "hidden-value"])).contains("vault"));
    assert_eq!(b.cmd(&["MULTI"]), ok());
    assert_eq!(b.cmd(&["INCR", "n"]), simple("QUEUED"));
    assert_eq!(b.cmd(&["EXEC"]), Value::Array(vec![int(1)]));
    let lines = monitor_lines(&mut m, 7);
    let shown: Vec<&str> = lines
        .iter()
        .map(|l| l.split_once("] ").map_or("", |(_, cmd)| cmd))
        .collect();
    assert_eq!(
        shown,
        [
            r#""AUTH" "(redacted)""#,
            r#""AUTH" "(redacted)""#,
            r#""SET" "k" "a \"b\"\n""#,
            r#""SET" "(redacted)" "(redacted)""#,
            r#""MULTI""#,
            r#""INCR" "n""#,
            r#""EXEC""#,
        ]
    );
    for l in &lines {
        let (time, rest) = l.split_once(' ').unwrap();
        let (secs, micros) = time.split_once('.').unwrap();
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{l}");
        assert!(rest.starts_with("[0 127.0.0.1:"), "{l}");
        assert!(!l.contains(&key) && !l.contains("hidden-value"), "{l}");
    }
    // The monitor may not touch keys; RESET ends the monitoring.
    assert_eq!(
        m.cmd(&["GET", "k"]),
        err("ERR Replica can't interact with the keyspace")
    );
    assert_eq!(m.cmd(&["RESET"]), simple("RESET"));
    assert_eq!(m.cmd(&["AUTH", &key]), ok());
    assert_eq!(m.cmd(&["GET", "n"]), bulk("1"));
    // A monitor that never reads is dropped once its output passes the
    // limit; the server and its other clients go on.
    let mut idle = d.authed();
    assert_eq!(idle.cmd(&["MONITOR"]), ok());
    let value = "v".repeat(64 * 1024);
    let deadline = Instant::now() + Duration::from_secs(60);
    for round in 0..40 {
        if Instant::now() >= deadline {
            break;
        }
        let mut batch = Vec::new();
        for i in 0..20 {
            batch.extend_from_slice(&harness::wire::encode_command(&[
                "SET",
                &format!("big{round}:{i}"),
                value.as_str(),
            ]));
        }
        b.send(&batch).unwrap();
        for _ in 0..20 {
            assert_eq!(b.read().unwrap(), Some(ok()));
        }
    }
    let closed = drained_to_eof(&mut idle);
    assert!(closed, "an unread monitor was never disconnected");
    assert_eq!(b.cmd(&["PING"]), simple("PONG"));
}

/// Whether the server closed `c`: reads what is buffered until the end
/// (a second of silence means it is still open).
fn drained_to_eof(c: &mut Client) -> bool {
    c.stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn scan_cursors_stay_below_two_to_the_53() {
    let dir = harness::tmp();
    let d = Daemon::start_dev(dir.path(), &[]);
    let mut c = d.authed();
    let mut mset = vec!["MSET".to_string()];
    for i in 0..3000 {
        mset.push(format!("k{i}"));
        mset.push("v".into());
    }
    assert_eq!(c.cmd(&mset), ok());
    let mut sadd = vec!["SADD".to_string(), "s".into()];
    sadd.extend((0..500).map(|i| format!("m{i}")));
    c.cmd(&sadd);
    let mut hset = vec!["HSET".to_string(), "h".into()];
    hset.extend((0..500).flat_map(|i| [format!("f{i}"), "v".into()]));
    c.cmd(&hset);
    for (command, at) in [
        (vec!["SCAN", "0", "COUNT", "7"], 1),
        (vec!["SSCAN", "s", "0", "COUNT", "7"], 2),
        (vec!["HSCAN", "h", "0", "COUNT", "7"], 2),
    ] {
        let mut args: Vec<String> = command.iter().map(|s| (*s).to_string()).collect();
        let mut pages = 0;
        loop {
            let reply = c.cmd(&args);
            let Value::Array(parts) = reply else {
                panic!("{args:?}: {reply:?}");
            };
            let cursor: u64 = text(&parts[0]).parse().unwrap();
            assert!(cursor < 1 << 53, "{args:?}: cursor {cursor}");
            pages += 1;
            if cursor == 0 || pages > 10_000 {
                break;
            }
            args[at] = cursor.to_string();
        }
        assert!(pages > 10, "{command:?}: {pages} pages");
    }
    // A cursor red did not issue continues from its position.
    let Value::Array(parts) = c.cmd(&["SCAN", "4503599627370495", "COUNT", "100000"]) else {
        panic!("SCAN");
    };
    assert_eq!(text(&parts[0]), "0");
}
