//! The server commands client libraries and their test harnesses lean on,
//! over real sockets: `CLIENT LIST`'s `TYPE` and `ID` filters, `CONFIG
//! GET` (Redis's parameter names, reddb's values), `CONFIG SET` of the
//! slow log's two runtime settings (and `SLOWLOG` following them), `INFO
//! errorstats`/`commandstats`/`stats` error counting, and `ACL
//! WHOAMI`/`CAT`/`HELP`.
//!
//! Each is compared with a real `redis-server` started with
//! `--requirepass` (red asks every client for a credential too) wherever
//! the reply is deterministic; what reddb does differently on purpose —
//! the parameters `CONFIG SET` refuses, users managed over HTTP, a
//! credential never shown — is checked on red alone.
//!
//! When `redis-server` is not installed the comparisons say so and pass —
//! unless `REDDB_REQUIRE_CLIENTS` is set; the red-only tests always run.

mod harness;

use harness::cli::need;
use harness::daemon::Daemon;
use harness::redis_reference::Reference;
use harness::wire::{bulk, err, err_text, ok, text, Client, Value};
use std::collections::{BTreeMap, BTreeSet};

const REDIS_PASSWORD: &str = "reference-password";

/// A `--dev` red and a password-protected redis-server.
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
        let reference = Reference::start_with_password(REDIS_PASSWORD);
        let dir = harness::tmp();
        let daemon = Daemon::start_dev(dir.path(), &[]);
        Some(Pair {
            daemon,
            _dir: dir,
            reference,
        })
    }

    /// An authenticated connection to red (the dev admin key) and one to
    /// redis-server.
    fn clients(&self) -> (Client, Client) {
        (
            self.daemon.authed(),
            Client::authed(self.reference.port, &[REDIS_PASSWORD]),
        )
    }

    /// Connections that have not authenticated.
    fn anonymous(&self) -> (Client, Client) {
        (self.daemon.client(), Client::connect(self.reference.port))
    }
}

/// A RESP2 map reply (a flat array of pairs) as names and texts.
fn pairs(v: &Value) -> BTreeMap<String, String> {
    let Value::Array(items) = v else {
        panic!("expected a flat map, got {v:?}");
    };
    items
        .chunks(2)
        .map(|pair| match pair {
            [k, v] => (text(k), text(v)),
            _ => panic!("odd map: {items:?}"),
        })
        .collect()
}

/// The `id=` of every line of a `CLIENT LIST` reply, in order.
fn listed_ids(v: &Value) -> Vec<i64> {
    text(v)
        .lines()
        .map(|line| {
            let id = line
                .split(' ')
                .find_map(|f| f.strip_prefix("id="))
                .unwrap_or_else(|| panic!("no id in {line:?}"));
            id.parse().unwrap_or_else(|_| panic!("bad id in {line:?}"))
        })
        .collect()
}

fn client_id(c: &mut Client) -> i64 {
    match c.cmd(&["CLIENT", "ID"]) {
        Value::Integer(id) => id,
        other => panic!("CLIENT ID: {other:?}"),
    }
}

/// `CLIENT LIST …` on `c` with `others` connected: what it lists, by role
/// (`me`, `o0`, `o1`, `o2`, `-` for anything else).
fn client_list_roles(c: &mut Client, others: &mut [Client]) -> Vec<(String, Vec<String>)> {
    let me = client_id(c);
    let ids: Vec<i64> = others.iter_mut().map(client_id).collect();
    let role = |id: i64| {
        if id == me {
            "me".to_string()
        } else {
            ids.iter()
                .position(|o| *o == id)
                .map_or("-".to_string(), |i| format!("o{i}"))
        }
    };
    let unknown = (ids.iter().max().copied().unwrap_or(me).max(me) + 1000).to_string();
    let me_s = me.to_string();
    let o: Vec<String> = ids.iter().map(i64::to_string).collect();
    let lines: Vec<(&str, Vec<String>)> = vec![
        (
            "ID o0 o1 o2",
            vec!["ID".into(), o[0].clone(), o[1].clone(), o[2].clone()],
        ),
        (
            "ID o2 me o2",
            vec!["ID".into(), o[2].clone(), me_s.clone(), o[2].clone()],
        ),
        (
            "ID me unknown -3 0",
            vec![
                "ID".into(),
                me_s.clone(),
                unknown.clone(),
                "-3".into(),
                "0".into(),
            ],
        ),
        ("id unknown", vec!["id".into(), unknown]),
        ("TYPE pubsub", vec!["TYPE".into(), "pubsub".into()]),
        ("type MASTER", vec!["type".into(), "MASTER".into()]),
        ("TYPE replica", vec!["TYPE".into(), "replica".into()]),
        ("TYPE slave", vec!["TYPE".into(), "slave".into()]),
    ];
    lines
        .into_iter()
        .map(|(label, filter)| {
            let mut args = vec!["CLIENT".to_string(), "LIST".to_string()];
            args.extend(filter);
            let reply = c.cmd(&args);
            let shown = listed_ids(&reply).into_iter().map(role).collect();
            (label.to_string(), shown)
        })
        .collect()
}

