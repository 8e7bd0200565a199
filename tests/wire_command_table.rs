//! The wire command table against a real `redis-server`: for every command
//! `red` lists, `COMMAND INFO`'s arity, key positions, flags and key
//! specifications (each with its key-spec flags: `RW`, `access`, …),
//! `COMMAND DOCS`'s group and first version, and `COMMAND GETKEYS` and
//! `COMMAND GETKEYSANDFLAGS` on representative argument lists must be what
//! Redis answers — except the flag differences listed in
//! [`DELIBERATE_FLAG_DIFFERENCES`], each a place where reddb's semantics
//! differ on purpose.
//!
//! When `redis-server` is not installed the test says so and passes —
//! unless `REDDB_REQUIRE_CLIENTS` is set (as for `tests/wire_clients.rs`).

mod harness;

use harness::redis_reference::SideBySide;
use harness::wire::{err, text, Client, Value};
use std::collections::BTreeSet;

/// The flags reddb models (every other Redis flag — `loading`, `stale`,
/// `noscript`, `denyoom`, `allow_busy`, … — describes machinery reddb does
/// not have and is not compared).
const MODELLED_FLAGS: &[&str] = &["write", "readonly", "admin", "fast", "no_auth", "no_multi"];

/// Where reddb's flags differ from Redis 7's on purpose: (command, flag,
/// whether reddb has it).
const DELIBERATE_FLAG_DIFFERENCES: &[(&str, &str, bool)] = &[
    // AUTH and HELLO change the connection's credential at once; reddb
    // refuses them inside MULTI instead of queueing them.
    ("auth", "no_multi", true),
    ("hello", "no_multi", true),
    // RESET logs the connection out, so reddb asks for authentication
    // first (an unauthenticated peer gets NOAUTH, as for every command).
    ("reset", "no_auth", false),
    // Dropping every secret needs an admin principal in reddb.
    ("flushdb", "admin", true),
    ("flushall", "admin", true),
    ("swapdb", "admin", true),
    // SAVE/BGSAVE compact the store (no fork, no file chosen by the
    // client), so any authenticated principal may run them; BGSAVE runs in
    // the commit like SAVE, so it is refused inside MULTI like SAVE.
    ("save", "admin", false),
    ("bgsave", "admin", false),
    ("bgsave", "no_multi", true),
];

/// What `COMMAND INFO` says of one command that this test compares.
#[derive(Debug, PartialEq, Eq)]
struct Info {
    arity: i64,
    first_key: i64,
    last_key: i64,
    key_step: i64,
    flags: BTreeSet<String>,
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        other => panic!("expected an array, got {other:?}"),
    }
}

fn integer(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Integer(i)) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// `COMMAND INFO name` on `c`, the modelled flags only.
fn info(c: &mut Client, name: &str) -> Info {
    let reply = c.cmd(&["COMMAND", "INFO", name]);
    let entry = items(&reply)
        .first()
        .unwrap_or_else(|| panic!("{name}: empty COMMAND INFO"));
    let fields = items(entry);
    let flags = fields
        .get(2)
        .map(items)
        .unwrap_or_default()
        .iter()
        .map(text)
        .filter(|f| MODELLED_FLAGS.contains(&f.as_str()))
        .collect();
    Info {
        arity: integer(fields.get(1)),
        first_key: integer(fields.get(3)),
        last_key: integer(fields.get(4)),
        key_step: integer(fields.get(5)),
        flags,
    }
}

/// Redis's flags for `name` with the deliberate differences applied: what
/// reddb must show.
fn expected_flags(name: &str, redis: &BTreeSet<String>) -> BTreeSet<String> {
    let mut want = redis.clone();
    for (command, flag, reddb_has) in DELIBERATE_FLAG_DIFFERENCES {
        if *command == name {
            assert_ne!(
                redis.contains(*flag),
                *reddb_has,
                "{name}: the listed difference in {flag} is no difference"
            );
            if *reddb_has {
                want.insert((*flag).to_string());
            } else {
                want.remove(*flag);
            }
        }
    }
    want
}

/// A `COMMAND GETKEYS` argument list for `name` that satisfies its arity:
/// a real subcommand for the container commands, else `k1 v1 k2 v2 …`
/// (two more than the least for a variadic command).
fn sample_arguments(name: &str, arity: i64) -> Vec<String> {
    let fixed: &[&str] = match name {
        "client" => &["list"],
        "command" => &["count"],
        "config" => &["get", "port"],
        "acl" => &["whoami"],
        "object" => &["encoding", "k"],
        "slowlog" => &["len"],
        _ => &[],
    };
    let mut args = vec![name.to_string()];
    if !fixed.is_empty() {
        args.extend(fixed.iter().map(|s| (*s).to_string()));
        return args;
    }
    let count = if arity >= 0 {
        arity - 1
    } else {
        -arity - 1 + 2
    };
    args.extend((0..count).map(|i| {
        if i % 2 == 0 {
            format!("k{i}")
        } else {
            format!("v{i}")
        }
    }));
    args
}