#[test]
fn client_list_filters_answer_as_redis_server_does() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let (mut red, mut redis) = pair.clients();
    let mut red_others: Vec<Client> = (0..3).map(|_| pair.daemon.authed()).collect();
    let mut redis_others: Vec<Client> = (0..3)
        .map(|_| Client::authed(pair.reference.port, &[REDIS_PASSWORD]))
        .collect();
    let ours = client_list_roles(&mut red, &mut red_others);
    let theirs = client_list_roles(&mut redis, &mut redis_others);
    assert_eq!(ours, theirs);
    // What redis-py's test_client_list_client_id asks: three ids, three
    // lines, each with an address.
    assert_eq!(
        ours.first().map(|(_, shown)| shown.clone()),
        Some(vec!["o0".to_string(), "o1".into(), "o2".into()])
    );
    // TYPE normal (any case) lists every connection.
    for c in [&mut red, &mut redis] {
        let all = listed_ids(&c.cmd(&["CLIENT", "LIST"]));
        let normal = listed_ids(&c.cmd(&["CLIENT", "LIST", "TYPE", "Normal"]));
        assert_eq!(all.len(), 4, "{all:?}");
        assert_eq!(
            all.iter().collect::<BTreeSet<_>>(),
            normal.iter().collect::<BTreeSet<_>>()
        );
    }
    let errors: &[&[&str]] = &[
        &["CLIENT", "LIST", "ID"],
        &["CLIENT", "LIST", "ID", "x"],
        &["CLIENT", "LIST", "ID", "1", "x"],
        &["CLIENT", "LIST", "ID", "+1"],
        &["CLIENT", "LIST", "ID", "99999999999999999999"],
        &["CLIENT", "LIST", "ID", "1", "TYPE", "normal"],
        &["CLIENT", "LIST", "TYPE"],
        &["CLIENT", "LIST", "TYPE", "foo"],
        &["CLIENT", "LIST", "TYPE", "normal", "x"],
        &["CLIENT", "LIST", "TYPE", "normal", "ID", "1"],
        &["CLIENT", "LIST", "foo"],
        &["CLIENT", "LIST", "foo", "bar"],
    ];
    for args in errors {
        let theirs = redis.cmd(args);
        assert!(matches!(theirs, Value::Error(_)), "{args:?}: {theirs:?}");
        assert_eq!(red.cmd(args), theirs, "{args:?}");
    }
}

/// The fields of connection `id`'s `CLIENT LIST` line, as `other` sees them.
fn entry_of(other: &mut Client, id: i64) -> BTreeMap<String, String> {
    let listed = text(&other.cmd(&["CLIENT", "LIST", "ID", &id.to_string()]));
    listed
        .split_whitespace()
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A connection's `CLIENT LIST` entry follows every command of a pipeline:
/// its command, database, `MULTI` queue and protocol, and the user it runs
/// as (set where it logs in or out, not compared per command).
#[test]
fn client_list_follows_a_pipelines_commands_database_queue_and_user() {
    let dir = harness::tmp();
    let d = Daemon::start_dev(dir.path(), &[]);
    let mut a = d.authed();
    let mut b = d.authed();
    let id = client_id(&mut a);
    let who = text(&a.cmd(&["ACL", "WHOAMI"]));
    // A pipeline of GETs, then SELECT 3 and GETs again, sent in one write.
    let mut pipeline = Vec::new();
    let mut push = |args: &[&str]| {
        pipeline.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            pipeline.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
    };
    for _ in 0..50 {
        push(&["GET", "k"]);
    }
    push(&["SELECT", "3"]);
    for _ in 0..50 {
        push(&["GET", "k"]);
    }
    a.send(&pipeline).expect("send the pipeline");
    for _ in 0..101 {
        a.read().expect("read").expect("a reply");
    }
    let e = entry_of(&mut b, id);
    assert_eq!((e["cmd"].as_str(), e["db"].as_str()), ("get", "3"), "{e:?}");
    assert_eq!(
        (e["multi"].as_str(), e["user"].as_str()),
        ("-1", who.as_str()),
        "{e:?}"
    );
    // Queued GETs: the entry counts the queue before each one.
    assert_eq!(a.cmd(&["MULTI"]), ok());
    for _ in 0..3 {
        assert_eq!(a.cmd(&["GET", "k"]), harness::wire::simple("QUEUED"));
    }
    let e = entry_of(&mut b, id);
    assert_eq!(
        (e["cmd"].as_str(), e["multi"].as_str()),
        ("get", "2"),
        "{e:?}"
    );
    assert_eq!(a.cmd(&["DISCARD"]), ok());
    let hello = a.cmd(&["HELLO", "3"]);
    assert!(!matches!(hello, Value::Error(_)), "{hello:?}");
    a.cmd(&["PING"]);
    let e = entry_of(&mut b, id);
    assert_eq!(
        (e["cmd"].as_str(), e["resp"].as_str()),
        ("ping", "3"),
        "{e:?}"
    );
    assert_eq!(e["multi"].as_str(), "-1", "{e:?}");
    // Logged out, then in again.
    assert_eq!(a.cmd(&["RESET"]), harness::wire::simple("RESET"));
    let e = entry_of(&mut b, id);
    assert_eq!(
        (e["cmd"].as_str(), e["user"].as_str()),
        ("reset", "(none)"),
        "{e:?}"
    );
    assert_eq!((e["db"].as_str(), e["resp"].as_str()), ("0", "2"), "{e:?}");
    assert_eq!(a.cmd(&["AUTH", d.api_key()]), ok());
    a.cmd(&["GET", "k"]);
    let e = entry_of(&mut b, id);
    assert_eq!(
        (e["cmd"].as_str(), e["user"].as_str()),
        ("get", who.as_str()),
        "{e:?}"
    );
}

/// Parameters whose value is reddb's own, not Redis's default: its
/// durability, its listener, its connection and bulk limits.
const OWN_VALUES: &[&str] = &[
    "appendfsync",
    "appendonly",
    "bind",
    "maxclients",
    "port",
    "proto-max-bulk-len",
];

#[test]
fn config_get_lists_redis_names_with_reddb_values() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let (mut red, mut redis) = pair.clients();
    let every = pairs(&red.cmd(&["CONFIG", "GET", "*"]));
    assert!(every.len() >= 20, "{every:?}");
    let patterns: &[&[&str]] = &[
        &["*max-*-entries*", "maxmemory"],
        &["*listpack*", "*ziplist*"],
        &["MAXMEMORY", "*memory"],
        &["maxmemory", "MAXMEMORY"],
        &["maxmemory*", "MAXMEMORY"],
        &["slowlog*"],
        &["SLOWLOG-MAX-LEN"],
        &["[m]axmemory"],
        &["maxmemory?"],
        &["nosuch"],
        &["databases", "timeout", "save"],
        &["*"],
    ];
    for pattern in patterns {
        let mut args = vec!["CONFIG", "GET"];
        args.extend_from_slice(pattern);
        let ours = pairs(&red.cmd(&args));
        let theirs = pairs(&redis.cmd(&args));
        // Every parameter red lists under a name Redis lists too, and
        // every one Redis lists that red knows; the same value unless
        // reddb reports its own.
        let known: BTreeMap<&String, &String> = theirs
            .iter()
            .filter(|(name, _)| every.contains_key(&name.to_ascii_lowercase()))
            .collect();
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            known.keys().copied().collect::<Vec<_>>(),
            "CONFIG GET {pattern:?}"
        );
        for (name, value) in &ours {
            if !OWN_VALUES.contains(&name.to_ascii_lowercase().as_str()) {
                assert_eq!(Some(&value), known.get(name), "{name}");
            }
        }
    }
    // redis-py's test_config_get_multi_params, and the encodings OBJECT
    // ENCODING follows.
    let listed = pairs(&red.cmd(&["CONFIG", "GET", "*max-*-entries*", "maxmemory"]));
    for (name, value) in [
        ("maxmemory", "0"),
        ("hash-max-listpack-entries", "512"),
        ("set-max-intset-entries", "512"),
        ("zset-max-listpack-entries", "128"),
    ] {
        assert_eq!(listed.get(name).map(String::as_str), Some(value), "{name}");
    }
    let own = |name: &str| every.get(name).cloned().unwrap_or_default();
    assert_eq!(own("databases"), "16");
    assert_eq!(own("appendonly"), "yes");
    assert_eq!(own("appendfsync"), "always");
    assert_eq!(own("port"), pair.daemon.wire_port.to_string());
    assert_eq!(own("list-max-listpack-size"), "-2");
    // A credential is never a parameter.
    assert_eq!(
        red.cmd(&["CONFIG", "GET", "requirepass"]),
        Value::Array(vec![])
    );
    assert_eq!(red.cmd(&["CONFIG", "GET", "*pass*"]), Value::Array(vec![]));
    let key = pair.daemon.api_key().to_string();
    assert!(every.values().all(|v| !v.contains(&key)), "{every:?}");
    for args in [&["CONFIG", "GET"][..], &["CONFIG"], &["CONFIG", "NOSUCH"]] {
        assert_eq!(red.cmd(args), redis.cmd(args), "{args:?}");
    }
    // RESP3: a map.
    for c in [&mut red, &mut redis] {
        assert!(matches!(c.cmd(&["HELLO", "3"]), Value::Map(_)));
    }
    assert_eq!(
        red.cmd(&["CONFIG", "GET", "Timeout"]),
        redis.cmd(&["CONFIG", "GET", "Timeout"])
    );
}