fn getkeys(c: &mut Client, command_line: &[String]) -> Value {
    introspect(c, "GETKEYS", command_line)
}

fn getkeys_and_flags(c: &mut Client, command_line: &[String]) -> Value {
    introspect(c, "GETKEYSANDFLAGS", command_line)
}

/// `COMMAND sub command_line…`.
fn introspect(c: &mut Client, sub: &str, command_line: &[String]) -> Value {
    let mut args = vec!["COMMAND".to_string(), sub.to_string()];
    args.extend_from_slice(command_line);
    c.cmd(&args)
}

/// The key specifications of `COMMAND INFO name` (RESP2: each a flat
/// array of pairs), without Redis's free-text `notes`.
fn key_specs(c: &mut Client, name: &str) -> Vec<Vec<(String, Value)>> {
    let reply = c.cmd(&["COMMAND", "INFO", name]);
    let entry = items(&reply)
        .first()
        .unwrap_or_else(|| panic!("{name}: empty COMMAND INFO"));
    items(entry)
        .get(8)
        .map(items)
        .unwrap_or_default()
        .iter()
        .map(|spec| {
            items(spec)
                .chunks(2)
                .filter_map(|pair| match pair {
                    [k, v] if text(k) != "notes" => Some((text(k), v.clone())),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// The names `red` lists, from its own table.
fn red_commands(red: &mut Client) -> Vec<String> {
    items(&red.cmd(&["COMMAND", "LIST"]))
        .iter()
        .map(text)
        .collect()
}

#[test]
fn command_info_and_getkeys_match_redis_server() {
    let Some(mut pair) = SideBySide::start() else {
        return;
    };
    let (red, redis) = (&mut pair.red, &mut pair.redis);

    let names = red_commands(red);
    assert!(names.len() > 50, "{names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let ours = info(red, name);
        let theirs = info(redis, name);
        let want = Info {
            flags: expected_flags(name, &theirs.flags),
            ..theirs
        };
        if ours != want {
            failures.push(format!("{name}: COMMAND INFO red {ours:?}, want {want:?}"));
        }
        let (ours_specs, their_specs) = (key_specs(red, name), key_specs(redis, name));
        if ours_specs != their_specs {
            failures.push(format!(
                "{name}: key specs red {ours_specs:?}, redis {their_specs:?}"
            ));
        }
        let args = sample_arguments(name, ours.arity);
        let (ours, theirs) = (getkeys(red, &args), getkeys(redis, &args));
        if ours != theirs {
            failures.push(format!(
                "COMMAND GETKEYS {args:?}: red {ours:?}, redis {theirs:?}"
            ));
        }
        let (ours, theirs) = (
            getkeys_and_flags(red, &args),
            getkeys_and_flags(redis, &args),
        );
        if ours != theirs {
            failures.push(format!(
                "COMMAND GETKEYSANDFLAGS {args:?}: red {ours:?}, redis {theirs:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn getkeys_and_docs_of_representative_commands_match_redis_server() {
    let Some(mut pair) = SideBySide::start() else {
        return;
    };
    let (red, redis) = (&mut pair.red, &mut pair.redis);

    let cases: &[&[&str]] = &[
        &["MSET", "a", "1", "b", "2"],
        &["MSET", "a", "1", "b"],
        &["DEL", "a", "b", "c"],
        &["MGET", "a", "b", "c"],
        &["EXISTS", "a", "a"],
        &["SET", "k", "v", "EX", "10"],
        &["HSET", "h", "f1", "v1", "f2", "v2"],
        &["GET", "a", "b"],
        &["SET", "a"],
        &["PING", "x"],
        &["KEYS", "*"],
        &["NOSUCH", "a"],
        &["SINTERCARD", "2", "a", "b", "LIMIT", "1"],
        &["SINTERCARD", "1", "a", "b"],
        &["SINTERCARD", "0", "a"],
        &["SINTERCARD", "3", "a", "b"],
        &["SINTERCARD", "x", "a"],
        &["SMOVE", "a", "b", "m"],
        &["SINTERSTORE", "d", "a", "b"],
        &["BLPOP", "a", "b", "0"],
        &["BRPOP", "a", "0"],
        &["LMPOP", "2", "a", "b", "LEFT", "COUNT", "1"],
        &["LMPOP", "3", "a", "b", "LEFT"],
        &["BLMPOP", "0", "2", "a", "b", "RIGHT"],
        &["BLMPOP", "0", "0", "a", "LEFT"],
        &["LMOVE", "a", "b", "LEFT", "RIGHT"],
        &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
        &["BRPOPLPUSH", "a", "b", "0"],
        &["LPOS", "a", "x", "RANK", "1"],
        &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
        &["ZINTERSTORE", "d", "1", "a", "b"],
        &["ZDIFFSTORE", "d", "3", "a", "b"],
        &["ZUNIONSTORE", "d", "0", "a"],
        &["ZUNIONSTORE", "d", "x", "a"],
        &["ZUNION", "2", "a", "b", "WITHSCORES"],
        &["ZINTER", "1", "a"],
        &["ZDIFF", "-1", "a"],
        &["ZINTERCARD", "2", "a", "b", "LIMIT", "1"],
        &["ZRANGESTORE", "d", "s", "0", "-1"],
        &["ZADD", "z", "1", "m"],
        &["OBJECT", "ENCODING", "k"],
        &["OBJECT", "HELP"],
        &["OBJECT", "ENCODING"],
        &["OBJECT", "BOGUS", "k"],
        &["CLIENT", "KILL", "ID", "1"],
        &["CLIENT", "BOGUS"],
        &["BITCOUNT", "k", "0", "1"],
        &["HINCRBYFLOAT", "h", "f", "1.5"],
        &["SET", "k", "v", "GET"],
        &["SET", "k", "v", "NX", "get", "EX", "10"],
        &["SET", "k", "get"],
        &["RENAME", "a", "a"],
        &["COPY", "a", "b", "REPLACE"],
        &["SINTERSTORE", "d", "a", "b", "c"],
        &["SDIFFSTORE", "d", "a"],
        &["WATCH", "a", "b"],
        &["OBJECT", "HELP", "x"],
        &["PING", "a", "b", "c"],
        &["ACL", "WHOAMI"],
        &["CONFIG", "SET", "slowlog-max-len", "1"],
        &["COMMAND", "GETKEYS", "get", "k"],
    ];
    for case in cases {
        let args: Vec<String> = case.iter().map(|s| (*s).to_string()).collect();
        assert_eq!(getkeys(red, &args), getkeys(redis, &args), "{case:?}");
        assert_eq!(
            getkeys_and_flags(red, &args),
            getkeys_and_flags(redis, &args),
            "GETKEYSANDFLAGS {case:?}"
        );
    }
    // redis-py's test_command_getkeysandflags.
    assert_eq!(
        red.cmd(&[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "LMOVE",
            "mylist1",
            "mylist2",
            "left",
            "left"
        ]),
        Value::Array(vec![
            Value::Array(vec![
                Value::Bulk(b"mylist1".to_vec()),
                Value::Array(
                    ["RW", "access", "delete"]
                        .map(|f| Value::Simple(f.as_bytes().to_vec()))
                        .to_vec()
                ),
            ]),
            Value::Array(vec![
                Value::Bulk(b"mylist2".to_vec()),
                Value::Array(
                    ["RW", "insert"]
                        .map(|f| Value::Simple(f.as_bytes().to_vec()))
                        .to_vec()
                ),
            ]),
        ])
    );
    assert_eq!(
        getkeys(red, &["PING".to_string(), "x".to_string()]),
        err("ERR The command has no key arguments")
    );
    assert_eq!(
        red.cmd(&["COMMAND", "INFO", "nosuch"]),
        redis.cmd(&["COMMAND", "INFO", "nosuch"]),
        "unknown names answer nil"
    );
    // Group and first version of every command, as Redis documents them.
    for name in red_commands(red) {
        let ours = docs(red, &name);
        let theirs = docs(redis, &name);
        for field in ["group", "since"] {
            assert_eq!(ours.get(field), theirs.get(field), "{name}: {field}");
        }
        assert!(ours.get("summary").is_some_and(|s| !s.is_empty()), "{name}");
    }
}

/// `COMMAND DOCS name`: the text fields of its one entry.
fn docs(c: &mut Client, name: &str) -> std::collections::BTreeMap<String, String> {
    let reply = c.cmd(&["COMMAND", "DOCS", name]);
    let flat = items(&reply);
    let Some(entry) = flat.get(1) else {
        panic!("{name}: no COMMAND DOCS entry: {reply:?}");
    };
    items(entry)
        .chunks(2)
        .filter_map(|pair| match pair {
            [k, v] => Some((
                text(k),
                v.as_bytes()
                    .map(|b| String::from_utf8_lossy(b).into_owned())?,
            )),
            _ => None,
        })
        .collect()
}