/// The names of the entries `SLOWLOG GET` answers, newest first.
fn slowlog_commands(c: &mut Client) -> Vec<Vec<String>> {
    let Value::Array(entries) = c.cmd(&["SLOWLOG", "GET", "-1"]) else {
        panic!("SLOWLOG GET");
    };
    entries
        .iter()
        .map(|e| match e {
            Value::Array(fields) => match fields.get(3) {
                Some(Value::Array(args)) => args.iter().map(text).collect(),
                other => panic!("entry arguments: {other:?}"),
            },
            other => panic!("entry: {other:?}"),
        })
        .collect()
}

#[test]
fn config_set_changes_the_slow_log_as_redis_server_does() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let (mut red, mut redis) = pair.clients();
    let script: &[&[&str]] = &[
        &["CONFIG", "SET"],
        &["CONFIG", "SET", "slowlog-max-len"],
        &[
            "CONFIG",
            "SET",
            "slowlog-max-len",
            "1",
            "slowlog-log-slower-than",
        ],
        &["CONFIG", "SET", "slowlog-max-len", "x"],
        &["CONFIG", "SET", "slowlog-max-len", "-1"],
        &["CONFIG", "SET", "slowlog-max-len", "007"],
        &["CONFIG", "SET", "slowlog-max-len", "+5"],
        &["CONFIG", "SET", "slowlog-max-len", "9223372036854775808"],
        &["CONFIG", "SET", "slowlog-log-slower-than", "-2"],
        &["CONFIG", "SET", "Slowlog-Log-Slower-Than", "1.5"],
        &[
            "CONFIG",
            "SET",
            "slowlog-max-len",
            "5",
            "SLOWLOG-MAX-LEN",
            "6",
        ],
        &[
            "CONFIG",
            "SET",
            "slowlog-max-len",
            "1",
            "slowlog-log-slower-than",
            "x",
        ],
        &["CONFIG", "GET", "slowlog*"],
        // Every command is slow now; two are kept.
        &[
            "CONFIG",
            "SET",
            "SLOWLOG-MAX-LEN",
            "2",
            "slowlog-log-slower-than",
            "0",
        ],
        &["CONFIG", "GET", "slowlog*"],
        &["SLOWLOG", "RESET"],
        &["PING"],
        &["PING"],
        &["SLOWLOG", "LEN"],
        &["SLOWLOG", "GET", "1"],
        // None is slow: nothing more is logged, nothing trimmed.
        &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
        &["PING"],
        &["SLOWLOG", "LEN"],
        &["CONFIG", "SET", "slowlog-max-len", "0"],
        &["SLOWLOG", "LEN"],
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
        &["SLOWLOG", "LEN"],
        &["CONFIG", "SET", "slowlog-max-len", "128"],
        &["PING"],
        // RESETSTAT leaves the slow log.
        &["CONFIG", "RESETSTAT"],
        &["SLOWLOG", "LEN"],
        &["SLOWLOG", "GET", "x"],
        &["SLOWLOG", "GET", "-2"],
        &["SLOWLOG", "GET", "1", "2"],
        &["SLOWLOG", "LEN", "x"],
        &["SLOWLOG"],
        &["SLOWLOG", "NOSUCH"],
        &[
            "CONFIG",
            "SET",
            "slowlog-log-slower-than",
            "10000",
            "slowlog-max-len",
            "128",
        ],
        &["CONFIG", "GET", "slowlog*"],
    ];
    for args in script {
        let theirs = redis.cmd(args);
        let ours = red.cmd(args);
        match (&ours, &theirs) {
            (Value::Array(_), Value::Array(_)) if args.first() == Some(&"CONFIG") => {
                assert_eq!(pairs(&ours), pairs(&theirs), "{args:?}");
            }
            (Value::Array(_), Value::Array(_)) => {
                let entry_args = |v: &Value| match v {
                    Value::Array(e) => e
                        .iter()
                        .map(|e| match e {
                            Value::Array(f) => f.get(3).cloned(),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                    _ => Vec::new(),
                };
                assert_eq!(entry_args(&ours), entry_args(&theirs), "{args:?}");
            }
            _ => assert_eq!(ours, theirs, "{args:?}"),
        }
    }
    // The slow log is redis-py's: SLOWLOG RESET and a GET with its key.
    for c in [&mut red, &mut redis] {
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
            ok()
        );
        assert_eq!(c.cmd(&["SLOWLOG", "RESET"]), ok());
        c.cmd(&["GET", "\u{d80}abcd\u{d5d}"]);
        let logged = slowlog_commands(c);
        assert_eq!(
            logged.get(..2),
            Some(
                &[
                    vec!["GET".to_string(), "\u{d80}abcd\u{d5d}".to_string()],
                    vec!["SLOWLOG".to_string(), "RESET".to_string()],
                ][..]
            )
        );
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "10000"]),
            ok()
        );
    }
}

#[test]
fn config_set_refuses_every_other_parameter_and_non_admins() {
    let dir = harness::tmp();
    let d = Daemon::start_dev(dir.path(), &[]);
    let mut admin = d.authed();
    let refused = err(
        "ERR CONFIG SET is not supported: reddb's configuration comes from its command line and environment",
    );
    for args in [
        &["CONFIG", "SET", "timeout", "70"][..],
        &["CONFIG", "SET", "maxmemory", "100"],
        &["CONFIG", "SET", "requirepass", "x"],
        &["CONFIG", "SET", "databases", "1"],
        &["CONFIG", "SET", "nosuch", "1"],
        // All or nothing: the slow log's length is not changed either.
        &["CONFIG", "SET", "slowlog-max-len", "5", "timeout", "0"],
    ] {
        assert_eq!(admin.cmd(args), refused, "{args:?}");
    }
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "slowlog-max-len", "timeout"]),
        Value::Array(vec![
            bulk("slowlog-max-len"),
            bulk("128"),
            bulk("timeout"),
            bulk("0"),
        ])
    );
    d.post(
        "/auth/users",
        Some(d.api_key()),
        &serde_json::json!({"username": "bob", "password": "bob-password-1", "role": "user"}),
    )
    .ok("create bob");
    let mut bob = d.client();
    assert_eq!(bob.cmd(&["AUTH", "bob", "bob-password-1"]), ok());
    assert_eq!(
        bob.cmd(&["CONFIG", "SET", "slowlog-max-len", "5"]),
        err("NOPERM this user has no permissions to run the 'config|set' command")
    );
    // Reading is open; inside MULTI the refusal dooms the block, as an
    // ACL refusal does in Redis.
    assert_eq!(
        bob.cmd(&["CONFIG", "GET", "slowlog-max-len"]),
        Value::Array(vec![bulk("slowlog-max-len"), bulk("128")])
    );
    assert_eq!(bob.cmd(&["MULTI"]), ok());
    assert!(err_text(&bob.cmd(&["CONFIG", "SET", "slowlog-max-len", "5"])).starts_with("NOPERM"));
    assert!(err_text(&bob.cmd(&["EXEC"])).starts_with("EXECABORT"));
    // An admin's setting is real: every command is logged, keys but no
    // values, nor CONFIG SET's values.
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        ok()
    );
    assert_eq!(admin.cmd(&["SET", "k", "secret-value"]), ok());
    let logged = slowlog_commands(&mut admin);
    assert_eq!(
        logged.first(),
        Some(&vec![
            "SET".to_string(),
            "k".into(),
            "... (1 more arguments)".into()
        ])
    );
    assert_eq!(
        logged.get(1),
        Some(&vec![
            "CONFIG".to_string(),
            "SET".into(),
            "... (2 more arguments)".into()
        ])
    );
}

/// What `INFO section` says, one `name:value` line each.
fn info_lines(c: &mut Client, section: &str) -> BTreeSet<String> {
    text(&c.cmd(&["INFO", section]))
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `cmdstat_…` lines without their timings.
fn command_counts(c: &mut Client) -> BTreeSet<String> {
    info_lines(c, "commandstats")
        .into_iter()
        .map(|l| {
            let (name, fields) = l.split_once(':').unwrap_or((&l, ""));
            let kept: Vec<&str> = fields
                .split(',')
                .filter(|f| !f.starts_with("usec"))
                .collect();
            format!("{name}:{}", kept.join(","))
        })
        .collect()
}

/// Connection 1 starts unauthenticated; `$AUTH` is the credential.
const STATS_SCRIPT: &[(usize, &[&str])] = &[
    (0, &["CONFIG", "RESETSTAT"]),
    (1, &["GET", "x"]),
    (1, &["MULTI"]),
    (1, &["AUTH", "wrong"]),
    (1, &["AUTH", "someone", "wrong"]),
    (1, &["HELLO", "3", "AUTH", "default", "wrong"]),
    (1, &["CONFIG", "GET", "x"]),
    (1, &["AUTH", "$AUTH"]),
    (1, &["PING"]),
    (0, &["SET", "s", "v"]),
    (0, &["LPUSH", "s", "x"]),
    (0, &["INCR", "s"]),
    (0, &["GET"]),
    (0, &["NOSUCH", "a"]),
    (0, &["CONFIG", "NOSUCH"]),
    (0, &["CLIENT", "NOSUCH"]),
    (0, &["OBJECT", "NOSUCH", "k"]),
    (0, &["CONFIG", "GET"]),
    (0, &["CONFIG", "SET", "slowlog-max-len", "x"]),
    (0, &["CONFIG", "SET", "slowlog-max-len", "128"]),
    (0, &["SLOWLOG", "GET", "x"]),
    (0, &["SLOWLOG", "LEN", "x"]),
    (0, &["SET", "k", "v", "BOGUS"]),
    (0, &["MULTI"]),
    (0, &["INCR", "s"]),
    (0, &["GET", "a", "b"]),
    (0, &["CONFIG", "NOSUCH"]),
    (0, &["EXEC"]),
    (0, &["MULTI"]),
    (0, &["INCR", "s"]),
    (0, &["SET", "n", "1"]),
    (0, &["EXEC"]),
    (0, &["EXEC"]),
    (0, &["DISCARD"]),
    (0, &["SELECT", "99"]),
    (0, &["EXPIRE", "s", "x"]),
    (0, &["WATCH", "s"]),
    (0, &["MULTI"]),
    (0, &["WATCH", "x"]),
    (0, &["EXEC"]),
    (0, &["MULTI"]),
    (0, &["MULTI"]),
    (0, &["DISCARD"]),
    (0, &["HELLO", "4"]),
    (0, &["HELLO", "x"]),
    (0, &["PING", "a", "b"]),
    (0, &["COMMAND", "NOSUCH"]),
    (0, &["COMMAND", "GETKEYS", "nosuch"]),
    (0, &["COMMAND", "GETKEYS", "nosuch", "x"]),
    (0, &["CLIENT", "KILL", "1.1.1.1:1"]),
    (0, &["CLIENT", "LIST", "ID", "x"]),
    (0, &["ACL", "WHOAMI", "x"]),
    (0, &["ACL", "CAT", "nope"]),
    (0, &["OBJECT", "ENCODING"]),
    (0, &["OBJECT", "ENCODING", "nokey"]),
    (0, &["ZADD", "z", "x", "m"]),
    (0, &["HINCRBYFLOAT", "h", "f", "x"]),
    (0, &["RESET"]),
    (0, &["AUTH", "$AUTH"]),
    (0, &["ECHO"]),
    (0, &["QUIT"]),
];

/// Runs [`STATS_SCRIPT`] on one server; the replies.
fn run_stats_script(mut conns: [Client; 2], credential: &str) -> Vec<Value> {
    STATS_SCRIPT
        .iter()
        .map(|(who, args)| {
            let args: Vec<&str> = args
                .iter()
                .map(|a| if *a == "$AUTH" { credential } else { a })
                .collect();
            conns[*who].cmd(&args)
        })
        .collect()
}

#[test]
fn error_and_command_stats_count_as_redis_server_does() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let (red, redis) = pair.clients();
    let (red_anon, redis_anon) = pair.anonymous();
    let ours = run_stats_script([red, red_anon], pair.daemon.api_key());
    let theirs = run_stats_script([redis, redis_anon], REDIS_PASSWORD);
    for ((step, a), b) in STATS_SCRIPT.iter().zip(&ours).zip(&theirs) {
        assert_eq!(a, b, "{step:?}");
    }
    let (mut red, mut redis) = pair.clients();
    let errors = info_lines(&mut red, "errorstats");
    assert_eq!(errors, info_lines(&mut redis, "errorstats"));
    for code in [
        "ERR",
        "WRONGTYPE",
        "NOAUTH",
        "WRONGPASS",
        "EXECABORT",
        "NOPROTO",
    ] {
        assert!(
            errors
                .iter()
                .any(|l| l.starts_with(&format!("errorstat_{code}:"))),
            "{code}: {errors:?}"
        );
    }
    let counts = command_counts(&mut red);
    assert_eq!(counts, command_counts(&mut redis));
    assert!(
        counts.contains("cmdstat_config|get:calls=0,rejected_calls=2,failed_calls=0"),
        "{counts:?}"
    );
    let error_totals = |c: &mut Client| -> Vec<String> {
        info_lines(c, "stats")
            .into_iter()
            .filter(|l| l.contains("error_replies"))
            .collect()
    };
    assert_eq!(error_totals(&mut red), error_totals(&mut redis));
}

#[test]
fn acl_answers_who_and_categories_as_redis_server_does() {
    let Some(pair) = Pair::start() else {
        return;
    };
    let (mut red, mut redis) = pair.clients();
    assert_eq!(red.cmd(&["ACL", "CAT"]), redis.cmd(&["ACL", "CAT"]));
    let Value::Array(categories) = red.cmd(&["ACL", "CAT"]) else {
        panic!("ACL CAT");
    };
    let members = |c: &mut Client, category: &str| -> BTreeSet<String> {
        match c.cmd(&["ACL", "CAT", category]) {
            Value::Array(names) => names.iter().map(text).collect(),
            other => panic!("ACL CAT {category}: {other:?}"),
        }
    };
    let all = |c: &mut Client| -> BTreeSet<String> {
        categories
            .iter()
            .flat_map(|cat| members(c, &text(cat)))
            .collect()
    };
    let common: BTreeSet<String> = all(&mut red)
        .intersection(&all(&mut redis))
        .cloned()
        .collect();
    assert!(common.contains("get") && common.contains("client|list"));
    for category in &categories {
        let category = text(category);
        let ours = members(&mut red, &category);
        let mut theirs: BTreeSet<String> = members(&mut redis, &category)
            .intersection(&common)
            .cloned()
            .collect();
        for (command, cat, reddb_has) in DELIBERATE_CATEGORY_DIFFERENCES {
            if *cat == category {
                if *reddb_has {
                    theirs.insert((*command).to_string());
                } else {
                    theirs.remove(*command);
                }
            }
        }
        let ours: BTreeSet<String> = ours.intersection(&common).cloned().collect();
        assert_eq!(ours, theirs, "ACL CAT {category}");
        let Value::Array(listed) = red.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", &category])
        else {
            panic!("COMMAND LIST FILTERBY ACLCAT {category}");
        };
        let listed: BTreeSet<String> = listed.iter().map(text).collect();
        assert_eq!(listed, members(&mut red, &category), "{category}");
    }
    for args in [
        &["ACL", "CAT", "nope"][..],
        &["ACL", "CAT", "@read"],
        &["ACL", "cat", "read", "x"],
        &["ACL", "WHOAMI", "x"],
        &["ACL"],
        &["ACL", "NOSUCH"],
        &["ACL", "SETUSER"],
        &["ACL", "GETUSER"],
    ] {
        assert_eq!(red.cmd(args), redis.cmd(args), "{args:?}");
    }
    assert_eq!(redis.cmd(&["ACL", "WHOAMI"]), bulk("default"));
}

/// Where reddb's ACL categories differ from Redis's on purpose: the
/// commands whose `admin` flag differs (see `tests/wire_command_table.rs`)
/// — an admin command is `@admin` and `@dangerous`. (command, category,
/// whether reddb has it.)
const DELIBERATE_CATEGORY_DIFFERENCES: &[(&str, &str, bool)] = &[
    ("flushdb", "admin", true),
    ("flushall", "admin", true),
    ("swapdb", "admin", true),
    ("save", "admin", false),
    ("save", "dangerous", false),
    ("bgsave", "admin", false),
    ("bgsave", "dangerous", false),
];

#[test]
fn acl_names_the_principal_and_leaves_users_to_the_http_api() {
    let dir = harness::tmp();
    let d = Daemon::start_dev(dir.path(), &[]);
    let mut admin = d.authed();
    let who = text(&admin.cmd(&["ACL", "WHOAMI"]));
    let info = text(&admin.cmd(&["CLIENT", "INFO"]));
    assert!(info.contains(&format!(" user={who} ")), "{who}: {info}");
    d.post(
        "/auth/users",
        Some(d.api_key()),
        &serde_json::json!({"username": "carol", "password": "carol-password-1", "role": "user"}),
    )
    .ok("create carol");
    let mut carol = d.client();
    assert_eq!(carol.cmd(&["ACL", "WHOAMI"]), err(harness::wire::NOAUTH));
    assert_eq!(carol.cmd(&["AUTH", "carol", "carol-password-1"]), ok());
    assert_eq!(carol.cmd(&["ACL", "WHOAMI"]), bulk("carol"));
    assert!(matches!(carol.cmd(&["ACL", "CAT"]), Value::Array(ref c) if c.len() == 21));
    for (args, shown) in [
        (
            &["ACL", "SETUSER", "eve", "on", ">pw", "+@all"][..],
            "SETUSER",
        ),
        (&["ACL", "DELUSER", "carol"], "DELUSER"),
        (&["ACL", "GETUSER", "carol"], "GETUSER"),
        (&["ACL", "LIST"], "LIST"),
        (&["ACL", "USERS"], "USERS"),
        (&["ACL", "GENPASS"], "GENPASS"),
        (&["ACL", "LOG"], "LOG"),
        (&["ACL", "DRYRUN", "carol", "get", "k"], "DRYRUN"),
    ] {
        assert_eq!(
            admin.cmd(args),
            err(&format!(
                "ERR ACL {shown} is not supported: reddb manages users over its HTTP API (/auth/users)"
            )),
            "{args:?}"
        );
    }
    // Carol is still there, with her password.
    let mut again = d.client();
    assert_eq!(again.cmd(&["AUTH", "carol", "carol-password-1"]), ok());
    let Value::Array(help) = admin.cmd(&["ACL", "HELP"]) else {
        panic!("ACL HELP");
    };
    let help: Vec<String> = help.iter().map(text).collect();
    assert!(help.iter().any(|l| l == "WHOAMI"), "{help:?}");
    assert_eq!(help.len(), 9, "{help:?}");
}
